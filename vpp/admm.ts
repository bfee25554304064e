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
 *
 * A lying member reports false powers. The aggregator knows each member's declared cost curve and
 * limits, and a report says what it answers (x_new), from what (x_prev) and to which broadcast; so
 * the aggregator replays the member's update and checks the report against it, and against the
 * member's previous report (its x_prev must be the x_new it reported before). An honest member
 * passes exactly, whatever the network lost or delayed; one failing STRIKES reports in a row is
 * isolated: its reports are ignored from then on and the aggregator dispatches it itself from its
 * declared curve (the set-point it is sent).
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
  /** One lying member: reports its powers (x_new and x_prev) plus `bias`, MW; its output is its true x. */
  liar?: { agent: number; bias: number };
  /** The aggregator checks every report against the member's declared curve (above). @default true */
  verifyReports?: boolean;
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
  /** Members whose reports failed the aggregator's check and who are dispatched from their declared curve. */
  isolated: number[];
}

/** Reports in a row that must fail the check before a member is isolated. */
const STRIKES = 3;

export function admmDispatch(curves: readonly CostCurve[], options: AdmmOptions): AdmmResult {
  const n = curves.length;
  const hub = n;
  const net = new LinkNetwork(
    graphFromEdges(
      n + 1,
      curves.map((_, i) => [i, hub] as const),
    ),
    4,
    options.network,
  );
  const twoA = curves
    .map((c) => 2 * c.a)
    .filter((v) => v > 0)
    .sort((x, y) => x - y);
  const rho = options.rho ?? (twoA.length ? twoA[Math.floor(twoA.length / 2)]! : 1);
  const tol = options.tolerance ?? 1e-6;
  const maxIterations = options.maxIterations ?? 3000;
  const verify = options.verifyReports ?? true;
  const liar = options.liar;
  const T = options.target_mw;
  const toHub = curves.map((_, i) => net.edge(i, hub));
  const fromHub = curves.map((_, i) => net.edge(hub, i));
  /** A member's update from its previous x and the broadcast (x̄, u) it heard. */
  const update = (i: number, xPrev: number, xbar: number, u: number) => {
    const c = curves[i]!;
    return Math.min(Math.max((rho * (xPrev - xbar - u) - c.b) / (2 * c.a + rho), c.pmin_mw), c.pmax_mw);
  };
  const x = new Float64Array(n);
  let xbar = 0;
  let u = 0;
  // The aggregator's broadcasts by round (round r at index r + 1; index 0: the initial (0, 0)).
  const sentXbar = new Float64Array(maxIterations + 1);
  const sentU = new Float64Array(maxIterations + 1);
  // Its view of each member: the last report (x, the member's round) and strikes against it.
  const reported = new Float64Array(n);
  const reportedRound = new Float64Array(n).fill(-1);
  const strikes = new Int32Array(n);
  const isolated = new Uint8Array(n);
  const counted = new Float64Array(n); // the x the aggregator sums for each member
  for (let i = 0; i < n; i++) {
    x[i] = Math.min(Math.max(0, curves[i]!.pmin_mw), curves[i]!.pmax_mw);
    counted[i] = x[i]!;
    const said = liar?.agent === i ? x[i]! + liar.bias : x[i]!;
    net.initial(toHub[i]!, [said, said, -1, -1]);
    net.initial(fromHub[i]!, [0, 0, -1, 0]);
  }
  const payload = new Float64Array(4);
  let iterations = 0;
  let converged = false;
  let lastLambda = Number.NaN;
  for (let k = 0; k < maxIterations; k++) {
    iterations = k + 1;
    // Members: each solves its own small problem with the latest broadcast it received.
    for (let i = 0; i < n; i++) {
      const heard = fromHub[i]! * 4;
      const xPrev = x[i]!;
      x[i] = update(i, xPrev, net.latest[heard]!, net.latest[heard + 1]!);
      const lie = liar?.agent === i ? liar.bias : 0;
      payload[0] = x[i]! + lie;
      payload[1] = xPrev + lie;
      payload[2] = net.latest[heard + 2]!; // the broadcast's round
      payload[3] = k;
      net.post(toHub[i]!, 2 * k, payload);
    }
    net.deliver(2 * k);
    // Aggregator: check what arrived, average (the commitment −T is its own x_0), scaled price.
    let sum = -T;
    for (let i = 0; i < n; i++) {
      if (isolated[i]) {
        // Dispatched from its declared curve, like an honest member that hears every broadcast.
        counted[i] = update(i, counted[i]!, xbar, u);
      } else {
        const e = toHub[i]! * 4;
        const round = net.latest[e + 3]!;
        if (round > reportedRound[i]!) {
          const xNew = net.latest[e]!;
          const xPrev = net.latest[e + 1]!;
          const r = net.latest[e + 2]! + 1;
          const replay = update(i, xPrev, sentXbar[r]!, sentU[r]!);
          const chainBroken = reportedRound[i] === round - 1 && xPrev !== reported[i];
          const off = Math.abs(xNew - replay) > 1e-9 * (1 + Math.abs(replay)) || chainBroken;
          strikes[i] = off ? strikes[i]! + 1 : 0;
          reported[i] = xNew;
          reportedRound[i] = round;
          if (verify && strikes[i]! >= STRIKES) {
            isolated[i] = 1;
            counted[i] = update(i, counted[i]!, xbar, u);
          } else counted[i] = xNew;
        }
      }
      sum += counted[i]!;
    }
    xbar = sum / (n + 1);
    u += xbar;
    sentXbar[k + 1] = xbar;
    sentU[k + 1] = u;
    payload[0] = xbar;
    payload[1] = u;
    payload[2] = k;
    payload[3] = 0;
    for (let i = 0; i < n; i++) net.post(fromHub[i]!, 2 * k + 1, payload);
    net.deliver(2 * k + 1);
    const lambda = -rho * u;
    // What the aggregator can see: the powers it counts (a lie it has not caught looks balanced).
    let total = 0;
    for (let i = 0; i < n; i++) total += counted[i]!;
    if (
      Math.abs(total - T) <= tol * Math.max(Math.abs(T), 1) &&
      Math.abs(lambda - lastLambda) <= tol * Math.max(Math.abs(lambda), 1)
    ) {
      converged = true;
      break;
    }
    lastLambda = lambda;
  }
  // An isolated member's output is the set-point it is sent.
  for (let i = 0; i < n; i++) if (isolated[i]) x[i] = counted[i]!;
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
    isolated: [...isolated.keys()].filter((i) => isolated[i]),
  };
}
