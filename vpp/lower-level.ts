/**
 * Lower level of bi-level VPP scheduling (after Kong, Liu, Wang, Zhang & Wang, Applied Energy 249,
 * 2019; the upper level, the operators' bidding equilibrium, is bidding.ts). Per interval:
 *
 * 1. **Demand response to the internal price.** Each controllable load curtails what is worth it at
 *    the internal price λ set by the upper level: x_j = clamp((λ − b_j)/2a_j, 0, xmax_j), its
 *    discomfort cost a_j x² + b_j x (a step at b_j when a_j = 0). Curtailment counts towards the
 *    VPP's commitment (generator convention) and is paid λ·x.
 * 2. **Day-ahead schedule.** The units cover the rest, R = commitment − Σx, at least cost within
 *    their forecast limits (equal incremental cost, `dispatchInterval`). A residual outside the
 *    forecast range is scheduled at the nearest bound (the gap is a planned shortfall or surplus).
 * 3. **Intraday / real-time adjustment.** When the interval comes, the units' realised limits apply
 *    and each may move at most `adjust_mw` from its day-ahead point (the intraday adjustment range).
 *    The re-dispatch minimises Σ(a p² + b p) + π·s subject to Σp + s = R, s ≥ 0: undelivered power
 *    s costs the default penalty π per MWh. Closed form: if the units can reach R with every
 *    incremental cost ≤ π, s = 0 and they share R at equal incremental cost; otherwise each runs
 *    where its incremental cost reaches π (clamped to its limits) and s = R − Σp.
 * 4. **Settlement**, currency per interval: units' cost, penalty π·s·dt, DR paid λ·x·dt.
 */
import { dispatchInterval } from './central.ts';

export interface CostedUnit {
  id: string;
  /** Cost a·p² + b·p per hour, currency (a ≥ 0). */
  a: number;
  b: number;
}

export interface DemandResponse {
  id: string;
  /** Discomfort cost a·x² + b·x per hour of curtailing x MW (b: the price it starts to respond at). */
  a: number;
  b: number;
  /** The most it may curtail, MW. */
  max_mw: number;
}

export interface Limits {
  pmin_mw: number;
  pmax_mw: number;
}

export interface LowerLevelInterval {
  /** What the VPP committed to deliver (its upper-level award), MW. */
  commitment_mw: number;
  /** The internal price of the upper-level bidding equilibrium, currency/MWh. */
  internal_price: number;
  /** The units' limits as forecast day-ahead, and as they turned out. */
  forecast: readonly Limits[];
  realised: readonly Limits[];
}

export interface LowerLevelOptions {
  units: readonly CostedUnit[];
  dr?: readonly DemandResponse[];
  intervals: readonly LowerLevelInterval[];
  interval_h: number;
  /** Default penalty for undelivered power, currency/MWh. */
  penalty_per_mwh: number;
  /** How far a unit may move from its day-ahead point in real time, MW. @default Infinity */
  adjust_mw?: number | readonly number[];
}

export interface LowerLevelResult {
  /** Curtailment of each DR load, MW. */
  dr_mw: Float64Array;
  /** Day-ahead schedule, MW per unit, its λ and planned gap (residual − scheduled, MW). */
  dayAhead_mw: Float64Array;
  dayAheadLambda: number;
  plannedShortfall_mw: number;
  /** Real-time dispatch, MW per unit, and its λ (π when short). */
  realTime_mw: Float64Array;
  realTimeLambda: number;
  /** Undelivered power (≥ 0) and forced surplus (≥ 0), MW. */
  shortfall_mw: number;
  surplus_mw: number;
  /** Currency over the interval. */
  unitCost: number;
  penalty: number;
  drPayment: number;
  total: number;
}

/** The curtailment of a DR load at internal price λ. */
export function drResponse(d: DemandResponse, lambda: number): number {
  if (d.a > 0) return Math.min(Math.max((lambda - d.b) / (2 * d.a), 0), d.max_mw);
  return lambda >= d.b ? d.max_mw : 0;
}

/**
 * The real-time re-dispatch with a penalty on undelivered power (closed form, see the file's
 * comment): units within `limits`, residual R, penalty π.
 */
