/**
 * Acceptance of the real-time HIL loop with real parts: socat pseudo-terminal pairs as the serial
 * links and the C emulated boards (firmware-protocol/c) on their far ends, the loop in its own
 * process (RealtimeRun), the demo grid's islanded microgrid MG2 with the hardware battery at bus 18.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { openPtyPair, type PtyPair, SerialTransport } from '../bench/devices/transport.ts';
import type {
  DeviceLinkConfig,
  LinkStats,
  LoopConfig,
  LoopToHost,
  Snapshot,
} from '../bench/runtime/messages.ts';
import { RealtimeRun } from '../bench/runtime/realtime-run.ts';
import { createTwin } from '../bench/runtime/twin-factory.ts';
import { type EmulatedBoard, startEmulatedBoard } from '../firmware-protocol/host/boards.ts';
import type { TwinEvent } from '../twin/api.ts';
import { budget, waitFor } from './support/machine-speed.ts';

const GRID = 'grids/demo-33bw-microgrids.yaml';
const DEVICE = 'bess-hw';
/** The battery board's firmware: rated 5 kW, 5 % droop on 50 Hz, no deadband (battery.c). */
const BOARD_RATED_W = 5000;
const BOARD_DROOP = 0.05;
/** The 5 kW board stands for a 2 MW unit. */
const SCALE = 400;
const LOAD_STEP_MW = 0.5;
const STEP_AT_S = 0.5;

/** The battery firmware's droop law in twin MW for island frequency f. */
const droopMw = (f: number) => (-(f - 50) / (BOARD_DROOP * 50)) * BOARD_RATED_W * SCALE * 1e-6;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Collected {
  snapshots: Snapshot[];
  events: TwinEvent[];
  links: LinkStats[];
}

function collect(run: RealtimeRun): Collected {
  const out: Collected = { snapshots: [], events: [], links: [] };
  run.on('message', (m: LoopToHost) => {
    if (m.type !== 'batch') return;
    out.snapshots.push(...m.snapshots);
    out.events.push(...m.events);
    out.links = m.links;
  });
  return out;
}

function loopConfig(device: DeviceLinkConfig, duration_s: number): LoopConfig {
  return {
    twin: { grid: GRID, seed: 1, dt_s: 0.001 },
    devices: [device],
    snapshotEvery: 10,
    overrunPolicy: 'continue',
    duration_s,
    schedule: [{ t_s: STEP_AT_S, action: { kind: 'load-step', bus: '18', delta_mw: LOAD_STEP_MW } }],
  };
}

const mg2 = (s: Snapshot) =>
  s.islands.find((i) => i.id === 'MG2') ?? s.islands.find((i) => i.energised && !i.gridConnected)!;

/** The same grid and load step without the battery (zero injection from it), in-process. */
async function referenceWithoutBattery(duration_s: number, at_s: number) {
  const twin = await createTwin({ grid: GRID, seed: 1, dt_s: 0.001 }, [
    { id: DEVICE, bus: '18', rating_mva: 2, fallback: 'trip' },
  ]);
  twin.scheduleAt(STEP_AT_S, { kind: 'load-step', bus: '18', delta_mw: LOAD_STEP_MW });
  const input = [{ deviceId: DEVICE, p_mw: 0, q_mvar: 0, online: false }];
  let nadir = Number.POSITIVE_INFINITY;
  let islandId = '';
  let fAt = Number.NaN;
  for (let s = 0; s < duration_s * 1000; s++) {
    const state = twin.step(input);
    const island = state.islands.find((i) => i.buses.includes('18'))!;
    islandId = island.id;
    nadir = Math.min(nadir, island.f_hz);
    if (Math.abs(state.t_s - at_s) < 5e-4) fAt = island.f_hz;
  }
  return { nadir, islandId, fAt };
}

