/**
 * Clearing of one interval's call auction: a pure, deterministic function of the book, the network
 * and the config, so every authority can re-run it and hash the result (docs/market.md).
 *
 * The welfare-maximising allocation (maximise Σ bid·q − Σ ask·q subject to each microgrid's balance
 * and each FID's rating) is a min-cost flow: source → asks of microgrid m → FIDs → bids of
 * microgrid n → sink. It is solved exactly in integers by successive shortest paths: each step fills
 * the cheapest reachable ask against the dearest reachable bid while the bid pays at least the ask
 * (a zero-welfare crossing is traded: among the welfare-maximising allocations the one with the most
 * volume). Within a microgrid the filled orders are therefore a prefix of the merit order, which is
 * what makes the tie rule (price, then time, then id) hold.
 *
 * Prices are the duals of the microgrid balances: the bracket [lo, hi] of each microgrid's price is
 * read from shortest paths in the final residual graph (hi = cheapest extra unit into it, lo = best
 * use of a unit taken out of it); the uniform price is the bracket's midpoint rounded down. Microgrids
 * joined by an unsaturated FID share a bracket; across a saturated FID the importing side's price is
 * the higher one (the LP with FID constraints gives the same).
 *
 * Security limits on a microgrid's net exchange (`MarketNetwork.limits`, e.g. the island reserve: an
 * islanded microgrid may export or import only what its grid-forming units can follow with reserve)
 * are one more arc of the same flow: the microgrid's FIDs meet at a hub of its own, joined to the
 * microgrid by an arc that carries at most `maxExport_wh` out and `maxImport_wh` in. Energy passing
 * through (from one FID to the other) does not touch the microgrid's balance and so is not limited.
 */
import type { MarketConfig, Order, Participant } from './orders.ts';
import { DEFAULT_MARKET_CONFIG } from './orders.ts';

/** A FID between two microgrids as the market sees it: energy it can carry in one interval. */
export interface MarketLink {
  id: string;
  a: string;
  b: string;
  /** Energy the FID can carry in either direction over one interval, Wh. */
  cap_wh: number;
}

export interface MarketNetwork {
  microgrids: readonly string[];
  links: readonly MarketLink[];
  /** Limits on a microgrid's net exchange over all its FIDs (at most one per microgrid). */
  limits?: readonly ExchangeLimit[];
}

/** A security limit on what one microgrid may export or import in total over an interval. */
export interface ExchangeLimit {
  microgrid: string;
  /** Most energy it may send out over its FIDs (net), Wh, whole ≥ 0. */
  maxExport_wh: number;
  /** Most energy it may take in over its FIDs (net), Wh, whole ≥ 0. */
  maxImport_wh: number;
  /** The constraint's name as reports show it, e.g. `island reserve`. */
  constraint: string;
}

export interface Fill {
  orderId: string;
  participant: string;
  microgrid: string;
  side: 'buy' | 'sell';
  filled_wh: number;
  /** Remainder settled with the main grid (retail for buyers, feed-in for sellers). */
  unmatched_wh: number;
  /** Price this fill settles at, units/MWh (clearing price, or the order's own under pay-as-bid). */
  price: number;
  /** Money for the filled part, micro-units: paid by a buyer, received by a seller. */
  amount: number;
  /** Money for the unmatched part with the main grid, micro-units. */
  gridAmount: number;
}

export interface MicrogridPrice {
  microgrid: string;
  price: number;
  /** Every price in [lo, hi] supports the allocation (the LP's dual bracket). */
  lo: number;
  hi: number;
  bought_wh: number;
  sold_wh: number;
}

export interface LinkFlow {
  id: string;
  /** Energy carried from a to b, Wh (negative: b to a). */
  flow_wh: number;
  /** At its rating, with the prices on either side apart. */
  binding: boolean;
  /** Human-readable reason when binding, e.g. "fid1 at its 500 Wh rating: mg2 300 > mg1 100". */
  message?: string;
}

/** A microgrid's net exchange against its limit. */
export interface LimitFlow {
  microgrid: string;
  /** Net energy sent out over its FIDs, Wh (negative: taken in). */
  export_wh: number;
  /** At its limit, with the price in the microgrid apart from the price at its FIDs. */
  binding: boolean;
  /** Human-readable reason when binding, e.g. "MG3 island reserve: export held to 60000 Wh: …". */
  message?: string;
}

export interface ClearingResult {
  volume_wh: number;
  /** Σ bid·q − Σ ask·q, micro-units. */
  welfare: number;
  prices: MicrogridPrice[];
  links: LinkFlow[];
  /** One per limit of the network, in its order. */
  limits: LimitFlow[];
  /** In the book's order. */
  fills: Fill[];
  /** Payments in minus payments out for the P2P part (congestion rent, pay-as-bid spread). */
  pool: number;
}

