/**
 * Fully distributed dispatch (FDCVPP): consensus on the incremental cost, neighbour-only, no
 * coordinator — Yang, Tan & Xu, "Consensus based approach for economic dispatch problem in a smart
 * grid", IEEE Trans. Power Systems 28(4), 2013. Each agent i holds its incremental cost λ_i, its
 * output p_i and an estimate y_i of the local power mismatch:
 *
 *   λ_i ← Σ_j w_ij λ_j + ε·y_i                      (consensus on λ, pushed by the mismatch)
 *   p_i ← clamp((λ_i − b_i) / 2a_i, pmin_i, pmax_i)  (its own cost curve, its own limits)
 *   y_i ← Σ_j w_ij y_j − (p_i,new − p_i,old)        (mismatch passed on, column-stochastic)
 *
 * with Metropolis weights (doubly stochastic on an undirected graph) and y_i(0) = d_i − p_i(0), so
 * that Σ y stays equal to the total mismatch. Over a lossy network, the mismatch is exchanged as
 * running sums (each message carries everything sent so far) so that a lost message delays mass
 * but never destroys it; λ messages are states, the newest one wins. A link that goes silent is
 * closed by both ends, each relaying the final running sum it pushed on it over the rest of the
 * graph, so that the mass in flight when it failed is taken in by the other end, not lost.
 *
 * A lying agent broadcasts a false λ. With `resilient`, each agent discards, per round, its
 * neighbours' most extreme λ above and below its own (W-MSR, LeBlanc et al., IEEE JSAC 31(4),
 * 2013, F = 1); a neighbour discarded for `detectAfter` rounds running, far from the agent's own λ
 * while the kept neighbours agree with it and without its gap closing, and suspected as long by a
 * common neighbour of the two (a witness), is reported and isolated (its λ ignored from then on).
 */
import {
  assertConnected,
  type Graph,
  LinkNetwork,
  type NetworkConditions,
  type NetworkStats,
} from './comms.ts';

/** Fraction of its own mismatch an agent corrects per round by default (0.4 oscillated on 1,000 agents). */
const GAIN = 0.3;
/**
 * W-MSR's liar detection: a dropped neighbour counts against itself while it is more than
 * FAR·tolerance from the agent's own λ, the kept neighbours agree within AGREE·tolerance, and its
 * gap does not close below SHRINK of what it was when the count started.
 */
const FAR = 100;
const AGREE = 10;
const SHRINK = 0.95;

export interface CostCurve {
  /** Quadratic coefficient, currency/MW²h (> 0 for consensus). */
  a: number;
  b: number;
  pmin_mw: number;
  pmax_mw: number;
}

export interface ConsensusOptions {
  /** Local demand each agent starts with, MW (Σ = the VPP's target). Default: the target spread evenly. */
  demand_mw?: Float64Array;
  target_mw: number;
  graph: Graph;
  network?: NetworkConditions;
  /**
   * One gain on the mismatch for every agent (currency/MWh per MW). Default: per agent,
   * ε_i = 0.3·2a_i — each agent corrects 30 % of the mismatch it holds with its own output, knowing
   * only its own cost curve, with or without `resilient` (docs/vpp.md, "Gain ε").
   */
  epsilon?: number;
  /** @default 2000 */
  maxIterations?: number;
  /** Converged when every |λ_i − mean λ| ≤ tol·|mean λ| and |Σp − target| ≤ tol·target. @default 1e-5 */
  tolerance?: number;
  /** A reference λ*: convergence then also requires |λ_i − λ*| < tol·|λ*| (the benchmark's criterion). */
  lambdaRef?: number;
  /** One byzantine agent: broadcasts its true λ plus `bias` (currency/MWh). */
  liar?: { agent: number; bias: number };
  resilient?: boolean;
  /** Rounds a neighbour must be discarded in a row to be reported and isolated. @default 50 */
  detectAfter?: number;
  /**
   * Rounds of silence on a link after which its two agents take it for failed and close it.
   * @default 20 + the network's largest delay in rounds (a false alarm at 20 % loss: 0.2²⁰ ≈ 1e-14)
   */
  linkTimeout?: number;
}

export interface ConsensusResult {
  converged: boolean;
  iterations: number;
  lambda: Float64Array;
  p_mw: Float64Array;
  /** Σ a p² + b p over the honest dispatch, currency/h. */
  cost: number;
  mismatch_mw: number;
  messages: NetworkStats;
  /** Simulated time to converge (or to give up): rounds × the network's round duration, ms. */
  time_ms: number;
  /** Agents reported as lying (and isolated) by their neighbours. */
  isolated: number[];
  /** Links their agents closed after a silence (`linkTimeout`), as agent pairs [a < b]. */
  closedLinks: [number, number][];
}

