/**
 * Bi-level scheduling in a running VPP (Kong et al., Applied Energy 249, 2019; docs/vpp.md,
 * "Bi-level scheduling in a scenario"): the upper level (bidding.ts) and the lower level
 * (lower-level.ts) driven by the VPP controller's decisions.
 *
 * - **Day-ahead, once per day of the run.** For each interval of the day, from forecasts only (the
 *   members' availability profiles and declared limits; storage from the middle of its band), the
 *   operators' bidding equilibrium clears the VPP's commitment (its target at mid-interval): the
 *   internal price λ, each operator's markup and allocation. Controllable loads take part as
 *   price-takers, so their curtailment is the lower level's demand response at λ. Each operator's
 *   lower level then schedules its own units for its allocation (equal incremental cost within the
 *   operator, which is what its single markup cleared) — the day-ahead schedule.
 * - **Real time, every decision.** Each operator re-dispatches its units within their realised
 *   limits (the controller's: availability now, ramps, storage energy, prosumers' preferences) and
 *   within `adjust_mw` of their day-ahead points, for its allocation, paying the default penalty
 *   for what it leaves undelivered when that is cheaper (`lowerLevelInterval`).
 * - **Settlement, metered.** At each decision the members' measured outputs in the state are held
 *   over the period that just ended: an operator's undelivered energy is
 *   Σ max(0, allocation − Σ measured output of its units)·Δt, its penalty π times that. Demand
 *   response is paid λ·x·Δt for the curtailment in force. Loads' curtailment is not metered (the
 *   twin does not publish it); it counts as sent.
 */
import { type MemberLimits, type MemberStatus, memberLimits } from './aggregate.ts';
import { type BiddingMember, biddingEquilibrium } from './bidding.ts';
import { type CostedUnit, type DemandResponse, drResponse, lowerLevelInterval } from './lower-level.ts';
import type { VppMember } from './portfolio.ts';
import type { OperatorSettlement } from './telemetry.ts';

export type { OperatorSettlement };

export interface BilevelSettings {
  /** Default penalty for undelivered power, currency/MWh. */
  penalty_per_mwh: number;
  /** Fluctuation-cost coefficient on renewable members' output, currency/MW²h. @default 0 */
  beta?: number;
  /** Length of a day-ahead interval, s of twin time (a multiple of the re-dispatch period). @default 3600 */
  interval_s?: number;
  /** How far a unit may move from its day-ahead point in real time, MW. @default unlimited */
  adjust_mw?: number;
  /** The operators' markup search range. @default [1, 3] */
  markup_range?: [number, number];
}

/** One interval of the day-ahead schedule. */
export interface DayAheadInterval {
  /** Interval index from the start of the run, its start in twin time. */
  index: number;
  start_s: number;
  /** The VPP's commitment (its target at mid-interval) and what the forecast could clear of it, MW. */
  commitment_mw: number;
  cleared_mw: number;
  /** The internal price of the operators' bidding equilibrium, currency/MWh. */
  price_per_mwh: number;
  markup: Record<string, number>;
  converged: boolean;
  /** Per operator: its units' allocation (MW) and its loads' curtailment at the internal price. */
  allocation_mw: Record<string, number>;
  dr_mw: Record<string, number>;
  /** Day-ahead point per member (member order): units from the lower level, loads their curtailment. */
  schedule_mw: Float64Array;
  /** Forecast limits per member (member order). */
  forecast: MemberLimits[];
}

export interface BilevelReport {
  interval: DayAheadInterval;
  operators: OperatorSettlement[];
  /** Sums over the operators (cumulative). */
  undelivered_mwh: number;
  penalty: number;
}

export class BilevelSchedule {
  private readonly days = new Map<number, DayAheadInterval[] | string>();
  private readonly operators: string[];
  private readonly interval_s: number;
  private readonly settlement = new Map<string, OperatorSettlement>();
  private lastDecision: { t_s: number; interval: DayAheadInterval; realtime: Float64Array } | undefined;
  private report_: BilevelReport | undefined;