interface Node {
  id: string;
  asks: Order[];
  bids: Order[];
  /** asks[0..askK) are filled; asks[askK] has askPart filled. Same for bids. */
  askK: number;
  askPart: number;
  bidK: number;
  bidPart: number;
}

const byAskMerit = (x: Order, y: Order) => x.price - y.price || x.t_s - y.t_s || cmp(x.id, y.id);
const byBidMerit = (x: Order, y: Order) => y.price - x.price || x.t_s - y.t_s || cmp(x.id, y.id);
function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A single market (one community, no network limits). */
export const SINGLE_NODE = 'community';

/**
 * Clears a validated book (OrderBook.orders). Participants name their microgrid; without a network
 * everybody trades in one node.
 */
export function clear(
  orders: readonly Order[],
  participants: ReadonlyMap<string, Participant>,
  config: MarketConfig = DEFAULT_MARKET_CONFIG,
  network?: MarketNetwork,
): ClearingResult {
  const nodeIds = network ? [...network.microgrids] : [SINGLE_NODE];
  const index = new Map(nodeIds.map((id, i) => [id, i]));
  const nodes: Node[] = nodeIds.map(emptyNode);
  const nodeOf = (o: Order): number => {
    if (!network) return 0;
    const mg = participants.get(o.participant)?.microgrid;
    const i = mg === undefined ? undefined : index.get(mg);
    if (i === undefined)
      throw new TypeError(`order ${o.id}: microgrid of ${o.participant} is not in the network`);
    return i;
  };
  for (const o of orders) {
    if (o.qty_wh === 0) continue;
    const n = nodes[nodeOf(o)];
    (o.side === 'buy' ? n.bids : n.asks).push(o);
  }
  for (const n of nodes) {
    n.asks.sort(byAskMerit);
    n.bids.sort(byBidMerit);
  }
  const links = network?.links ?? [];
  const limits = network?.limits ?? [];
  // A limited microgrid's FIDs meet at its hub (a node without orders, after the microgrids).
  const M = nodes.length;
  const hubOf = new Map<number, number>();
  limits.forEach((lim, j) => {
    const m = index.get(lim.microgrid);
    if (m === undefined) throw new TypeError(`limit ${j}: unknown microgrid ${lim.microgrid}`);
    if (hubOf.has(m)) throw new TypeError(`limit ${j}: a second limit for ${lim.microgrid}`);
    if (!wholeWh(lim.maxExport_wh) || !wholeWh(lim.maxImport_wh))
      throw new TypeError(`limit of ${lim.microgrid}: maxExport_wh and maxImport_wh must be whole Wh ≥ 0`);
    hubOf.set(m, M + j);
    nodes.push(emptyNode(`${lim.microgrid}'s FIDs`));
  });
  const gateway = (m: number) => hubOf.get(m) ?? m;
  // Arcs of the flow: the FIDs (between their microgrids' gateways), then each limit (microgrid → hub).
  const arcs: Arc[] = [
    ...links.map((l) => {
      const a = index.get(l.a);
      const b = index.get(l.b);
      if (a === undefined || b === undefined) throw new TypeError(`link ${l.id}: unknown microgrid`);
      return { a: gateway(a), b: gateway(b), capAB: l.cap_wh, capBA: l.cap_wh };
    }),
    ...limits.map((lim, j) => ({
      a: index.get(lim.microgrid)!,
      b: M + j,
      capAB: lim.maxExport_wh,
      capBA: lim.maxImport_wh,
    })),
  ];
  const flow = new Float64Array(arcs.length);
  // Residual capacity of arc k leaving node `from`.
  const residual = (k: number, from: number): number =>
    from === arcs[k].a ? arcs[k].capAB - flow[k] : arcs[k].capBA + flow[k];

  const N = nodes.length;
  // reach[u·N + v]: v reachable from u over FIDs with spare capacity; parent[u·N + v]: last link on
  // that path. Recomputed only when a FID's spare capacity in some direction hits or leaves 0.
  const reach = new Uint8Array(N * N);
  const parent = new Int32Array(N * N);
  const queue = new Int32Array(N);
  let reachStale = true;
  let volume = 0;
  let welfare = 0;
  for (;;) {
    // Best (cheapest ask, dearest reachable bid) pair; ties: earlier ask, then earlier bid.
    let from = -1;
    let to = -1;
    let ask: Order | undefined;
    let bid: Order | undefined;
    if (reachStale) {
      for (let u = 0; u < N; u++) bfs(u);
      reachStale = false;
    }
    for (let u = 0; u < N; u++) {
      const a = nodes[u].asks[nodes[u].askK];
      if (!a) continue;
      for (let v = 0; v < N; v++) {
        if (!reach[u * N + v]) continue;
        const b = nodes[v].bids[nodes[v].bidK];
        if (!b || b.price < a.price) continue;
        if (!ask || better(a, b, ask, bid!)) {
          from = u;
          to = v;
          ask = a;
          bid = b;
        }
      }
    }
    if (!ask || !bid) break;
    const na = nodes[from];
    const nb = nodes[to];
    let amount = Math.min(ask.qty_wh - na.askPart, bid.qty_wh - nb.bidPart);
    if (from !== to) {
      const path = pathLinks(from, to);
      for (const [k, dir] of path) amount = Math.min(amount, residual(k, dir));
      for (const [k, dir] of path) {
        // Reachability changes only when an arc's spare capacity in some direction hits or leaves 0.
        const other = arcs[k].a === dir ? arcs[k].b : arcs[k].a;
        if (residual(k, other) === 0) reachStale = true;
        flow[k] += dir === arcs[k].a ? amount : -amount;
        if (residual(k, dir) === 0) reachStale = true;
      }
    }
    na.askPart += amount;
    if (na.askPart === ask.qty_wh) {
      na.askK++;
      na.askPart = 0;
    }
    nb.bidPart += amount;
    if (nb.bidPart === bid.qty_wh) {
      nb.bidK++;
      nb.bidPart = 0;
    }
    volume += amount;
    welfare += amount * (bid.price - ask.price);
  }

  // The filled orders are each side's merit-order prefix.
  const filledOf = new Map<Order, number>();
  for (const n of nodes) {
    for (let i = 0; i < n.askK; i++) filledOf.set(n.asks[i], n.asks[i].qty_wh);
    if (n.askPart > 0) filledOf.set(n.asks[n.askK], n.askPart);
    for (let i = 0; i < n.bidK; i++) filledOf.set(n.bids[i], n.bids[i].qty_wh);
    if (n.bidPart > 0) filledOf.set(n.bids[n.bidK], n.bidPart);
  }
  const nodePrices = nodalPrices(nodes, arcs, flow, config);
  const prices = nodePrices.slice(0, M);
  const fills: Fill[] = [];
  let pool = 0;
  for (const o of orders) {
    const ni = nodeOf(o);
    const filled = filledOf.get(o) ?? 0;
    const price = config.pricing === 'pay-as-bid' ? o.price : prices[ni].price;
    const unmatched = o.qty_wh - filled;
    const buy = o.side === 'buy';
    const amount = filled * price;
    pool += buy ? amount : -amount;
    fills.push({
      orderId: o.id,
      participant: o.participant,
      microgrid: nodes[ni].id,
      side: o.side,
      filled_wh: filled,
      unmatched_wh: unmatched,
      price,
      amount,
      gridAmount: unmatched * (buy ? config.retailPrice : config.feedInPrice),
    });
  }
  for (const f of fills) {
    const p = prices[index.get(f.microgrid) ?? 0];
    if (f.side === 'buy') p.bought_wh += f.filled_wh;
    else p.sold_wh += f.filled_wh;
  }
  // A hub is named by its microgrid while both have one price.
  const place = (i: number): string =>
    i >= M && nodePrices[i].price === nodePrices[arcs[links.length + i - M].a].price
      ? `in ${nodes[arcs[links.length + i - M].a].id}`
      : i >= M
        ? `at ${nodes[i].id}`
        : `in ${nodes[i].id}`;
  const linkFlows: LinkFlow[] = links.map((l, k) => {
    const f = flow[k];
    const { a, b } = arcs[k];
    const [src, dst] = f >= 0 ? [a, b] : [b, a];
    const [from, to] = f >= 0 ? [l.a, l.b] : [l.b, l.a];
    const binding = Math.abs(f) === l.cap_wh && nodePrices[dst].price !== nodePrices[src].price;
    return {
      id: l.id,
      flow_wh: f,
      binding,
      ...(binding && {
        message:
          `${l.id} at its ${l.cap_wh} Wh rating from ${from} to ${to}: ` +
          `price ${nodePrices[dst].price} ${place(dst)} vs ${nodePrices[src].price} ${place(src)}`,
      }),
    };
  });
  const limitFlows: LimitFlow[] = limits.map((lim, j) => {
    const f = flow[links.length + j];
    const inside = nodePrices[index.get(lim.microgrid)!].price;
    const outside = nodePrices[M + j].price;
    // Held on export: the microgrid's price below the one at its FIDs (it would sell more); on import, above.
    const exportHeld = f === lim.maxExport_wh && inside < outside;
    const importHeld = -f === lim.maxImport_wh && inside > outside;
    const binding = exportHeld || importHeld;
    return {
      microgrid: lim.microgrid,
      export_wh: f,
      binding,
      ...(binding && {
        message:
          `${lim.microgrid} ${lim.constraint}: ${exportHeld ? `export held to ${lim.maxExport_wh}` : `import held to ${lim.maxImport_wh}`} Wh: ` +
          `price ${inside} in ${lim.microgrid} vs ${outside} at its FIDs`,
      }),
    };
  });
  return { volume_wh: volume, welfare, prices, links: linkFlows, limits: limitFlows, fills, pool };

  function bfs(u: number): void {
    const row = u * N;
    reach.fill(0, row, row + N);
    parent.fill(-1, row, row + N);
    let head = 0;
    let tail = 0;
    queue[tail++] = u;
    reach[row + u] = 1;
    while (head < tail) {
      const x = queue[head++];
      for (let k = 0; k < arcs.length; k++) {
        const { a, b } = arcs[k];
        const y = x === a ? b : x === b ? a : -1;
        if (y < 0 || reach[row + y] || residual(k, x) <= 0) continue;
        reach[row + y] = 1;
        parent[row + y] = k;
        queue[tail++] = y;
      }
    }
  }

  /** Links on the BFS path from u to v as [link, node it leaves from]. */
  function pathLinks(u: number, v: number): [number, number][] {
    const path: [number, number][] = [];
    for (let y = v; y !== u; ) {
      const k = parent[u * N + y];
      const { a, b } = arcs[k];
      const x = y === a ? b : a;
      path.push([k, x]);
      y = x;
    }
    return path;
  }
}

