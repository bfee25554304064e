import GLPK from 'glpk.js/node';
import { describe, expect, it } from 'vitest';
import { type BiddingMember, biddingEquilibrium, clearInternal } from './bidding.ts';
import { type CostedUnit, drResponse, lowerLevelInterval, lowerLevelSchedule } from './lower-level.ts';

/** Two units and one controllable load, solved by hand below. */
const units: CostedUnit[] = [
  { id: 'g1', a: 10, b: 50 },
  { id: 'g2', a: 20, b: 60 },
];
const dr = [{ id: 'l1', a: 25, b: 70, max_mw: 0.4 }];
const interval = {
  commitment_mw: 1.2,
  internal_price: 80,
  forecast: [
    { pmin_mw: 0, pmax_mw: 1 },
    { pmin_mw: 0, pmax_mw: 0.8 },
  ],
  // g1 turns out able to give only 0.5 MW.
  realised: [
    { pmin_mw: 0, pmax_mw: 0.5 },
    { pmin_mw: 0, pmax_mw: 0.8 },
  ],
};

describe('bi-level lower level (Kong et al. 2019): hand-solved case', () => {
  it('DR answers the internal price; day-ahead at equal incremental cost; real time covers the shortfall below the penalty', () => {
    // By hand. DR: x = (80 − 70)/(2·25) = 0.2 MW. Residual R = 1.2 − 0.2 = 1.0 MW.
    // Day-ahead: (λ − 50)/20 + (λ − 60)/40 = 1 → λ = 200/3, p1 = 5/6, p2 = 1/6.
    // Real time, adjust ±0.5: g1 ∈ [1/3, 0.5], g2 ∈ [0, 2/3]. Penalty 100 > what closing the gap
    // costs: g1 at 0.5 (its limit), g2 = 0.5 at λ = 60 + 40·0.5 = 80; no shortfall.
    // Cost over 1 h: g1 10·0.25 + 50·0.5 = 27.5, g2 20·0.25 + 60·0.5 = 35; DR paid 80·0.2 = 16.
    const r = lowerLevelInterval(
      { units, dr, interval_h: 1, penalty_per_mwh: 100, adjust_mw: 0.5 },
      interval,
    );
    expect(r.dr_mw[0]).toBeCloseTo(0.2, 12);
    expect(r.dayAheadLambda).toBeCloseTo(200 / 3, 6);
    expect(r.dayAhead_mw[0]).toBeCloseTo(5 / 6, 6);
    expect(r.dayAhead_mw[1]).toBeCloseTo(1 / 6, 6);
    expect(r.realTime_mw[0]).toBeCloseTo(0.5, 6);
    expect(r.realTime_mw[1]).toBeCloseTo(0.5, 6);
    expect(r.realTimeLambda).toBeCloseTo(80, 4);
    expect(r.shortfall_mw).toBe(0);
    expect(r.unitCost).toBeCloseTo(62.5, 5);
    expect(r.penalty).toBe(0);
    expect(r.drPayment).toBeCloseTo(16, 12);
    expect(r.total).toBeCloseTo(78.5, 5);
  });

  it('a penalty below the marginal cost of closing the gap: pay it for the undelivered power', () => {
    // Penalty 70: g1 would run to (70 − 50)/20 = 1 → its limit 0.5; g2 to (70 − 60)/40 = 0.25.
    // Σ = 0.75 < 1.0: shortfall 0.25 MW, penalty 70·0.25 = 17.5. g2 cost 20·0.0625 + 60·0.25 = 16.25.
    const r = lowerLevelInterval({ units, dr, interval_h: 1, penalty_per_mwh: 70, adjust_mw: 0.5 }, interval);
    expect(r.realTime_mw[1]).toBeCloseTo(0.25, 9);
    expect(r.shortfall_mw).toBeCloseTo(0.25, 9);
    expect(r.realTimeLambda).toBe(70);
    expect(r.penalty).toBeCloseTo(17.5, 9);
    expect(r.unitCost).toBeCloseTo(27.5 + 16.25, 9);
    expect(r.total).toBeCloseTo(27.5 + 16.25 + 17.5 + 16, 9);
  });

  it('demand response reacts to the internal price of the upper-level bidding equilibrium', () => {
    const members: BiddingMember[] = [
      { operator: 'gas', a: 20, b: 60, pmin_mw: 0, pmax_mw: 1.5, renewable: false },
      { operator: 'chp', a: 25, b: 50, pmin_mw: 0.2, pmax_mw: 1.2, renewable: false },
      { operator: 'green', a: 40, b: 5, pmin_mw: 0, pmax_mw: 2, renewable: true },
    ];
    const options = { commitment_mw: 2.5, beta: 15 };
    const eq = biddingEquilibrium(members, options);
    const truthful = clearInternal(members, { gas: 1, chp: 1, green: 1 }, options);
    // The operators' markups raise the internal price above the truthful one …
    expect(eq.price_per_mwh).toBeGreaterThan(truthful.price_per_mwh + 1);
    const load = { id: 'l', a: 50, b: 60, max_mw: 1 };
    // … and the load curtails by the hand formula at that price, more than at the truthful one.
    expect(drResponse(load, eq.price_per_mwh)).toBeCloseTo(
      Math.min(Math.max((eq.price_per_mwh - 60) / 100, 0), 1),
      12,
    );
    expect(drResponse(load, eq.price_per_mwh)).toBeGreaterThan(drResponse(load, truthful.price_per_mwh));
    // A step response (a = 0): all or nothing at its threshold.
    expect(drResponse({ id: 's', a: 0, b: 90, max_mw: 0.3 }, 89.9)).toBe(0);
    expect(drResponse({ id: 's', a: 0, b: 90, max_mw: 0.3 }, 90)).toBe(0.3);
  });
});

