/**
 * PCC power, EMS mode, islanded flag and breaker positions in TwinState, checked against references
 * the twin does not compute: the closed-form solution of a two-bus feeder, and the energy balance
 * of the demo's grid-connected microgrid from its loads, sources and branch losses (computed here
 * from the published bus voltages and the grid file's impedances).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TwinState } from './api.ts';
import { emptyGrid, type Grid } from './grid/model.ts';
import { Twin } from './twin.ts';

const DEMO = join(process.cwd(), 'grids/demo-33bw-microgrids.yaml');

const bus = (id: string, kind: 'slack' | 'pq', microgrid?: string) => ({
  id,
  kind,
  baseKV: 12.66,
  vm_pu: 1,
  va_deg: 0,
  vmin_pu: 0.9,
  vmax_pu: 1.1,
  ...(microgrid ? { microgrid } : {}),
});

const line = (id: string, from: string, to: string, r_pu: number, x_pu: number, inService = true) => ({
  id,
  kind: 'line' as const,
  from,
  to,
  r_pu,
  x_pu,
  b_pu: 0,
  tap: 1,
  shift_deg: 0,
  rateA_mva: 0,
  inService,
});

const mainGrid = {
  id: 'main',
  bus: '1',
  p_mw: 0,
  q_mvar: 0,
  qmin_mvar: -10,
  qmax_mvar: 10,
  pmin_mw: -10,
  pmax_mw: 10,
  vset_pu: 1,
  inService: true,
  participation: 0,
  gridForming: false,
};

/** Constant-power loads: the closed form assumes P and Q independent of voltage. */
const constantPower = {
  loads: {
    default: { zip: [0, 0, 1] as [number, number, number], zipQ: [0, 0, 1] as [number, number, number] },
  },
};

const R = 0.03;
const X = 0.02;
const P_LOAD = 2; // MW on a 10 MVA base: 0.2 pu
const Q_LOAD = 1;

/** Slack 1 —PCC switch— bus 2 —line R+jX— bus 3 with a load; buses 2 and 3 form microgrid MG. */
function feederThroughSwitch(): Grid {
  const grid = emptyGrid('pcc-switch', 10, 50);
  grid.buses = [bus('1', 'slack'), bus('2', 'pq', 'MG'), bus('3', 'pq', 'MG')];
  grid.switches = [{ id: 'pcc', kind: 'breaker', from: '1', to: '2', closed: true }];
  grid.branches = [line('L2-3', '2', '3', R, X)];
  grid.loads = [{ id: 'load-3', bus: '3', p_mw: P_LOAD, q_mvar: Q_LOAD, inService: true }];
  grid.generators = [mainGrid];
  grid.microgrids = [{ id: 'MG', pccSwitch: 'pcc' }];
  return grid;
}

/**
 * Receiving-end voltage of a two-bus feeder with V1 = 1 pu and a constant-power load P + jQ (pu)
 * behind R + jX: V⁴ + (2(PR + QX) − V1²)V² + (P² + Q²)(R² + X²) = 0, the larger root.
 */
function receivingVoltageSquared(p: number, q: number): number {
  const b = 2 * (p * R + q * X) - 1;
  const c = (p * p + q * q) * (R * R + X * X);
  return (-b + Math.sqrt(b * b - 4 * c)) / 2;
}

function settle(twin: Twin, steps: number): TwinState {
  let s = twin.step([]);
  for (let k = 1; k < steps; k++) s = twin.step([]);
  return s;
}

