/**
 * SunSpec Modbus RTU devices read and controlled over real pseudo-terminal pairs (socat): the
 * driver (SunSpecLink on a SerialTransport, the project's RTU master) on one end, the slave
 * emulator on the other; a modern map (701/704/802) and a legacy one (103/123/124), each at one
 * of the three base addresses; late and garbled answers counted and never decoded; and the
 * Modbus frames of a real `gridloop run` in the run's frames.pcap.gz.
 */

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { crc16modbus } from '../bench/devices/modbus-rtu.ts';
import { type SunSpecSlave, startSunSpecSlave } from '../bench/devices/sunspec-emulator.ts';
import { SunSpecLink } from '../bench/devices/sunspec-link.ts';
import { openPtyPair, type PtyPair } from '../bench/devices/transport.ts';
import { readRunFrames } from '../bench/recording/index.ts';
import type { LinkEvent } from '../bench/runtime/messages.ts';
import { budget } from './support/machine-speed.ts';

const root = new URL('..', import.meta.url).pathname;
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

function gridloop(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['bin/gridloop.mjs', ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), budget(60_000));
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

function tshark(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn('tshark', args, { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (err) =>
      done({ code: -1, stdout, stderr: `cannot run tshark (apt-get install tshark): ${err.message}` }),
    );
    child.on('exit', (code) => done({ code, stdout, stderr }));
  });
}

/** Register writes the slave received at the address of a point (model block address + offset). */
function writesTo(slave: SunSpecSlave, model: number, offset: number): number[][] {
  const at = slave.modelAddress.get(model)! + offset;
  return slave.state.writes.filter((w) => w.address === at).map((w) => w.values);
}

