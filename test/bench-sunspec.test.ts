/**
 * A SunSpec Modbus RTU device read and controlled over a real pseudo-terminal pair (socat): the
 * driver (modbus-serial) on one end, the slave emulator on the other.
 */
import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { type SunSpecSlave, startSunSpecSlave } from '../bench/devices/sunspec-emulator.ts';
import { SunSpecLink } from '../bench/devices/sunspec-link.ts';
import { openPtyPair, type PtyPair } from '../bench/devices/transport.ts';
import type { LinkEvent } from '../bench/runtime/messages.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function pollUntil(link: SunSpecLink, done: () => boolean, timeoutMs: number, startStep = 0) {
  let step = startStep;
  const end = performance.now() + timeoutMs;
  while (performance.now() < end && !done()) {
    link.exchange({ step: step, t_s: step * 0.05, vm_pu: 1, va_deg: 0, f_hz: 50, rocof_hz_s: 0 });
    step++;
    await sleep(50);
  }
  return step;
}

describe('SunSpec Modbus RTU device over a pseudo-terminal', { timeout: 60_000 }, () => {
  let pair: PtyPair | undefined;
  let slave: SunSpecSlave | undefined;
  let link: SunSpecLink | undefined;
  afterEach(async () => {
    await link?.close();
    await slave?.stop();
    await pair?.stop();
    link = slave = pair = undefined;
  });

  for (const base of [40000, 50000, 0]) {
    it(`discovers the map with "SunS" at ${base} and reads model 1`, async () => {
      pair = await openPtyPair();
      slave = await startSunSpecSlave({ path: pair.b, base, unitId: 3 });
      link = new SunSpecLink({
        id: 'pv-lab',
        driver: 'sunspec',
        path: pair.a,
        baud: 19200,
        protocolDeviceId: 3,
      });
      await link.open();
      expect(link.identity?.base).toBe(base);
      expect(link.identity?.models.map((m) => m.id)).toEqual([1, 701, 702, 704, 711, 802]);
      expect(link.identity?.manufacturer).toBe('gridloop');
      expect(link.identity?.serialNumber).toBe('EMU-0001');
      // The model blocks sit where the walk says: each ID register holds the model id.
      expect(link.identity?.models[1].address).toBe(base + 2 + 2 + 66);
    });
  }

  it('reads output and SoC, writes a set-point through the limits, and the e-stop zeroes the device', async () => {
    pair = await openPtyPair();
    slave = await startSunSpecSlave({ path: pair.b, rating_w: 10_000, soc0: 0.6 });
    link = new SunSpecLink({
      id: 'bess-lab',
      driver: 'sunspec',
      path: pair.a,
      baud: 19200,
      // The twin's unit is 100× the lab device; the device may not be asked for more than 4 kW.
      powerScale: 100,
      limits: { pMax_w: 4000 },
    });
    await link.open();
    let step = await pollUntil(link, () => link!.input().online, 3000);
    expect(link.input().online).toBe(true);
    expect(link.input().soc).toBeCloseTo(0.6, 2);
    expect(link.input().p_mw).toBeCloseTo(0, 6);

    // 0.6 MW in the twin is 6 kW at the device: limited to 4 kW before anything is sent.
    const result = link.setpoint({ p_mw: 0.6 });
    expect(result.target.p_w).toBe(4000);
    expect(result.limited.join()).toMatch(/limited to 4000 W/);
    step = await pollUntil(link, () => Math.abs(slave!.state.w - 4000) < 40, 5000, step);
    const wsetWrite = slave.state.writes.find((w) => w.values.length === 2);
    expect(wsetWrite?.values).toEqual([0, 4000]);
    const controls = await link.readControls();
    expect(controls).toEqual({ wsetEna: 1, wset_w: 4000 });
    // What the twin sees: the device's watts × 100, in MW.
    step = await pollUntil(link, () => Math.abs(link!.input().p_mw - 0.4) < 0.01, 3000, step);
    expect(link.input().p_mw).toBeCloseTo(0.4, 1);

    link.emergencyStop();
    await pollUntil(link, () => Math.abs(slave!.state.w) < 40, 5000, step);
    expect(Math.abs(slave.state.w)).toBeLessThan(40);
    expect(await link.readControls()).toEqual({ wsetEna: 1, wset_w: 0 });
    expect(() => link!.setpoint({ p_mw: 0.1 })).toThrow(/emergency stop/);
    const events: LinkEvent[] = [];
    link.drainEvents(events);
    expect(events.map((e) => e.kind)).toEqual(
      expect.arrayContaining(['device-hello', 'link-online', 'setpoint-limited', 'emergency-stop']),
    );
    expect(link.stats().rtt_us_p50).toBeGreaterThan(0);
  });

  it('gridloop probe --sunspec shows the common model, the models and the output', async () => {
    pair = await openPtyPair();
    slave = await startSunSpecSlave({ path: pair.b, base: 50000, unitId: 2 });
    const out = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
      const child = spawn(
        process.execPath,
        ['bin/gridloop.mjs', 'probe', pair!.a, '--sunspec', '--device-id', '2', '--count', '3'],
        { cwd: new URL('..', import.meta.url).pathname },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => (stdout += d));
      child.stderr.on('data', (d) => (stderr += d));
      child.on('exit', (code) => done({ code, stdout, stderr }));
    });
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/SunSpec device on .* \(unit 2\), map at 50000/);
    expect(out.stdout).toMatch(/gridloop emulated BESS inverter, version 1\.0\.0, serial EMU-0001/);
    expect(out.stdout).toMatch(
      /models: 1@50002\(L=66\) 701@50070\(L=153\) 702@50225\(L=50\) 704@50277\(L=65\)/,
    );
    expect(out.stdout).toMatch(/polls: 3\/3 answered/);
  });

  it('names the port when there is no SunSpec map', async () => {
    pair = await openPtyPair();
    // Nothing answers on the other end: every base times out.
    link = new SunSpecLink({ id: 'ghost', driver: 'sunspec', path: pair.a, baud: 19200 });
    await expect(link.open()).rejects.toThrow(/no SunSpec map .* on .*\/a/);
  });
});
