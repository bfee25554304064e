/**
 * The simulated communication network the distributed VPP agents talk over: a graph of links, each
 * carrying the latest message from one agent to another with latency, jitter, random loss and
 * failure — seeded, so a run is repeatable bit for bit.
 *
 * Messages carry states (a price, a running sum), never increments, so a receiver keeps the newest
 * one that arrived and a lost message is repaired by the next: the standard way to make consensus
 * robust to packet drops (running sums: Hadjicostis, Domínguez-García & Vaidya, 2016).
 */

/** A small seeded generator (mulberry32): this room depends on the twin's contract only. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Undirected graph as adjacency lists over agents 0..n−1. */
export interface Graph {
  n: number;
  neighbours: number[][];
}

export class DisconnectedGraphError extends Error {
  constructor(readonly components: number[][]) {
    super(
      `the communication graph is disconnected: ${components.length} components (${components
        .map((c) => `{${c.slice(0, 5).join(', ')}${c.length > 5 ? ', …' : ''}}`)
        .join(', ')}); distributed dispatch needs every agent reachable`,
    );
    this.name = 'DisconnectedGraphError';
  }
}

export function graphFromEdges(n: number, edges: readonly (readonly [number, number])[]): Graph {
  const sets = Array.from({ length: n }, () => new Set<number>());
  for (const [a, b] of edges) {
    if (a === b || a < 0 || b < 0 || a >= n || b >= n)
      throw new RangeError(`edge ${a}–${b} is not between two of ${n} agents`);
    sets[a]!.add(b);
    sets[b]!.add(a);
  }
  return { n, neighbours: sets.map((s) => [...s].sort((x, y) => x - y)) };
}

/**
 * Watts–Strogatz small world: a ring where each agent links to its k/2 nearest on each side, each
 * link rewired to a random agent with probability beta. Average degree k.
 */
export function smallWorld(n: number, k: number, beta: number, seed: number): Graph {
  if (n <= k + 1) {
    const edges: [number, number][] = [];
    for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) edges.push([a, b]);
    return graphFromEdges(n, edges);
  }
  const rand = seededRandom(seed);
  const key = (a: number, b: number) => (a < b ? a * n + b : b * n + a);
  const edges = new Map<number, [number, number]>();
  for (let a = 0; a < n; a++)
    for (let j = 1; j <= k / 2; j++) edges.set(key(a, (a + j) % n), [a, (a + j) % n]);
  for (const [k0, [a]] of [...edges]) {
    if (rand() >= beta) continue;
    const b = Math.floor(rand() * n);
    if (b === a || edges.has(key(a, b))) continue;
    edges.delete(k0);
    edges.set(key(a, b), [a, b]);
  }
  return graphFromEdges(n, [...edges.values()]);
}

/** Throws DisconnectedGraphError unless every agent is reachable from agent 0. */
export function assertConnected(graph: Graph): void {
  const component = new Int32Array(graph.n).fill(-1);
  const components: number[][] = [];
  for (let s = 0; s < graph.n; s++) {
    if (component[s]! >= 0) continue;
    const members = [s];
    component[s] = components.length;
    for (let q = 0; q < members.length; q++) {
      for (const b of graph.neighbours[members[q]!]!) {
        if (component[b]! < 0) {
          component[b] = components.length;
          members.push(b);
        }
      }
    }
    components.push(members.sort((x, y) => x - y));
  }
  if (components.length > 1) throw new DisconnectedGraphError(components);
}

export function averageDegree(graph: Graph): number {
  return graph.neighbours.reduce((s, nb) => s + nb.length, 0) / graph.n;
}

export interface NetworkConditions {
  /** @default 1 */
  seed?: number;
  /** Duration of one iteration (one exchange round), ms: latency is counted in rounds of this. @default 10 */
  round_ms?: number;
  /** @default 0 */
  latency_ms?: number;
  /** Uniform extra delay 0..jitter_ms. @default 0 */
  jitter_ms?: number;
  /** Probability that a message is lost. @default 0 */
  loss?: number;
  /** Links that fail (both directions), from round `at` on (0: from the start). */
  failedLinks?: readonly { a: number; b: number; at?: number }[];
}

/** Message counts, for the report. */
export interface NetworkStats {
  sent: number;
  delivered: number;
  lost: number;
  /** Arrived after a newer message on the same link (discarded). */
  stale: number;
}

/**
 * Directed links carrying fixed-width messages (`width` numbers) between neighbours. A sender
 * `post`s each round; `deliver(round)` moves what arrives this round into `latest`, where the
 * receiver reads the newest message on each of its in-links (or the initial one until then).
 */
export class LinkNetwork {
  /** Directed edge index: in-links of agent i are inStart[i]..inStart[i+1]−1, from `inFrom`. */
  readonly inStart: Int32Array;
  readonly inFrom: Int32Array;
  /** Edge index of the link j→i, by i·n + j (Map for sparse graphs). */
  private readonly edgeOf = new Map<number, number>();
  /** Newest delivered message per in-link: latest[e·width + w]. */
  readonly latest: Float64Array;
  private readonly latestSent: Float64Array;
  /** Round in which the newest message on each in-link arrived (0 before any): a silence detector's input. */
  readonly lastArrival: Float64Array;
  /** In-flight messages per link: a ring of `depth` slots (arrival round, send round, payload). */
  private readonly depth: number;
  private readonly ringArrival: Float64Array;
  private readonly ringSent: Float64Array;
  private readonly ringPayload: Float64Array;
  private readonly failedFrom: Float64Array;
  private readonly rand: () => number;
  /** A second stream for relayed records, so that relaying leaves the link messages' draws as they were. */
  private readonly relayRand: () => number;
  private readonly maxDelay: number;
  /** The largest delay a message can take, in rounds (latency + jitter). */
  get maxDelayRounds(): number {
    return this.maxDelay;
  }
  private readonly baseDelay: number;
  private readonly jitterRounds: number;
  private readonly loss: number;
  readonly stats: NetworkStats = { sent: 0, delivered: 0, lost: 0, stale: 0 };

