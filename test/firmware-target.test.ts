/**
 * The reference firmware on Cortex-M (firmware-protocol/c/target, docs/firmware.md): warning-free
 * builds for Cortex-M4, M3 and M0+ within the size and stack budgets, the golden vectors run by
 * glp-tool on QEMU's mps2-an386 (M4), lm3s6965evb (M3) and microbit (M0), and the board image under
 * QEMU (M3 on lm3s6965evb; the M4 one on mps2-an386 too) in the real-time loop — HELLO, measurements, set-points, signing, link supervision across a hung, a
 * stopped and a faulting board.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openPtyPair, type PtyPair } from '../bench/devices/transport.ts';
import type { LinkStats, LoopConfig, LoopToHost, Snapshot } from '../bench/runtime/messages.ts';
import { RealtimeRun } from '../bench/runtime/realtime-run.ts';
import { makeBuildDir, makeTarget } from '../firmware-protocol/host/make.ts';
import { SerialBoardLink } from '../firmware-protocol/host/serial-link.ts';
import {
  buildTargetImages,
  QEMU_MACHINE,
  type QemuBoard,
  runOnTarget,
  stackReport,
  startQemuBoard,
  TARGET_BUDGETS,
  TARGET_CPUS,
  type TargetImages,
  type TargetReport,
  targetBudgetViolations,
  targetReport,
} from '../firmware-protocol/host/target.ts';
import { NackReason, SetpointField } from '../firmware-protocol/ts/index.ts';
import type { TwinEvent } from '../twin/api.ts';
import { describeGoldenVectorChecks } from './golden-vector-checks.ts';

const execFileAsync = promisify(execFile);

let images: TargetImages;
let report: TargetReport;
beforeAll(async () => {
  images = await buildTargetImages();
  report = await targetReport(images);
}, 240_000);

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const undo of cleanups.splice(0).reverse()) await undo().catch(() => {});
});
// A QEMU left behind by a failed test must never outlive the suite.
afterAll(async () => {
  for (const undo of cleanups.splice(0).reverse()) await undo().catch(() => {});
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function qemuBoard(kind: 'battery' | 'inverter', options: Parameters<typeof startQemuBoard>[1] = {}) {
  const board = await startQemuBoard(kind, { images, ...options });
  cleanups.push(() => board.stop());
  return board;
}

describe('Cortex-M builds (arm-none-eabi-gcc, -Werror)', { timeout: 240_000 }, () => {
  it('library and both boards build for Cortex-M4, M3 and M0+ within the flash, RAM and stack budgets', () => {
    expect(targetBudgetViolations(report)).toEqual([]);
    for (const cpu of TARGET_CPUS) {
      const r = report[cpu];
      // Every module is code only: no initialised data, no hidden static buffers in the library.
      for (const m of ['glp_codec', 'glp_link', 'glp_sha256']) {
        expect(r.modules[m].text, `${cpu} ${m}`).toBeGreaterThan(500);
        expect(r.modules[m].data + r.modules[m].bss, `${cpu} ${m}`).toBe(0);
      }
      expect(r.library.flash).toBe(
        r.modules.glp_codec.text + r.modules.glp_link.text + r.modules.glp_sha256.text,
      );
      // The stack figure follows the real deepest path: a received frame answered with a signed one.
      expect(r.stack.battery.mainPath).toEqual(
        expect.arrayContaining(['main', 'glp_link_rx', 'handle_frame', 'glp_hmac_sha256']),
      );
    }
  });

  it('a budget breach is reported, naming the figure and the budget', () => {
    const fat = structuredClone(report);
    fat['cortex-m0plus'].library.flash = TARGET_BUDGETS.libraryFlash + 1;
    fat['cortex-m4'].stack.inverter.worst = TARGET_BUDGETS.stack + 8;
    expect(targetBudgetViolations(fat)).toEqual([
      `cortex-m4 inverter worst-case stack: ${TARGET_BUDGETS.stack + 8} bytes, budget ${TARGET_BUDGETS.stack}`,
      `cortex-m0plus protocol library flash: ${TARGET_BUDGETS.libraryFlash + 1} bytes, budget ${TARGET_BUDGETS.libraryFlash}`,
    ]);
  });

  it('the stack figure: deepest chain + deepest interrupt + exception frame; recursion and dynamic frames refused', () => {
    // gcc -fcallgraph-info=su text, the shapes the report reads.
    const node = (title: string, name: string, bytes: number, kind = 'static') =>
      `node: { title: "${title}" label: "${name}\\nx.c:1:1\\n${bytes} bytes (${kind})" }\n`;
    const edge = (from: string, to: string) => `edge: { sourcename: "${from}" targetname: "${to}" }\n`;
    const image = (fBytes: string, extra = '') =>
      [
        ['startup', node('Reset_Handler', 'Reset_Handler', 8) + edge('Reset_Handler', 'main')],
        ['main_battery', node('main', 'main', 16) + edge('main', 'f')],
        ['glp_codec', fBytes + edge('f', 'memcpy') + extra],
        [
          'hal_qemu',
          node('SysTick_Handler', 'SysTick_Handler', 0) +
            node('UART0_RX_IRQHandler', 'UART0_RX_IRQHandler', 8) +
            node('target_fault', 'target_fault', 24),
        ],
      ] as [string, string][];
    const report = stackReport(image(node('f', 'f', 100)), 'cortex-m3');
    // Reset 8 + main 16 + f 100 + a C library call 128; target_fault 24; 8-word frame 36 (hand sum).
    expect(report.mainBytes).toBe(252);
    expect(report.worst).toBe(252 + 24 + 36);
    expect(report.mainPath).toEqual(['Reset_Handler', 'main', 'f', 'memcpy (C library)']);
    expect(() =>
      stackReport(
        image(node('f', 'f', 100), node('g', 'g', 4) + edge('f', 'g') + edge('g', 'f')),
        'cortex-m3',
      ),
    ).toThrow(/recursion in the firmware: .*f → g → f/);
    expect(() => stackReport(image(node('f', 'f', 100, 'dynamic')), 'cortex-m3')).toThrow(
      /f has a dynamic stack frame/,
    );
  });

  it('the Cortex-M0+ objects are ARMv6-M Thumb-1 code with no hardware divide', async () => {
    const obj = join(images.dir, 'cortex-m0plus', 'glp_codec.o');
    const { stdout: attributes } = await execFileAsync('arm-none-eabi-readelf', ['-A', obj]);
    expect(attributes).toMatch(/Tag_CPU_arch: v6S-M/);
    expect(attributes).toMatch(/Tag_THUMB_ISA_use: Thumb-1/);
    const { stdout: code } = await execFileAsync('arm-none-eabi-objdump', ['-d', obj], {
      maxBuffer: 16 << 20,
    });
    expect(code).not.toMatch(/\s(s|u)div\s/);
  });

  it('a compiler warning fails the build', async () => {
    const dir = await makeBuildDir('gridloop-target-warn-');
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    // -Wpadded warns about the padding in the protocol structs: with -Werror that stops the build.
    await expect(
      makeTarget(join('cortex-m0plus'), dir, {
        TARGET_CONFIG: '-DGLP_MAX_PAYLOAD=128 -DGLP_SIGN_STREAMS=2 -Wpadded',
      }),
    ).rejects.toThrow(/-Werror=padded/);
  });

  it('docs/firmware.md states the budgets the build is held to', () => {
    const doc = readFileSync('docs/firmware.md', 'utf8');
    const row = (label: string) => {
      const m = new RegExp(`\\| ${label} \\|[^|]*\\| ([\\d ]+) B \\|`).exec(doc);
      if (!m) throw new Error(`docs/firmware.md: no budget row '${label}'`);
      return Number(m[1].replace(/ /g, ''));
    };
    expect(row('Protocol library, flash')).toBe(TARGET_BUDGETS.libraryFlash);
    expect(row('Link context, RAM')).toBe(TARGET_BUDGETS.linkContextRam);
    expect(row('Worst-case stack')).toBe(TARGET_BUDGETS.stack);
    expect(row('Board image, flash')).toBe(TARGET_BUDGETS.boardFlash);
  });
});

for (const cpu of TARGET_CPUS) {
  describe(`golden vectors on ${cpu} (QEMU ${QEMU_MACHINE[cpu]})`, { timeout: 120_000 }, () => {
    describeGoldenVectorChecks(`glp-tool.elf under QEMU ${QEMU_MACHINE[cpu]}`, async (args, input) => {
      const out = await runOnTarget(cpu, images.elf(cpu, 'glp-tool'), args, input);
      return out.split('\n').filter((l) => l.length > 0);
    });
  });
}

describe('QEMU runs that go wrong end the run, never the suite', { timeout: 60_000 }, () => {
  it('an image that never finishes is killed at the deadline', async () => {
    const started = performance.now();
    await expect(
      runOnTarget('cortex-m4', images.elf('cortex-m4', 'battery'), [], '', { timeoutMs: 3000 }),
    ).rejects.toThrow(/did not finish within 3000 ms \(QEMU hung\)/);
    expect(performance.now() - started).toBeLessThan(30_000);
  });

  it('a hard fault is reported with its program counter and stops QEMU', async () => {
    await expect(
      runOnTarget('cortex-m4', images.elf('cortex-m4', 'battery'), ['--crash-after-ms', '50']),
    ).rejects.toThrow(/GLP FAULT hard fault pc=0x[0-9a-f]{8}/);
  });

  it('bad provisioning stops the board with a message naming the option', async () => {
    await expect(
      runOnTarget('cortex-m4', images.elf('cortex-m4', 'battery'), ['--key', 'abc']),
    ).rejects.toThrow(/--key: expected 64 hex digits/);
  });
});

describe('the board images under QEMU, on a serial port', { timeout: 90_000 }, () => {
  it.each([
    ['cortex-m3', 'lm3s6965evb'],
    ['cortex-m4', 'mps2-an386'],
  ] as const)(
    '%s on %s: HELLO, measurement → state, set-point ACK and NACK, like the host build',
    async (cpu, _machine) => {
      const pair = await openPtyPair();
      cleanups.push(() => pair.stop());
      await qemuBoard('battery', { cpu, device: pair.b, deviceId: 9, helloIntervalMs: 100 });
      const bat = await SerialBoardLink.open(pair.a, { deviceId: 9 });
      cleanups.push(() => bat.close());
      const hello = await bat.next('HELLO', () => true, 20_000);
      expect(hello.ratedActivePowerW).toBe(5000);
      // The board talked before the port was opened: the first bytes read may be a frame's tail.
      const errorsAtAttach = bat.stats.errorCount;
      // Droop with R = 5 % on 5 kW: 0.1 Hz low → +200 W (battery.c, as on the host).
      await bat.send({
        type: 'MEASUREMENT',
        step: 1,
        twinTimeS: 0.01,
        voltagePu: 1,
        voltageAngleRad: 0,
        frequencyHz: 49.9,
        rocofHzPerS: 0,
      });
      const state = await bat.next('DEVICE_STATE', (m) => m.step === 1, 20_000);
      expect(state.activePowerW).toBeCloseTo(200, 1);
      const setpoint = {
        type: 'SETPOINT' as const,
        fields: SetpointField.ACTIVE_POWER,
        mode: 0,
        enabledFunctions: 0,
        reactivePowerVar: 0,
        activePowerMaxW: 0,
        activePowerMinW: 0,
        reactivePowerMaxVar: 0,
      };
      await bat.send({ ...setpoint, activePowerW: 1000 });
      expect((await bat.next('ACK', () => true, 20_000)).messageId).toBe(0x04);
      await bat.send({ ...setpoint, activePowerW: 9000 });
      expect((await bat.next('NACK', () => true, 20_000)).reason).toBe(NackReason.OUT_OF_RANGE);
      expect(bat.stats.errorCount).toBe(errorsAtAttach);
      // The millisecond tick keeps time. The board reads its uptime somewhere between our request and
      // its answer, so over two such brackets the true uptime/wall ratio lies between the bounds below
      // whatever the latency; it must be consistent with 1 ± 10 %.
      const heartbeat = {
        type: 'HEARTBEAT' as const,
        uptimeMs: 0,
        rxFrames: 0,
        rxErrors: 0,
        txFrames: 0,
        state: 0,
      };
      const sample = async () => {
        const mark = bat.mark();
        const sent = performance.now();
        await bat.send(heartbeat);
        const { uptimeMs } = await bat.next('HEARTBEAT', () => true, 20_000, mark);
        return { sent, received: performance.now(), uptimeMs };
      };
      const first = await sample();
      await sleep(2000);
      const second = await sample();
      const uptime = second.uptimeMs - first.uptimeMs;
      expect(uptime / (second.sent - first.received)).toBeGreaterThan(0.9); // the most the ratio can be
      expect(uptime / (second.received - first.sent)).toBeLessThan(1.1); // the least it can be
    },
  );
});

describe('the QEMU board in the real-time loop, through the device mapping', { timeout: 180_000 }, () => {
  const DEVICE = 'bess-hw';
  const key = new Uint8Array(32).map((_, i) => (i * 11 + 5) & 0xff);

  function loop(path: string): LoopConfig {
    return {
      twin: { grid: 'grids/demo-33bw-microgrids.yaml', seed: 1, dt_s: 0.001 },
      devices: [
        {
          id: DEVICE,
          path,
          bus: '18',
          rating_mva: 2,
          powerScale: 400,
          exchangeEvery: 10, // 100 Hz, the demo's rate
          fallback: 'trip',
          signing: { keyHex: Buffer.from(key).toString('hex'), linkId: 1, requireSigned: true },
        },
      ],
      snapshotEvery: 10,
      overrunPolicy: 'continue',
      duration_s: 120,
    };
  }

  it('signed exchanges at 100 Hz; a hung, a stopped and a faulting board go offline within 3 exchanges and come back', async () => {
    const pair: PtyPair = await openPtyPair();
    cleanups.push(() => pair.stop());
    const start = (extra: Parameters<typeof startQemuBoard>[1] = {}) =>
      qemuBoard('battery', { device: pair.b, key, linkId: 2, requireSigned: true, ...extra });
    let board: QemuBoard = await start();
    const run = new RealtimeRun(loop(pair.a));
    cleanups.push(() => run.stop());
    const events: TwinEvent[] = [];
    let links: LinkStats[] = [];
    let last: Snapshot | undefined;
    run.on('message', (m: LoopToHost) => {
      if (m.type !== 'batch') return;
      events.push(...m.events);
      links = m.links;
      last = m.snapshots.at(-1) ?? last;
    });
    await run.ready;
    // Waits on events; the bounds only keep a broken board from hanging the suite.
    const waitFor = async (what: string, done: () => boolean, ms = 30_000) => {
      const end = performance.now() + ms;
      while (!done()) {
        if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
        await sleep(20);
      }
    };
    const count = (kind: string) => events.filter((e) => e.kind === kind).length;
    const online = () => links[0]?.online === true && last?.devices[DEVICE].online === true;

    await waitFor('the QEMU board online', online);
    // Signed both ways: the board requires signatures and signs its own (the bench requires them too).
    const framesAtStart = links[0].framesRx;
    await waitFor('answered exchanges', () => links[0].framesRx > framesAtStart + 50);
    expect(links[0].badFrames).toBe(0);
    expect(links[0].rtt_us_p50).toBeGreaterThan(0);

    // A set-point through the bench: the board applies it (ACKed), its reported power rises to it.
    await run.command({ kind: 'setpoint', deviceId: DEVICE, p_mw: 0.4 });
    await waitFor('the set-point in the board power', () => (last?.devices[DEVICE].p_mw ?? 0) > 0.2);

    // 1. QEMU hangs (paused): silence on the line → offline after 3 missed exchanges, fallback trip.
    process.kill(board.pid, 'SIGSTOP');
    await waitFor('link-offline (hung QEMU)', () => count('link-offline') >= 1);
    expect(events.find((e) => e.kind === 'link-offline')?.message).toMatch(/3 exchanges without an answer/);
    await waitFor('fallback', () => last?.devices[DEVICE].online === false);
    expect(last?.devices[DEVICE].p_mw).toBe(0);
    process.kill(board.pid, 'SIGCONT');
    await waitFor('back online after the hang', () => count('link-online') >= 2 && online());

    // 2. QEMU stopped and started again on the same port: offline, then a fresh board is back.
    await board.stop();
    await waitFor('link-offline (QEMU stopped)', () => count('link-offline') >= 2);
    board = await start();
    await waitFor('back online after the restart', () => count('link-online') >= 3 && online());

    // 3. The firmware hard-faults: QEMU reports where and exits; the link goes offline.
    await board.stop();
    board = await start({ crashAfterMs: 3000 });
    await waitFor('online before the fault', () => count('link-online') >= 4 && online());
    const exit = await board.exited;
    expect(exit.fault).toMatch(/GLP FAULT hard fault pc=0x[0-9a-f]{8}/);
    await waitFor('link-offline (hard fault)', () => count('link-offline') >= 4);
    expect(last?.t_s).toBeGreaterThan(1); // the loop never stopped
    await run.stop();
    const end = await run.finished;
    expect(end.type).toBe('stopped');
  });
});
