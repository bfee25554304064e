/**
 * Distributed dispatch with an aggregator (DCVPP): ADMM for the exchange problem, Boyd, Parikh,
 * Chu, Peleato & Eckstein, "Distributed optimization and statistical learning via ADMM", §7.3.2.
 *
 *   minimise Σ f_i(x_i)  subject to  Σ x_i = 0,   with x_0 = −target (the VPP's commitment)
 *
 *   x_i ← argmin f_i(x) + (ρ/2)(x − x_i + x̄ + u)²   (each member, privately: its cost and limits)
 *   x̄  ← mean of all x_i,  u ← u + x̄                (the aggregator)
 *
 * The price is λ = −ρ·u (the members' optimality: f_i'(x_i) = −ρu). Members and aggregator talk over the simulated network (a star): a member
 * that missed the aggregator's broadcast works from the last one it got, the aggregator from the
 * last x it got from each member.
 */
import { graphFromEdges, LinkNetwork, type NetworkConditions, type NetworkStats } from './comms.ts';
import type { CostCurve } from './consensus.ts';

export interface AdmmOptions {
  target_mw: number;
  /** Penalty ρ, currency/MW²h. Default: the median of 2a over members with a > 0 (or 1). */
  rho?: number;
  network?: NetworkConditions;
  /** @default 3000 */
  maxIterations?: number;
  /** Converged when |Σx − target| ≤ tol·target and |Δλ| ≤ tol·|λ| over a round. @default 1e-6 */
  tolerance?: number;
}

export interface AdmmResult {
  converged: boolean;
  iterations: number;
  p_mw: Float64Array;
  lambda: number;
  cost: number;
  mismatch_mw: number;
  messages: NetworkStats;
  /** Simulated time to converge: two exchanges (members → aggregator → members) per round, ms. */
  time_ms: number;
}

export function admmDispatch(curves: readonly CostCurve[], options: AdmmOptions): AdmmResult {
  const n = curves.length;
  const hub = n;
  const net = new LinkNetwork(
    graphFromEdges(
      n + 1,
      curves.map((_, i) => [i, hub] as const),
    ),
    2,
    options.network,
  );
  const twoA = curves
    .map((c) => 2 * c.a)
    .filter((v) => v > 0)
    .sort((x, y) => x - y);
  const rho = options.rho ?? (twoA.length ? twoA[Math.floor(twoA.length / 2)]! : 1);
  const tol = options.tolerance ?? 1e-6;
  const maxIterations = options.maxIterations ?? 3000;
  const T = options.target_mw;
  const toHub = curves.map((_, i) => net.edge(i, hub));
  const fromHub = curves.map((_, i) => net.edge(hub, i));
  const x = new Float64Array(n);
  let xbar = 0;
  let u = 0;
  for (let i = 0; i < n; i++) {
    x[i] = Math.min(Math.max(0, curves[i]!.pmin_mw), curves[i]!.pmax_mw);
    net.initial(toHub[i]!, [x[i]!, 0]);
    net.initial(fromHub[i]!, [0, 0]);
  }
  const payload = new Float64Array(2);
  let iterations = 0;
  let converged = false;
  let lastLambda = Number.NaN;
  for (let k = 0; k < maxIterations; k++) {
    iterations = k + 1;
    // Members: each solves its own small problem with the latest broadcast it received.
    for (let i = 0; i < n; i++) {
      const c = curves[i]!;
      const heard = fromHub[i]! * 2;
      const v = x[i]! - net.latest[heard]! - net.latest[heard + 1]!;
      x[i] = Math.min(Math.max((rho * v - c.b) / (2 * c.a + rho), c.pmin_mw), c.pmax_mw);
      payload[0] = x[i]!;
      payload[1] = 0;
      net.post(toHub[i]!, 2 * k, payload);
    }
    net.deliver(2 * k);
    // Aggregator: average (the commitment −T is its own x_0) and the scaled price.
    let sum = -T;
    for (let i = 0; i < n; i++) sum += net.latest[toHub[i]! * 2]!;
    xbar = sum / (n + 1);
    u += xbar;
    payload[0] = xbar;
    payload[1] = u;
    for (let i = 0; i < n; i++) net.post(fromHub[i]!, 2 * k + 1, payload);
    net.deliver(2 * k + 1);
    const lambda = -rho * u;
    let total = 0;
    for (let i = 0; i < n; i++) total += x[i]!;
    if (
      Math.abs(total - T) <= tol * Math.max(Math.abs(T), 1) &&
      Math.abs(lambda - lastLambda) <= tol * Math.max(Math.abs(lambda), 1)
    ) {
      converged = true;
      break;
    }
    lastLambda = lambda;
  }
  let cost = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const c = curves[i]!;
    cost += c.a * x[i]! * x[i]! + c.b * x[i]!;
    total += x[i]!;
  }
  return {
    converged,
    iterations,
    p_mw: x,
    lambda: -rho * u,
    cost,
    mismatch_mw: total - T,
    messages: net.stats,
    time_ms: 2 * iterations * (options.network?.round_ms ?? 10),
  };
}
