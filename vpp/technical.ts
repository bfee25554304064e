/**
 * TVPP: network-aware real-time dispatch of one interval. The microgrids are zones balanced by
 * their members and the FIDs between them (as in the transport model of central.ts); on top of it
 * the bus voltage limits and the branch ratings are kept with the linearised AC model of
 * vpp/network.ts, linearised again at every dispatch around the twin's published state:
 *
 *   minimise   Σ_i (a_i p_i² + b_i p_i) + M_target·(s⁺ + s⁻) + M_V·Σ u_V + M_S·Σ u_S
 *   subject to Σ_{i∈z} p_i + Σ_{FIDs into z} f_l − Σ_{FIDs out of z} f_l (+ g_z) = demand_z   (zones)
 *              Σ_i p_i + s⁺ − s⁻ = target                       (when a zone trades with the grid)
 *              V_b + Σ_j dV_b/dP_j·Δp_j − u ≤ vmax_b − margin_V  (and ≥ vmin_b + margin_V)
 *              |S_e| + Σ_j d|S_e|/dP_j·Δp_j − u ≤ (1 − margin_S)·rating_e   (each end of a rated branch)
 *              pmin_i ≤ p_i ≤ pmax_i,  |f_l| ≤ rating_l (FID ratings)
 *
 * where Δp_j is the change of injection at bus j from the measured operating point (members'
 * outputs; a FID moves −Δf at side A and +Δf at side B). The network limits are soft with penalties
 * far above the target's, so a limit gives way only when nothing the VPP drives can keep it: the
 * result then says which limit it could not honour (`violated`), and a target it could not meet
 * names the constraints that stopped it (`binding`: rows with a nonzero dual, FIDs at their rating).
 */
import type { Highs } from 'highs';
import type { TwinState } from '../twin/api.ts';
import type { NetworkModel } from '../twin/control/contract.ts';
import type { MemberLimits } from './aggregate.ts';
import { diagonalHessian, runModel, Triplets, toCsc } from './central.ts';
import { type LinearNetwork, linearise } from './network.ts';
import type { VppMember } from './portfolio.ts';

export interface TechnicalLink {
  id: string;
  /** Zones (microgrids) of side A and side B. */
  from: string;
  to: string;
  busA: string;
  busB: string;
  rating_mw: number;
}

export interface TechnicalProblem {
  members: readonly VppMember[];
  limits: readonly MemberLimits[];
  /** Members' measured output now, MW (the operating point). */
  p0_mw: readonly number[];
  /** The VPP's target, MW (kept only when a zone trades with the main grid). */
  target_mw: number;
  zones: {
    ids: readonly string[];
    /** What each zone's members and FIDs must supply, MW. */
    demand_mw: readonly number[];
    /** Zones connected to the main grid (their balance has a free exchange term). */
    gridZones: readonly string[];
  };
  links: readonly TechnicalLink[];
  /** FIDs' transfer now (A → B), MW, per link. */
  f0_mw: readonly number[];
  /** Network data and the state to linearise at; without it, only the FID ratings are kept. */
  network?: { model: NetworkModel; state: Readonly<TwinState> };
  /** Kept away from each voltage limit, pu. @default 0.002 */
  voltageMargin_pu?: number;
  /** Fraction of each branch rating kept free. @default 0.01 */
  ratingMargin?: number;
}

/** What the dispatch could and could not honour (names: `vmax:<bus>`, `vmin:<bus>`, `line:<branch>`, `fid:<id>`). */
export interface NetworkReport {
  /** Limits kept in the model and honoured by the dispatch (to the linear model). */
  honoured: string[];
  /** Of the honoured ones, those at their limit (they set prices and stop the target). */
  binding: string[];
  /** Limits nothing the VPP drives could keep: the predicted value and the limit. */
  violated: { constraint: string; limit: number; predicted: number }[];
  /** Target minus what the dispatch delivers, MW (0 when met). */
  shortfall_mw: number;
  /** Predicted value of every network limit after the dispatch (voltages pu, branch loadings MVA). */
  predicted: Record<string, number>;
}

export type TechnicalResult =
  | { ok: true; p_mw: Float64Array; flow_mw: Float64Array; report: NetworkReport; cost: number }
  | { ok: false; reason: string; binding?: string };

/** Penalties (currency/h per unit of slack) that order the priorities: network ≫ target ≫ cost. */
const TARGET_PENALTY = 1e4;
const VOLTAGE_PENALTY = 1e8;
const RATING_PENALTY = 1e6;

