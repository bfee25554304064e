import { describe, expect, it } from 'vitest';
import { type BiddingMember, biddingEquilibrium, clearInternal } from './bidding.ts';

/** Three operators: gas units, a CHP fleet, and a PV + storage operator with renewable uncertainty. */
const members: BiddingMember[] = [
  { operator: 'gas', a: 20, b: 60, pmin_mw: 0, pmax_mw: 1.5, renewable: false },
  { operator: 'gas', a: 30, b: 70, pmin_mw: 0, pmax_mw: 1, renewable: false },
  { operator: 'chp', a: 25, b: 50, pmin_mw: 0.2, pmax_mw: 1.2, renewable: false },
  { operator: 'chp', a: 40, b: 55, pmin_mw: 0, pmax_mw: 0.8, renewable: false },
  { operator: 'green', a: 40, b: 5, pmin_mw: 0, pmax_mw: 2, renewable: true },
  { operator: 'green', a: 30, b: 20, pmin_mw: 0, pmax_mw: 0.6, renewable: false },
];
const options = { commitment_mw: 3.2, beta: 15 };

describe('bidding equilibrium among three operators (upper level, Kong et al. 2019)', () => {
  it('no operator can raise its profit by more than 0.1 % by changing its own bid', () => {
    const eq = biddingEquilibrium(members, options);
    expect(eq.converged).toBe(true);
    expect(eq.p_mw.reduce((s, x) => s + x, 0)).toBeCloseTo(options.commitment_mw, 9);
    // An independent search: every markup on a fine grid, one operator at a time.
    for (const operator of ['gas', 'chp', 'green']) {
      const own = eq.profit[operator]!;
      let bestDeviation = Number.NEGATIVE_INFINITY;
      for (let j = 0; j <= 2000; j++) {
        const k = 1 + (2 * j) / 2000;
        const profit = clearInternal(members, { ...eq.markup, [operator]: k }, options).profit[operator]!;
        bestDeviation = Math.max(bestDeviation, profit);
      }
      expect(bestDeviation).toBeLessThanOrEqual(own + 0.001 * Math.abs(own));
    }
    // Bidding above cost pays: every markup ≥ 1 and the internal price above the truthful one.
    const truthful = clearInternal(members, { gas: 1, chp: 1, green: 1 }, options);
    expect(eq.price_per_mwh).toBeGreaterThan(truthful.price_per_mwh);
  });

  it('a higher fluctuation cost moves the renewable operator’s allocation down', () => {
    const low = biddingEquilibrium(members, { ...options, beta: 0 });
    const high = biddingEquilibrium(members, { ...options, beta: 60 });
    const green = (e: typeof low) => e.p_mw[4]! + e.p_mw[5]!;
    expect(green(high)).toBeLessThan(green(low));
  });
});

describe('demand response as a price-taker in the internal market', () => {
  it('curtails by its closed form at the clearing price, plays no part in the game, and the game is still an equilibrium', () => {
    const load: BiddingMember = {
      operator: 'consumers',
      a: 50,
      b: 90,
      pmin_mw: 0,
      pmax_mw: 0.8,
      renewable: false,
      priceTaker: true,
    };
    const all = [...members, load];
    const eq = biddingEquilibrium(all, options);
    expect(eq.converged).toBe(true);
    // Not a player: no markup, no profit of its own.
    expect(Object.keys(eq.markup).sort()).toEqual(['chp', 'gas', 'green']);
    expect(eq.profit.consumers).toBeUndefined();
    // Its curtailment is x = clamp((λ − b)/2a, 0, max) at the internal price, whatever the markups.
    const x = eq.p_mw[all.length - 1]!;
    expect(x).toBeGreaterThan(0);
    expect(x).toBeCloseTo(Math.min(Math.max((eq.price_per_mwh - 90) / 100, 0), 0.8), 9);
    const marked = clearInternal(all, { gas: 2, chp: 2, green: 2 }, options);
    expect(marked.p_mw[all.length - 1]!).toBeCloseTo(
      Math.min(Math.max((marked.price_per_mwh - 90) / 100, 0), 0.8),
      9,
    );
    // Elastic demand takes some of the operators' market power: a lower price than without it.
    expect(eq.price_per_mwh).toBeLessThan(biddingEquilibrium(members, options).price_per_mwh);
    // Still an equilibrium: no operator gains > 0.1 % by its own change of bid.
    for (const operator of ['gas', 'chp', 'green']) {
      const own = eq.profit[operator]!;
      for (let j = 0; j <= 400; j++) {
        const k = 1 + (2 * j) / 400;
        const profit = clearInternal(all, { ...eq.markup, [operator]: k }, options).profit[operator]!;
        expect(profit).toBeLessThanOrEqual(own + 0.001 * Math.abs(own));
      }
    }
  });
});