describe('PCC power in TwinState', () => {
  it('matches the closed-form two-bus solution when the PCC is a switch (load plus line losses)', () => {
    const twin = new Twin(feederThroughSwitch(), { dt_s: 0.01, config: constantPower });
    const s = settle(twin, 20);
    const p = P_LOAD / 10;
    const q = Q_LOAD / 10;
    const v2 = receivingVoltageSquared(p, q);
    const i2 = (p * p + q * q) / v2;
    const mg = s.microgrids!.MG;
    expect(mg.pcc_p_mw).toBeCloseTo((p + i2 * R) * 10, 3);
    expect(mg.pcc_q_mvar).toBeCloseTo((q + i2 * X) * 10, 3);
    // The losses are well above the tolerance: a loss-free answer would fail the check above.
    expect(i2 * R * 10).toBeGreaterThan(0.01);
    expect(s.vm_pu[2] ** 2).toBeCloseTo(v2, 4);
    expect(mg.islanded).toBe(false);
    expect(mg.ems).toBe('stand-alone');
    expect(s.breakers).toEqual({ pcc: true, 'L2-3': true });
  });

  it('measures at the microgrid end when the PCC is a branch', () => {
    const grid = emptyGrid('pcc-branch', 10, 50);
    grid.buses = [bus('1', 'slack'), bus('2', 'pq', 'MG')];
    grid.branches = [line('L1-2', '1', '2', R, X)];
    grid.loads = [{ id: 'load-2', bus: '2', p_mw: P_LOAD, q_mvar: Q_LOAD, inService: true }];
    grid.generators = [mainGrid];
    grid.microgrids = [{ id: 'MG', pccSwitch: 'L1-2' }];
    const twin = new Twin(grid, { dt_s: 0.01, config: constantPower });
    const s = settle(twin, 20);
    // What arrives at bus 2 is what its load takes; the line's losses are upstream of the meter.
    expect(s.microgrids!.MG.pcc_p_mw).toBeCloseTo(P_LOAD, 3);
    expect(s.microgrids!.MG.pcc_q_mvar).toBeCloseTo(Q_LOAD, 3);
  });

  it('counts what other closed switches behind the PCC feed, and reports 0 for a bypassed PCC', () => {
    // Slack 1 —PCC— 2 —sw— 2b —line— 3: the load behind the second switch is still behind the PCC.
    const grid = feederThroughSwitch();
    grid.buses.splice(2, 0, bus('2b', 'pq', 'MG'));
    grid.switches.push({ id: 'sw', kind: 'switch', from: '2', to: '2b', closed: true });
    grid.branches = [line('L2b-3', '2b', '3', R, X)];
    grid.loads.push({ id: 'load-2b', bus: '2b', p_mw: 0.5, q_mvar: 0.2, inService: true });
    const twin = new Twin(grid, { dt_s: 0.01, config: constantPower });
    const s = settle(twin, 20);
    const p = P_LOAD / 10;
    const q = Q_LOAD / 10;
    const i2 = (p * p + q * q) / receivingVoltageSquared(p, q);
    expect(s.microgrids!.MG.pcc_p_mw).toBeCloseTo(0.5 + (p + i2 * R) * 10, 3);
    expect(s.microgrids!.MG.pcc_q_mvar).toBeCloseTo(0.2 + (q + i2 * X) * 10, 3);
    // A second closed switch in parallel with the PCC: the PCC's own share is undefined.
    grid.switches.push({ id: 'bypass', kind: 'breaker', from: '1', to: '2b', closed: true });
    const bypassed = settle(new Twin(grid, { dt_s: 0.01, config: constantPower }), 5);
    expect(bypassed.microgrids!.MG).toMatchObject({ pcc_p_mw: 0, pcc_q_mvar: 0, islanded: false });
  });

  it('reports zero, islanded and the open breaker once the PCC opens', () => {
    const twin = new Twin(feederThroughSwitch(), { dt_s: 0.01, config: constantPower });
    settle(twin, 5);
    twin.command({ kind: 'breaker', id: 'pcc', closed: false });
    const s = settle(twin, 2);
    expect(s.breakers!.pcc).toBe(false);
    expect(s.microgrids!.MG).toEqual({ pcc_p_mw: 0, pcc_q_mvar: 0, ems: 'stand-alone', islanded: true });
    twin.command({ kind: 'breaker', id: 'L2-3', closed: false });
    expect(settle(twin, 1).breakers).toEqual({ pcc: false, 'L2-3': false });
  });

  it('balances the demo MG1: loads − sources − FID injections + branch losses from the bus voltages', async () => {
    const twin = await Twin.fromFiles({ grid: DEMO, seed: 1, dt_s: 0.01 });
    const grid = twin.grid;
    const s = settle(twin, 300);
    const inMg1 = new Set(grid.buses.filter((b) => b.microgrid === 'MG1').map((b) => b.id));
    const at = new Map(s.busIds.map((id, i) => [id, i]));
    let p = 0;
    let q = 0;
    for (let l = 0; l < twin.loads.n; l++) {
      if (!inMg1.has(s.busIds[twin.loads.bus[l]])) continue;
      p += twin.loads.p[l];
      q += twin.loads.q[l];
    }
    for (const der of [...grid.ders, ...grid.generators]) {
      if (!inMg1.has(der.bus)) continue;
      p -= s.devices[der.id].p_mw;
      q -= s.devices[der.id].q_mvar;
    }
    for (const [k, f] of grid.fids.entries()) {
      const flow = s.fids![f.id];
      if (inMg1.has(f.busA)) {
        p -= flow.p_a_mw;
        q -= twin.fids[k].qA_mvar;
      }
      if (inMg1.has(f.busB)) {
        p -= flow.p_b_mw;
        q -= twin.fids[k].qB_mvar;
      }
    }
    let lossP = 0;
    let lossQ = 0;
    for (const br of grid.branches) {
      if (!br.inService || !inMg1.has(br.from) || !inMg1.has(br.to)) continue;
      expect([br.b_pu, br.tap, br.shift_deg]).toEqual([0, 1, 0]);
      const [vf, af] = [s.vm_pu[at.get(br.from)!], (s.va_deg[at.get(br.from)!] * Math.PI) / 180];
      const [vt, aT] = [s.vm_pu[at.get(br.to)!], (s.va_deg[at.get(br.to)!] * Math.PI) / 180];
      const dv2 = (vf * Math.cos(af) - vt * Math.cos(aT)) ** 2 + (vf * Math.sin(af) - vt * Math.sin(aT)) ** 2;
      const i2 = dv2 / (br.r_pu ** 2 + br.x_pu ** 2);
      lossP += i2 * br.r_pu * grid.baseMVA;
      lossQ += i2 * br.x_pu * grid.baseMVA;
    }
    expect(grid.shunts.filter((sh) => inMg1.has(sh.bus))).toEqual([]);
    const mg1 = s.microgrids!.MG1;
    expect(lossP).toBeGreaterThan(0.005);
    // The power flow converges to 1e-5 pu (1e-4 MW on 10 MVA) per bus.
    expect(Math.abs(mg1.pcc_p_mw - (p + lossP))).toBeLessThan(2e-3);
    expect(Math.abs(mg1.pcc_q_mvar - (q + lossQ))).toBeLessThan(2e-3);
    expect(Math.abs(mg1.pcc_p_mw)).toBeGreaterThan(0.1);
    expect(mg1.islanded).toBe(false);
    // MG2 and MG3 have no PCC breaker: islanded, nothing through a PCC.
    for (const id of ['MG2', 'MG3']) {
      expect(s.microgrids![id]).toMatchObject({ pcc_p_mw: 0, pcc_q_mvar: 0, islanded: true });
    }
    expect(s.breakers!['pcc-mg1']).toBe(true);
    expect(s.breakers!['L5-6']).toBe(false);
    expect(Object.keys(s.breakers!)).toHaveLength(grid.switches.length + grid.branches.length);
  });

  it('follows EMS mode changes and keeps one object per microgrid across steps', async () => {
    const twin = await Twin.fromFiles({ grid: DEMO, seed: 1, dt_s: 0.01 });
    const first = twin.step([]);
    const microgrids = first.microgrids!;
    const mg1 = microgrids.MG1;
    const breakers = first.breakers!;
    const before = mg1.ems;
    twin.scheduleAt(0.05, { kind: 'ems-mode', microgrid: 'MG1', mode: 'low-cost' });
    const s = settle(twin, 10);
    expect(before).toBe('peak-shaving'); // the demo grid file's setting
    expect(s.microgrids).toBe(microgrids);
    expect(s.microgrids!.MG1).toBe(mg1);
    expect(s.breakers).toBe(breakers);
    expect(mg1.ems).toBe('low-cost');
    twin.command({ kind: 'breaker', id: 'pcc-mg1', closed: false });
    const open = settle(twin, 3);
    expect(open.breakers).toBe(breakers);
    expect(breakers['pcc-mg1']).toBe(false);
    expect(mg1.islanded).toBe(true);
    expect([mg1.pcc_p_mw, mg1.pcc_q_mvar]).toEqual([0, 0]);
  });
});