export function dispatchTechnical(highs: Highs, problem: TechnicalProblem): TechnicalResult {
  const { members, limits, links, zones } = problem;
  const N = members.length;
  const L = links.length;
  const Z = zones.ids.length;
  const gridZone = zones.ids.map((id) => zones.gridZones.includes(id));
  const G = gridZone.filter(Boolean).length;
  const vMargin = problem.voltageMargin_pu ?? 0.002;
  const sMargin = problem.ratingMargin ?? 0.01;
  if (!Number.isFinite(problem.target_mw))
    return { ok: false, reason: `target is not a finite number (${problem.target_mw})` };
  const zoneOf = members.map((m) => zones.ids.indexOf(m.microgrid ?? ''));
  for (const [i, m] of members.entries()) {
    if (zoneOf[i]! < 0) return { ok: false, reason: `member '${m.id}' is in no zone of the network model` };
  }

  // Injection buses: members, then each FID's side A and side B.
  const injections = [...members.map((m) => m.bus), ...links.map((l) => l.busA), ...links.map((l) => l.busB)];
  const lin: LinearNetwork | undefined = problem.network
    ? linearise(problem.network.model, problem.network.state, injections)
    : undefined;
  const J = injections.length;

  // Columns: p (N), f (L), g (G), s⁺ s⁻ (when G > 0), then one violation per network row.
  const cols = { lower: [] as number[], upper: [] as number[], cost: [] as number[] };
  const addCol = (lo: number, hi: number, cost: number) => {
    cols.lower.push(lo);
    cols.upper.push(hi);
    cols.cost.push(cost);
    return cols.lower.length - 1;
  };
  for (const [i, m] of members.entries()) {
    const { pmin_mw, pmax_mw } = limits[i]!;
    if (!Number.isFinite(pmin_mw) || !Number.isFinite(pmax_mw))
      return { ok: false, reason: `member '${m.id}': limits are not finite` };
    addCol(pmin_mw, Math.max(pmin_mw, pmax_mw), m.b);
  }
  for (const l of links) addCol(-l.rating_mw, l.rating_mw, 0);
  const gCols = zones.ids.map((_, z) => (gridZone[z] ? addCol(-Infinity, Infinity, 0) : -1));
  const sPlus = G > 0 ? addCol(0, Infinity, TARGET_PENALTY) : -1;
  const sMinus = G > 0 ? addCol(0, Infinity, TARGET_PENALTY) : -1;

  const rows = { lower: [] as number[], upper: [] as number[], names: [] as string[] };
  const entries = new Triplets();
  const addRow = (name: string, lo: number, hi: number, terms: [number, number][]) => {
    const row = rows.lower.length;
    rows.lower.push(lo);
    rows.upper.push(hi);
    rows.names.push(name);
    for (const [col, value] of terms) if (value !== 0) entries.push(row, col, value);
    return row;
  };
  for (let z = 0; z < Z; z++) {
    const terms: [number, number][] = [];
    for (let i = 0; i < N; i++) if (zoneOf[i] === z) terms.push([i, 1]);
    for (const [l, link] of links.entries()) {
      if (link.to === zones.ids[z]) terms.push([N + l, 1]);
      if (link.from === zones.ids[z]) terms.push([N + l, -1]);
    }
    if (gridZone[z]) terms.push([gCols[z]!, 1]);
    const d = zones.demand_mw[z]!;
    if (!Number.isFinite(d)) return { ok: false, reason: `zone ${zones.ids[z]}: demand is not finite` };
    addRow(`balance_${zones.ids[z]}`, d, d, terms);
  }
  if (G > 0) {
    const t = problem.target_mw;
    addRow('target', t, t, [...members.map((_, i) => [i, 1] as [number, number]), [sPlus, 1], [sMinus, -1]]);
  }

  // Network rows: value now + Σ_j sens_j·(x_j − x_j0), x over members' p and FID transfers.
  interface Limit {
    name: string;
    row: number;
    /** −1 for a lower limit (≥), +1 for an upper one (≤). */
    sense: 1 | -1;
    limit: number;
    now: number;
    sens: Float64Array; // over columns p (N) and f (L)
  }
  const netLimits: Limit[] = [];
  const constantViolations: NetworkReport['violated'] = [];
  const honouredConstant: string[] = [];
  const x0 = [...problem.p0_mw, ...problem.f0_mw];
  const addLimit = (
    name: string,
    sense: 1 | -1,
    limit: number,
    bound: number,
    now: number,
    sens: Float64Array,
    penalty: number,
  ) => {
    if (!Number.isFinite(limit)) return;
    if (sens.every((v) => Math.abs(v) < 1e-12)) {
      // Nothing the VPP drives moves it: honoured or not as it stands.
      if (sense * (now - limit) > 1e-9) constantViolations.push({ constraint: name, limit, predicted: now });
      else honouredConstant.push(name);
      return;
    }
    let offset = now;
    for (let c = 0; c < N + L; c++) offset -= sens[c]! * x0[c]!;
    const u = addCol(0, Infinity, penalty);
    const terms: [number, number][] = [];
    for (let c = 0; c < N + L; c++) terms.push([c, sens[c]!]);
    terms.push([u, -sense]);
    const row =
      sense > 0
        ? addRow(name, -Infinity, bound - offset, terms)
        : addRow(name, bound - offset, Infinity, terms);
    netLimits.push({ name, row, sense, limit, now, sens });
  };
  // Sensitivity of a quantity to the decision columns from its per-injection sensitivities.
  const toColumns = (perInjection: (j: number) => number) => {
    const s = new Float64Array(N + L);
    for (let i = 0; i < N; i++) s[i] = perInjection(i);
    // A FID's transfer f takes f from side A and gives it to side B.
    for (let l = 0; l < L; l++) s[N + l] = perInjection(N + L + l) - perInjection(N + l);
    return s;
  };
  if (lin) {
    for (const [b, bus] of lin.buses.entries()) {
      const sens = toColumns((j) => lin.dV_dP[b * J + j]!);
      addLimit(`vmax:${bus.id}`, 1, bus.vmax_pu, bus.vmax_pu - vMargin, bus.vm_pu, sens, VOLTAGE_PENALTY);
      addLimit(`vmin:${bus.id}`, -1, bus.vmin_pu, bus.vmin_pu + vMargin, bus.vm_pu, sens, VOLTAGE_PENALTY);
    }
    for (const e of lin.branches) {
      const sens = toColumns((j) => e.dS_dP[j]!);
      addLimit(`line:${e.id}`, 1, e.rating_mva, (1 - sMargin) * e.rating_mva, e.s_mva, sens, RATING_PENALTY);
    }
  }

  const numCols = cols.lower.length;
  const numRows = rows.lower.length;
  const hessian = diagonalHessian(members, 1, numCols, 1);
  const data = {
    numCols,
    numRows,
    colCost: Float64Array.from(cols.cost),
    colLower: Float64Array.from(cols.lower),
    colUpper: Float64Array.from(cols.upper),
    rowLower: Float64Array.from(rows.lower),
    rowUpper: Float64Array.from(rows.upper),
    matrix: toCsc(entries, numRows, numCols),
  };
  const model = highs.createModel(hessian ? { ...data, hessian } : data);
  try {
    model.options.set({ output_flag: false });
    const run = runModel(highs, model, { ...data, rowNames: rows.names });
    if (!run.ok) return run;
    const sol = model.getSolution();
    const x = sol.colValue;
    const p = Float64Array.from({ length: N }, (_, i) => x[i]!);
    const flow = Float64Array.from({ length: L }, (_, l) => x[N + l]!);
    const report: NetworkReport = {
      honoured: [...honouredConstant],
      binding: [],
      violated: [...constantViolations],
      shortfall_mw: G > 0 ? x[sPlus]! - x[sMinus]! : 0,
      predicted: {},
    };
    // Branch ends share a name: the worse end decides.
    const worst = new Map<string, { limit: Limit; value: number; violated: boolean; dual: number }>();
    for (const lim of netLimits) {
      let value = lim.now;
      for (let c = 0; c < N + L; c++) value += lim.sens[c]! * (x[c]! - x0[c]!);
      const violated = lim.sense * (value - lim.limit) > 1e-6;
      const dual = Math.abs(sol.rowDual[lim.row]!);
      const seen = worst.get(lim.name);
      if (!seen || lim.sense * (value - seen.value) > 0 || violated)
        worst.set(lim.name, { limit: lim, value, violated, dual: Math.max(dual, seen?.dual ?? 0) });
      else seen.dual = Math.max(seen.dual, dual);
    }
    for (const [name, w] of worst) {
      report.predicted[name] = w.value;
      if (w.violated) report.violated.push({ constraint: name, limit: w.limit.limit, predicted: w.value });
      else {
        report.honoured.push(name);
        if (w.dual > 1e-6) report.binding.push(name);
      }
    }
    for (const [l, link] of links.entries()) {
      report.honoured.push(`fid:${link.id}`);
      const f = flow[l]!;
      if (Math.abs(Math.abs(f) - link.rating_mw) < 1e-7 && Math.abs(sol.colDual[N + l]!) > 1e-6)
        report.binding.push(`fid:${link.id}`);
    }
    let cost = 0;
    for (const [i, m] of members.entries()) cost += m.a * p[i]! * p[i]! + m.b * p[i]!;
    return { ok: true, p_mw: p, flow_mw: flow, report, cost };
  } finally {
    model.dispose();
  }
}
