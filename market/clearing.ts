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
 *
 * Reserve (`MarketNetwork.reserves`, e.g. the island reserve) is co-optimised with energy: what a
 * microgrid's grid-forming units sell together must leave their capability less the requirement as
 * headroom. Their offers sit at a node of their own, joined to the microgrid by an arc carrying at
 * most `capability − required` into it; the reserve price is the dual of that arc (the microgrid's
 * price less the price at its grid-forming units), read from the final residual graph like the
 * microgrids' prices.
 *
 * Speed (10,000 orders within milliseconds): the book is indexed once into typed arrays; one sort of
 * order indices per side by (price, time, id) — a counting sort on the integer prices, the runs of
 * equal price then sorted by time and id — split by node gives every node's merit order and each
 * order's merit rank (ties across nodes compare one integer); the flow then walks those orders with
 * a cursor per node and side, allocating nothing per order until the fills.
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
  /** Reserve each microgrid's grid-forming units must keep, co-optimised with energy (at most one per microgrid). */
  reserves?: readonly ReserveRequirement[];
}

/**
 * Reserve a microgrid's grid-forming units must keep as headroom over an interval (docs/market.md,
 * "Island reserve"): their sales together are at most `capability_wh − required_wh`.
 */
export interface ReserveRequirement {
  microgrid: string;
  /** Headroom to keep, Wh over the interval (whole ≥ 0). */
  required_wh: number;
  /** Up-capability of all the microgrid's grid-forming units over the interval, Wh (whole ≥ 0). */
  capability_wh: number;
  /**
   * The grid-forming participants (their sell orders use the capability), each with its own
   * up-capability, Wh: each is paid the reserve price for the headroom it keeps.
   */
  providers: readonly { participant: string; capability_wh: number }[];
  /** The constraint's name as reports show it, e.g. `island reserve (…)`. */
  constraint: string;
}

