/**
 * Upper level of bi-level VPP scheduling with bidding (after Kong, Liu, Wang, Zhang & Wang,
 * Applied Energy 249, 2019): the operators of a multi-operator VPP bid into the VPP's internal
 * market, the VPP clears them against its commitment, and the bids settle into an equilibrium.
 *
 * Model (a simplification, stated so it can be checked): operator o bids a markup k_o ≥ 1 on its
 * members' incremental costs, offering p_i(λ) = clamp((λ/k_o − b_i)/2a_i). The VPP clears the
 * internal price λ so that Σ p_i(λ) = commitment. Operator o's profit is λ·q_o minus its true cost
 * Σ a_i p_i² + b_i p_i, minus a fluctuation cost β·p_i² on each renewable member (the price of the
 * uncertainty it brings, Kong et al.'s fluctuation-cost coefficient). The equilibrium is a Nash
 * equilibrium in the markups, found by best-response iteration; each best response is a fine search
 * of the operator's own profit over its markup.
 *
 * Demand response takes part as a price-taker (`priceTaker`): a controllable load offers its
 * curtailment at its true discomfort cost, x(λ) = clamp((λ − b)/2a), at no markup, and is no
 * player of the game (its profit is not an operator's). So the internal price clears the commitment
 * with the curtailment the price itself calls for, as the lower level's demand response says.
 */
import { dispatchInterval } from './central.ts';

export interface BiddingMember {
  operator: string;
  a: number;
  b: number;
  pmin_mw: number;
  pmax_mw: number;
  renewable: boolean;
  /** Offers at its true cost (markup 1) and plays no part in the game (demand response). */
  priceTaker?: boolean;
}

export interface BiddingOptions {
  commitment_mw: number;
  /** Fluctuation-cost coefficient on renewable output, currency/MW²h. @default 0 */
  beta?: number;
  /** Markup search range. @default [1, 3] */
  markupRange?: [number, number];
  /** Grid points of each best-response search (then refined). @default 200 */
  searchPoints?: number;
  /** @default 50 */
  maxRounds?: number;
}

export interface Clearing {
  price_per_mwh: number;
  /** Allocation per member, MW. */
  p_mw: Float64Array;
  profit: Record<string, number>;
}

/** Clears the internal market for given markups. */
export function clearInternal(
  members: readonly BiddingMember[],
  markup: Record<string, number>,
  options: BiddingOptions,
): Clearing {
  // A markup k on the incremental cost 2a·p + b is the declared curve k·a·p² + k·b·p.
  const k = (m: BiddingMember) => (m.priceTaker ? 1 : markup[m.operator]!);
  const declared = members.map((m) => ({ a: k(m) * m.a, b: k(m) * m.b }));
  const r = dispatchInterval(declared, members, options.commitment_mw);
  if (!r.ok) throw new RangeError(`internal market cannot clear: ${r.reason}`);
  const beta = options.beta ?? 0;
  const profit: Record<string, number> = {};
  for (const [i, m] of members.entries()) {
    if (m.priceTaker) continue;
    const p = r.p_mw[i]!;
    const cost = m.a * p * p + m.b * p + (m.renewable ? beta * p * p : 0);
    profit[m.operator] = (profit[m.operator] ?? 0) + r.lambda * p - cost;
  }
  return { price_per_mwh: r.lambda, p_mw: r.p_mw, profit };
}

/** The operator's profit-maximising markup given the others' (grid search, then a local refinement). */
export function bestResponse(
  members: readonly BiddingMember[],
  markup: Record<string, number>,
  operator: string,
  options: BiddingOptions,
): number {
  const [lo, hi] = options.markupRange ?? [1, 3];
  const points = options.searchPoints ?? 200;
  const profitAt = (k: number) =>
    clearInternal(members, { ...markup, [operator]: k }, options).profit[operator]!;
  let best = lo;
  let bestProfit = Number.NEGATIVE_INFINITY;
  for (let j = 0; j <= points; j++) {
    const k = lo + ((hi - lo) * j) / points;
    const v = profitAt(k);
    if (v > bestProfit) {
      bestProfit = v;
      best = k;
    }
  }
  // Golden-section refinement around the best grid point.
  let a = Math.max(lo, best - (hi - lo) / points);
  let b = Math.min(hi, best + (hi - lo) / points);
  const g = (Math.sqrt(5) - 1) / 2;
  for (let it = 0; it < 60; it++) {
    const c = b - g * (b - a);
    const d = a + g * (b - a);
    if (profitAt(c) >= profitAt(d)) b = d;
    else a = c;
  }
  const refined = (a + b) / 2;
  return profitAt(refined) >= bestProfit ? refined : best;
}

export interface Equilibrium extends Clearing {
  markup: Record<string, number>;
  rounds: number;
  converged: boolean;
}

/** Best-response iteration from truthful bids (k = 1) until no operator gains by moving. */
export function biddingEquilibrium(members: readonly BiddingMember[], options: BiddingOptions): Equilibrium {
  const operators = [...new Set(members.filter((m) => !m.priceTaker).map((m) => m.operator))];
  const markup: Record<string, number> = Object.fromEntries(operators.map((o) => [o, 1]));
  const maxRounds = options.maxRounds ?? 50;
  let rounds = 0;
  let converged = false;
  while (rounds < maxRounds && !converged) {
    rounds++;
    converged = true;
    for (const o of operators) {
      const k = bestResponse(members, markup, o, options);
      const now = clearInternal(members, markup, options).profit[o]!;
      const then = clearInternal(members, { ...markup, [o]: k }, options).profit[o]!;
      // Move only for a real gain: an operator whose profit is flat in its markup (all of its
      // units at a limit) is indifferent, and keeping its bid is as good an answer as any.
      if (then > now + 1e-9 * Math.max(Math.abs(now), 1)) {
        if (Math.abs(k - markup[o]!) > 1e-6) converged = false;
        markup[o] = k;
      }
    }
  }
  return { ...clearInternal(members, markup, options), markup, rounds, converged };
}
