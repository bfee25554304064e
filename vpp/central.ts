/**
 * Centralised dispatch (CCVPP): one optimisation over the whole portfolio with HiGHS (the `highs`
 * package, HiGHS compiled to wasm). Quadratic member costs make it a convex QP, linear ones an LP.
 *
 *   minimise   Σ_t Σ_i dt·(a_i p_it² + b_i p_it)
 *   subject to Σ_{i∈z} p_it + Σ_{links into z} f_lt − Σ_{links out of z} f_lt = target_zt   (balance, dual = price)
 *              e_it = e_i,t−1 − p_it·dt, soc_min·E ≤ e_it ≤ soc_max·E                         (storage)
 *              |p_it − p_i,t−1| ≤ ramp_i·dt                                                 (ramps)
 *              pmin_it ≤ p_it ≤ pmax_it, |f_lt| ≤ rating_l
 *
 * Network: with `zones`, each microgrid is a node and the FIDs between them are links with their
 * ratings (a transport model: lossless, no voltages) — the balance duals are then zonal (nodal)
 * prices, which split when a FID limit binds. Without zones there is one balance per interval.
 */
import type { Highs } from 'highs';
import * as highsPackage from 'highs';
import { type MemberStatus, memberLimits } from './aggregate.ts';
import type { VppMember } from './portfolio.ts';

/**
 * The loader. Node imports the package's ES build, whose default export is the loader; its types
 * describe the CommonJS build, which TypeScript (NodeNext) then sees as the module object.
 */
const loadHighs = highsPackage.default as unknown as () => Promise<Highs>;

let loading: Promise<Highs> | undefined;
/** The HiGHS runtime, loaded once per process (compiling the wasm takes ~0.3 s). */
export function loadSolver(): Promise<Highs> {
  loading ??= loadHighs();
  return loading;
}

export interface NetworkZones {
  /** Zone (microgrid) ids; a member's zone is its `microgrid`. */
  ids: readonly string[];
  /** Target per zone and interval (row-major: t·Z + z), MW; replaces the problem's total target. */
  target_mw: readonly number[];
  links: readonly { id: string; from: string; to: string; rating_mw: number }[];
  /**
   * Zones connected to the main grid: their balance has a free grid-exchange term, and the VPP's
   * total (`target_mw` of the problem) is then required over all members.
   */
  gridZones?: readonly string[];
}

export interface ScheduleProblem {
  members: readonly VppMember[];
  /** Target of the whole VPP per interval, MW (with zones: only with `gridZones`). */
  target_mw: readonly number[];
  interval_h: number;
  /** Hour of day at the start of the first interval (availability profiles). */
  startHour: number;
  /** Live statuses (first interval only), by member id. */
  statuses?: ReadonlyMap<string, MemberStatus>;
  /** Output before the first interval, by member id (ramps from it). */
  initial_p_mw?: ReadonlyMap<string, number>;
  /** Costs are b only (an LP), a ignored. */
  linear?: boolean;
  zones?: NetworkZones;
  /** Limits of the first interval, by member (replacing those from availability and status). */
  limits?: readonly { pmin_mw: number; pmax_mw: number }[];
  /** Solver time limit, s. */
  timeLimit_s?: number;
}

export type ScheduleResult =
  | {
      ok: true;
      /** p[t·N + i], MW. */
      p_mw: Float64Array;
      /** Price per interval and zone (t·Z + z), currency/MWh: the balance rows' duals. */
      price: Float64Array;
      /** Reduced cost of each p (t·N + i), currency/MWh: nonzero only at a bound. */
      reducedCost: Float64Array;
      /** FID flows f[t·L + l], MW (from → to). */
      flow_mw: Float64Array;
      cost: number;
      solveTime_ms: number;
      /** Where the time went: building the model in JS, HiGHS (passing the model and solving), reading the solution. */
      timing: { build_ms: number; solve_ms: number; extract_ms: number };
    }
  | { ok: false; reason: string; binding?: string };

/** Matrix entries as three flat columns (no object per entry: the day-ahead LP has thousands). */
export class Triplets {
  readonly rows: number[] = [];
  readonly cols: number[] = [];
  readonly values: number[] = [];
  push(row: number, col: number, value: number): void {
    this.rows.push(row);
    this.cols.push(col);
    this.values.push(value);
  }
}

