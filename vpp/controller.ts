/**
 * The VPP as a controller (twin/control/contract.ts): it claims its members, re-dispatches them
 * every `period_s` of twin time with the selected control structure, and sends set-points that are
 * always finite and inside each member's limits. A failed or infeasible solve keeps the last
 * feasible dispatch and says why (`status.reason`); the next period tries again.
 */

import type { Highs } from 'highs';
import type { TwinState } from '../twin/api.ts';
import type {
  ActuatorRef,
  Controller,
  ControllerAction,
  ControllerInput,
  RefusedAction,
  TwinCatalog,
} from '../twin/control/contract.ts';
import { admmDispatch } from './admm.ts';
import { type MemberLimits, memberLimits, statusesFrom } from './aggregate.ts';
import { dispatchInterval } from './central.ts';
import { type Graph, graphFromEdges, type NetworkConditions, smallWorld } from './comms.ts';
import { consensusDispatch } from './consensus.ts';
import { type CommsConditions, VppComms } from './disturbances.ts';
import type { BoundVpp, ControlStructure, VppMember } from './portfolio.ts';
import { dispatchTechnical, type NetworkReport, type TechnicalLink } from './technical.ts';

import {
  checkPreferences,
  inWindow,
  type ProsumerPreferences,
  type VppMemberTelemetry,
  type VppTelemetry,
} from './telemetry.ts';

/** How far (fraction of pmax) a weather-driven member's ceiling may rise above its output per period. */
const WEATHER_PROBE = 0.05;

export interface VppControllerOptions {
  vpp: BoundVpp;
  /**
   * The VPP's target output at twin time t, MW (generator convention, all members together);
   * undefined while nothing is committed (a market interval before the VPP's first award): no new
   * set-points are sent then, and that is not a failed solve.
   */
  target(t_s: number): number | undefined;
  /** Hour of day at t = 0 (availability profiles). @default 12 */
  startHour?: number;
  /** Overrides the portfolio's structure. */
  structure?: ControlStructure;
  /** Communication graph of the consensus agents (member order). @default small world, degree 6 */
  graph?: Graph;
  /**
   * Network-aware dispatch (TVPP, central only): microgrids as zones, the FIDs between them as
   * rated links the VPP also drives. Islanded microgrids must be balanced by their members and the
   * FIDs; grid-connected ones exchange with the main grid. When the catalog carries the network
   * model, bus voltage limits and branch ratings are kept with power-flow sensitivities at the
   * published state, re-linearised every period (vpp/technical.ts, vpp/network.ts). Solved with HiGHS.
   */
  network?: {
    highs: Highs;
    catalog: TwinCatalog;
    /** Kept away from each voltage limit, pu. @default 0.002 */
    voltageMargin_pu?: number;
    /** Fraction of each branch rating kept free. @default 0.01 */
    ratingMargin?: number;
  };
  /**
   * The distributed structures' communication network (base conditions: attacks through `comms`
   * add to them) and solver settings.
   */
  comms?: CommsSettings;
  /** Called after every decision (assertions, recording). */
  onDecision?(status: Readonly<VppStatus>): void;
  /**
   * A target outside what the members can give now is met as closely as they can (the nearest end
   * of the available range, said in `status.reason`) instead of keeping the last dispatch: for a
   * commitment such as a market award, where every MWh short counts. @default false
   */
  clampTarget?: boolean;
}

