/**
 * The VPP as a controller (twin/control/contract.ts): it claims its members, re-dispatches them
 * every `period_s` of twin time with the selected control structure, and sends set-points that are
 * always finite and inside each member's limits. A failed or infeasible solve keeps the last
 * feasible dispatch and says why (`status.reason`); the next period tries again.
 */
import type { TwinState } from '../twin/api.ts';
import type {
  ActuatorRef,
  Controller,
  ControllerAction,
  RefusedAction,
  TwinCatalog,
} from '../twin/control/contract.ts';
import { admmDispatch } from './admm.ts';
import { type MemberLimits, memberLimits, statusesFrom } from './aggregate.ts';
import { dispatchInterval } from './central.ts';
import { type Graph, smallWorld } from './comms.ts';
import { consensusDispatch } from './consensus.ts';
import type { BoundVpp, ControlStructure, VppMember } from './portfolio.ts';

export interface VppControllerOptions {
  vpp: BoundVpp;
  /** The VPP's target output at twin time t, MW (generator convention, all members together). */
  target(t_s: number): number;
  /** Hour of day at t = 0 (availability profiles). @default 12 */
  startHour?: number;
  /** Overrides the portfolio's structure. */
  structure?: ControlStructure;
  /** Communication graph of the consensus agents (member order). @default small world, degree 6 */
  graph?: Graph;
}

/** What the VPP did at its last decision (for the operator, the recorder and tests). */
export interface VppStatus {
  t_s: number;
  target_mw: number;
  /** Sum of the members' measured outputs, MW. */
  delivered_mw: number;
  /** Set-points in force, MW per member (the last feasible dispatch). */
  dispatch: Record<string, number>;
  lambda: number;
  /** False when the last solve failed (the previous dispatch was kept). */
  ok: boolean;
  reason?: string;
  iterations?: number;
  solveTime_ms: number;
  refused: RefusedAction[];
  /** Members taken out of the dispatch because the twin refused their set-points (not owner). */
  excluded: string[];
}

export class VppController implements Controller {
  readonly id: string;
  readonly period_s: number;
  readonly claims: readonly ActuatorRef[];
  readonly status: VppStatus;
  private readonly members: VppMember[];
  private readonly structure: ControlStructure;
  private lastDispatch: Float64Array | undefined;
  private graph: Graph | undefined;
  private readonly excluded = new Set<string>();

  constructor(private readonly options: VppControllerOptions) {
    const { vpp } = options;
    this.id = `vpp:${vpp.id}`;
    this.period_s = vpp.period_s;
    this.structure = options.structure ?? vpp.structure;
    // A member shared with another VPP is set by whoever owns the actuator; this VPP drives only
    // what it holds whole.
    this.members = vpp.members.filter((m) => m.share === 1);
    this.claims = this.members.map((m) => ({ kind: m.kind, id: m.id }));
    this.graph = options.graph;
    this.status = {
      t_s: 0,
      target_mw: 0,
      delivered_mw: 0,
      dispatch: {},
      lambda: Number.NaN,
      ok: true,
      solveTime_ms: 0,
      refused: [],
      excluded: [],
    };
  }

  attach(catalog: TwinCatalog): void {
    const ders = new Set(catalog.ders.map((d) => d.id));
    const loads = new Set(catalog.loads.map((l) => l.id));
    for (const m of this.members) {
      if (!(m.kind === 'der' ? ders : loads).has(m.id)) {
        throw new TypeError(`${this.id}: member '${m.id}' is not a ${m.kind} of this twin`);
      }
    }
  }

