/**
 * The SunSpec driver on the in-process loopback transport (no serial port): the same driver and
 * slave emulator as the pseudo-terminal suite (test/bench-sunspec.test.ts), wired back to back.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { waitFor } from '../../test/support/machine-speed.ts';
import type { CapturedFrame } from './link-config.ts';
import { hasValidCrc } from './modbus-rtu.ts';
import { type SunSpecSlave, startSunSpecSlave } from './sunspec-emulator.ts';
import { SunSpecLink } from './sunspec-link.ts';
import { createLoopbackPair, type LoopbackTransport, MockTransport } from './transport.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function exchangeUntil(link: SunSpecLink, done: () => boolean, timeoutMs = 3000): Promise<void> {
  const end = performance.now() + timeoutMs;
  let step = 0;
  while (!done()) {
    if (performance.now() > end) throw new Error('condition not reached');
    link.exchange({ step, t_s: step * 0.02, vm_pu: 1, va_deg: 0, f_hz: 50, rocof_hz_s: 0 });
    step++;
    await sleep(20);
  }
}

describe('SunSpec driver over the in-process loopback transport', () => {
  let slave: SunSpecSlave | undefined;
  let link: SunSpecLink | undefined;
  let ends: [LoopbackTransport, LoopbackTransport] | undefined;
  afterEach(async () => {
    await link?.close();
    await slave?.stop();
    await ends?.[1].close();
    link = slave = ends = undefined;
  });

  async function start(legacy: boolean, base: number) {
    ends = createLoopbackPair('sunspec');
    const [master, device] = ends;
    await device.open();
    // The legacy device starts disconnected (123 Conn 0): the driver must connect it.
    slave = await startSunSpecSlave({ transport: device, legacy, base, soc0: 0.4, disconnected: legacy });
    link = new SunSpecLink(
      { id: legacy ? 'legacy' : 'modern', driver: 'sunspec', baud: 115200 },
      { transport: () => master },
    );
    await link.open();
    return link;
  }

  for (const [legacy, base] of [
    [false, 0],
    [true, 40000],
  ] as const) {
    it(`${legacy ? 'legacy' : 'modern'} map at ${base}: discovered, read, controlled, every frame captured`, async () => {
      const l = await start(legacy, base);
      expect(l.identity).toMatchObject({ base, generation: legacy ? 'legacy' : 'modern' });
      await exchangeUntil(l, () => l.input().online);
      expect(l.input().soc).toBeCloseTo(0.4, 2);
      l.setpoint({ p_mw: -0.0015 }); // 1500 W charging
      await exchangeUntil(l, () => Math.abs(l.input().p_mw + 0.0015) < 2e-5);
      expect(Math.abs(slave!.state.w + 1500)).toBeLessThan(30);
      if (legacy) expect(slave!.point(123, 'Conn')).toBe(1);

      const frames: CapturedFrame[] = [];
      l.drainFrames(frames);
      const tx = frames.filter((f) => f.direction === 'tx');
      expect(tx.length).toBe(l.stats().framesTx);
      expect(frames.filter((f) => f.direction === 'rx').length).toBe(l.stats().framesRx);
      for (const f of frames) expect(hasValidCrc(f.bytes)).toBe(true);
      // Drained means moved out.
      const again: CapturedFrame[] = [];
      l.drainFrames(again);
      expect(again.length).toBeLessThan(5);
    });
  }

  it('a poll still running when the next exchange is sent is counted missed, and late when it completes', async () => {
    ends = createLoopbackPair('slow');
    const [master, device] = ends;
    await device.open();
    slave = await startSunSpecSlave({ transport: device });
    link = new SunSpecLink({ id: 'slow', driver: 'sunspec', baud: 115200 }, { transport: () => master });
    await link.open();
    await exchangeUntil(link, () => link!.input().online);
    // Let the last poll of that loop finish (or time out, 250 ms) so only ours can be counted: a
    // fixed sleep was not enough on a loaded machine (the earlier poll still ran, and our first
    // exchange was then counted missed too).
    await waitFor('the earlier poll to end', () => !link!['polling']);
    const before = link.stats();
    // An answer 60 ms late (within the 250 ms timeout): the poll outlives the next exchange.
    slave.delayAnswers(60, 1);
    link.exchange({ step: 1000, t_s: 20, vm_pu: 1, va_deg: 0, f_hz: 50, rocof_hz_s: 0 });
    await sleep(10);
    link.exchange({ step: 1001, t_s: 20.02, vm_pu: 1, va_deg: 0, f_hz: 50, rocof_hz_s: 0 });
    // No exchange is sent while waiting, so nothing else can be counted meanwhile.
    const end = performance.now() + 3000;
    while (link.stats().late === before.late && performance.now() < end) await sleep(5);
    const after = link.stats();
    expect(after.missed - before.missed).toBe(1);
    expect(after.late - before.late).toBe(1);
  });

  it('a transport that closes takes the device offline; it is reopened and rediscovered', async () => {
    ends = createLoopbackPair('replug');
    const [master, device] = ends;
    await device.open();
    slave = await startSunSpecSlave({ transport: device });
    link = new SunSpecLink({ id: 'replug', driver: 'sunspec', baud: 115200 }, { transport: () => master });
    await link.open();
    await exchangeUntil(link, () => link!.input().online);
    await master.close();
    expect(link.input().online).toBe(false);
    await exchangeUntil(link, () => link!.input().online, 5000);
    const events: { kind: string }[] = [];
    link.drainEvents(events as never);
    expect(events.map((e) => e.kind)).toEqual(
      expect.arrayContaining(['link-port-lost', 'link-port-reopened', 'link-online']),
    );
  });

  it('open fails with the transport named when it cannot be opened', async () => {
    link = new SunSpecLink(
      { id: 'absent', driver: 'sunspec' },
      { transport: () => new MockTransport('mock-absent', { openError: 'no such device' }) },
    );
    await expect(link.open()).rejects.toThrow(/device absent: cannot open mock-absent: .*no such device/);
  });
});