describe('real-time HIL loop with emulated boards over socat pseudo-terminals', {
  timeout: budget(90_000),
}, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const undo of cleanups.splice(0).reverse()) await undo().catch(() => {});
  });
  const track = <T extends { stop(): Promise<unknown> }>(thing: T): T => {
    cleanups.push(() => thing.stop());
    return thing;
  };

  it('closed loop: a load step, the battery answers over serial with its droop, and frequency recovers', async () => {
    const pair: PtyPair = track(await openPtyPair());
    track(await startEmulatedBoard('battery', { device: pair.b }));
    const duration = 4;
    const run = track(
      new RealtimeRun(
        loopConfig(
          {
            id: DEVICE,
            path: pair.a,
            bus: '18',
            rating_mva: 2,
            powerScale: SCALE,
            exchangeEvery: 10,
            // This test is about the closed loop, not supervision: ride through a loaded machine's stalls.
            missedBeforeOffline: 50,
          },
          duration,
        ),
      ),
    );
    const got = collect(run);
    await run.ready;
    const end = await run.finished;
    expect(end.type).toBe('stopped');
    if (end.type !== 'stopped') return;
    expect(end.reason).toBe('duration');

    const island = mg2(got.snapshots[0]);
    const QUASI_STEADY_S = STEP_AT_S + 1.5;
    const reference = await referenceWithoutBattery(duration, QUASI_STEADY_S);
    expect(island.id).toBe(reference.islandId);
    const series = got.snapshots.map((s) => ({
      t: s.t_s,
      f: mg2(s).f_hz,
      p: s.devices[DEVICE].p_mw,
      online: s.devices[DEVICE].online,
    }));
    const after = series.filter((x) => x.t > STEP_AT_S);
    const nadir = Math.min(...after.map((x) => x.f));

    // The board's answer follows its firmware's droop law, P = −Δf/(R·f0)·P_rated, seen ×SCALE
    // in the twin. The answer reflects the frequency of its exchange, one round trip earlier
    // (much longer when a loaded machine stalls), so it is compared with the frequencies of the last
    // second, over which the quasi-steady frequency moves by only a few hundredths of a hertz.
    const lateSeries = series.filter((y) => y.t > STEP_AT_S + 1);
    for (const x of lateSeries.slice(-20)) {
      expect(x.online).toBe(true);
      expect(x.p).toBeGreaterThan(0);
      const window = lateSeries.filter((y) => y.t <= x.t && y.t >= x.t - 1);
      const best = Math.min(...window.map((y) => Math.abs(x.p - droopMw(y.f))));
      expect(best).toBeLessThan(0.02 * x.p + 0.001);
    }
    // Quasi-steady state after the primary response: the island's stiffness without the battery is
    // K = ΔP/|Δf₀|; the battery adds K_b = P_rated·scale/(R·f0), so |Δf| = ΔP/(K + K_b).
    const k = LOAD_STEP_MW / (50 - reference.fAt);
    const kBattery = (BOARD_RATED_W * SCALE * 1e-6) / (BOARD_DROOP * 50);
    const predicted = LOAD_STEP_MW / (k + kBattery);
    const atQuasi = series.reduce((best, x) =>
      Math.abs(x.t - QUASI_STEADY_S) < Math.abs(best.t - QUASI_STEADY_S) ? x : best,
    );
    expect(Math.abs(50 - atQuasi.f - predicted)).toBeLessThan(0.1 * predicted);
    // Nadir: the battery holds it above the battery-less nadir.
    // (Idle machine: ≈ +0.3 Hz; a heavily loaded one delays the board's answers and gives less.)
    expect(nadir).toBeGreaterThan(reference.nadir + 0.05);
    expect(nadir).toBeGreaterThan(49.4);
    // Settling: from the quasi-steady point on, frequency stays within ±0.05 Hz of its final value,
    // which has recovered from the nadir.
    const final = series.at(-1)!.f;
    expect(final).toBeGreaterThan(nadir + 0.1);
    for (const x of series.filter((y) => y.t >= QUASI_STEADY_S))
      expect(Math.abs(x.f - final)).toBeLessThan(0.05);
    expect(end.links[0].rtt_us_p50).toBeGreaterThan(0);
    expect(end.links[0].badFrames).toBe(0);
    expect(end.timing.steps).toBe(duration * 1000);
  });

  it('unplug and replug: offline after 3 missed exchanges, fallback applied, run continues, device returns', async () => {
    const pair = track(await openPtyPair());
    let board: EmulatedBoard = await startEmulatedBoard('battery', { device: pair.b });
    cleanups.push(() => board.stop());
    const run = track(
      new RealtimeRun(
        loopConfig(
          {
            id: DEVICE,
            path: pair.a,
            bus: '18',
            rating_mva: 2,
            powerScale: SCALE,
            exchangeEvery: 10,
            fallback: 'trip',
          },
          30,
        ),
      ),
    );
    const got = collect(run);
    await run.ready;
    const kinds = () => got.events.map((e) => e.kind);
    await waitFor('the board online', () => got.links[0]?.online === true);
    await sleep(800);

    // 1. The board dies (the cable stays): silence on the line.
    await board.stop();
    await waitFor('link-offline', () => kinds().includes('link-offline'));
    const offline = got.events.find((e) => e.kind === 'link-offline')!;
    expect(offline.message).toMatch(/3 exchanges without an answer/);
    // Fallback 'trip': the unit's injection is zero while offline.
    await waitFor('fallback in the snapshots', () => got.snapshots.at(-1)?.devices[DEVICE].online === false);
    await sleep(100);
    expect(got.snapshots.at(-1)?.devices[DEVICE].p_mw).toBe(0);

    // 2. The cable is pulled (the pty pair goes away), then plugged back with a fresh board.
    await pair.unplug();
    await waitFor('link-port-lost', () => kinds().includes('link-port-lost'));
    await pair.replug();
    board = await startEmulatedBoard('battery', { device: pair.b });
    await waitFor('link-port-reopened', () => kinds().includes('link-port-reopened'));
    await waitFor(
      'link-online again',
      () => kinds().lastIndexOf('link-online') > kinds().indexOf('link-offline'),
    );
    await waitFor(
      'the device feeding the twin again',
      () => got.snapshots.at(-1)?.devices[DEVICE].online === true,
    );

    const tBefore = got.snapshots.at(-1)!.t_s;
    await sleep(300);
    expect(got.snapshots.at(-1)!.t_s).toBeGreaterThan(tBefore); // the run never stopped
    await run.stop();
    const end = await run.finished;
    expect(end.type).toBe('stopped');
    if (end.type === 'stopped') {
      expect(end.reason).toBe('requested');
      expect(end.links[0].outages).toBeGreaterThanOrEqual(1);
      expect(end.links[0].online).toBe(true);
    }
  });

  it('garbage and line noise on the link: the deframer resyncs and no frame is misread', async () => {
    // bench ⇄ pairA ⇄ relay (injects noise both ways) ⇄ pairB ⇄ board
    const pairA = track(await openPtyPair());
    const pairB = track(await openPtyPair());
    track(await startEmulatedBoard('battery', { device: pairB.b }));
    const toBench = new SerialTransport({ path: pairA.b });
    const toBoard = new SerialTransport({ path: pairB.a });
    await toBench.open();
    await toBoard.open();
    cleanups.push(() => toBench.close());
    cleanups.push(() => toBoard.close());
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    let injected = 0;
    const noisy = (chunk: Uint8Array): Uint8Array => {
      const out = chunk.slice();
      // Flip a bit in about one chunk in eight; prepend random garbage (zeros included) to another eighth.
      const r = rand();
      if (r < 0.125 && out.length > 2) {
        out[1 + Math.floor(rand() * (out.length - 2))] ^= 1 << Math.floor(rand() * 8);
        injected++;
      } else if (r < 0.25) {
        injected++;
        return Uint8Array.from([
          ...Array.from({ length: 1 + Math.floor(rand() * 40) }, () => Math.floor(rand() * 256)),
          ...out,
        ]);
      }
      return out;
    };
    // One write at a time per transport (the Transport contract): a small chain per direction.
    const relay = (from: SerialTransport, to: SerialTransport) => {
      let chain = Promise.resolve();
      from.on('data', (chunk) => {
        const bytes = noisy(chunk);
        chain = chain.then(() => to.write(bytes)).catch(() => {});
      });
    };
    relay(toBench, toBoard);
    relay(toBoard, toBench);

    const run = track(
      new RealtimeRun(
        loopConfig(
          { id: DEVICE, path: pairA.a, bus: '18', rating_mva: 2, powerScale: SCALE, exchangeEvery: 10 },
          3,
        ),
      ),
    );
    const got = collect(run);
    await run.ready;
    const end = await run.finished;
    expect(end.type).toBe('stopped');
    if (end.type !== 'stopped') return;
    const stats = end.links[0];
    expect(injected).toBeGreaterThan(20);
    expect(stats.badFrames).toBeGreaterThan(0);
    // Most exchanges still got through: the deframer resynchronised after each hit.
    expect(stats.framesRx).toBeGreaterThan(150);
    // Nothing misread: every power the twin received is what the board's droop law can produce
    // (|P| ≤ rated × scale), and every frame taken as an answer matched an exchange we sent.
    for (const s of got.snapshots) {
      expect(Math.abs(s.devices[DEVICE].p_mw)).toBeLessThanOrEqual((BOARD_RATED_W * SCALE) / 1e6 + 1e-9);
      expect(Number.isFinite(s.devices[DEVICE].p_mw)).toBe(true);
    }
    // Every value taken in is one the board's droop law gives for a recent frequency (see the
    // closed-loop test): a misread frame would show up as a value matching none.
    const late = got.snapshots.filter((s) => s.t_s > STEP_AT_S + 1);
    for (const x of late) {
      if (!x.devices[DEVICE].online) continue;
      const p = x.devices[DEVICE].p_mw;
      // A board starved of CPU answers late, so look back further than one exchange.
      const window = late.filter((y) => y.t_s <= x.t_s && y.t_s >= x.t_s - 3);
      const best = Math.min(...window.map((y) => Math.abs(p - droopMw(mg2(y).f_hz))));
      expect(best).toBeLessThan(0.02 * Math.abs(p) + 0.001);
    }
  });
});