/** The reserve of one microgrid as cleared, with who is paid for it and who pays. */
export interface ReserveAward {
  microgrid: string;
  required_wh: number;
  /** What the requirement left the grid-forming units to sell: capability − required, ≥ 0. */
  sellable_wh: number;
  /** What they sold. */
  sold_wh: number;
  /** Requirement the units cannot meet even selling nothing (required − capability, ≥ 0). */
  shortfall_wh: number;
  /**
   * Reserve price, units/MWh of headroom: the requirement's dual (the microgrid's energy price less
   * the price at its grid-forming units; 0 when the requirement does not bind).
   */
  price: number;
  /** Every reserve price in [lo, hi] supports the allocation with some energy prices (the dual's bracket). */
  lo: number;
  hi: number;
  /** The requirement held offers back that were in the money (reserve price > 0). */
  binding: boolean;
  /** When binding, e.g. `MG3 island reserve (…): grid-forming offers held to 311629 Wh: reserve price 20 …`. */
  message?: string;
  /** Each provider's headroom (its capability − what it sold, ≥ 0), paid `price × headroom_wh` µ-units. */
  providers: { participant: string; headroom_wh: number; amount: number }[];
  /**
   * Who pays for it: the microgrid's buyers, pro rata to the energy they ordered (filled + unmatched),
   * each share rounded up to whole µ-units; with no buyer the pool pays.
   */
  charges: { participant: string; amount: number }[];
  /** Σ charges − Σ payments to providers (rounding, ≥ 0; −Σ payments with no buyer): to the pool. */
  remainder: number;
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
  /** One per reserve requirement of the network, in its order. */
  reserves: ReserveAward[];
  /** In the book's order. */
  fills: Fill[];
  /** Payments in minus payments out for the P2P part (congestion rent, pay-as-bid spread). */
  pool: number;
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
  const microgrids = network ? network.microgrids : [SINGLE_NODE];
  const M = microgrids.length;
  const index = new Map(microgrids.map((id, i) => [id, i]));
  const links = network?.links ?? [];
  const limits = network?.limits ?? [];
  const reserves = network?.reserves ?? [];
  // Nodes: the microgrids; a hub per limit (its microgrid's FIDs meet there); a node per reserve
  // (its microgrid's grid-forming offers). microgridOf: the microgrid a node belongs to.
  const names: string[] = [...microgrids];
  const microgridOf: number[] = microgrids.map((_, i) => i);
  const hubOf = new Int32Array(M).fill(-1);
  limits.forEach((lim, j) => {
    const m = index.get(lim.microgrid);
    if (m === undefined) throw new TypeError(`limit ${j}: unknown microgrid ${lim.microgrid}`);
    if (hubOf[m] >= 0) throw new TypeError(`limit ${j}: a second limit for ${lim.microgrid}`);
    if (!wholeWh(lim.maxExport_wh) || !wholeWh(lim.maxImport_wh))
      throw new TypeError(`limit of ${lim.microgrid}: maxExport_wh and maxImport_wh must be whole Wh ≥ 0`);
    hubOf[m] = names.length;
    names.push(`${lim.microgrid}'s FIDs`);
    microgridOf.push(m);
  });
  const providerNode = new Map<string, number>();
  const reserveNodes: number[] = [];
  const reserveOf = new Int32Array(M).fill(-1);
  reserves.forEach((res, j) => {
    const m = index.get(res.microgrid);
    if (m === undefined) throw new TypeError(`reserve ${j}: unknown microgrid ${res.microgrid}`);
    if (reserveOf[m] >= 0) throw new TypeError(`reserve ${j}: a second reserve for ${res.microgrid}`);
    if (!wholeWh(res.required_wh) || !wholeWh(res.capability_wh))
      throw new TypeError(`reserve of ${res.microgrid}: required_wh and capability_wh must be whole Wh ≥ 0`);
    reserveOf[m] = j;
    const node = names.length;
    for (const p of res.providers) {
      if (participants.get(p.participant)?.microgrid !== res.microgrid)
        throw new TypeError(
          `reserve of ${res.microgrid}: provider ${p.participant} is not a participant there`,
        );
      if (!wholeWh(p.capability_wh))
        throw new TypeError(
          `reserve of ${res.microgrid}: capability_wh of ${p.participant} must be whole Wh ≥ 0`,
        );
      providerNode.set(p.participant, node);
    }
    reserveNodes.push(node);
    names.push(`${res.microgrid}'s grid-forming units`);
    microgridOf.push(m);
  });
  const N = names.length;
  const gateway = (m: number) => (hubOf[m] >= 0 ? hubOf[m] : m);
  // Arcs of the flow: the FIDs (between their microgrids' gateways), each limit (microgrid → hub),
  // each reserve (grid-forming node → microgrid, one way, at most capability − required).
  const K = links.length + limits.length + reserves.length;
  const arcA = new Int32Array(K);
  const arcB = new Int32Array(K);
  const capAB = new Float64Array(K);
  const capBA = new Float64Array(K);
  links.forEach((l, k) => {
    const a = index.get(l.a);
    const b = index.get(l.b);
    if (a === undefined || b === undefined) throw new TypeError(`link ${l.id}: unknown microgrid`);
    arcA[k] = gateway(a);
    arcB[k] = gateway(b);
    capAB[k] = l.cap_wh;
    capBA[k] = l.cap_wh;
  });
  limits.forEach((lim, j) => {
    const k = links.length + j;
    arcA[k] = index.get(lim.microgrid)!;
    arcB[k] = M + j;
    capAB[k] = lim.maxExport_wh;
    capBA[k] = lim.maxImport_wh;
  });
  reserves.forEach((res, j) => {
    const k = links.length + limits.length + j;
    arcA[k] = reserveNodes[j];
    arcB[k] = index.get(res.microgrid)!;
    capAB[k] = Math.max(0, res.capability_wh - res.required_wh);
    capBA[k] = 0;
  });
  const flow = new Float64Array(K);

  // The book in typed arrays: node, price, quantity, time (ids stay strings for the last tie-break).
  const book = indexBook(orders, (o) => {
    if (!network) return 0;
    const mg = participants.get(o.participant)?.microgrid;
    const m = mg === undefined ? undefined : index.get(mg);
    if (m === undefined)
      throw new TypeError(`order ${o.id}: microgrid of ${o.participant} is not in the network`);
    if (providerNode.size > 0 && o.side === 'sell') return providerNode.get(o.participant) ?? m;
    return m;
  });
  const { node, price, qty } = book;
  const { sorted, start, rank } = meritOrder(book, N);
  // Prices and quantities in merit order: the flow walks them front to back.
  const sp = new Float64Array(sorted.length);
  const sq = new Float64Array(sorted.length);
  for (let s = 0; s < sorted.length; s++) {
    sp[s] = price[sorted[s]];
    sq[s] = qty[sorted[s]];
  }
  const { askAt, bidAt, askPart, bidPart, volume, welfare } = successiveShortestPaths(
    { arcA, arcB, capAB, capBA, flow },
    { sorted, start, rank, sp, sq },
    N,
  );
  const askEnd = (u: number) => start[2 * u + 1];
  const bidEnd = (u: number) => start[2 * u + 2];