export interface CommsSettings extends NetworkConditions {
  /** Consensus graph: small world of this average degree. @default 6 */
  degree?: number;
  /** @default 0.1 */
  rewire?: number;
  /**
   * Consensus gain: the consensus default (per agent 0.3·2a_i, also under W-MSR) or one gain
   * 0.3/median(1/2a) for all. @default 'default'
   */
  gain?: 'default' | 'median';
  /** Relative convergence tolerance. @default 1e-5 */
  tolerance?: number;
  maxIterations?: number;
  /** Consensus agents run W-MSR (F = 1) and isolate a persistent liar. @default false */
  resilient?: boolean;
  /** The ADMM aggregator checks each member's reports and isolates a liar (vpp/admm.ts). @default true */
  verifyReports?: boolean;
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
  /** FID transfer set-points in force (TVPP), MW from side A to side B. */
  fids: Record<string, number>;
  /** TVPP: the network limits honoured, binding and violated at the last successful solve. */
  network?: NetworkReport;
  structure: ControlStructure;
  /** Decisions so far. */
  decisions: number;
  /** Cost of the set-points in force, Σ a p² + b p, currency/h. */
  cost: number;
  /** The central optimum of the same interval (distributed structures), currency/h. */
  reference_cost: number;
  /** Members isolated as liars: by their neighbours (consensus with `resilient`) or by the ADMM aggregator's check. */
  isolated: string[];
  /** The communication network at this decision (distributed structures). */
  comms?: {
    loss: number;
    latency_ms: number;
    jitter_ms: number;
    failed_links: string[];
    liar?: string;
    /** Ids of the attacks in force. */
    attacks: string[];
  };
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
  private links: TechnicalLink[] = [];
  private readonly preferences = new Map<string, ProsumerPreferences>();
  /** Members whose prosumer opted out, at the last decision. */
  private readonly optedOut = new Set<string>();
  private lastTelemetry: VppTelemetry | undefined;
  /** The agents' network, for the attack engine (distributed structures only). */
  readonly comms?: VppComms;

  constructor(private readonly options: VppControllerOptions) {
    const { vpp } = options;
    this.id = `vpp:${vpp.id}`;
    this.period_s = vpp.period_s;
    this.structure = options.structure ?? vpp.structure;
    // A member shared with another VPP is set by whoever owns the actuator; this VPP drives only
    // what it holds whole.
    this.members = vpp.members.filter((m) => m.share === 1);
    const claims: ActuatorRef[] = this.members.map((m) => ({ kind: m.kind, id: m.id }));
    if (options.network) {
      this.links = linksOf(options.network.catalog);
      for (const l of this.links) claims.push({ kind: 'fid', id: l.id });
    }
    this.claims = claims;
    this.graph = options.graph;
    if (this.structure !== 'central')
      this.comms = new VppComms(
        this.members.map((m) => m.id),
        this.structure,
        options.comms,
      );
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
      fids: {},
      structure: this.structure,
      decisions: 0,
      cost: 0,
      reference_cost: Number.NaN,
      isolated: [],
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
    const inForce = this.status.dispatch;
    const { limits, statuses } = this.decideOnce(state, actions);
    this.lastTelemetry = this.telemetryOf(state, limits, statuses, inForce);
  }

  /** The report of the last decision (recorded and shown live by the bench). */
  telemetry(): VppTelemetry | undefined {
    return this.lastTelemetry;
  }

  /**
   * A prosumer's preferences (`{ type: 'prosumer-preferences', prosumer, preferences }`), in force
   * from the next decision. Other inputs are ignored; bad preferences throw a TypeError naming the
   * field. A prosumer this VPP has no unit of is ignored (another VPP may have it).
   */
  input(message: Readonly<ControllerInput>): void {
    if (message.type !== 'prosumer-preferences') return;
    const prosumer = message.prosumer;
    if (typeof prosumer !== 'string')
      throw new TypeError(`${this.id}: prosumer-preferences: /prosumer must be a string`);
    if (!this.members.some((m) => m.prosumer === prosumer)) return;
    const checked = checkPreferences(message.preferences);
    if (!checked.ok) throw new TypeError(`${this.id}: preferences of ${prosumer}: ${checked.reason}`);
    this.preferences.set(prosumer, checked.preferences);
  }