/** Solves the day-ahead schedule (or one real-time interval: a one-interval schedule). */
export function solveSchedule(highs: Highs, problem: ScheduleProblem): ScheduleResult {
  const t0 = performance.now();
  const { members, interval_h: dt } = problem;
  const N = members.length;
  const zones = problem.zones;
  const Z = zones ? zones.ids.length : 1;
  const T = zones ? zones.target_mw.length / Z : problem.target_mw.length;
  const L = zones ? zones.links.length : 0;
  const storage = members.flatMap((m, i) => (m.capacity_mwh !== undefined ? [i] : []));
  const S = storage.length;
  const gridZone = zones ? zones.ids.map((id) => zones.gridZones?.includes(id) ?? false) : [];
  const G = gridZone.filter(Boolean).length;
  const numCols = T * N + T * S + T * L + T * G;
  const gCol = (t: number, g: number) => T * N + T * S + T * L + t * G + g;
  const eCol = (t: number, s: number) => T * N + t * S + s;
  const fCol = (t: number, l: number) => T * N + T * S + t * L + l;
  const colLower = new Float64Array(numCols);
  const colUpper = new Float64Array(numCols);
  const colCost = new Float64Array(numCols);
  const rowLower: number[] = [];
  const rowUpper: number[] = [];
  const rowNames: string[] = [];
  const entries = new Triplets();
  const addRow = (name: string, lo: number, hi: number, terms: [number, number][]) => {
    const row = rowLower.length;
    rowLower.push(lo);
    rowUpper.push(hi);
    rowNames.push(name);
    for (const [col, value] of terms) entries.push(row, col, value);
  };

  // Member columns: bounds from availability and live state, ramp from the initial output.
  const zoneOf = members.map((m) => (zones ? zones.ids.indexOf(m.microgrid ?? '') : 0));
  for (const [i, m] of members.entries()) {
    if (zoneOf[i]! < 0) return { ok: false, reason: `member '${m.id}' is in no zone of the network model` };
  }
  for (let t = 0; t < T; t++) {
    let lo = 0;
    let hi = 0;
    for (const [i, m] of members.entries()) {
      // Energy is limited by the storage rows below, not by a per-interval bound.
      const status = t === 0 ? problem.statuses?.get(m.id) : undefined;
      const lim =
        t === 0 && problem.limits
          ? problem.limits[i]!
          : memberLimits(m, problem.startHour + t * dt, status, Number.POSITIVE_INFINITY);
      let pmin = lim.pmin_mw;
      let pmax = lim.pmax_mw;
      const p0 = problem.initial_p_mw?.get(m.id);
      if (t === 0 && p0 !== undefined && m.ramp_mw_s !== undefined) {
        const step = m.ramp_mw_s * dt * 3600;
        pmin = Math.max(pmin, p0 - step);
        pmax = Math.min(pmax, p0 + step);
        if (pmin > pmax + 1e-9) {
          return {
            ok: false,
            reason: `member '${m.id}' cannot ramp from ${p0.toFixed(3)} MW into [${lim.pmin_mw}, ${lim.pmax_mw}] MW in one interval`,
            binding: `ramp:${m.id}`,
          };
        }
      }
      colLower[t * N + i] = pmin;
      colUpper[t * N + i] = Math.max(pmin, pmax);
      colCost[t * N + i] = dt * m.b;
      lo += pmin;
      hi += Math.max(pmin, pmax);
    }
    const target = zones && G === 0 ? sumZones(zones.target_mw, t, Z) : problem.target_mw[t]!;
    if (!Number.isFinite(target))
      return { ok: false, reason: `interval ${t}: target is not a finite number` };
    if (target < lo - 1e-9 || target > hi + 1e-9) {
      return {
        ok: false,
        reason: `interval ${t}: target ${target.toFixed(3)} MW is outside the VPP's available range [${lo.toFixed(3)}, ${hi.toFixed(3)}] MW`,
        binding: target > hi ? `aggregate-pmax[${t}]` : `aggregate-pmin[${t}]`,
      };
    }
  }
  // Balance rows first, so that row t·Z + z is the price of interval t in zone z.
  for (let t = 0; t < T; t++) {
    for (let z = 0; z < Z; z++) {
      const terms: [number, number][] = [];
      for (let i = 0; i < N; i++) if (zoneOf[i] === z) terms.push([t * N + i, 1]);
      for (let l = 0; l < L; l++) {
        const link = zones!.links[l]!;
        if (link.to === zones!.ids[z]) terms.push([fCol(t, l), 1]);
        if (link.from === zones!.ids[z]) terms.push([fCol(t, l), -1]);
      }
      if (gridZone[z]) terms.push([gCol(t, gridZone.slice(0, z).filter(Boolean).length), 1]);
      const target = zones ? zones.target_mw[t * Z + z]! : problem.target_mw[t]!;
      addRow(`balance_${t}_${zones ? zones.ids[z] : 'vpp'}`, target, target, terms);
    }
  }
  for (let t = 0; t < T && G > 0; t++) {
    // The main grid takes what the grid-connected zones do not balance; the VPP's total is its target.
    for (let g = 0; g < G; g++) {
      colLower[gCol(t, g)] = Number.NEGATIVE_INFINITY;
      colUpper[gCol(t, g)] = Number.POSITIVE_INFINITY;
    }
    const total = problem.target_mw[t]!;
    addRow(
      `total_${t}`,
      total,
      total,
      members.map((_, i) => [t * N + i, 1] as [number, number]),
    );
  }
  for (let t = 0; t < T; t++) {
    for (let l = 0; l < L; l++) {
      const r = zones!.links[l]!.rating_mw;
      colLower[fCol(t, l)] = -r;
      colUpper[fCol(t, l)] = r;
    }
  }
  // Storage energy: e_t − e_{t−1} + dt·p_t = 0 (e_{−1} = the energy now).
  for (const [s, i] of storage.entries()) {
    const m = members[i]!;
    const cap = m.capacity_mwh!;
    const soc0 = problem.statuses?.get(m.id)?.soc ?? (m.soc_min + m.soc_max) / 2;
    const e0 = Math.min(Math.max(soc0, m.soc_min), m.soc_max) * cap;
    for (let t = 0; t < T; t++) {
      colLower[eCol(t, s)] = m.soc_min * cap;
      colUpper[eCol(t, s)] = m.soc_max * cap;
      const terms: [number, number][] = [
        [eCol(t, s), 1],
        [t * N + i, dt],
      ];
      if (t > 0) terms.push([eCol(t - 1, s), -1]);
      const rhs = t === 0 ? e0 : 0;
      addRow(`energy_${m.id}_${t}`, rhs, rhs, terms);
    }
  }
  // Ramps between intervals.
  for (const [i, m] of members.entries()) {
    if (m.ramp_mw_s === undefined) continue;
    const step = m.ramp_mw_s * dt * 3600;
    for (let t = 1; t < T; t++) {
      addRow(`ramp_${m.id}_${t}`, -step, step, [
        [t * N + i, 1],
        [(t - 1) * N + i, -1],
      ]);
    }
  }

  const numRows = rowLower.length;
  const hessian = problem.linear ? undefined : diagonalHessian(members, T, numCols, dt);
  const data = {
    numCols,
    numRows,
    colCost,
    colLower,
    colUpper,
    rowLower: Float64Array.from(rowLower),
    rowUpper: Float64Array.from(rowUpper),
    matrix: toCsc(entries, numRows, numCols),
  };
  // Row names only for the infeasibility analysis (passing them costs time on every solve).
  const t1 = performance.now();
  const model = highs.createModel(hessian ? { ...data, hessian } : data);
  try {
    model.options.set({
      output_flag: false,
      // Presolve costs more than it saves on these small, well-scaled LPs (day-ahead: 954 rows,
      // 1,728 columns; measured 7 ms against 11 ms warm).
      ...(hessian ? {} : { presolve: 'off' }),
      // A multi-interval QP: HiGHS's interior point instead of its active-set method (day-ahead,
      // 96 intervals: ~0.7–0.9 s CPU against 7–13 s; docs/vpp.md). One interval stays active-set.
      ...(hessian && T > 1 ? { solver: 'ipm' } : {}),
      ...(problem.timeLimit_s ? { time_limit: problem.timeLimit_s } : {}),
    });
    const run = runModel(highs, model, { ...data, rowNames });
    if (!run.ok) return run;
    const t2 = performance.now();
    const sol = model.getSolution();
    const p = sol.colValue.slice(0, T * N);
    const price = new Float64Array(T * Z);
    for (let k = 0; k < T * Z; k++) price[k] = sol.rowDual[k]! / dt;
    const reducedCost = new Float64Array(T * N);
    for (let k = 0; k < T * N; k++) reducedCost[k] = sol.colDual[k]! / dt;
    const flow = sol.colValue.slice(T * N + T * S, T * N + T * S + T * L);
    let cost = 0;
    for (let t = 0; t < T; t++) {
      for (const [i, m] of members.entries()) {
        const x = p[t * N + i]!;
        cost += dt * ((problem.linear ? 0 : m.a * x * x) + m.b * x);
      }
    }
    return {
      ok: true,
      p_mw: p,
      price,
      reducedCost,
      flow_mw: flow,
      cost,
      solveTime_ms: performance.now() - t0,
      timing: { build_ms: t1 - t0, solve_ms: t2 - t1, extract_ms: performance.now() - t2 },
    };
  } finally {
    model.dispose();
  }
}