  // The filled orders are each side's merit-order prefix.
  const filled = new Float64Array(orders.length);
  for (let u = 0; u < N; u++) {
    for (let s = start[2 * u]; s < askAt[u]; s++) filled[sorted[s]] = qty[sorted[s]];
    if (askPart[u] > 0) filled[sorted[askAt[u]]] = askPart[u];
    for (let s = start[2 * u + 1]; s < bidAt[u]; s++) filled[sorted[s]] = qty[sorted[s]];
    if (bidPart[u] > 0) filled[sorted[bidAt[u]]] = bidPart[u];
  }
  // Each node's next and last filled order on either side: the arcs to and from the outside.
  const at = (s: number) => sp[s];
  const outside = names.map((_, u) => {
    const asks0 = start[2 * u];
    const bids0 = start[2 * u + 1];
    return {
      nextAsk: askAt[u] < askEnd(u) ? at(askAt[u]) : Number.NaN,
      lastAsk: askPart[u] > 0 ? at(askAt[u]) : askAt[u] > asks0 ? at(askAt[u] - 1) : Number.NaN,
      nextBid: bidAt[u] < bidEnd(u) ? at(bidAt[u]) : Number.NaN,
      lastBid: bidPart[u] > 0 ? at(bidAt[u]) : bidAt[u] > bids0 ? at(bidAt[u] - 1) : Number.NaN,
    };
  });
  const duals = new Duals(names, outside, arcA, arcB, capAB, capBA, flow, config);
  const nodePrices = duals.prices;
  const prices = nodePrices.slice(0, M);
  const { fills, pool } = fillsOf(orders, filled, node, microgridOf, names, prices, config);
  // A hub is named by its microgrid while both have one price.
  const place = (i: number): string =>
    i >= M && nodePrices[i].price === nodePrices[arcA[links.length + i - M]].price
      ? `in ${names[arcA[links.length + i - M]]}`
      : i >= M
        ? `at ${names[i]}`
        : `in ${names[i]}`;
  const linkFlows: LinkFlow[] = links.map((l, k) => {
    const f = flow[k];
    const a = arcA[k];
    const b = arcB[k];
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
    const outsidePrice = nodePrices[M + j].price;
    // Held on export: the microgrid's price below the one at its FIDs (it would sell more); on import, above.
    const exportHeld = f === lim.maxExport_wh && inside < outsidePrice;
    const importHeld = -f === lim.maxImport_wh && inside > outsidePrice;
    const binding = exportHeld || importHeld;
    return {
      microgrid: lim.microgrid,
      export_wh: f,
      binding,
      ...(binding && {
        message:
          `${lim.microgrid} ${lim.constraint}: ${exportHeld ? `export held to ${lim.maxExport_wh}` : `import held to ${lim.maxImport_wh}`} Wh: ` +
          `price ${inside} in ${lim.microgrid} vs ${outsidePrice} at its FIDs`,
      }),
    };
  });
  const reserveAwards = reserves.map((res, j) =>
    reserveAward(res, reserveNodes[j], index.get(res.microgrid)!, flow[links.length + limits.length + j]),
  );
  return {
    volume_wh: volume,
    welfare,
    prices,
    links: linkFlows,
    limits: limitFlows,
    reserves: reserveAwards,
    fills,
    pool,
  };

