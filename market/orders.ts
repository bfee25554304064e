/**
 * Orders of the P2P market and the rules that admit them into an interval's book (docs/market.md).
 *
 * Everything is in integers so that every authority that re-runs the clearing gets bit-identical
 * results and money is conserved exactly:
 * - energy in Wh (`qty_wh`),
 * - prices in money units per MWh (`price`),
 * - money in micro-units: `qty_wh × price` is exactly micro-units (1 Wh × 1 unit/MWh = 1e-6 unit).
 */

export type Side = 'buy' | 'sell';

export interface Order {
  /** Unique within the interval's book; the last tie-breaker. */
  id: string;
  participant: string;
  side: Side;
  /** Energy offered or wanted over the interval, Wh (integer ≥ 0). */
  qty_wh: number;
  /** Limit price, money units per MWh (integer): the most a buyer pays, the least a seller takes. */
  price: number;
  /** Submission time, s (twin time): earlier orders win exact price ties. */
  t_s: number;
}

export interface Participant {
  id: string;
  /** Microgrid whose bus the participant is connected to (the clearing's node). */
  microgrid: string;
  /** Deposit held by the market for the participant, micro-units (integer). */
  deposit: number;
  /**
   * The market holds it to its matched volume (a dispatchable generator or battery, a flexible load
   * curtailed by what does not clear): the unmatched rest of its orders commits it to nothing
   * (`declaredPart`, market/position.ts). Absent: false.
   */
  dispatchable?: boolean;
}

export interface MarketConfig {
  /**
   * Length of one trading interval, s.
   * @default 900
   */
  interval_s: number;
  /**
   * Orders for an interval are refused later than this many seconds before it starts.
   * @default 60
   */
  gateClosure_s: number;
  /** Lowest admissible limit price (money units per MWh). @default 0 */
  priceFloor: number;
  /** Highest admissible limit price (money units per MWh). @default 1000 */
  priceCap: number;
  /** Main-grid retail (import) price, money units per MWh. @default 250 */
  retailPrice: number;
  /** Main-grid feed-in (export) price, money units per MWh. @default 50 */
  feedInPrice: number;
  /**
   * Deposit an order locks, micro-units per Wh: an order needs `qty_wh × depositPerWh` of the
   * participant's deposit not already locked by its other orders in the book.
   * @default 100 (= 100 units/MWh: a penalty up to that rate is covered)
   */
  depositPerWh: number;
  /** `uniform` (pay-as-clear) or `pay-as-bid`. @default 'uniform' */
  pricing: 'uniform' | 'pay-as-bid';
}

export const DEFAULT_MARKET_CONFIG: Readonly<MarketConfig> = Object.freeze({
  interval_s: 900,
  gateClosure_s: 60,
  priceFloor: 0,
  priceCap: 1000,
  retailPrice: 250,
  feedInPrice: 50,
  depositPerWh: 100,
  pricing: 'uniform',
});

/** Why an order was refused: a closed set, so the audit log and UIs can count them. */
export type RefusalReason =
  | 'malformed'
  | 'bad-quantity'
  | 'bad-price'
  | 'price-outside-cap'
  | 'unknown-participant'
  | 'after-gate-closure'
  | 'deposit-too-small'
  | 'duplicate-id';

export interface Refusal {
  orderId: string;
  reason: RefusalReason;
  message: string;
}

/** The orders admitted for one interval, with the refusals (the audit trail) beside them. */
export class OrderBook {
  readonly orders: Order[] = [];
  readonly refused: Refusal[] = [];
  private readonly ids = new Set<string>();
  private readonly locked = new Map<string, number>();

  constructor(
    /** Interval start, s (twin time). */
    readonly intervalStart_s: number,
    readonly participants: ReadonlyMap<string, Participant>,
    readonly config: MarketConfig = DEFAULT_MARKET_CONFIG,
  ) {}

  /** Admits the order or records why not; never throws, whatever `input` is. */
  submit(input: unknown): Refusal | undefined {
    const refusal = this.check(input);
    if (refusal) {
      this.refused.push(refusal);
      return refusal;
    }
    const order = input as Order;
    const copy: Order = {
      id: order.id,
      participant: order.participant,
      side: order.side,
      qty_wh: order.qty_wh,
      price: order.price,
      t_s: order.t_s,
    };
    this.orders.push(copy);
    this.ids.add(copy.id);
    this.locked.set(copy.participant, (this.locked.get(copy.participant) ?? 0) + this.depositFor(copy));
    return undefined;
  }

  depositFor(order: Pick<Order, 'qty_wh'>): number {
    return order.qty_wh * this.config.depositPerWh;
  }

  private check(input: unknown): Refusal | undefined {
    const o = input as Partial<Order> | null;
    const id = typeof o?.id === 'string' ? o.id : '?';
    const refuse = (reason: RefusalReason, message: string): Refusal => ({
      orderId: id,
      reason,
      message: `order ${id}: ${message}`,
    });
    if (o === null || typeof o !== 'object' || Array.isArray(o)) return refuse('malformed', 'not an object');
    if (typeof o.id !== 'string' || o.id === '') return refuse('malformed', 'id must be a non-empty string');
    if (o.side !== 'buy' && o.side !== 'sell') return refuse('malformed', `side must be 'buy' or 'sell'`);
    if (typeof o.participant !== 'string') return refuse('malformed', 'participant must be a string');
    if (typeof o.t_s !== 'number' || !Number.isFinite(o.t_s))
      return refuse('malformed', 't_s must be a finite number');
    if (typeof o.qty_wh !== 'number' || !Number.isSafeInteger(o.qty_wh) || o.qty_wh < 0)
      return refuse('bad-quantity', `qty_wh must be a whole number of Wh ≥ 0 (got ${String(o.qty_wh)})`);
    if (typeof o.price !== 'number' || !Number.isSafeInteger(o.price))
      return refuse('bad-price', `price must be a whole number of units/MWh (got ${String(o.price)})`);
    const { priceFloor, priceCap } = this.config;
    if (o.price < priceFloor || o.price > priceCap)
      return refuse('price-outside-cap', `price ${o.price} outside [${priceFloor}, ${priceCap}]`);
    // Keeps qty × price (micro-units) exact in a double.
    if (o.qty_wh * Math.max(1, priceCap) > Number.MAX_SAFE_INTEGER)
      return refuse('bad-quantity', `qty_wh ${o.qty_wh} too large`);
    const participant = this.participants.get(o.participant);
    if (!participant) return refuse('unknown-participant', `unknown participant ${o.participant}`);
    const gate = this.intervalStart_s - this.config.gateClosure_s;
    if (o.t_s > gate)
      return refuse('after-gate-closure', `submitted at t=${o.t_s} s, after the gate closed at t=${gate} s`);
    if (this.ids.has(o.id)) return refuse('duplicate-id', 'id already in the book');
    const need = this.depositFor(o as Order);
    const free = participant.deposit - (this.locked.get(participant.id) ?? 0);
    if (need > free)
      return refuse(
        'deposit-too-small',
        `needs a deposit of ${need} µ-units, ${participant.id} has ${free} free`,
      );
    return undefined;
  }
}