describe('SunSpec Modbus RTU devices over pseudo-terminals', { timeout: budget(60_000) }, () => {
  let pair: PtyPair | undefined;
  let slave: SunSpecSlave | undefined;
  let link: SunSpecLink | undefined;
  const dirs: string[] = [];
  afterEach(async () => {
    await link?.close();
    await slave?.stop();
    await pair?.stop();
    link = slave = pair = undefined;
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  for (const base of [40000, 50000, 0]) {
    it(`discovers the modern map with "SunS" at ${base} and reads model 1`, async () => {
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
      expect(link.identity?.generation).toBe('modern');
      expect(link.identity?.models.map((m) => m.id)).toEqual([1, 701, 702, 704, 711, 802]);
      expect(link.identity?.manufacturer).toBe('gridloop');
      expect(link.identity?.serialNumber).toBe('EMU-0001');
      // The model blocks sit where the walk says: marker (2), model 1's ID + L (2) and L = 66.
      expect(link.identity?.models[1].address).toBe(base + 2 + 2 + 66);
    });
  }

  for (const base of [0, 50000]) {
    it(`discovers a legacy 103/121/123/124 map with "SunS" at ${base}`, async () => {
      pair = await openPtyPair();
      slave = await startSunSpecSlave({ path: pair.b, base, legacy: true });
      link = new SunSpecLink({ id: 'legacy', driver: 'sunspec', path: pair.a, baud: 9600 });
      await link.open();
      expect(link.identity).toMatchObject({ base, generation: 'legacy', serialNumber: 'EMU-L001' });
      // Lengths as published for the legacy models: 1 (66), 103 (50), 121 (30), 123 (24), 124 (24).
      expect(link.identity?.models.map((m) => [m.id, m.length])).toEqual([
        [1, 66],
        [103, 50],
        [121, 30],
        [123, 24],
        [124, 24],
      ]);
      expect(link.identity?.models[3].address).toBe(base + 2 + 68 + 52 + 32);
    });
  }

  it('modern map: reads output and SoC, writes a set-point through the limits, and the e-stop zeroes the device', async () => {
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
    // One frame: WSetEna 1, WSetMod 1 (watts, not the default % of WMax), WSet 4000 as int32.
    expect(writesTo(slave, 704, modelOffset(704, 'WSetEna'))).toEqual([[1, 1, 0, 4000]]);
    expect(await link.readControls()).toMatchObject({ WSetEna: 1, WSetMod: 1, WSet: 4000 });
    // A P-only set-point leaves the device's reactive power alone.
    expect(writesTo(slave, 704, modelOffset(704, 'VarSet'))).toEqual([]);
    // What the twin sees: the device's watts × 100, in MW.
    step = await pollUntil(link, () => Math.abs(link!.input().p_mw - 0.4) < 0.01, 3000, step);
    expect(link.input().p_mw).toBeCloseTo(0.4, 1);

    // Reactive power: 0.25 Mvar → 2500 var, VarSetMod 4 (vars), read back from 701 Var.
    link.setpoint({ q_mvar: 0.25 });
    step = await pollUntil(link, () => Math.abs(link!.input().q_mvar - 0.25) < 0.005, 5000, step);
    expect(slave.state.var).toBeCloseTo(2500, -2);
    expect(await link.readControls()).toMatchObject({ VarSetEna: 1, VarSetMod: 4, VarSet: 2500, WSet: 4000 });

    link.emergencyStop();
    await pollUntil(link, () => Math.abs(slave!.state.w) < 40, 5000, step);
    expect(Math.abs(slave.state.w)).toBeLessThan(40);
    expect(await link.readControls()).toMatchObject({
      WSetEna: 1,
      WSetMod: 1,
      WSet: 0,
      VarSet: 0,
      WMaxLimPctEna: 1,
      WMaxLimPct: 0,
    });
    expect(() => link!.setpoint({ p_mw: 0.1 })).toThrow(/emergency stop/);
    const events: LinkEvent[] = [];
    link.drainEvents(events);
    expect(events.map((e) => e.kind)).toEqual(
      expect.arrayContaining(['device-hello', 'link-online', 'setpoint-limited', 'emergency-stop']),
    );
    expect(link.stats().rtt_us_p50).toBeGreaterThan(0);
    // (A poll outliving the 50 ms between exchanges on a loaded machine counts late, legitimately.)
    expect(link.stats()).toMatchObject({ badFrames: 0, crcErrors: 0 });
  });

  it('legacy map: reads 103 W and 124 ChaState, controls through 124 (discharge, charge) and 123, e-stop disconnects', async () => {
    pair = await openPtyPair();
    slave = await startSunSpecSlave({ path: pair.b, legacy: true, base: 0, rating_w: 10_000, soc0: 0.7 });
    link = new SunSpecLink({
      id: 'legacy-bess',
      driver: 'sunspec',
      path: pair.a,
      baud: 19200,
      powerScale: 100,
      limits: { pMax_w: 4000, pMin_w: -4000 },
    });
    await link.open();
    let step = await pollUntil(link, () => link!.input().online, 3000);
    expect(link.input().soc).toBeCloseTo(0.7, 2);

    // 0.3 MW → 3000 W discharge = 30 % of WChaMax. WChaMax is 1000 × 10^1 on the device: a driver
    // that ignored the scale factor would ask for 300 % (and the device would run at full power).
    link.setpoint({ p_mw: 0.3 });
    step = await pollUntil(link, () => Math.abs(slave!.state.w - 3000) < 30, 5000, step);
    expect(slave.state.w).toBeCloseTo(3000, -2);
    // InOutWRte_SF = -2: 30 % is the register value 3000; StorCtl_Mod bit 1 = discharge; Conn 1.
    expect(writesTo(slave, 124, modelOffset(124, 'OutWRte')).at(-1)).toEqual([3000]);
    expect(writesTo(slave, 124, modelOffset(124, 'StorCtl_Mod')).at(-1)).toEqual([2]);
    expect(await link.readControls()).toMatchObject({
      '124.StorCtl_Mod': 2,
      '124.OutWRte': 30,
      '124.InWRte': 0,
      '124.WChaMax': 10_000,
      '123.Conn': 1,
    });
    step = await pollUntil(link, () => Math.abs(link!.input().p_mw - 0.3) < 0.005, 3000, step);
    expect(link.input().p_mw).toBeCloseTo(0.3, 2);

    // Charging: −0.2 MW → 2000 W into the battery, InWRte 20 %, StorCtl_Mod bit 0.
    link.setpoint({ p_mw: -0.2 });
    step = await pollUntil(link, () => Math.abs(slave!.state.w + 2000) < 30, 5000, step);
    expect(await link.readControls()).toMatchObject({
      '124.StorCtl_Mod': 1,
      '124.InWRte': 20,
      '124.OutWRte': 0,
    });
    step = await pollUntil(link, () => Math.abs(link!.input().p_mw + 0.2) < 0.005, 3000, step);
    expect(link.input().p_mw).toBeCloseTo(-0.2, 2);

    // Reactive power through 123: 0.15 Mvar → 1500 var = 15 % of WMax (model 121: 1000 × 10^1);
    // VArPct_SF = -1, so the register holds 150. Read back from 103 VAr.
    link.setpoint({ q_mvar: 0.15 });
    step = await pollUntil(link, () => Math.abs(link!.input().q_mvar - 0.15) < 0.005, 5000, step);
    expect(writesTo(slave, 123, modelOffset(123, 'VArWMaxPct')).at(-1)).toEqual([150]);
    expect(await link.readControls()).toMatchObject({
      '123.VArWMaxPct': 15,
      '123.VArPct_Mod': 1,
      '123.VArPct_Ena': 1,
      '124.InWRte': 20,
    });

    link.emergencyStop();
    await pollUntil(link, () => Math.abs(slave!.state.w) < 30, 5000, step);
    expect(Math.abs(slave.state.w)).toBeLessThan(30);
    expect(await link.readControls()).toMatchObject({
      '124.StorCtl_Mod': 0,
      '124.OutWRte': 0,
      '124.InWRte': 0,
      '123.Conn': 0,
      '123.WMaxLim_Ena': 1,
      '123.WMaxLimPct': 0,
    });
    expect(link.stats()).toMatchObject({ badFrames: 0, crcErrors: 0 });
  });

  it('legacy PV inverter (103/121/123, no storage): active power is curtailed through 123 WMaxLimPct of 121 WMax', async () => {
    pair = await openPtyPair();
    slave = await startSunSpecSlave({
      path: pair.b,
      legacy: true,
      pv: true,
      base: 40000,
      pvAvailable_w: 8000,
    });
    link = new SunSpecLink({
      id: 'legacy-pv',
      driver: 'sunspec',
      path: pair.a,
      baud: 19200,
      powerScale: 100,
    });
    await link.open();
    expect(link.identity?.models.map((m) => m.id)).toEqual([1, 103, 121, 123]);
    let step = await pollUntil(link, () => Math.abs(link!.input().p_mw - 0.8) < 0.005, 5000);
    expect(link.input().soc).toBeUndefined();
    // 0.5 MW → 5000 W = 50 % of WMax 10 kW (WMax_SF 1, register 1000); WMaxLimPct_SF -1 → 500.
    link.setpoint({ p_mw: 0.5 });
    step = await pollUntil(link, () => Math.abs(link!.input().p_mw - 0.5) < 0.005, 5000, step);
    expect(writesTo(slave, 123, modelOffset(123, 'WMaxLimPct')).at(-1)).toEqual([500]);
    expect(await link.readControls()).toMatchObject({ '123.WMaxLim_Ena': 1, '123.WMaxLimPct': 50 });
    // A PV inverter cannot absorb: a negative set-point is capped at 0 W and said so.
    link.setpoint({ p_mw: -0.1 });
    step = await pollUntil(link, () => Math.abs(link!.input().p_mw) < 0.005, 5000, step);
    const events: LinkEvent[] = [];
    link.drainEvents(events);
    expect(events.map((e) => e.message).join('\n')).toMatch(/cannot absorb; capped at 0 W/);
    link.emergencyStop();
    await pollUntil(link, () => slave!.point(123, 'Conn') === 0, 3000, step);
    expect(await link.readControls()).toMatchObject({ '123.Conn': 0, '123.WMaxLimPct': 0 });
  });

  it('a late answer is counted as late and a garbled one as a CRC error; neither is decoded', async () => {
    pair = await openPtyPair();
    slave = await startSunSpecSlave({ path: pair.b, soc0: 0.5 });
    link = new SunSpecLink({ id: 'slow', driver: 'sunspec', path: pair.a, baud: 19200, powerScale: 1 });
    await link.open();
    let step = await pollUntil(link, () => link!.input().online, 3000);
    link.setpoint({ p_mw: 0.002 }); // 2000 W
    step = await pollUntil(link, () => Math.abs(link!.input().p_mw - 0.002) < 2e-5, 5000, step);
    const before = link.stats();
    expect(before).toMatchObject({ crcErrors: 0, badFrames: 0 });

    // Every value the driver accepts from here must be what the device really reports.
    const seen: number[] = [];
    const watch = setInterval(() => seen.push(link!.input().p_mw * 1e6), 5);
    // Two answers 400 ms after their request (the driver waits 250 ms), then three with a flipped byte.
    slave.delayAnswers(400, 2);
    step = await pollUntil(link, () => slave!.state.delayed === 2 && link!.stats().late >= 2, 5000, step);
    slave.garbleAnswers(3);
    step = await pollUntil(
      link,
      () => slave!.state.garbled === 3 && link!.stats().crcErrors >= 3,
      5000,
      step,
    );
    step = await pollUntil(link, () => link!.stats().framesRx > before.framesRx + 10, 3000, step);
    clearInterval(watch);

    const after = link.stats();
    // At least the two delayed ones (a scheduling stall on a loaded machine can make another late).
    expect(after.late - before.late).toBeGreaterThanOrEqual(2);
    expect(after.crcErrors - before.crcErrors).toBe(3);
    expect(after.badFrames - before.badFrames).toBe(3);
    expect(after.missed).toBeGreaterThan(before.missed);
    for (const w of seen) expect(Math.abs(w - 2000)).toBeLessThan(25);
    expect(link.input().online).toBe(true);
  });

  it('gridloop probe --sunspec shows the common model, the models and the output', async () => {
    pair = await openPtyPair();
    slave = await startSunSpecSlave({ path: pair.b, base: 50000, unitId: 2 });
    const out = await gridloop(['probe', pair.a, '--sunspec', '--device-id', '2', '--count', '3']);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(/SunSpec device on .* \(unit 2\), map at 50000/);
    expect(out.stdout).toMatch(/gridloop emulated BESS inverter, version 1\.0\.0, serial EMU-0001/);
    expect(out.stdout).toMatch(
      /models \(modern 7xx: controls through 704\/802\): 1@50002\(L=66\) 701@50070\(L=153\) 702@50225\(L=50\) 704@50277\(L=65\)/,
    );
    expect(out.stdout).toMatch(/polls: 3\/3 answered/);
    await slave.stop();
    slave = await startSunSpecSlave({ path: pair.b, base: 50000, unitId: 2, legacy: true });
    const legacy = await gridloop(['probe', pair.a, '--sunspec', '--device-id', '2', '--count', '1']);
    expect(legacy.stdout).toMatch(/models \(legacy 1xx: controls through 123\/124\): 1@50002\(L=66\) 103@/);
  });

  it('gridloop run with a SunSpec device: its Modbus RTU frames, both ways, are in the run’s frames.pcap.gz', async () => {
    pair = await openPtyPair();
    slave = await startSunSpecSlave({ path: pair.b, unitId: 7 });
    const work = await mkdtemp(join(tmpdir(), 'gridloop-sunspec-run-'));
    dirs.push(work);
    const scenario = join(work, 'sunspec.yaml');
    await writeFile(
      scenario,
      [
        'name: sunspec-capture',
        `grid: ${resolve(root, 'grids/demo-33bw-microgrids.yaml')}`,
        'seed: 1',
        'dt_s: 0.001',
        'duration_s: 1.5',
        '',
      ].join('\n'),
    );
    const mapping = join(work, 'devices.yaml');
    await writeFile(
      mapping,
      `devices:\n  - { id: bess-hw, driver: sunspec, path: ${pair.a}, baud: 19200, protocolDeviceId: 7, exchangeEvery: 50 }\n`,
    );
    const run = await gridloop([
      'run',
      scenario,
      '--devices',
      mapping,
      '--port',
      '0',
      '--runs-dir',
      join(work, 'runs'),
      '--json',
    ]);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!);
    expect(result.links[0]).toMatchObject({ deviceId: 'bess-hw', driver: 'sunspec', badFrames: 0 });
    const { frames } = await readRunFrames(result.runDir);
    const modbus = frames.filter((f) => f.deviceId === 'bess-hw');
    const tx = modbus.filter((f) => f.direction === 'tx');
    const rx = modbus.filter((f) => f.direction === 'rx');
    expect(tx.length).toBeGreaterThan(5);
    expect(rx.length).toBeGreaterThan(5);
    // Each record is one whole RTU frame: unit 7, a CRC-16/MODBUS that checks (computed here
    // independently of the driver's framing), and the "SunS" probe at 40000 among the requests.
    for (const f of [...tx, ...rx]) {
      expect(f.bytes[0]).toBe(7);
      const n = f.bytes.length;
      expect(crc16modbus(f.bytes, n - 2)).toBe(f.bytes[n - 2] | (f.bytes[n - 1] << 8));
    }
    expect(tx.some((f) => hex(f.bytes).startsWith('07 03 9c 40 00 02'))).toBe(true);
    expect(rx.some((f) => hex(f.bytes).startsWith('07 03 04 53 75 6e 53'))).toBe(true);
    expect(result.links[0].framesTx).toBe(tx.length);

    // What a lab engineer sees: Wireshark's own Modbus RTU dissector, through the project's Lua
    // dissector for the capture's encapsulation (docs/wireshark/gridloop.lua).
    const shark = await tshark([
      '-X',
      `lua_script:${join(root, 'docs/wireshark/gridloop.lua')}`,
      '-r',
      join(result.runDir, 'frames.pcap.gz'),
      '-Y',
      'mbrtu',
      '-T',
      'fields',
      '-E',
      'separator=;',
      '-e',
      'gridloop.device',
      '-e',
      'gridloop.direction',
      '-e',
      'mbrtu.unit_id',
      '-e',
      'modbus.func_code',
      '-e',
      'modbus.reference_num',
      '-e',
      'modbus.regval_uint16',
    ]);
    expect(shark.code, shark.stderr).toBe(0);
    const rows = shark.stdout.trim().split('\n');
    expect(rows.length).toBe(tx.length + rx.length);
    // The "SunS" probe (query, reference 40000) and its answer 0x5375 0x6E53 = 21365, 28243.
    expect(rows).toContain('bess-hw;1;7;3;40000;');
    expect(rows).toContain('bess-hw;0;7;3;;21365,28243');
  });

  it('names the port when there is no SunSpec map', async () => {
    pair = await openPtyPair();
    // Nothing answers on the other end: every base times out.
    link = new SunSpecLink(
      { id: 'ghost', driver: 'sunspec', path: pair.a, baud: 19200 },
      { timeout_ms: 100 },
    );
    await expect(link.open()).rejects.toThrow(/no SunSpec map .* on .*\/a/);
  });
});

const hex = (bytes: Uint8Array) =>
  Buffer.from(bytes)
    .toString('hex')
    .replace(/(..)(?!$)/g, '$1 ');

/** A point's offset in an official model definition (from the JSON, not from the driver's layout code). */
function modelOffset(model: number, point: string): number {
  const json = requireModel(model);
  let offset = 0;
  for (const p of json.group.points) {
    if (p.name === point) return offset;
    offset += p.size;
  }
  throw new Error(`no ${point} in model ${model}`);
}

function requireModel(model: number): { group: { points: { name: string; size: number }[] } } {
  return JSON.parse(readFileSync(join(root, 'bench/devices/sunspec-models', `model_${model}.json`), 'utf8'));
}