  /** The reserve of microgrid m (its grid-forming node g), its price, payments and charges. */
  function reserveAward(res: ReserveRequirement, g: number, m: number, sold: number): ReserveAward {
    const energy = nodePrices[m].price;
    const atUnits = nodePrices[g].price;
    const price = Math.max(0, energy - atUnits);
    // The dual's bracket: max (π_m − π_g) = shortest path g → m, min = −(shortest path m → g).
    const hi = Math.max(0, duals.shortest(g)[m]);
    const lo = Math.max(0, -duals.shortest(m)[g]);
    const soldBy = new Map<string, number>();
    const ordered = new Map<string, number>();
    for (let i = 0; i < orders.length; i++) {
      const o = orders[i];
      if (node[i] === g) soldBy.set(o.participant, (soldBy.get(o.participant) ?? 0) + filled[i]);
      else if (node[i] === m && o.side === 'buy')
        ordered.set(o.participant, (ordered.get(o.participant) ?? 0) + o.qty_wh);
    }
    const providers = res.providers.map((p) => {
      const headroom = Math.max(0, p.capability_wh - (soldBy.get(p.participant) ?? 0));
      return { participant: p.participant, headroom_wh: headroom, amount: price * headroom };
    });
    const total = providers.reduce((s, p) => s + p.amount, 0);
    const charges = prorata(total, ordered);
    const sellable = Math.max(0, res.capability_wh - res.required_wh);
    const binding = price > 0;
    return {
      microgrid: res.microgrid,
      required_wh: res.required_wh,
      sellable_wh: sellable,
      sold_wh: sold,
      shortfall_wh: Math.max(0, res.required_wh - res.capability_wh),
      price,
      lo,
      hi,
      binding,
      ...(binding && {
        message:
          `${res.microgrid} ${res.constraint}: grid-forming offers held to ${sellable} Wh: ` +
          `reserve price ${price} (energy ${energy} in ${res.microgrid}, ${atUnits} at its grid-forming units)`,
      }),
      providers,
      charges,
      remainder: charges.reduce((s, c) => s + c.amount, 0) - total,
    };
  }
}

/** The flow network: arcs with their capacity each way and their flow (updated in place). */
interface FlowArcs {
  arcA: Int32Array;
  arcB: Int32Array;
  capAB: Float64Array;
  capBA: Float64Array;
  flow: Float64Array;
}

/** The book in merit order (`meritOrder`), with prices and quantities in that order. */
interface MeritOrdered {
  sorted: Int32Array;
  start: Int32Array;
  rank: Int32Array;
  sp: Float64Array;
  sq: Float64Array;
}

/**
 * Successive shortest paths over the book (see the file comment), in a function of its own so the
 * JIT optimises its loop early. Returns each node's cursors — orders before askAt are filled, askAt
 * has askPart filled (same for bids) — and the volume and welfare; the arcs' flows are updated.
 */