describe('bi-level lower level agrees with a second solver (glpk.js) on a linear day', () => {
  it('six intervals, three linear units, forecast error, adjustment limits, penalty: same costs', async () => {
    const lin: CostedUnit[] = [
      { id: 'cheap', a: 0, b: 30 },
      { id: 'mid', a: 0, b: 55 },
      { id: 'peak', a: 0, b: 140 },
    ];
    const penalty = 120;
    const adjust = [0.3, 0.5, 1];
    const commitments = [1.5, 2.2, 3.1, 3.6, 2.8, 0.4];
    const prices = [40, 60, 95, 130, 80, 35];
    const drLoads = [{ id: 'd', a: 0, b: 90, max_mw: 0.4 }];
    const forecastMax = [
      [1.2, 1, 1.2],
      [1.2, 1, 1.2],
      [1.2, 1, 1.2],
      [1.2, 1, 1.2],
      [1.2, 1, 1.2],
      [1.2, 1, 1.2],
    ];
    // Real time: the cheap unit (say, renewable) falls short of its forecast in some hours.
    const realisedMax = [
      [1.2, 1, 1.2],
      [0.6, 1, 1.2],
      [0.5, 1, 1.2],
      [0.4, 0.8, 1.2],
      [1.2, 1, 1.2],
      [1.2, 1, 1.2],
    ];
    const pmin = [0, 0, 0];
    const limits = (max: number[]) => max.map((m, i) => ({ pmin_mw: Math.min(pmin[i]!, m), pmax_mw: m }));
    const intervals = commitments.map((c, t) => ({
      commitment_mw: c,
      internal_price: prices[t]!,
      forecast: limits(forecastMax[t]!),
      realised: limits(realisedMax[t]!),
    }));
    const ours = lowerLevelSchedule({
      units: lin,
      dr: drLoads,
      intervals,
      interval_h: 1,
      penalty_per_mwh: penalty,
      adjust_mw: adjust,
    });

    // The same problem written out for GLPK: per interval a day-ahead LP, then the real-time LP
    // with the bands around GLPK's own day-ahead point; DR by its rule (a price-taker, not an LP).
    const glpk = await GLPK();
    const v = (name: string, coef: number) => ({ name, coef });
    let glpkTotal = 0;
    let glpkUndelivered = 0;
    for (const [t, iv] of intervals.entries()) {
      const x = iv.internal_price >= 90 ? 0.4 : 0;
      const residual = iv.commitment_mw - x;
      const fmax = forecastMax[t]!.reduce((s, m) => s + m, 0);
      const planned = Math.min(Math.max(residual, 0), fmax);
      const da = await glpk.solve({
        name: `da${t}`,
        objective: { direction: glpk.GLP_MIN, name: 'c', vars: lin.map((u) => v(u.id, u.b)) },
        subjectTo: [
          {
            name: 'bal',
            vars: lin.map((u) => v(u.id, 1)),
            bnds: { type: glpk.GLP_FX, lb: planned, ub: planned },
          },
        ],
        bounds: lin.map((u, i) => ({ name: u.id, type: glpk.GLP_DB, lb: 0, ub: forecastMax[t]![i]! })),
      });
      expect(da.result.status).toBe(glpk.GLP_OPT);
      const p0 = lin.map((u) => da.result.vars[u.id]!);
      // Real time: Σp + s − u = R; s (undelivered) at the penalty, u (forced surplus) free.
      const bounds = lin.map((u, i) => {
        const lo = Math.max(0, p0[i]! - adjust[i]!);
        const hi = Math.min(realisedMax[t]![i]!, p0[i]! + adjust[i]!);
        const [l, h] = lo <= hi ? [lo, hi] : [hi, hi];
        return { name: u.id, type: l === h ? glpk.GLP_FX : glpk.GLP_DB, lb: l, ub: h };
      });
      const rt = await glpk.solve({
        name: `rt${t}`,
        objective: {
          direction: glpk.GLP_MIN,
          name: 'c',
          vars: [...lin.map((u) => v(u.id, u.b)), v('s', penalty), v('u', 0)],
        },
        subjectTo: [
          {
            name: 'bal',
            vars: [...lin.map((u) => v(u.id, 1)), v('s', 1), v('u', -1)],
            bnds: { type: glpk.GLP_FX, lb: residual, ub: residual },
          },
        ],
        bounds: [
          ...bounds,
          { name: 's', type: glpk.GLP_LO, lb: 0, ub: 0 },
          { name: 'u', type: glpk.GLP_LO, lb: 0, ub: 0 },
        ],
      });
      expect(rt.result.status).toBe(glpk.GLP_OPT);
      const mine = ours.intervals[t]!;
      expect(mine.unitCost + mine.penalty).toBeCloseTo(rt.result.z, 6);
      expect(mine.shortfall_mw).toBeCloseTo(rt.result.vars.s!, 6);
      glpkTotal += rt.result.z + iv.internal_price * x;
      glpkUndelivered += rt.result.vars.s!;
    }
    expect(ours.total).toBeCloseTo(glpkTotal, 6);
    expect(ours.undelivered_mwh).toBeCloseTo(glpkUndelivered, 6);
    // The case really exercises the penalty: some power went undelivered.
    expect(ours.undelivered_mwh).toBeGreaterThan(0.1);
    expect(ours.penalty).toBeCloseTo(penalty * ours.undelivered_mwh, 9);
  });
});