/** Runs the consensus to convergence (or maxIterations). Throws DisconnectedGraphError. */
export function consensusDispatch(curves: readonly CostCurve[], options: ConsensusOptions): ConsensusResult {
  const { graph } = options;
  const n = curves.length;
  if (graph.n !== n) throw new RangeError(`graph has ${graph.n} agents for ${n} members`);
  assertConnected(graph);
  for (const [i, c] of curves.entries()) {
    if (!(c.a > 0)) throw new RangeError(`agent ${i}: consensus needs a strictly convex cost (a > 0)`);
  }
  const tol = options.tolerance ?? 1e-5;
  const maxIterations = options.maxIterations ?? 2000;
  // Each agent's own gain, from its own cost curve only (no global knowledge): a mismatch y_i moves
  // its output by GAIN·y_i while it is inside its limits (Δp = ε_i·y_i / 2a_i). With W-MSR too:
  // the detection below tells transients (unequal steps) from lies.
  const uniform = options.epsilon ?? 0;
  const gain = new Float64Array(n);
  for (let i = 0; i < n; i++) gain[i] = uniform > 0 ? uniform : GAIN * 2 * curves[i]!.a;
  const detectAfter = options.detectAfter ?? 50;
  const liar = options.liar;

  // Metropolis weights: w_ij = 1/(1 + max(deg_i, deg_j)), w_ii = 1 − Σ_j w_ij.
  const net = new LinkNetwork(graph, 2, options.network);
  const m = net.inFrom.length;
  const wIn = new Float64Array(m);
  const wSelf = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let e = net.inStart[i]!; e < net.inStart[i + 1]!; e++) {
      const j = net.inFrom[e]!;
      wIn[e] = 1 / (1 + Math.max(graph.neighbours[i]!.length, graph.neighbours[j]!.length));
      s += wIn[e]!;
    }
    wSelf[i] = 1 - s;
  }
  // Out-links of j: the in-link index at each receiver, with the receiver's weight for j (= w_ij).
  const outEdges: number[][] = Array.from({ length: n }, () => []);
  for (let i = 0; i < n; i++)
    for (let e = net.inStart[i]!; e < net.inStart[i + 1]!; e++) outEdges[net.inFrom[e]!]!.push(e);
  const reverse = new Int32Array(m); // the link i→j for the in-link e = j→i
  for (let i = 0; i < n; i++)
    for (let e = net.inStart[i]!; e < net.inStart[i + 1]!; e++) reverse[e] = net.edge(i, net.inFrom[e]!);

  const clampP = (i: number, lambda: number) => {
    const c = curves[i]!;
    return Math.min(Math.max((lambda - c.b) / (2 * c.a), c.pmin_mw), c.pmax_mw);
  };
  const lambda = new Float64Array(n);
  const p = new Float64Array(n);
  const y = new Float64Array(n);
  const sentSum = new Float64Array(m); // σ on each link: all mismatch mass pushed on it so far
  const takenSum = new Float64Array(m); // ρ: the part of σ the receiver has already taken in
  for (let i = 0; i < n; i++) {
    p[i] = clampP(i, curves[i]!.b);
    lambda[i] = curves[i]!.b + 2 * curves[i]!.a * p[i]!;
    y[i] = (options.demand_mw ? options.demand_mw[i]! : options.target_mw / n) - p[i]!;
  }
  for (let e = 0; e < m; e++) net.initial(e, [lambda[net.inFrom[e]!]!, 0]);

  // Witnesses of the link j→i: the links j→c from j to the common neighbours c of i and j. A
  // neighbour across a long link of a small world has none, and it is the one that strays honestly.
  const witnessStart = new Int32Array(m + 1);
  const witnessList: number[] = [];
  for (let i = 0; i < n; i++) {
    const mine = new Set(graph.neighbours[i]);
    for (let e = net.inStart[i]!; e < net.inStart[i + 1]!; e++) {
      const j = net.inFrom[e]!;
      for (const c of graph.neighbours[j]!) if (c !== i && mine.has(c)) witnessList.push(net.edge(j, c));
      witnessStart[e + 1] = witnessList.length;
    }
  }
  const witnesses = Int32Array.from(witnessList);
  const discardedRun = new Int32Array(m);
  const runStartGap = new Float64Array(m);
  const isolatedLink = new Uint8Array(m);
  const payload = new Float64Array(2);
  const nextLambda = new Float64Array(n);
  const keep = new Float64Array(n); // the part of y_i that agent i keeps this round
  // Link closure (acknowledged running sums): when agent i hears nothing from j for linkTimeout
  // rounds it stops pushing mass to j and sends j, over the rest of the graph, the final running
  // sum σ it pushed; j, on receiving it, takes the σ − ρ that never arrived — the mass in flight
  // when the link failed is recovered exactly, not lost.
  const linkTimeout = options.linkTimeout ?? 20 + net.maxDelayRounds;
  const silent = new Uint8Array(m); // receiver gave up on this in-link: its λ is no longer read
  const stopped = new Uint8Array(m); // sender no longer pushes mass on it
  const closureAt = new Float64Array(m).fill(Number.POSITIVE_INFINITY); // round the final σ arrives
  const closureSigma = new Float64Array(m);
  const settled = new Uint8Array(m); // receiver took the final σ: the link is closed for good
  let anySilent = false; // the fast path while no link has gone quiet
  let iterations = 0;
  let converged = false;
  for (let k = 0; k < maxIterations; k++) {
    iterations = k + 1;
    for (let j = 0; j < n; j++) {
      const said = liar && liar.agent === j ? lambda[j]! + liar.bias : lambda[j]!;
      keep[j] = y[j]!;
      for (const e of outEdges[j]!) {
        if (stopped[e]) continue;
        sentSum[e] += wIn[e]! * y[j]!;
        keep[j] -= wIn[e]! * y[j]!;
        payload[0] = said;
        payload[1] = sentSum[e]!;
        net.post(e, k, payload);
      }
    }
    net.deliver(k);
    watchLinks(k);
    for (let i = 0; i < n; i++) {
      const lo = net.inStart[i]!;
      const hi = net.inStart[i + 1]!;
      if (options.resilient) {
        nextLambda[i] = resilientAverage(i, lo, hi);
      } else {
        let s = wSelf[i]! * lambda[i]!;
        if (anySilent)
          for (let e = lo; e < hi; e++) s += wIn[e]! * (silent[e] ? lambda[i]! : net.latest[2 * e]!);
        else for (let e = lo; e < hi; e++) s += wIn[e]! * net.latest[2 * e]!;
        nextLambda[i] = s;
      }
    }
    let total = 0;
    for (let i = 0; i < n; i++) {
      const lo = net.inStart[i]!;
      const hi = net.inStart[i + 1]!;
      let inflow = 0;
      for (let e = lo; e < hi; e++) {
        let sigma = net.latest[2 * e + 1]!;
        if (anySilent) {
          if (settled[e]) continue;
          if (closureAt[e]! <= k) {
            sigma = closureSigma[e]!;
            settled[e] = 1;
          }
        }
        inflow += sigma - takenSum[e]!;
        takenSum[e] = sigma;
      }
      // Isolation concerns λ only: the mismatch mass keeps flowing, so none is lost.
      lambda[i] = nextLambda[i]! + gain[i]! * y[i]!;
      const pNew = clampP(i, lambda[i]!);
      y[i] = keep[i]! + inflow - (pNew - p[i]!);
      p[i] = pNew;
      total += pNew;
    }
    if (isConverged(total)) {
      converged = true;
      break;
    }
  }

  /** Each agent's silence detector: closes a link (both directions, from its side) that went quiet. */
  function watchLinks(k: number): void {
    for (let e = 0; e < m; e++) {
      if (silent[e] || k - net.lastArrival[e]! <= linkTimeout) continue;
      // The receiver of e gives up on it: stops reading λ on it, stops pushing mass back on the
      // reverse link, and relays the final σ of the reverse link to the other end.
      silent[e] = 1;
      anySilent = true;
      const back = reverse[e]!;
      stopped[back] = 1;
      closureSigma[back] = sentSum[back]!;
      closureAt[back] = k + net.relayRounds(hops(net.inFrom[e]!, net.inFrom[back]!));
    }
  }

  /** Hops between two agents over the links nobody has given up on (a routing table's answer). */
  function hops(from: number, to: number): number {
    const dist = new Int32Array(n).fill(-1);
    dist[from] = 0;
    const queue = [from];
    for (let q = 0; q < queue.length; q++) {
      const a = queue[q]!;
      for (let e = net.inStart[a]!; e < net.inStart[a + 1]!; e++) {
        const b = net.inFrom[e]!;
        if (dist[b]! >= 0 || silent[e] || silent[reverse[e]!]) continue;
        dist[b] = dist[a]! + 1;
        if (b === to) return dist[b]!;
        queue.push(b);
      }
    }
    return Number.POSITIVE_INFINITY;
  }

  function resilientAverage(i: number, lo: number, hi: number): number {
    // W-MSR with F = 1: drop the largest neighbour value above own and the smallest below own.
    const own = lambda[i]!;
    let maxE = -1;
    let minE = -1;
    for (let e = lo; e < hi; e++) {
      if (isolatedLink[e] || silent[e]) continue;
      const v = net.latest[2 * e]!;
      if (v > own && (maxE < 0 || v > net.latest[2 * maxE]!)) maxE = e;
      if (v < own && (minE < 0 || v < net.latest[2 * minE]!)) minE = e;
    }
    let s = own;
    let count = 1;
    let spread = 0; // how far the kept neighbours are from own value
    for (let e = lo; e < hi; e++) {
      if (isolatedLink[e] || silent[e] || e === maxE || e === minE) continue;
      const v = net.latest[2 * e]!;
      discardedRun[e] = 0;
      s += v;
      count++;
      spread = Math.max(spread, Math.abs(v - own));
    }
    // A neighbour dropped round after round, far out of a neighbourhood that agrees, is lying:
    // isolate it. Honest neighbours stray in transients too (each agent's gain is its own), but the
    // kept ones then disagree as well; across a slow-mixing long link they stray while the rest
    // agree, but their gap closes (a lie's does not) and no common neighbour sees them stray.
    const scale = Math.max(Math.abs(own), 1);
    if (maxE >= 0) suspect(maxE, Math.abs(net.latest[2 * maxE]! - own), spread, scale);
    if (minE >= 0) suspect(minE, Math.abs(net.latest[2 * minE]! - own), spread, scale);
    return s / count;
  }

  function suspect(e: number, gap: number, spread: number, scale: number): void {
    if (!(gap > FAR * tol * scale && spread <= AGREE * tol * scale)) {
      discardedRun[e] = 0;
      return;
    }
    if (discardedRun[e] === 0) runStartGap[e] = gap;
    if (gap < SHRINK * runStartGap[e]!) discardedRun[e] = 0;
    else if (++discardedRun[e]! >= detectAfter && confirmed(e)) isolatedLink[e] = 1;
  }

  /** A common neighbour of the two ends suspects (or isolated) the sender too. */
  function confirmed(e: number): boolean {
    for (let q = witnessStart[e]!; q < witnessStart[e + 1]!; q++) {
      const w = witnesses[q]!;
      if (isolatedLink[w] || discardedRun[w]! >= detectAfter) return true;
    }
    return false;
  }

  function isConverged(total: number): boolean {
    let mean = 0;
    let honest = 0;
    for (let i = 0; i < n; i++) {
      if (liar && liar.agent === i) continue;
      mean += lambda[i]!;
      honest++;
    }
    mean /= honest;
    const scale = Math.max(Math.abs(mean), 1e-9);
    for (let i = 0; i < n; i++) {
      if (liar && liar.agent === i) continue;
      if (Math.abs(lambda[i]! - mean) > tol * scale) return false;
      if (
        options.lambdaRef !== undefined &&
        Math.abs(lambda[i]! - options.lambdaRef) > tol * Math.abs(options.lambdaRef)
      ) {
        return false;
      }
    }
    return Math.abs(total - options.target_mw) <= tol * Math.max(Math.abs(options.target_mw), 1);
  }

  let cost = 0;
  let total = 0;
  for (let i = 0; i < n; i++) {
    const c = curves[i]!;
    cost += c.a * p[i]! * p[i]! + c.b * p[i]!;
    total += p[i]!;
  }
  const closedLinks: [number, number][] = [];
  for (let e = 0; e < m; e++) {
    const [a, b] = [net.inFrom[e]!, net.inFrom[reverse[e]!]!];
    if ((silent[e] || silent[reverse[e]!]) && a < b) closedLinks.push([a, b]);
  }
  const isolated = new Set<number>();
  for (let e = 0; e < m; e++) if (isolatedLink[e]) isolated.add(net.inFrom[e]!);
  return {
    converged,
    iterations,
    lambda,
    p_mw: p,
    cost,
    mismatch_mw: total - options.target_mw,
    messages: net.stats,
    time_ms: iterations * (options.network?.round_ms ?? 10),
    isolated: [...isolated].sort((x, y) => x - y),
    closedLinks,
  };
}