/** An arc of the flow between two nodes, with its capacity each way (Wh). */
interface Arc {
  a: number;
  b: number;
  capAB: number;
  capBA: number;
}

function emptyNode(id: string): Node {
  return { id, asks: [], bids: [], askK: 0, askPart: 0, bidK: 0, bidPart: 0 };
}

const wholeWh = (x: number): boolean => Number.isSafeInteger(x) && x >= 0;

function better(ask: Order, bid: Order, bestAsk: Order, bestBid: Order): boolean {
  const gain = bid.price - ask.price;
  const bestGain = bestBid.price - bestAsk.price;
  if (gain !== bestGain) return gain > bestGain;
  return (byAskMerit(ask, bestAsk) || byBidMerit(bid, bestBid)) < 0;
}

/**
 * Each microgrid's supporting price bracket from Bellman–Ford over the residual graph with source
 * and sink merged into one outside node o (see the file comment).
 */
function nodalPrices(
  nodes: Node[],
  arcs: readonly Arc[],
  flow: Float64Array,
  config: MarketConfig,
): MicrogridPrice[] {
  const N = nodes.length;
  // Arc costs to and from the outside node (Infinity: no arc).
  const fromOutside = new Float64Array(N).fill(Infinity);
  const toOutside = new Float64Array(N).fill(Infinity);
  for (let i = 0; i < N; i++) {
    const n = nodes[i];
    const nextAsk = n.asks[n.askK];
    if (nextAsk) fromOutside[i] = Math.min(fromOutside[i], nextAsk.price);
    const lastBid = n.bidPart > 0 ? n.bids[n.bidK] : n.bids[n.bidK - 1];
    if (lastBid) fromOutside[i] = Math.min(fromOutside[i], lastBid.price);
    const lastAsk = n.askPart > 0 ? n.asks[n.askK] : n.asks[n.askK - 1];
    if (lastAsk) toOutside[i] = Math.min(toOutside[i], -lastAsk.price);
    const nextBid = n.bids[n.bidK];
    if (nextBid) toOutside[i] = Math.min(toOutside[i], -nextBid.price);
  }
  const open: [number, number][] = [];
  arcs.forEach(({ a, b, capAB, capBA }, k) => {
    if (capAB - flow[k] > 0) open.push([a, b]);
    if (capBA + flow[k] > 0) open.push([b, a]);
  });
  // hi: shortest o → i; lo: −(shortest i → o). All FID and limit arcs cost 0.
  const hi = Float64Array.from(fromOutside);
  const down = Float64Array.from(toOutside);
  for (let round = 0; round < N; round++) {
    let changed = false;
    for (const [u, v] of open) {
      if (hi[u] < hi[v]) {
        hi[v] = hi[u];
        changed = true;
      }
      if (down[v] < down[u]) {
        down[u] = down[v];
        changed = true;
      }
    }
    if (!changed) break;
  }
  return nodes.map((n, i) => {
    const h = Math.min(hi[i], config.priceCap);
    const l = Math.max(-down[i], config.priceFloor);
    return { microgrid: n.id, price: Math.floor((l + h) / 2), lo: l, hi: h, bought_wh: 0, sold_wh: 0 };
  });
}