export function penalisedDispatch(
  units: readonly CostedUnit[],
  limits: readonly Limits[],
  residual_mw: number,
  penalty_per_mwh: number,
): { p_mw: Float64Array; lambda: number; shortfall_mw: number; surplus_mw: number } {
  const n = units.length;
  let lo = 0;
  let atPenalty = 0;
  const pAtPenalty = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const { a, b } = units[i]!;
    const { pmin_mw, pmax_mw } = limits[i]!;
    lo += pmin_mw;
    const p = a > 0 ? (penalty_per_mwh - b) / (2 * a) : penalty_per_mwh >= b ? pmax_mw : pmin_mw;
    pAtPenalty[i] = Math.min(Math.max(p, pmin_mw), pmax_mw);
    atPenalty += pAtPenalty[i]!;
  }
  if (residual_mw <= lo) {
    // Every unit at its minimum: the rest is a forced surplus (not penalised).
    const p = Float64Array.from(limits, (l) => l.pmin_mw);
    const r = dispatchInterval(units, limits, lo);
    return { p_mw: p, lambda: r.lambda, shortfall_mw: 0, surplus_mw: lo - residual_mw };
  }
  if (residual_mw > atPenalty) {
    // Delivering more would cost more than the penalty: run each unit up to π, pay for the rest.
    return {
      p_mw: pAtPenalty,
      lambda: penalty_per_mwh,
      shortfall_mw: residual_mw - atPenalty,
      surplus_mw: 0,
    };
  }
  const r = dispatchInterval(units, limits, residual_mw);
  return { p_mw: r.p_mw, lambda: r.lambda, shortfall_mw: 0, surplus_mw: 0 };
}

/** One interval of the lower level: DR, day-ahead schedule, real-time adjustment, settlement. */
export function lowerLevelInterval(
  options: Omit<LowerLevelOptions, 'intervals'>,
  interval: LowerLevelInterval,
): LowerLevelResult {
  const { units, interval_h: dt, penalty_per_mwh: penalty } = options;
  const dr = options.dr ?? [];
  const lambdaInt = interval.internal_price;
  const drMw = Float64Array.from(dr, (d) => drResponse(d, lambdaInt));
  let curtailed = 0;
  for (const x of drMw) curtailed += x;
  const residual = interval.commitment_mw - curtailed;

  // Day-ahead: least cost within the forecast, at the nearest bound when the residual is outside it.
  let lo = 0;
  let hi = 0;
  for (const l of interval.forecast) {
    lo += l.pmin_mw;
    hi += l.pmax_mw;
  }
  const planned = Math.min(Math.max(residual, lo), hi);
  const da = dispatchInterval(units, interval.forecast, planned);

  // Real time: realised limits, within the adjustment range of the day-ahead point.
  const adjust = options.adjust_mw ?? Number.POSITIVE_INFINITY;
  const limits = interval.realised.map((l, i) => {
    const r = typeof adjust === 'number' ? adjust : adjust[i]!;
    const p0 = da.p_mw[i]!;
    const pmin = Math.max(l.pmin_mw, p0 - r);
    const pmax = Math.min(l.pmax_mw, p0 + r);
    // A unit that can no longer reach its adjustment band does what it physically can.
    return pmin <= pmax
      ? { pmin_mw: pmin, pmax_mw: pmax }
      : l.pmax_mw < p0
        ? { pmin_mw: l.pmax_mw, pmax_mw: l.pmax_mw }
        : { pmin_mw: l.pmin_mw, pmax_mw: l.pmin_mw };
  });
  const rt = penalisedDispatch(units, limits, residual, penalty);

  let unitCost = 0;
  for (const [i, u] of units.entries()) unitCost += (u.a * rt.p_mw[i]! ** 2 + u.b * rt.p_mw[i]!) * dt;
  const penaltyCost = penalty * rt.shortfall_mw * dt;
  const drPayment = lambdaInt * curtailed * dt;
  return {
    dr_mw: drMw,
    dayAhead_mw: da.p_mw,
    dayAheadLambda: da.lambda,
    plannedShortfall_mw: residual - planned,
    realTime_mw: rt.p_mw,
    realTimeLambda: rt.lambda,
    shortfall_mw: rt.shortfall_mw,
    surplus_mw: rt.surplus_mw,
    unitCost,
    penalty: penaltyCost,
    drPayment,
    total: unitCost + penaltyCost + drPayment,
  };
}

/** The lower level over a day (or any horizon): each interval, and the totals. */
export function lowerLevelSchedule(options: LowerLevelOptions): {
  intervals: LowerLevelResult[];
  unitCost: number;
  penalty: number;
  drPayment: number;
  total: number;
  undelivered_mwh: number;
} {
  const intervals = options.intervals.map((iv) => lowerLevelInterval(options, iv));
  const sum = (f: (r: LowerLevelResult) => number) => intervals.reduce((s, r) => s + f(r), 0);
  return {
    intervals,
    unitCost: sum((r) => r.unitCost),
    penalty: sum((r) => r.penalty),
    drPayment: sum((r) => r.drPayment),
    total: sum((r) => r.total),
    undelivered_mwh: sum((r) => r.shortfall_mw) * options.interval_h,
  };
}
