import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DeviceInput, TwinState } from './api.ts';
import { Twin } from './twin.ts';

const GRID = join(process.cwd(), 'grids/demo-33bw-microgrids.yaml');

function hashRun(twin: Twin, steps: number, inputs: (k: number) => DeviceInput[]): string {
  const h = createHash('sha256');
  for (let k = 0; k < steps; k++) {
    const s = twin.step(inputs(k));
    h.update(new Uint8Array(s.vm_pu.buffer, s.vm_pu.byteOffset, s.vm_pu.byteLength));
    h.update(new Uint8Array(s.va_deg.buffer, s.va_deg.byteOffset, s.va_deg.byteLength));
    const f = new Float64Array(s.islands.length * 2);
    s.islands.forEach((i, n) => {
      f[2 * n] = i.f_hz;
      f[2 * n + 1] = i.rocof_hz_s;
    });
    h.update(new Uint8Array(f.buffer));
    for (const [id, d] of Object.entries(s.devices))
      h.update(`${id}:${d.p_mw}:${d.q_mvar}:${d.soc}:${d.online}`);
    for (const e of s.events) h.update(`${e.t_s}${e.kind}${e.message}`);
  }
  return h.digest('hex');
}

const island = (s: TwinState, id: string) => s.islands.find((i) => i.id === id)!;