  private telemetryOf(
    state: Readonly<TwinState>,
    limits: MemberLimits[],
    statuses: ReturnType<typeof statusesFrom>,
    inForce: Record<string, number>,
  ): VppTelemetry {
    const s = this.status;
    const flexibility = {
      pmin_mw: 0,
      pmax_mw: 0,
      ramp_mw_s: 0 as number | null,
      stored_energy_mwh: 0,
      storage_room_mwh: 0,
      members_online: 0,
      members: this.members.length,
    };
    const members = this.members.map((m, i): VppMemberTelemetry => {
      const status = statuses.get(m.id);
      const lim = limits[i]!;
      const measured = status?.p_mw ?? 0;
      if (status?.online !== false) {
        flexibility.members_online++;
        flexibility.pmin_mw += lim.pmin_mw;
        flexibility.pmax_mw += lim.pmax_mw;
        flexibility.ramp_mw_s =
          m.ramp_mw_s === undefined || flexibility.ramp_mw_s === null
            ? null
            : flexibility.ramp_mw_s + m.ramp_mw_s;
        if (m.capacity_mwh !== undefined && status?.soc !== undefined) {
          flexibility.stored_energy_mwh += Math.max(status.soc - m.soc_min, 0) * m.capacity_mwh;
          flexibility.storage_room_mwh += Math.max(m.soc_max - status.soc, 0) * m.capacity_mwh;
        }
      }
      const previous = inForce[m.id];
      return {
        id: m.id,
        kind: m.kind,
        operator: m.operator,
        ...(m.prosumer === undefined ? {} : { prosumer: m.prosumer }),
        ...(m.hardware ? { hardware: true } : {}),
        setpoint_mw: s.dispatch[m.id] ?? null,
        measured_mw: measured,
        tracking_error_mw: previous === undefined ? null : measured - previous,
        pmin_mw: lim.pmin_mw,
        pmax_mw: lim.pmax_mw,
        ...(status?.soc === undefined ? {} : { soc: status.soc }),
        ...(this.optedOut.has(m.id) ? { opted_out: true } : {}),
      };
    });
    return {
      kind: 'vpp',
      vpp: this.options.vpp.id,
      t_s: state.t_s,
      target_mw: s.target_mw,
      delivered_mw: s.delivered_mw,
      price_per_mwh: Number.isFinite(s.lambda) ? s.lambda : null,
      ok: s.ok,
      ...(s.reason === undefined ? {} : { reason: s.reason }),
      solve_ms: s.solveTime_ms,
      ...(s.iterations === undefined ? {} : { iterations: s.iterations }),
      flexibility,
      members,
      preferences: Object.fromEntries(this.preferences),
    };
  }