function successiveShortestPaths(arcs: FlowArcs, book: MeritOrdered, N: number) {
  const { arcA, arcB, capAB, capBA, flow } = arcs;
  const { start, rank, sp, sq } = book;
  const K = arcA.length;
  // Residual capacity of arc k leaving node `from`.
  const residual = (k: number, from: number): number =>
    from === arcA[k] ? capAB[k] - flow[k] : capBA[k] + flow[k];
  const askAt = new Int32Array(N);
  const bidAt = new Int32Array(N);
  const askPart = new Float64Array(N);
  const bidPart = new Float64Array(N);
  for (let u = 0; u < N; u++) {
    askAt[u] = start[2 * u];
    bidAt[u] = start[2 * u + 1];
  }
  const askEnd = (u: number) => start[2 * u + 1];
  const bidEnd = (u: number) => start[2 * u + 2];

  // reach[u·N + v]: v reachable from u over arcs with spare capacity; parent[u·N + v]: last arc on
  // that path. Recomputed only when an arc's spare capacity in some direction hits or leaves 0.
  const reach = new Uint8Array(N * N);
  const parent = new Int32Array(N * N);
  const queue = new Int32Array(N);
  let reachStale = true;
  let volume = 0;
  let welfare = 0;
  for (;;) {
    if (reachStale) {
      for (let u = 0; u < N; u++) bfs(u);
      reachStale = false;
    }
    // Best (cheapest ask, dearest reachable bid) pair; ties: the ask of better merit (lower rank),
    // then the bid of better merit (two pairs with one ask differ in their bids only).
    let from = -1;
    let to = -1;
    let gain = 0;
    for (let u = 0; u < N; u++) {
      const sa = askAt[u];
      if (sa >= askEnd(u)) continue;
      for (let v = 0; v < N; v++) {
        const sb = bidAt[v];
        if (!reach[u * N + v] || sb >= bidEnd(v)) continue;
        const g = sp[sb] - sp[sa];
        if (g < 0) continue;
        if (
          from < 0 ||
          g > gain ||
          (g === gain && (u === from ? rank[sb] < rank[bidAt[to]] : rank[sa] < rank[askAt[from]]))
        ) {
          from = u;
          to = v;
          gain = g;
        }
      }
    }
    if (from < 0) break;
    const sa = askAt[from];
    const sb = bidAt[to];
    let amount = Math.min(sq[sa] - askPart[from], sq[sb] - bidPart[to]);
    if (from !== to) {
      const row = from * N;
      for (let y = to; y !== from; ) {
        const k = parent[row + y];
        const x = y === arcA[k] ? arcB[k] : arcA[k];
        amount = Math.min(amount, residual(k, x));
        y = x;
      }
      for (let y = to; y !== from; ) {
        const k = parent[row + y];
        const x = y === arcA[k] ? arcB[k] : arcA[k];
        // Reachability changes only when an arc's spare capacity in some direction hits or leaves 0.
        if (residual(k, y) === 0) reachStale = true;
        flow[k] += x === arcA[k] ? amount : -amount;
        if (residual(k, x) === 0) reachStale = true;
        y = x;
      }
    }
    askPart[from] += amount;
    if (askPart[from] === sq[sa]) {
      askAt[from]++;
      askPart[from] = 0;
    }
    bidPart[to] += amount;
    if (bidPart[to] === sq[sb]) {
      bidAt[to]++;
      bidPart[to] = 0;
    }
    volume += amount;
    welfare += amount * gain;
  }

  return { askAt, bidAt, askPart, bidPart, volume, welfare };

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
      for (let k = 0; k < K; k++) {
        const a = arcA[k];
        const b = arcB[k];
        const y = x === a ? b : x === b ? a : -1;
        if (y < 0 || reach[row + y] || residual(k, x) <= 0) continue;
        reach[row + y] = 1;
        parent[row + y] = k;
        queue[tail++] = y;
      }
    }
  }
}

/**
 * The fills in the book's order (each at its microgrid's price, or its own under pay-as-bid), each
 * microgrid's bought and sold energy added to `prices`, and the pool (payments in − out).
 */
function fillsOf(
  orders: readonly Order[],
  filled: Float64Array,
  node: Int32Array,
  microgridOf: readonly number[],
  names: readonly string[],
  prices: MicrogridPrice[],
  config: MarketConfig,
): { fills: Fill[]; pool: number } {
  const fills: Fill[] = new Array(orders.length);
  const payAsBid = config.pricing === 'pay-as-bid';
  let pool = 0;
  for (let i = 0; i < orders.length; i++) {
    const o = orders[i];
    const m = microgridOf[node[i]];
    const f = filled[i];
    const p = payAsBid ? o.price : prices[m].price;
    const unmatched = o.qty_wh - f;
    const buy = o.side === 'buy';
    const amount = f * p;
    pool += buy ? amount : -amount;
    if (buy) prices[m].bought_wh += f;
    else prices[m].sold_wh += f;
    fills[i] = {
      orderId: o.id,
      participant: o.participant,
      microgrid: names[m],
      side: o.side,
      filled_wh: f,
      unmatched_wh: unmatched,
      price: p,
      amount,
      gridAmount: unmatched * (buy ? config.retailPrice : config.feedInPrice),
    };
  }
  return { fills, pool };
}

/**
 * `total` µ-units split over `weights` (participant → weight), each share rounded up so that the
 * shares cover the total (exact in integers: BigInt, the products exceed 2⁵³).
 */
function prorata(
  total: number,
  weights: ReadonlyMap<string, number>,
): { participant: string; amount: number }[] {
  let sum = 0;
  for (const w of weights.values()) sum += w;
  if (total <= 0 || sum <= 0) return [];
  const T = BigInt(total);
  const S = BigInt(sum);
  return [...weights].map(([participant, w]) => {
    const x = T * BigInt(w);
    return { participant, amount: Number(x / S + (x % S === 0n ? 0n : 1n)) };
  });
}

interface IndexedBook {
  node: Int32Array;
  price: Float64Array;
  qty: Float64Array;
  t: Float64Array;
  buy: Uint8Array;
  ids: string[];
}