export interface IntervalResult {
  ok: boolean;
  p_mw: Float64Array;
  /** The common incremental cost λ, currency/MWh. */
  lambda: number;
  cost: number;
  reason?: string;
}

/**
 * One real-time interval without network limits: the same QP as `solveSchedule` with one interval,
 * solved exactly through its optimality conditions — p_i(λ) = clamp((λ − b_i)/2a_i) (a step at b_i
 * for a linear member) and λ such that Σ p_i(λ) = target, found by bisection (Σ p is monotone in λ).
 * Microseconds per member where HiGHS's active-set QP takes seconds at 1,000 members (docs/vpp.md);
 * checked against HiGHS in central.test.ts.
 */
export function dispatchInterval(
  members: readonly { a: number; b: number }[],
  limits: readonly { pmin_mw: number; pmax_mw: number }[],
  target_mw: number,
): IntervalResult {
  const n = members.length;
  const p = new Float64Array(n);
  let lo = 0;
  let hi = 0;
  let lambdaLo = Number.POSITIVE_INFINITY;
  let lambdaHi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const { a, b } = members[i]!;
    const { pmin_mw, pmax_mw } = limits[i]!;
    lo += pmin_mw;
    hi += pmax_mw;
    lambdaLo = Math.min(lambdaLo, b + 2 * a * pmin_mw);
    lambdaHi = Math.max(lambdaHi, b + 2 * a * pmax_mw);
  }
  if (!Number.isFinite(target_mw) || target_mw < lo - 1e-9 || target_mw > hi + 1e-9) {
    return {
      ok: false,
      p_mw: p,
      lambda: Number.NaN,
      cost: Number.NaN,
      reason: `target ${target_mw} MW is outside the available range [${lo.toFixed(3)}, ${hi.toFixed(3)}] MW`,
    };
  }
  const fill = (lambda: number) => {
    let s = 0;
    for (let i = 0; i < n; i++) {
      const { a, b } = members[i]!;
      const { pmin_mw, pmax_mw } = limits[i]!;
      p[i] =
        a > 0 ? Math.min(Math.max((lambda - b) / (2 * a), pmin_mw), pmax_mw) : lambda > b ? pmax_mw : pmin_mw;
      s += p[i]!;
    }
    return s;
  };
  let l0 = lambdaLo - 1;
  let l1 = lambdaHi + 1;
  for (let k = 0; k < 200 && l1 - l0 > 1e-13 * Math.max(1, Math.abs(l1)); k++) {
    const mid = 0.5 * (l0 + l1);
    if (fill(mid) < target_mw) l0 = mid;
    else l1 = mid;
  }
  const lambda = 0.5 * (l0 + l1);
  // Linear members priced at λ are marginal: they take what the others leave, in order.
  let rest = target_mw - fill(lambda);
  for (let i = 0; i < n && Math.abs(rest) > 1e-12; i++) {
    const { a, b } = members[i]!;
    if (a > 0 || Math.abs(b - lambda) > 1e-9 * Math.max(1, Math.abs(b))) continue;
    const { pmin_mw, pmax_mw } = limits[i]!;
    const next = Math.min(Math.max(p[i]! + rest, pmin_mw), pmax_mw);
    rest -= next - p[i]!;
    p[i] = next;
  }
  let cost = 0;
  for (let i = 0; i < n; i++) cost += members[i]!.a * p[i]! * p[i]! + members[i]!.b * p[i]!;
  return { ok: true, p_mw: p, lambda, cost };
}