  private decideOnce(
    state: Readonly<TwinState>,
    actions: ControllerAction[],
  ): { limits: MemberLimits[]; statuses: ReturnType<typeof statusesFrom> } {
    const t0 = performance.now();
    const members = this.members;
    const statuses = statusesFrom(members, state);
    const hour = (this.options.startHour ?? 12) + state.t_s / 3600;
    const period_h = this.period_s / 3600;
    this.optedOut.clear();
    const limits: MemberLimits[] = members.map((m) => {
      const prefs = m.prosumer === undefined ? undefined : this.preferences.get(m.prosumer);
      if (prefs?.opt_out) this.optedOut.add(m.id);
      if (this.excluded.has(m.id) || prefs?.opt_out) {
        // Driven by its owner (or its prosumer opted out): its measured output counts, the others
        // cover the rest.
        const p = statuses.get(m.id)?.p_mw ?? 0;
        return { pmin_mw: p, pmax_mw: p };
      }
      // A flexible load outside its prosumer's window is not curtailed.
      if (m.kind === 'load' && prefs?.flexible_window && !inWindow(prefs.flexible_window, hour))
        return { pmin_mw: 0, pmax_mw: 0 };
      const reserve = prefs?.battery_reserve;
      const member =
        reserve !== undefined && m.capacity_mwh !== undefined && reserve > m.soc_min
          ? { ...m, soc_min: Math.min(reserve, m.soc_max) }
          : m;
      const lim = memberLimits(member, hour, statuses.get(m.id), period_h);
      const last = this.lastDispatch?.[members.indexOf(m)];
      const measured = statuses.get(m.id)?.p_mw;
      if (m.availability && last !== undefined && measured !== undefined) {
        // A weather-driven member below its set-point is at what the weather gives it now: plan
        // with that (the profile would overstate what flows through the network), and let the
        // ceiling rise again by a step per period while it follows its set-point.
        const cap = measured < last - 1e-3 ? measured : measured + WEATHER_PROBE * m.pmax_mw;
        const pmax = Math.max(lim.pmin_mw, Math.min(lim.pmax_mw, cap));
        return { pmin_mw: Math.min(lim.pmin_mw, pmax), pmax_mw: pmax };
      }
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
    s.target_mw = target ?? Number.NaN;
    s.delivered_mw = delivered;
    s.iterations = undefined;
    s.decisions++;
    const comms = this.comms?.at(state.t_s);
    if (comms) s.comms = this.describe(comms);
    if (target === undefined) {
      s.target_mw = Number.NaN;
      s.ok = true;
      s.reason = 'no target committed at this time: no new set-points';
      s.solveTime_ms = performance.now() - t0;
      this.finishDecision();
      return { limits, statuses };
    }

    let aim = target;
    let clamped: string | undefined;
    if (this.options.clampTarget) {
      let lo = 0;
      let hi = 0;
      for (const l of limits) {
        lo += l.pmin_mw;
        hi += l.pmax_mw;
      }
      if (target > hi || target < lo) {
        aim = Math.min(Math.max(target, lo), hi);
        clamped = `target ${target.toFixed(3)} MW is outside the available range [${lo.toFixed(3)}, ${hi.toFixed(3)}] MW: the members deliver ${aim.toFixed(3)} MW`;
      }
    }
    let solved: Solved;
    try {
      solved = this.options.network
        ? this.solveNetwork(state, limits, aim)
        : this.solve(limits, aim, statuses, comms);
    } catch (err) {
      // Nothing a solver does may stop the controller: a failure is a failed solve like any other.
      solved = { ok: false, reason: `solver failed: ${(err as Error).message}` };
    }
    s.solveTime_ms = performance.now() - t0;
    s.reference_cost = this.structure === 'central' ? Number.NaN : referenceCost(this.curves(limits), aim);
    if (!solved.ok) {
      s.ok = false;
      s.reason = solved.reason;
      s.iterations = solved.iterations;
      // Keep the last feasible dispatch, but never a set-point the member can no longer take.
      if (this.lastDispatch) this.emit(this.lastDispatch, limits, statuses, actions);
      if (this.lastFlows) this.emitFlows(this.lastFlows, actions);
      this.finishDecision();
      return { limits, statuses };
    }
    s.ok = true;
    s.reason = clamped;
    if (solved.report) {
      s.network = solved.report;
      s.reason = notHonoured(solved.report) ?? clamped;
    }
    s.lambda = solved.lambda;
    s.iterations = solved.iterations;
    if (solved.isolated) s.isolated = solved.isolated;
    this.lastDispatch = solved.p;
    this.emit(solved.p, limits, statuses, actions, solved.unreachable);
    if (solved.flows) {
      this.lastFlows = solved.flows;
      this.emitFlows(solved.flows, actions);
    }
    this.finishDecision();
    return { limits, statuses };
  }

  private finishDecision(): void {
    let cost = 0;
    for (const m of this.members) {
      const p = this.status.dispatch[m.id];
      if (p !== undefined) cost += m.a * p * p + m.b * p;
    }
    this.status.cost = cost;
    this.options.onDecision?.(this.status);
  }

  private curves(limits: readonly MemberLimits[]) {
    return this.members.map((m, i) => ({ a: m.a, b: m.b, ...limits[i]! }));
  }

  private describe(c: CommsConditions): NonNullable<VppStatus['comms']> {
    const agents = this.comms!.agents;
    return {
      loss: c.loss,
      latency_ms: c.latency_ms,
      jitter_ms: c.jitter_ms,
      failed_links: c.failedLinks.map(([a, b]) => `${agents[a]}–${agents[b]}`),
      liar: c.liar ? agents[c.liar.agent] : undefined,
      attacks: c.active,
    };
  }

  private lastFlows: Float64Array | undefined;

  /**
   * TVPP: one interval over the microgrids as zones. Each zone's members must cover what the zone
   * consumes (measured: its units' output plus what the FIDs inject into it) less what non-member
   * units produce; grid-connected zones trade the difference with the main grid. With the catalog's
   * network model, bus voltage limits and branch ratings are kept too (vpp/technical.ts).
   */
  private solveNetwork(state: Readonly<TwinState>, limits: MemberLimits[], target: number): Solved {
    const { highs, catalog } = this.options.network!;
    const ids = catalog.microgrids.map((m) => m.id);
    const zoneOfBus = new Map(catalog.microgrids.flatMap((m) => m.buses.map((b) => [b, m.id] as const)));
    const demand = new Map(ids.map((id) => [id, 0]));
    const memberIds = new Set(this.members.map((m) => m.id));
    // What the members of a zone must cover = its consumption (all units' output + FID injections,
    // measured) less what non-member units produce = members' output + FID injections.
    for (const d of catalog.ders) {
      const z = d.microgrid;
      if (z === undefined || !demand.has(z) || !memberIds.has(d.id)) continue;
      demand.set(z, demand.get(z)! + (state.devices[d.id]?.p_mw ?? 0));
    }
    for (const f of catalog.fids) {
      const s = state.fids?.[f.id];
      if (!s) continue;
      const za = zoneOfBus.get(f.busA);
      const zb = zoneOfBus.get(f.busB);
      if (za !== undefined) demand.set(za, demand.get(za)! + s.p_a_mw);
      if (zb !== undefined) demand.set(zb, demand.get(zb)! + s.p_b_mw);
    }
    const result = dispatchTechnical(highs, {
      members: this.members,
      limits,
      // A load member's curtailment is not published: the one in force is the last dispatch.
      p0_mw: this.members.map((m, i) =>
        m.kind === 'load' ? (this.lastDispatch?.[i] ?? 0) : (state.devices[m.id]?.p_mw ?? 0),
      ),
      target_mw: target,
      zones: {
        ids,
        demand_mw: ids.map((id) => demand.get(id)!),
        gridZones: ids.filter((id) => !(state.microgrids?.[id]?.islanded ?? false)),
      },
      links: this.links,
      // The transfer as the set-point counts it: what the receiving side gets.
      f0_mw: this.links.map((l) => {
        const f = state.fids?.[l.id];
        return !f ? 0 : f.p_b_mw >= 0 ? f.p_b_mw : -f.p_a_mw;
      }),
      network: catalog.network ? { model: catalog.network, state } : undefined,
      voltageMargin_pu: this.options.network!.voltageMargin_pu,
      ratingMargin: this.options.network!.ratingMargin,
    });
    if (!result.ok) return { ok: false, reason: result.reason };
    return { ok: true, p: result.p_mw, lambda: Number.NaN, flows: result.flow_mw, report: result.report };
  }

  private emitFlows(flows: Float64Array, actions: ControllerAction[]): void {
    const fids: Record<string, number> = {};
    for (const [l, link] of this.links.entries()) {
      const f = flows[l]!;
      if (!Number.isFinite(f)) continue;
      const p_mw = Math.min(Math.max(f, -link.rating_mw), link.rating_mw);
      fids[link.id] = p_mw;
      actions.push({ kind: 'fid-setpoint', id: link.id, p_mw });
    }
    this.status.fids = fids;
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
    statuses: ReturnType<typeof statusesFrom>,
    comms: CommsConditions | undefined,
  ): Solved {
    const members = this.members;
    if (!Number.isFinite(target)) return { ok: false, reason: `target is not a finite number (${target})` };
    const settings = this.options.comms ?? {};
    // A member cut off from the aggregator cannot be told anything: it keeps its output (its last
    // set-point) and the others cover the rest.
    const unreachable = new Set<number>();
    if (this.structure === 'admm')
      for (const [a, b] of comms?.failedLinks ?? []) unreachable.add(a < members.length ? a : b);
    if (unreachable.size > 0) {
      limits = limits.map((l, i) => {
        if (!unreachable.has(i)) return l;
        const p = statuses.get(members[i]!.id)?.p_mw ?? 0;
        return { pmin_mw: p, pmax_mw: p };
      });
    }
    const curves = this.curves(limits);
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
    const network: NetworkConditions = {
      ...settings,
      // A fresh loss pattern each decision, repeatable from the seed.
      seed: (settings.seed ?? 1) + this.status.decisions,
      loss: comms?.loss ?? 0,
      latency_ms: comms?.latency_ms ?? 0,
      jitter_ms: comms?.jitter_ms ?? 0,
      failedLinks: undefined,
    };
    const tolerance = settings.tolerance ?? 1e-5;
    if (this.structure === 'admm') {
      const r = admmDispatch(curves, {
        target_mw: target,
        tolerance,
        network,
        maxIterations: settings.maxIterations,
        liar: comms?.liar,
        verifyReports: settings.verifyReports,
      });
      if (!r.converged)
        return {
          ok: false,
          reason: `ADMM did not converge in ${r.iterations} rounds`,
          iterations: r.iterations,
        };
      const isolated = r.isolated.map((i) => members[i]!.id);
      return { ok: true, p: r.p_mw, lambda: r.lambda, iterations: r.iterations, unreachable, isolated };
    }
    this.graph ??= smallWorld(
      members.length,
      settings.degree ?? 6,
      settings.rewire ?? 0.1,
      settings.seed ?? 1,
    );
    // Agents know their own links are down (no heartbeat): they talk over what is left, and a
    // graph that falls apart is refused (the last dispatch stays).
    let graph = this.graph;
    if (comms && comms.failedLinks.length > 0) {
      const down = new Set(comms.failedLinks.map(([a, b]) => (a < b ? `${a}-${b}` : `${b}-${a}`)));
      const edges: [number, number][] = [];
      for (const [a, nb] of graph.neighbours.entries())
        for (const b of nb) if (a < b && !down.has(`${a}-${b}`)) edges.push([a, b]);
      graph = graphFromEdges(graph.n, edges);
    }
    const r = consensusDispatch(curves, {
      target_mw: target,
      graph,
      tolerance,
      network,
      epsilon: settings.gain === 'median' ? medianGain(curves) : undefined,
      maxIterations: settings.maxIterations,
      liar: comms?.liar,
      resilient: settings.resilient,
    });
    const isolated = r.isolated.map((i) => members[i]!.id);
    if (!r.converged)
      return {
        ok: false,
        reason: `consensus did not converge in ${r.iterations} rounds`,
        iterations: r.iterations,
      };
    const honest = r.lambda.findIndex((_, i) => i !== comms?.liar?.agent);
    return { ok: true, p: r.p_mw, lambda: r.lambda[honest]!, iterations: r.iterations, isolated };
  }

  /** Set-points, each clamped into the member's limits now; offline members and NaN get nothing. */
  private emit(
    p: Float64Array,
    limits: MemberLimits[],
    statuses: ReturnType<typeof statusesFrom>,
    actions: ControllerAction[],
    unreachable?: ReadonlySet<number>,
  ): void {
    const dispatch: Record<string, number> = {};
    for (const [i, m] of this.members.entries()) {
      const value = p[i]!;
      if (
        !Number.isFinite(value) ||
        statuses.get(m.id)?.online === false ||
        this.excluded.has(m.id) ||
        this.optedOut.has(m.id)
      )
        continue;
      if (unreachable?.has(i)) {
        // Not told anything: it keeps what it was last told (still counted in the dispatch).
        dispatch[m.id] = this.status.dispatch[m.id] ?? value;
        continue;
      }
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

/** What the TVPP could not honour and why, in words (undefined when it honoured everything). */
function notHonoured(report: NetworkReport): string | undefined {
  const parts: string[] = [];
  for (const v of report.violated)
    parts.push(`cannot honour ${v.constraint}: ${v.predicted.toFixed(4)} against a limit of ${v.limit}`);
  if (Math.abs(report.shortfall_mw) > 1e-6) {
    const why = report.binding.length ? `binding: ${report.binding.join(', ')}` : 'members at their limits';
    parts.push(`target missed by ${report.shortfall_mw.toFixed(4)} MW (${why})`);
  }
  return parts.length ? parts.join('; ') : undefined;
}

/** FIDs whose two sides lie in two different microgrids: the links of the transport model. */
function linksOf(catalog: TwinCatalog): TechnicalLink[] {
  const zoneOfBus = new Map(catalog.microgrids.flatMap((m) => m.buses.map((b) => [b, m.id] as const)));
  return catalog.fids.flatMap((f) => {
    const from = zoneOfBus.get(f.busA);
    const to = zoneOfBus.get(f.busB);
    return from !== undefined && to !== undefined && from !== to
      ? [{ id: f.id, from, to, busA: f.busA, busB: f.busB, rating_mw: f.rating_mw }]
      : [];
  });
}

type Solved =
  | {
      ok: true;
      p: Float64Array;
      lambda: number;
      iterations?: number;
      flows?: Float64Array;
      report?: NetworkReport;
      isolated?: string[];
      unreachable?: ReadonlySet<number>;
    }
  | { ok: false; reason: string; iterations?: number };

/** The consensus gain 0.3 / median(1/2a): robust when members with tiny a sit at their limits. */
function medianGain(curves: readonly { a: number }[]): number {
  const inv = curves.map((c) => 1 / (2 * c.a)).sort((x, y) => x - y);
  return 0.3 / inv[Math.floor(inv.length / 2)]!;
}

/** The exact central optimum of one interval, currency/h (NaN when infeasible). */
function referenceCost(
  curves: readonly { a: number; b: number; pmin_mw: number; pmax_mw: number }[],
  target: number,
): number {
  const r = dispatchInterval(curves, curves, target);
  return r.ok ? r.cost : Number.NaN;
}