  decide(state: Readonly<TwinState>, actions: ControllerAction[]): void {
    const t0 = performance.now();
    const members = this.members;
    const statuses = statusesFrom(members, state);
    const hour = (this.options.startHour ?? 12) + state.t_s / 3600;
    const period_h = this.period_s / 3600;
    const limits: MemberLimits[] = members.map((m) => {
      if (this.excluded.has(m.id)) {
        // Driven by its owner: its measured output counts, the others cover the rest.
        const p = statuses.get(m.id)?.p_mw ?? 0;
        return { pmin_mw: p, pmax_mw: p };
      }
      const lim = memberLimits(m, hour, statuses.get(m.id), period_h);
      const last = this.lastDispatch?.[members.indexOf(m)];
      if (m.ramp_mw_s !== undefined && last !== undefined && statuses.get(m.id)?.online !== false) {
        const step = m.ramp_mw_s * this.period_s;
        const lo = Math.max(lim.pmin_mw, last - step);
        const hi = Math.min(lim.pmax_mw, last + step);
        if (lo <= hi) return { pmin_mw: lo, pmax_mw: hi };
      }
      return lim;
    });
    const target = this.options.target(state.t_s);
    let delivered = 0;
    for (const m of members) delivered += statuses.get(m.id)?.p_mw ?? 0;
    const s = this.status;
    s.t_s = state.t_s;
    s.target_mw = target;
    s.delivered_mw = delivered;
    s.iterations = undefined;

    const solved = this.solve(limits, target);
    s.solveTime_ms = performance.now() - t0;
    if (!solved.ok) {
      s.ok = false;
      s.reason = solved.reason;
      // Keep the last feasible dispatch, but never a set-point the member can no longer take.
      if (this.lastDispatch) this.emit(this.lastDispatch, limits, statuses, actions);
      return;
    }
    s.ok = true;
    s.reason = undefined;
    s.lambda = solved.lambda;
    s.iterations = solved.iterations;
    this.lastDispatch = solved.p;
    this.emit(solved.p, limits, statuses, actions);
  }

  /**
   * A set-point the twin refused because another controller owns the actuator (or it does not
   * exist) takes that member out of the dispatch from the next period on: the others cover for it,
   * and the VPP never keeps sending to an actuator it does not own.
   */
  feedback(refused: readonly RefusedAction[]): void {
    this.status.refused = [...refused];
    for (const r of refused) {
      if (r.reason !== 'not-owner' && r.reason !== 'unknown-actuator') continue;
      const id =
        r.action.kind === 'der-setpoint' || r.action.kind === 'load-curtail' ? r.action.id : undefined;
      if (id !== undefined && this.members.some((m) => m.id === id)) this.excluded.add(id);
    }
    this.status.excluded = [...this.excluded];
  }

  private solve(
    limits: MemberLimits[],
    target: number,
  ): { ok: true; p: Float64Array; lambda: number; iterations?: number } | { ok: false; reason: string } {
    const members = this.members;
    if (!Number.isFinite(target)) return { ok: false, reason: `target is not a finite number (${target})` };
    const curves = members.map((m, i) => ({ a: m.a, b: m.b, ...limits[i]! }));
    if (this.structure === 'central') {
      const r = dispatchInterval(curves, curves, target);
      return r.ok ? { ok: true, p: r.p_mw, lambda: r.lambda } : { ok: false, reason: r.reason! };
    }
    let lo = 0;
    let hi = 0;
    for (const l of limits) {
      lo += l.pmin_mw;
      hi += l.pmax_mw;
    }
    if (target < lo - 1e-9 || target > hi + 1e-9) {
      return {
        ok: false,
        reason: `target ${target} MW is outside the available range [${lo.toFixed(3)}, ${hi.toFixed(3)}] MW`,
      };
    }
    if (this.structure === 'admm') {
      const r = admmDispatch(curves, { target_mw: target, tolerance: 1e-5 });
      if (!r.converged) return { ok: false, reason: `ADMM did not converge in ${r.iterations} rounds` };
      return { ok: true, p: r.p_mw, lambda: r.lambda, iterations: r.iterations };
    }
    this.graph ??= smallWorld(members.length, 6, 0.1, 1);
    const r = consensusDispatch(curves, { target_mw: target, graph: this.graph, tolerance: 1e-5 });
    if (!r.converged) return { ok: false, reason: `consensus did not converge in ${r.iterations} rounds` };
    return { ok: true, p: r.p_mw, lambda: r.lambda[0]!, iterations: r.iterations };
  }

  /** Set-points, each clamped into the member's limits now; offline members and NaN get nothing. */
  private emit(
    p: Float64Array,
    limits: MemberLimits[],
    statuses: ReturnType<typeof statusesFrom>,
    actions: ControllerAction[],
  ): void {
    const dispatch: Record<string, number> = {};
    for (const [i, m] of this.members.entries()) {
      const value = p[i]!;
      if (!Number.isFinite(value) || statuses.get(m.id)?.online === false || this.excluded.has(m.id))
        continue;
      const lim = limits[i]!;
      const setpoint = Math.min(Math.max(value, lim.pmin_mw), lim.pmax_mw);
      dispatch[m.id] = setpoint;
      if (m.kind === 'der') actions.push({ kind: 'der-setpoint', id: m.id, p_mw: setpoint });
      else
        actions.push({
          kind: 'load-curtail',
          id: m.id,
          fraction: m.load_mw! > 0 ? setpoint / m.load_mw! : 0,
        });
    }
    this.status.dispatch = dispatch;
  }
}