function sumZones(values: readonly number[], t: number, Z: number): number {
  let s = 0;
  for (let z = 0; z < Z; z++) s += values[t * Z + z]!;
  return s;
}

/** ½xᵀQx with Q = diag(2·a·dt) over the member columns (lower-triangular CSC). */
export function diagonalHessian(members: readonly VppMember[], T: number, numCols: number, dt: number) {
  const N = members.length;
  const starts = new Int32Array(numCols + 1);
  const indices: number[] = [];
  const values: number[] = [];
  for (let col = 0; col < numCols; col++) {
    starts[col] = indices.length;
    if (col < T * N) {
      const a = members[col % N]!.a;
      if (a > 0) {
        indices.push(col);
        values.push(2 * a * dt);
      }
    }
  }
  starts[numCols] = indices.length;
  if (indices.length === 0) return undefined;
  return {
    format: 'triangular' as const,
    dimension: numCols,
    starts,
    indices: Int32Array.from(indices),
    values: Float64Array.from(values),
  };
}

export function toCsc(entries: Triplets, numRows: number, numCols: number) {
  const { rows, cols } = entries;
  const nnz = cols.length;
  const starts = new Int32Array(numCols + 1);
  for (let k = 0; k < nnz; k++) starts[cols[k]! + 1]!++;
  for (let c = 0; c < numCols; c++) starts[c + 1]! += starts[c]!;
  const fill = starts.slice(0, numCols);
  const indices = new Int32Array(nnz);
  const values = new Float64Array(nnz);
  for (let k = 0; k < nnz; k++) {
    const at = fill[cols[k]!]!++;
    indices[at] = rows[k]!;
    values[at] = entries.values[k]!;
  }
  return { format: 'csc' as const, numRows, numCols, starts, indices, values };
}

