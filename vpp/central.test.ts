import GLPK from 'glpk.js/node';
import type { Highs } from 'highs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSolver, solveSchedule } from './central.ts';
import { equalIncrementalCost, testUnit as unit } from './test-support.ts';

const rel = (x: number, ref: number) => Math.abs(x - ref) / Math.max(Math.abs(ref), 1e-9);

let highs: Highs;
beforeAll(async () => {
  highs = await loadSolver();
});

describe('central dispatch (HiGHS QP) equals the equal-incremental-cost closed form', () => {
  it('with no limit binding: one λ = (T + Σ b/2a) / Σ 1/2a for every unit', () => {
    const units = [
      unit('g1', 0, 10, 0.5, 20),
      unit('g2', 0, 10, 1, 18),
      unit('g3', 0, 10, 0.25, 22),
      unit('g4', 0, 10, 2, 15),
    ];
    const target = 12;
    const lambda =
      (target + units.reduce((s, u) => s + u.b / (2 * u.a), 0)) /
      units.reduce((s, u) => s + 1 / (2 * u.a), 0);
    const result = solveSchedule(highs, { members: units, target_mw: [target], interval_h: 1, startHour: 0 });
    if (!result.ok) throw new Error(result.reason);
    for (const [i, u] of units.entries()) {
      const expected = (lambda - u.b) / (2 * u.a);
      expect(expected).toBeGreaterThan(u.pmin_mw);
      expect(expected).toBeLessThan(u.pmax_mw);
      expect(rel(result.p_mw[i]!, expected)).toBeLessThan(1e-6);
    }
    expect(rel(result.price[0]!, lambda)).toBeLessThan(1e-6);
  });

  it('with limits binding: units at limits clamped, the rest share one λ', () => {
    const units = [
      unit('cheap', 0, 1.5, 0.5, 5), // wants more than 1.5 MW at λ*: clamped at pmax
      unit('mid', 0.2, 10, 1, 20),
      unit('dear', 1, 10, 2, 60), // would produce < 1 MW: clamped at pmin
      unit('mid2', 0, 10, 0.8, 25),
    ];
    const target = 9;
    const ref = equalIncrementalCost(units, target);
    expect(ref.p[0]).toBe(1.5);
    expect(ref.p[2]).toBe(1);
    const result = solveSchedule(highs, { members: units, target_mw: [target], interval_h: 1, startHour: 0 });
    if (!result.ok) throw new Error(result.reason);
    for (const [i, expected] of ref.p.entries()) expect(rel(result.p_mw[i]!, expected)).toBeLessThan(1e-6);
    expect(rel(result.price[0]!, ref.lambda)).toBeLessThan(1e-6);
  });
});

describe('central dispatch LP form agrees with a second solver (glpk.js)', () => {
  it('a 4-interval schedule with ramps and storage: same optimal cost', async () => {
    const units = [
      unit('base', 0, 4, 0, 30, { ramp_mw_s: 1 / 3600 }), // 1 MW per hour
      unit('peak', 0, 3, 0, 90),
      unit('store', -1, 1, 0, 5, { technology: 'battery', capacity_mwh: 2, soc_min: 0.1, soc_max: 0.9 }),
    ];
    const target = [2, 4, 5, 3];
    const dt = 1;
    const result = solveSchedule(highs, {
      members: units,
      target_mw: target,
      interval_h: dt,
      startHour: 0,
      linear: true,
      statuses: new Map([['store', { online: true, soc: 0.5 }]]),
    });
    if (!result.ok) throw new Error(result.reason);

    // The same LP written out by hand for GLPK: p_<unit>_<t>, e_<t> (energy of the store).
    const glpk = await GLPK();
    const T = target.length;
    const v = (name: string, coef: number) => ({ name, coef });
    const subjectTo = [];
    for (let t = 0; t < T; t++) {
      subjectTo.push({
        name: `bal${t}`,
        vars: units.map((u) => v(`p_${u.id}_${t}`, 1)),
        bnds: { type: glpk.GLP_FX, lb: target[t]!, ub: target[t]! },
      });
      // e_t = e_{t-1} − p_store_t·dt, e_{-1} = 0.5·2 MWh
      subjectTo.push({
        name: `en${t}`,
        vars: [v(`e_${t}`, 1), v(`p_store_${t}`, dt), ...(t > 0 ? [v(`e_${t - 1}`, -1)] : [])],
        bnds: { type: glpk.GLP_FX, lb: t === 0 ? 1 : 0, ub: t === 0 ? 1 : 0 },
      });
      if (t > 0) {
        subjectTo.push({
          name: `ramp${t}`,
          vars: [v(`p_base_${t}`, 1), v(`p_base_${t - 1}`, -1)],
          bnds: { type: glpk.GLP_DB, lb: -1, ub: 1 },
        });
      }
    }
    const bounds = [];
    for (let t = 0; t < T; t++) {
      for (const u of units)
        bounds.push({ name: `p_${u.id}_${t}`, type: glpk.GLP_DB, lb: u.pmin_mw, ub: u.pmax_mw });
      bounds.push({ name: `e_${t}`, type: glpk.GLP_DB, lb: 0.2, ub: 1.8 });
    }
    const out = await glpk.solve({
      name: 'vpp',
      objective: {
        direction: glpk.GLP_MIN,
        name: 'cost',
        vars: Array.from({ length: T }, (_, t) => units.map((u) => v(`p_${u.id}_${t}`, u.b * dt))).flat(),
      },
      subjectTo,
      bounds,
    });
    expect(out.result.status).toBe(glpk.GLP_OPT);
    expect(rel(result.cost, out.result.z)).toBeLessThan(1e-6);
    // The storage shifts energy from the cheap hours to the peak: the plan uses it.
    expect(
      Math.max(...Array.from({ length: T }, (_, t) => Math.abs(result.p_mw[t * 3 + 2]!))),
    ).toBeGreaterThan(0.1);
  });
});