  constructor(
    private readonly members: readonly VppMember[],
    private readonly settings: BilevelSettings,
    private readonly target: (t_s: number) => number | undefined,
    private readonly startHour: number,
  ) {
    this.interval_s = settings.interval_s ?? 3600;
    this.operators = [...new Set(members.map((m) => m.operator))];
    for (const operator of this.operators)
      this.settlement.set(operator, {
        operator,
        markup: 1,
        allocation_mw: 0,
        realtime_mw: 0,
        dr_mw: 0,
        delivered_mw: 0,
        planned_shortfall_mw: 0,
        undelivered_mwh: 0,
        penalty: 0,
        dr_payment: 0,
      });
  }

  /** The day-ahead interval in force at twin time t (the whole day is cleared at its first use). */
  dayAhead(t_s: number): DayAheadInterval {
    const index = Math.floor(t_s / this.interval_s + 1e-9);
    const perDay = Math.max(1, Math.round(86_400 / this.interval_s));
    const day = Math.floor(index / perDay);
    let intervals = this.days.get(day);
    if (!intervals) {
      try {
        intervals = Array.from({ length: perDay }, (_, k) => this.clear(day * perDay + k));
      } catch (err) {
        // Cleared once a day: a day that cannot be cleared fails every decision of it (the
        // controller keeps its last dispatch and says why) without clearing it again each time.
        const reason = `day-ahead clearing of day ${day} failed: ${(err as Error).message}`;
        this.days.set(day, reason);
        throw new Error(reason);
      }
      this.days.set(day, intervals);
    }
    if (typeof intervals === 'string') throw new Error(intervals);
    return intervals[index - day * perDay]!;
  }

  /** The upper level, then each operator's day-ahead lower level, for one interval. */
  private clear(index: number): DayAheadInterval {
    const start_s = index * this.interval_s;
    const mid_s = start_s + this.interval_s / 2;
    const interval_h = this.interval_s / 3600;
    const hour = this.startHour + mid_s / 3600;
    const forecast = this.members.map((m) => memberLimits(m, hour, undefined, interval_h));
    const bidders: BiddingMember[] = this.members.map((m, i) => ({
      operator: m.operator,
      a: m.a,
      b: m.b,
      pmin_mw: forecast[i]!.pmin_mw,
      pmax_mw: forecast[i]!.pmax_mw,
      renewable: m.availability !== undefined,
      priceTaker: m.kind === 'load',
    }));
    // No commitment at a time (an award not yet known) cannot be scheduled day-ahead.
    const commitment = this.target(mid_s) ?? Number.NaN;
    let lo = 0;
    let hi = 0;
    for (const f of forecast) {
      lo += f.pmin_mw;
      hi += f.pmax_mw;
    }
    // A commitment the forecast cannot clear is cleared at the nearest bound (a planned gap).
    const cleared = Math.min(Math.max(commitment, lo), hi);
    const eq = biddingEquilibrium(bidders, {
      commitment_mw: cleared,
      beta: this.settings.beta,
      markupRange: this.settings.markup_range,
    });
    const allocation: Record<string, number> = {};
    const dr: Record<string, number> = {};
    const schedule = new Float64Array(this.members.length);
    for (const o of this.operators) {
      allocation[o] = 0;
      dr[o] = 0;
    }
    for (const [i, m] of this.members.entries()) {
      if (m.kind === 'load') dr[m.operator]! += eq.p_mw[i]!;
      else allocation[m.operator]! += eq.p_mw[i]!;
    }
    // Each operator's lower level schedules its own units for its allocation.
    for (const o of this.operators) {
      const r = this.lowerLevel(o, eq.price_per_mwh, allocation[o]!, forecast, forecast);
      for (const [j, i] of r.units.entries()) schedule[i] = r.result.dayAhead_mw[j]!;
      for (const [j, i] of r.loads.entries()) schedule[i] = r.result.dr_mw[j]!;
    }
    return {
      index,
      start_s,
      commitment_mw: commitment,
      cleared_mw: cleared,
      price_per_mwh: eq.price_per_mwh,
      markup: eq.markup,
      converged: eq.converged,
      allocation_mw: allocation,
      dr_mw: dr,
      schedule_mw: schedule,
      forecast,
    };
  }