/**
 * Runs a built model. A failed or non-optimal solve is a reason, with the conflicting rows when it
 * is infeasible (HiGHS reports some failures, e.g. its QP solver's numerical trouble, by throwing).
 */
export function runModel(
  highs: Highs,
  model: ReturnType<Highs['createModel']>,
  data: Parameters<typeof conflictRows>[1],
): { ok: true } | { ok: false; reason: string; binding?: string } {
  try {
    model.run();
  } catch (err) {
    return { ok: false, reason: `solver error: ${(err as Error).message}` };
  }
  const status = model.getModelStatus();
  const codes = highs.constants.modelStatus;
  if (status === codes.optimal) return { ok: true };
  const name = Object.entries(codes).find(([, v]) => v === status)?.[0] ?? String(status);
  const binding =
    status === codes.infeasible || status === codes.unboundedOrInfeasible
      ? conflictRows(highs, data)
      : undefined;
  return {
    ok: false,
    reason: `solver status '${name}'${binding ? `: conflicting constraints ${binding}` : ''}`,
    binding,
  };
}

/**
 * Names of the rows in an irreducible infeasible subset. Feasibility does not depend on the costs,
 * so the IIS is sought on the LP without the quadratic term (HiGHS finds IISs for LPs).
 */
export function conflictRows(
  highs: Highs,
  data: Parameters<Highs['createModel']>[0] & { rowNames: string[] },
): string | undefined {
  const lp = highs.createModel(data);
  try {
    // An elastic LP refined to an irreducible set (the light default found none on small cases).
    lp.options.set({ output_flag: false, presolve: 'off', iis_strategy: 2 + 4 });
    lp.run();
    const iis = lp.getIis();
    const names = [...iis.rowIndex].slice(0, 6).map((r) => data.rowNames[r]!);
    return names.length ? names.join(', ') : undefined;
  } catch {
    return undefined;
  } finally {
    lp.dispose();
  }
}