  constructor(
    readonly graph: Graph,
    readonly width: number,
    conditions: NetworkConditions = {},
  ) {
    const n = graph.n;
    this.inStart = new Int32Array(n + 1);
    for (let i = 0; i < n; i++) this.inStart[i + 1] = this.inStart[i]! + graph.neighbours[i]!.length;
    const m = this.inStart[n]!;
    this.inFrom = new Int32Array(m);
    for (let i = 0; i < n; i++) {
      for (const [k, j] of graph.neighbours[i]!.entries()) {
        const e = this.inStart[i]! + k;
        this.inFrom[e] = j;
        this.edgeOf.set(i * n + j, e);
      }
    }
    const round = conditions.round_ms ?? 10;
    this.baseDelay = (conditions.latency_ms ?? 0) / round;
    this.jitterRounds = (conditions.jitter_ms ?? 0) / round;
    this.maxDelay = Math.ceil(this.baseDelay + this.jitterRounds);
    this.depth = this.maxDelay + 1;
    this.loss = conditions.loss ?? 0;
    this.rand = seededRandom(conditions.seed ?? 1);
    this.relayRand = seededRandom((conditions.seed ?? 1) ^ 0x5bd1e995);
    this.latest = new Float64Array(m * width);
    this.latestSent = new Float64Array(m).fill(-1);
    this.lastArrival = new Float64Array(m);
    this.ringArrival = new Float64Array(m * this.depth).fill(-1);
    this.ringSent = new Float64Array(m * this.depth);
    this.ringPayload = new Float64Array(m * this.depth * width);
    this.failedFrom = new Float64Array(m).fill(Number.POSITIVE_INFINITY);
    for (const f of conditions.failedLinks ?? []) {
      for (const e of [this.edgeOf.get(f.a * n + f.b), this.edgeOf.get(f.b * n + f.a)]) {
        if (e === undefined) throw new RangeError(`failed link ${f.a}–${f.b} is not a link of the graph`);
        this.failedFrom[e] = f.at ?? 0;
      }
    }
  }

  /** Edge index of the link from → to. */
  edge(from: number, to: number): number {
    const e = this.edgeOf.get(to * this.graph.n + from);
    if (e === undefined) throw new RangeError(`no link ${from}→${to}`);
    return e;
  }

  /** Sets what a receiver assumes before anything arrived on in-link `e`. */
  initial(e: number, payload: readonly number[]): void {
    for (let w = 0; w < this.width; w++) this.latest[e * this.width + w] = payload[w]!;
  }

  /** Sends on in-link `e` (of its receiver) in `round`; `payload` has `width` numbers. */
  post(e: number, round: number, payload: ArrayLike<number>): void {
    this.stats.sent++;
    if (round >= this.failedFrom[e]! || (this.loss > 0 && this.rand() < this.loss)) {
      this.stats.lost++;
      return;
    }
    const delay = this.maxDelay === 0 ? 0 : Math.round(this.baseDelay + this.rand() * this.jitterRounds);
    const slot = e * this.depth + ((round + delay) % this.depth);
    // A slot still holding an undelivered message: the newer one overwrites it (counted stale).
    if (this.ringArrival[slot]! >= 0) this.stats.stale++;
    this.ringArrival[slot] = round + delay;
    this.ringSent[slot] = round;
    const base = slot * this.width;
    for (let w = 0; w < this.width; w++) this.ringPayload[base + w] = payload[w]!;
  }

  /**
   * Rounds a small record takes to cross `hops` links when each hop retransmits it every round
   * until it gets through (the loss, latency and jitter of the network on every hop). Infinity if
   * every message is lost.
   */
  relayRounds(hops: number): number {
    if (this.loss >= 1) return Number.POSITIVE_INFINITY;
    let rounds = 0;
    for (let h = 0; h < hops; h++) {
      rounds++;
      while (this.loss > 0 && this.relayRand() < this.loss) rounds++;
      if (this.maxDelay > 0) rounds += Math.round(this.baseDelay + this.relayRand() * this.jitterRounds);
    }
    return rounds;
  }

  /** Delivers every message arriving in `round` (call after all posts of the round). */
  deliver(round: number): void {
    const m = this.inFrom.length;
    const d = this.depth;
    const w = this.width;
    const r = round % d;
    for (let e = 0; e < m; e++) {
      const slot = e * d + r;
      if (this.ringArrival[slot] !== round) continue;
      this.ringArrival[slot] = -1;
      const sent = this.ringSent[slot]!;
      if (sent <= this.latestSent[e]!) {
        this.stats.stale++;
        continue;
      }
      this.latestSent[e] = sent;
      this.lastArrival[e] = round;
      this.stats.delivered++;
      for (let k = 0; k < w; k++) this.latest[e * w + k] = this.ringPayload[slot * w + k]!;
    }
  }
}