/** The book's figures in typed arrays, each order at its node. */
function indexBook(orders: readonly Order[], nodeOf: (o: Order) => number): IndexedBook {
  const n = orders.length;
  const book: IndexedBook = {
    node: new Int32Array(n),
    price: new Float64Array(n),
    qty: new Float64Array(n),
    t: new Float64Array(n),
    buy: new Uint8Array(n),
    ids: new Array<string>(n),
  };
  for (let i = 0; i < n; i++) {
    const o = orders[i];
    book.node[i] = nodeOf(o);
    book.price[i] = o.price;
    book.qty[i] = o.qty_wh;
    book.t[i] = o.t_s;
    book.buy[i] = o.side === 'buy' ? 1 : 0;
    book.ids[i] = o.id;
  }
  return book;
}

/**
 * Order indices (orders with a quantity only) grouped by node and side — group 2·node for asks,
 * 2·node + 1 for bids, group g in sorted[start[g], start[g + 1]) — each group in merit order: price
 * (asks up, bids down), then time, then id; and `rank[s]`, the merit rank of sorted[s] among all the
 * book's orders of its side, so that orders of different nodes compare by one integer. Each side is
 * sorted once: integer prices in a range not much wider than the book are counting-sorted (the runs
 * of equal price then sorted by time and id), otherwise one comparison sort; then split by node,
 * keeping the order.
 */
function meritOrder(
  book: IndexedBook,
  nodes: number,
): { sorted: Int32Array; start: Int32Array; rank: Int32Array } {
  const { node, price, qty, t, buy, ids } = book;
  const n = node.length;
  let active = 0;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  let integral = true;
  for (let i = 0; i < n; i++) {
    if (qty[i] === 0) continue;
    active++;
    const p = price[i];
    if (p < lo) lo = p;
    if (p > hi) hi = p;
    if (!Number.isSafeInteger(p)) integral = false;
  }
  // bySide: the asks in merit order, then the bids.
  const bySide = new Int32Array(active);
  const byTimeThenId = (x: number, y: number) => t[x] - t[y] || cmp(ids[x], ids[y]);
  const range = active > 0 && integral ? hi - lo + 1 : Number.POSITIVE_INFINITY;
  if (2 * range <= Math.max(1024, 4 * active)) {
    // Bucket of an order: (side, price rank), asks by rising price, bids by falling price.
    const buckets = 2 * range;
    const key = new Int32Array(n);
    const first = new Int32Array(buckets + 1);
    for (let i = 0; i < n; i++) {
      if (qty[i] === 0) continue;
      key[i] = buy[i] ? range + hi - price[i] : price[i] - lo;
      first[key[i] + 1]++;
    }
    for (let b = 0; b < buckets; b++) first[b + 1] += first[b];
    const next = first.slice(0, buckets);
    for (let i = 0; i < n; i++) if (qty[i] !== 0) bySide[next[key[i]]++] = i;
    for (let b = 0; b < buckets; b++) sortRun(bySide, first[b], first[b + 1], t, ids, byTimeThenId);
  } else {
    let s = 0;
    for (let i = 0; i < n; i++) if (qty[i] !== 0) bySide[s++] = i;
    bySide.sort(
      (x, y) => buy[x] - buy[y] || (buy[x] ? price[y] - price[x] : price[x] - price[y]) || byTimeThenId(x, y),
    );
  }
  // Split by node, keeping the merit order; a bid's rank counts from the first bid.
  const G = 2 * nodes;
  const start = new Int32Array(G + 1);
  for (let s = 0; s < active; s++) start[2 * node[bySide[s]] + buy[bySide[s]] + 1]++;
  for (let g = 0; g < G; g++) start[g + 1] += start[g];
  const next = start.slice(0, G);
  const sorted = new Int32Array(active);
  const rank = new Int32Array(active);
  for (let s = 0; s < active; s++) {
    const i = bySide[s];
    const at = next[2 * node[i] + buy[i]]++;
    sorted[at] = i;
    rank[at] = s;
  }
  return { sorted, start, rank };
}

/**
 * Sorts the run a[from, to) of equal-price orders by time, then id: insertion sort for the short runs
 * a book's coarse prices make (inline comparisons, no calls), the built-in sort for long ones.
 */