describe('prices from duals satisfy complementary slackness (hand-solved cases)', () => {
  it('three linear units (10, 20, 30 per MWh, 0..5 MW), target 8 MW', () => {
    // By hand: merit order fills 5 MW at 10, then 3 MW at 20; the marginal unit sets λ = 20.
    // Reduced costs d_i = c_i − λ: −10 (at its upper bound), 0 (between bounds), +10 (at its lower).
    const units = [unit('u10', 0, 5, 0, 10), unit('u20', 0, 5, 0, 20), unit('u30', 0, 5, 0, 30)];
    const r = solveSchedule(highs, {
      members: units,
      target_mw: [8],
      interval_h: 1,
      startHour: 0,
      linear: true,
    });
    if (!r.ok) throw new Error(r.reason);
    expect([...r.p_mw]).toEqual([expect.closeTo(5, 9), expect.closeTo(3, 9), expect.closeTo(0, 9)]);
    expect(r.price[0]).toBeCloseTo(20, 9);
    expect([...r.reducedCost]).toEqual([expect.closeTo(-10, 9), expect.closeTo(0, 9), expect.closeTo(10, 9)]);
    for (const [i, u] of units.entries()) {
      const slackLow = r.p_mw[i]! - u.pmin_mw;
      const slackHigh = u.pmax_mw - r.p_mw[i]!;
      const d = r.reducedCost[i]!;
      // d > 0 only at the lower bound, d < 0 only at the upper bound.
      expect(Math.max(d, 0) * slackLow).toBeCloseTo(0, 9);
      expect(Math.max(-d, 0) * slackHigh).toBeCloseTo(0, 9);
    }
  });

  it('two microgrids joined by a FID: the prices split by exactly the congested link', () => {
    // By hand: A (unit at 10/MWh, 10 MW, demand 3) exports to B (unit at 30/MWh, demand 6) through
    // a 2 MW FID. The FID saturates: A makes 5 MW, B 4 MW; price A = 10, price B = 30; the link's
    // reduced cost is the price difference (a congestion rent of 20 per MWh, 40 per hour).
    const units = [unit('a', 0, 10, 0, 10, { microgrid: 'A' }), unit('b', 0, 10, 0, 30, { microgrid: 'B' })];
    const r = solveSchedule(highs, {
      members: units,
      target_mw: [],
      interval_h: 1,
      startHour: 0,
      linear: true,
      zones: { ids: ['A', 'B'], target_mw: [3, 6], links: [{ id: 'fid', from: 'A', to: 'B', rating_mw: 2 }] },
    });
    if (!r.ok) throw new Error(r.reason);
    expect(r.p_mw[0]).toBeCloseTo(5, 9);
    expect(r.p_mw[1]).toBeCloseTo(4, 9);
    expect(r.flow_mw[0]).toBeCloseTo(2, 9);
    expect(r.price[0]).toBeCloseTo(10, 9);
    expect(r.price[1]).toBeCloseTo(30, 9);
    // Σ price·demand − Σ cost = congestion rent = (30 − 10)·2: the market clears with no money lost.
    expect(r.price[1]! * 6 + r.price[0]! * 3 - r.cost).toBeCloseTo(40, 6);

    // Uncongested (FID 5 MW): one price, the cheaper unit's.
    const free = solveSchedule(highs, {
      members: units,
      target_mw: [],
      interval_h: 1,
      startHour: 0,
      linear: true,
      zones: { ids: ['A', 'B'], target_mw: [3, 6], links: [{ id: 'fid', from: 'A', to: 'B', rating_mw: 7 }] },
    });
    if (!free.ok) throw new Error(free.reason);
    expect(free.price[0]).toBeCloseTo(10, 9);
    expect(free.price[1]).toBeCloseTo(10, 9);
  });
});