describe('Twin on the demo system', () => {
  it('builds three microgrids: MG1 grid-connected, MG2 and MG3 islanded, all at 50 Hz', async () => {
    const twin = await Twin.fromFiles({ grid: GRID, seed: 1, dt_s: 0.001 });
    const s = twin.step([]);
    expect(s.islands.map((i) => [i.id, i.gridConnected, i.energised])).toEqual([
      ['MG1', true, true],
      ['MG2', false, true],
      ['MG3', false, true],
    ]);
    for (const i of s.islands) expect(Math.abs(i.f_hz - 50)).toBeLessThan(0.01);
    expect(twin.units.length).toBeGreaterThanOrEqual(12);
    expect(new Set(twin.units.map((u) => u.technology)).size).toBeGreaterThanOrEqual(9);
  });

  it('is deterministic: same seed and inputs give bit-identical outputs; another seed differs', async () => {
    const inputs = (k: number): DeviceInput[] => [
      { deviceId: 'bess-hw', p_mw: 0.03 * Math.sin(k / 50), q_mvar: 0, online: true },
    ];
    const run = async (seed: number) => {
      const twin = await Twin.fromFiles({
        grid: GRID,
        seed,
        dt_s: 0.001,
        channels: { '*': { noise_std: 0.001 } },
      });
      twin.scheduleAt(0.5, { kind: 'load-step', bus: '31', delta_mw: 0.1 });
      return hashRun(twin, 2000, inputs);
    };
    const a = await run(7);
    expect(await run(7)).toBe(a);
    expect(await run(8)).not.toBe(a);
  });

  it('frequency responds to a hardware device input and to load changes', async () => {
    const twin = await Twin.fromFiles({ grid: GRID, seed: 1, dt_s: 0.001 });
    let s = twin.step([]);
    for (let k = 0; k < 500; k++) s = twin.step([{ deviceId: 'bess-hw', p_mw: 0, q_mvar: 0, online: true }]);
    const f0 = island(s, 'MG2').f_hz;
    for (let k = 0; k < 300; k++)
      s = twin.step([{ deviceId: 'bess-hw', p_mw: 0.1, q_mvar: 0, online: true }]);
    expect(island(s, 'MG2').f_hz - f0).toBeGreaterThan(0.02);
    expect(s.devices['bess-hw'].p_mw).toBeCloseTo(0.1, 12);
    const before = island(s, 'MG3').f_hz;
    twin.apply({ kind: 'load-step', bus: '31', delta_mw: 0.2 });
    for (let k = 0; k < 300; k++) s = twin.step([]);
    expect(island(s, 'MG3').f_hz).toBeLessThan(before - 0.05);
  });

  it('an FID moves power between islands without merging their frequencies', async () => {
    const twin = await Twin.fromFiles({
      grid: GRID,
      seed: 1,
      dt_s: 0.001,
      config: { fids: { 'fid-18-33': { mode: 'fixed', ramp_mw_s: 10 } } },
    });
    twin.apply({ kind: 'fid-setpoint', fidId: 'fid-18-33', p_mw: 0.25 });
    let s = twin.step([]);
    for (let k = 0; k < 400; k++) s = twin.step([]);
    const mg2 = island(s, 'MG2');
    const mg3 = island(s, 'MG3');
    expect(s.islands).toHaveLength(3);
    expect(mg3.f_hz - mg2.f_hz).toBeGreaterThan(0.05);
    const fid = twin.fids.find((f) => f.id === 'fid-18-33')!;
    expect(fid.pA_mw + fid.pB_mw + fid.losses_mw).toBeCloseTo(0, 12);
    expect(s.devices['fid-18-33'].p_mw).toBeCloseTo(0.25, 9);
  });

  it('measurementFor passes the bus measurement through the device channels (noise, quantisation, delay)', async () => {
    const twin = await Twin.fromFiles({
      grid: GRID,
      seed: 3,
      dt_s: 0.001,
      channels: { 'bess-hw.f_hz': { quantum: 0.01, delay_s: 0.005 }, 'bess-hw.vm_pu': { noise_std: 0.002 } },
    });
    const history: number[] = [];
    const measured: number[] = [];
    const vms: number[] = [];
    twin.scheduleAt(0.1, { kind: 'load-step', bus: '14', delta_mw: 0.2 });
    for (let k = 0; k < 400; k++) {
      const s = twin.step([]);
      history.push(island(s, 'MG2').f_hz);
      const m = twin.measurementFor('bess-hw');
      measured.push(m.f_hz);
      vms.push(m.vm_pu - s.vm_pu[17]);
      expect(m.step).toBe(s.step);
    }
    for (let k = 10; k < 400; k++) expect(measured[k]).toBeCloseTo(Math.round(history[k - 5] * 100) / 100, 9);
    const sd = Math.sqrt(vms.reduce((a, v) => a + v * v, 0) / vms.length);
    expect(sd).toBeGreaterThan(0.001);
    expect(sd).toBeLessThan(0.003);
  });

  it('applies the hold or zero fallback while a hardware link is down', async () => {
    const twin = await Twin.fromFiles({
      grid: GRID,
      seed: 1,
      hardware: [{ id: 'inv-hw', bus: '30', fallback: 'zero' }],
    });
    let s = twin.step([
      { deviceId: 'bess-hw', p_mw: 0.05, q_mvar: 0, online: true },
      { deviceId: 'inv-hw', p_mw: 0.05, q_mvar: 0, online: true },
    ]);
    s = twin.step([
      { deviceId: 'bess-hw', p_mw: 0, q_mvar: 0, online: false },
      { deviceId: 'inv-hw', p_mw: 0, q_mvar: 0, online: false },
    ]);
    expect(s.devices['bess-hw'].p_mw).toBeCloseTo(0.05, 12);
    expect(s.devices['bess-hw'].online).toBe(false);
    expect(s.devices['inv-hw'].p_mw).toBe(0);
  });

  it('rejects bad commands with a TypeError naming what is wrong', async () => {
    const twin = await Twin.fromFiles({ grid: GRID, seed: 1 });
    expect(() => twin.command({ kind: 'breaker', id: 'nope', closed: false })).toThrow(
      /unknown breaker 'nope'/,
    );
    expect(() => twin.command({ kind: 'fid-setpoint', fidId: 'fid-18-33', p_mw: 5 })).toThrow(TypeError);
    expect(() => twin.command({ kind: 'fid-setpoint', fidId: 'fid-18-33', p_mw: 0.1, ramp_s: -1 })).toThrow(
      /ramp_s must be a finite number ≥ 0/,
    );
    expect(() => twin.command({ kind: 'setpoint', deviceId: 'ghost', p_mw: 1 })).toThrow(/unknown device/);
    expect(() => twin.measurementFor('ghost')).toThrow(TypeError);
    const e = twin.command({ kind: 'breaker', id: 'pcc-mg1', closed: false });
    expect(e.kind).toBe('breaker');
    const s = twin.step([]);
    expect(island(s, 'MG1').gridConnected).toBe(false);
  });

  it('a main-grid frequency disturbance is followed by the grid-connected microgrid only', async () => {
    const twin = await Twin.fromFiles({ grid: GRID, seed: 1, dt_s: 0.01 });
    twin.apply({ kind: 'grid-disturbance', quantity: 'frequency', shape: 'step', delta: -0.2 });
    let s = twin.step([]);
    for (let k = 0; k < 10; k++) s = twin.step([]);
    expect(island(s, 'MG1').f_hz).toBeCloseTo(49.8, 9);
    expect(Math.abs(island(s, 'MG2').f_hz - 50)).toBeLessThan(0.05);
  });

  it('DERs trip per IEEE 1547 inside the twin: OF2 on a grid over-frequency within 1 % + 2 cycles', async () => {
    const twin = await Twin.fromFiles({ grid: GRID, seed: 1, dt_s: 0.001 });
    for (let k = 0; k < 100; k++) twin.step([]);
    const start = twin.time_s;
    // 52 Hz > OF2 (62 Hz scaled to 50 Hz = 51.667 Hz), clearing time 0.16 s.
    twin.apply({ kind: 'grid-disturbance', quantity: 'frequency', shape: 'step', delta: 2, start_s: start });
    for (let k = 0; k < 400; k++) twin.step([]);
    const trips = twin.tripLog.filter((t) => t.cause === 'IEEE 1547 OF2');
    const mg1 = ['pv-24', 'wind-22', 'fc-20', 'bess-25', 'chp-4'];
    // Every MG1 unit (categories I and II share the OF2 default), none in the islanded microgrids.
    expect(trips.map((t) => t.unit).sort()).toEqual([...mg1].sort());
    for (const t of trips) expect(Math.abs(t.t_s - start - 0.16)).toBeLessThanOrEqual(0.01 * 0.16 + 2 / 50);
  });

  it('demand response: an islanded microgrid short of capacity curtails its controllable loads', async () => {
    const twin = await Twin.fromFiles({ grid: GRID, seed: 1, dt_s: 0.01 });
    twin.step([]);
    twin.apply({ kind: 'generator-trip', unit: 'ct-30' });
    twin.apply({ kind: 'generator-trip', unit: 'gas-27' });
    // Changing the EMS mode dispatches at the next step.
    twin.apply({ kind: 'ems-mode', microgrid: 'MG3', mode: 'stand-alone' });
    const s = twin.step([]);
    expect(s.events.some((e) => e.kind === 'demand-response' && e.target === 'MG3')).toBe(true);
    const i = twin.loads.ids.indexOf('load-32');
    expect(twin.loads.curtail[i]).toBeLessThan(1);
    // A non-controllable load is never curtailed; a command can curtail a controllable one.
    expect(twin.loads.curtail[twin.loads.ids.indexOf('load-31')]).toBe(1);
    expect(() => twin.apply({ kind: 'load-curtail', load: 'load-31', fraction: 0.5 })).toThrow(
      /not controllable/,
    );
    twin.apply({ kind: 'load-curtail', load: 'load-24', fraction: 0.5 });
    expect(twin.loads.curtail[twin.loads.ids.indexOf('load-24')]).toBe(0.5);
  });

  it('sub-steps long steps in time: a main-grid ramp gives the same ROCOF at 100 ms and 1 ms steps', async () => {
    const rocofAt = async (dt: number) => {
      const twin = await Twin.fromFiles({ grid: GRID, seed: 1, dt_s: dt });
      twin.apply({
        kind: 'grid-disturbance',
        quantity: 'frequency',
        shape: 'ramp',
        delta: -0.5,
        rampTime_s: 5,
        start_s: 0,
      });
      let s = twin.step([]);
      for (let k = 1; k < Math.round(1 / dt); k++) s = twin.step([]);
      return [island(s, 'MG1').rocof_hz_s, island(s, 'MG1').f_hz];
    };
    const [coarse, fc] = await rocofAt(0.1);
    const [fine, ff] = await rocofAt(0.001);
    expect(fine).toBeCloseTo(-0.1, 6);
    expect(coarse).toBeCloseTo(-0.1, 6);
    expect(fc).toBeCloseTo(ff, 6);
  });
});