function sortRun(
  a: Int32Array,
  from: number,
  to: number,
  t: Float64Array,
  ids: readonly string[],
  order: (x: number, y: number) => number,
): void {
  if (to - from < 2) return;
  if (to - from > 64) {
    a.subarray(from, to).sort(order);
    return;
  }
  for (let i = from + 1; i < to; i++) {
    const x = a[i];
    const tx = t[x];
    let j = i - 1;
    while (j >= from) {
      const y = a[j];
      if (t[y] < tx || (t[y] === tx && ids[y] <= ids[x])) break;
      a[j + 1] = y;
      j--;
    }
    a[j + 1] = x;
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const wholeWh = (x: number): boolean => Number.isSafeInteger(x) && x >= 0;

/** A node's prices toward the outside (source and sink): NaN where it has no such order. */
interface OutsideEdges {
  nextAsk: number;
  lastAsk: number;
  nextBid: number;
  lastBid: number;
}

/**
 * The dual side of the final residual graph, with source and sink merged into one outside node o
 * (see the file comment): each node's supporting price bracket, and shortest paths for the brackets
 * of price differences (the reserve price).
 */
class Duals {
  readonly prices: MicrogridPrice[];
  /** Edges u → v of cost w: every supporting set of prices has π_v ≤ π_u + w (π_o = 0). */
  private readonly edges: { u: number; v: number; w: number }[] = [];
  private readonly cache = new Map<number, Float64Array>();

  constructor(
    names: readonly string[],
    outside: readonly OutsideEdges[],
    arcA: Int32Array,
    arcB: Int32Array,
    capAB: Float64Array,
    capBA: Float64Array,
    flow: Float64Array,
    config: MarketConfig,
  ) {
    const N = names.length;
    // Arc costs to and from the outside node (Infinity: no arc).
    const fromOutside = new Float64Array(N).fill(Number.POSITIVE_INFINITY);
    const toOutside = new Float64Array(N).fill(Number.POSITIVE_INFINITY);
    outside.forEach((x, i) => {
      // An extra unit into i: the next unfilled ask, or taken from the last filled bid.
      if (!Number.isNaN(x.nextAsk)) fromOutside[i] = Math.min(fromOutside[i], x.nextAsk);
      if (!Number.isNaN(x.lastBid)) fromOutside[i] = Math.min(fromOutside[i], x.lastBid);
      // A unit out of i: given back to the last filled ask, or to the next unfilled bid.
      if (!Number.isNaN(x.lastAsk)) toOutside[i] = Math.min(toOutside[i], -x.lastAsk);
      if (!Number.isNaN(x.nextBid)) toOutside[i] = Math.min(toOutside[i], -x.nextBid);
    });
    const open: [number, number][] = [];
    for (let k = 0; k < arcA.length; k++) {
      if (capAB[k] - flow[k] > 0) open.push([arcA[k], arcB[k]]);
      if (capBA[k] + flow[k] > 0) open.push([arcB[k], arcA[k]]);
    }
    // hi: shortest o → i; lo: −(shortest i → o). All FID, limit and reserve arcs cost 0.
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
    this.prices = names.map((id, i) => {
      const h = Math.min(hi[i], config.priceCap);
      const l = Math.max(-down[i], config.priceFloor);
      return { microgrid: id, price: Math.floor((l + h) / 2), lo: l, hi: h, bought_wh: 0, sold_wh: 0 };
    });
    // The same constraints as edges, with the price cap and floor, for shortest paths between nodes.
    const o = N;
    for (let i = 0; i < N; i++) {
      this.edges.push({ u: o, v: i, w: Math.min(fromOutside[i], config.priceCap) });
      this.edges.push({ u: i, v: o, w: Math.min(toOutside[i], -config.priceFloor) });
    }
    for (const [u, v] of open) this.edges.push({ u, v, w: 0 });
  }

  /** Shortest distances from node `s` (Bellman–Ford; the graph has a handful of nodes). */
  shortest(s: number): Float64Array {
    let d = this.cache.get(s);
    if (d) return d;
    const n = this.prices.length + 1;
    d = new Float64Array(n).fill(Number.POSITIVE_INFINITY);
    d[s] = 0;
    for (let round = 0; round < n; round++) {
      let changed = false;
      for (const { u, v, w } of this.edges)
        if (d[u] + w < d[v]) {
          d[v] = d[u] + w;
          changed = true;
        }
      if (!changed) break;
    }
    this.cache.set(s, d);
    return d;
  }
}