describe('network-aware dispatch (TVPP, FID transport model)', () => {
  it('an island held by its load and a rated FID; the grid-connected zone takes the rest (by hand)', () => {
    // By hand: island B needs 6 MW = b + f, f ≤ 2 → b ≥ 4; the VPP's total a + b = 7; cheapest is
    // b = 4 (it costs 30 against 10), f = 2, a = 3 — A then exports 1 MW to the grid.
    const units = [unit('a', 0, 10, 0, 10, { microgrid: 'A' }), unit('b', 0, 10, 0, 30, { microgrid: 'B' })];
    const r = solveSchedule(highs, {
      members: units,
      target_mw: [7],
      interval_h: 1,
      startHour: 0,
      linear: true,
      zones: {
        ids: ['A', 'B'],
        target_mw: [0, 6],
        links: [{ id: 'fid', from: 'A', to: 'B', rating_mw: 2 }],
        gridZones: ['A'],
      },
    });
    if (!r.ok) throw new Error(r.reason);
    expect(r.p_mw[0]).toBeCloseTo(3, 9);
    expect(r.p_mw[1]).toBeCloseTo(4, 9);
    expect(r.flow_mw[0]).toBeCloseTo(2, 9);
    // One more MW of island load must come from b (the FID is full) and, the VPP's total being
    // fixed, a gives one up: the island's price is 30 − 10 = 20; A's is 0 (the grid balances it).
    expect(r.price[1]).toBeCloseTo(20, 9);
    expect(r.price[0]).toBeCloseTo(0, 9);
  });

  it('an island the FID cannot supply enough: infeasible, naming the island balance and the FID', () => {
    const units = [unit('a', 0, 10, 0, 10, { microgrid: 'A' }), unit('b', 0, 3, 0, 30, { microgrid: 'B' })];
    const r = solveSchedule(highs, {
      members: units,
      target_mw: [7],
      interval_h: 1,
      startHour: 0,
      linear: true,
      zones: {
        ids: ['A', 'B'],
        target_mw: [0, 6],
        links: [{ id: 'fid', from: 'A', to: 'B', rating_mw: 2 }],
        gridZones: ['A'],
      },
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.binding).toMatch(/balance_0_B/);
  });
});

describe('central dispatch reports what it cannot do', () => {
  it('a target above the available range names the interval and the range', () => {
    const r = solveSchedule(highs, {
      members: [unit('g', 0, 1, 1, 10), unit('h', 0, 2, 1, 10)],
      target_mw: [1, 3.5],
      interval_h: 0.25,
      startHour: 0,
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toMatch(
      /interval 1: target 3\.500 MW is outside the VPP's available range \[0\.000, 3\.000\] MW/,
    );
    expect(r.binding).toBe('aggregate-pmax[1]');
  });

  it('ramps that cannot follow the target: the solver is infeasible and names the ramp rows', () => {
    const r = solveSchedule(highs, {
      members: [unit('slow', 0, 10, 1, 10, { ramp_mw_s: 1 / 3600 }), unit('small', 0, 1, 1, 10)],
      target_mw: [1, 6],
      interval_h: 1,
      startHour: 0,
    });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.reason).toMatch(/infeasible/);
    expect(r.binding).toMatch(/ramp_slow_1/);
  });

  it('a NaN target is refused, never passed to the solver', () => {
    const r = solveSchedule(highs, {
      members: [unit('g', 0, 1, 1, 10)],
      target_mw: [Number.NaN],
      interval_h: 1,
      startHour: 0,
    });
    expect(r.ok).toBe(false);
  });
});