  /** One operator's lower level over its own units and loads (indices into the members). */
  private lowerLevel(
    operator: string,
    price: number,
    allocation_mw: number,
    forecast: readonly MemberLimits[],
    realised: readonly MemberLimits[],
    interval_h = this.interval_s / 3600,
  ) {
    const units: number[] = [];
    const loads: number[] = [];
    for (const [i, m] of this.members.entries())
      if (m.operator === operator) (m.kind === 'load' ? loads : units).push(i);
    const costed: CostedUnit[] = units.map((i) => ({
      id: this.members[i]!.id,
      a: this.members[i]!.a,
      b: this.members[i]!.b,
    }));
    const drs: DemandResponse[] = loads.map((i) => ({
      id: this.members[i]!.id,
      a: this.members[i]!.a,
      b: this.members[i]!.b,
      max_mw: forecast[i]!.pmax_mw,
    }));
    const result = lowerLevelInterval(
      {
        units: costed,
        dr: drs,
        interval_h,
        penalty_per_mwh: this.settings.penalty_per_mwh,
        adjust_mw: this.settings.adjust_mw,
      },
      {
        // The lower level takes the curtailment at λ off the commitment: hand it the units' allocation plus it.
        commitment_mw: allocation_mw + drs.reduce((s, d) => s + drResponse(d, price), 0),
        internal_price: price,
        forecast: units.map((i) => forecast[i]!),
        realised: units.map((i) => realised[i]!),
      },
    );
    return { units, loads, result };
  }

  /**
   * One real-time decision at twin time t: settles the period that just ended from the measured
   * outputs, then re-dispatches each operator. Returns the set-points (member order) and λ.
   */
  decide(
    t_s: number,
    limits: readonly MemberLimits[],
    statuses: ReadonlyMap<string, MemberStatus>,
    period_h: number,
  ): { p: Float64Array; lambda: number } {
    this.settle(t_s, statuses);
    const interval = this.dayAhead(t_s);
    const p = new Float64Array(this.members.length);
    for (const o of this.operators) {
      const r = this.lowerLevel(
        o,
        interval.price_per_mwh,
        interval.allocation_mw[o]!,
        interval.forecast,
        limits,
        period_h,
      );
      const s = this.settlement.get(o)!;
      s.markup = interval.markup[o] ?? 1;
      s.allocation_mw = interval.allocation_mw[o]!;
      s.realtime_mw = 0;
      s.dr_mw = 0;
      for (const [j, i] of r.units.entries()) {
        p[i] = r.result.realTime_mw[j]!;
        s.realtime_mw += p[i]!;
      }
      for (const [j, i] of r.loads.entries()) {
        p[i] = r.result.dr_mw[j]!;
        s.dr_mw += p[i]!;
      }
      s.planned_shortfall_mw = r.result.shortfall_mw;
    }
    this.lastDecision = { t_s, interval, realtime: p };
    this.report_ = this.reportOf(interval);
    return { p, lambda: interval.price_per_mwh };
  }

  /** Meters the period since the last decision: the outputs measured now, held over it. */
  private settle(t_s: number, statuses: ReadonlyMap<string, MemberStatus>): void {
    const delivered = new Map(this.operators.map((o) => [o, 0]));
    for (const m of this.members)
      if (m.kind === 'der')
        delivered.set(m.operator, delivered.get(m.operator)! + (statuses.get(m.id)?.p_mw ?? 0));
    for (const [o, d] of delivered) this.settlement.get(o)!.delivered_mw = d;
    const last = this.lastDecision;
    if (!last) return;
    const dt_h = (t_s - last.t_s) / 3600;
    if (!(dt_h > 0)) return;
    for (const o of this.operators) {
      const s = this.settlement.get(o)!;
      const missing = Math.max(0, last.interval.allocation_mw[o]! - delivered.get(o)!);
      s.undelivered_mwh += missing * dt_h;
      s.penalty = this.settings.penalty_per_mwh * s.undelivered_mwh;
    }
    for (const [i, m] of this.members.entries())
      if (m.kind === 'load')
        this.settlement.get(m.operator)!.dr_payment += last.interval.price_per_mwh * last.realtime[i]! * dt_h;
  }

  private reportOf(interval: DayAheadInterval): BilevelReport {
    const operators = this.operators.map((o) => ({ ...this.settlement.get(o)! }));
    return {
      interval,
      operators,
      undelivered_mwh: operators.reduce((s, o) => s + o.undelivered_mwh, 0),
      penalty: operators.reduce((s, o) => s + o.penalty, 0),
    };
  }

  /** The last decision's report (undefined before the first). */
  report(): BilevelReport | undefined {
    return this.report_;
  }
}
