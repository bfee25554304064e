/**
 * What the market reports on the live bench after each interval's news (docs/market.md, "On the
 * live bench"): the interval's order book with each order's fill, the clearing price per microgrid,
 * each FID's cleared against delivered energy, each participant's cleared against metered energy,
 * and every account as the ledger's contract storage holds it. The bench shows it to operators and
 * cuts each prosumer's own part out of it (bench/server/market-views.ts).
 *
 * Energy in Wh (sell / export positive where a sign is given), prices in money units per MWh, money
 * in micro-units (integers; docs/market.md, "Units").
 */
import type { ControllerTelemetry } from '../twin/control/contract.ts';
import type { AcceptedReading, RefusedReading } from './meter-reading.ts';
import type { RefusalReason } from './orders.ts';

/** One order of an interval's book and what the clearing gave it. */
export interface MarketOrderTelemetry {
  id: string;
  participant: string;
  microgrid: string;
  side: 'buy' | 'sell';
  qty_wh: number;
  /** Its limit price. */
  limit: number;
  /** Energy traded peer to peer; the rest (`qty_wh − filled_wh`) is settled with the main grid. */
  filled_wh: number;
  /** The price the filled part settles at (the microgrid's clearing price, or the limit under pay-as-bid). */
  price: number;
  /** Money for the filled part (paid by a buyer, received by a seller), micro-units. */
  amount: number;
  /** Money for the rest with the main grid, micro-units. */
  grid_amount: number;
}

/** A FID over one interval: the exchange cleared against what it carried (A→B). */
export interface MarketFidTelemetry {
  fid: string;
  cleared_wh: number;
  /** Null until the interval is over. */
  delivered_wh: number | null;
  /** At its rating in the clearing, with the prices on its two sides apart (`message` says how). */
  binding: boolean;
  message?: string;
}

/** A participant over one delivered interval: its declared position against its meter. */
export interface MarketDeliveryTelemetry {
  participant: string;
  /** Declared net position (P2P fills plus the rest with the grid), Wh, sell positive. */
  cleared_wh: number;
  /**
   * Metered net export over the interval (sampled from the twin's state, signed by its meter and
   * accepted by its authority), Wh; the cleared position when no reading was accepted.
   */
  metered_wh: number;
}

/** One interval, from its clearing to its settlement. */
export interface MarketIntervalTelemetry {
  intervalStart_s: number;
  /** Twin time it was cleared at (its gate closure). */
  clearedAt_s: number;
  /**
   * `cleared` (orders in, schedule waiting for the interval's start), `delivering`, `delivered` (its
   * meters and FIDs read), `settled` (on the chain), `not-settled` (the chain refused or failed: `note`).
   */
  state: 'cleared' | 'delivering' | 'delivered' | 'settled' | 'not-settled';
  /** Why it is not a normal interval (ledger down, settlement failed). */
  note?: string;
  prices: { microgrid: string; price: number; lo: number; hi: number; bought_wh: number; sold_wh: number }[];
  volume_wh: number;
  /** Payments in minus payments out of the P2P part (congestion rent, pay-as-bid spread), micro-units. */
  pool: number;
  /** The book, in the clearing's order. */
  orders: MarketOrderTelemetry[];
  refused: { orderId: string; reason: RefusalReason; message: string }[];
  fids: MarketFidTelemetry[];
  /** Empty until the interval is over. */
  deliveries: MarketDeliveryTelemetry[];
  /**
   * Once the interval is over (absent before, and in a record without meters): every participant's meter reading its authority accepted (signed
   * energy, Wh, export positive) and the reading's commitment, which goes on the chain.
   */
  readings?: AcceptedReading[];
  /** Blocks made final while settling it (the first settlement's include the chain's start). */
  chain?: MarketChainTelemetry[];
}

/** An authority's decision on a final block: accepted, refused (why), or offline (market/ledger/decisions.ts). */
export interface BlockDecision {
  authority: string;
  outcome: 'accepted' | 'refused' | 'offline';
  reason?: string;
}

/** A block made final on the chain, and each authority's decision on it. */
export interface MarketChainTelemetry {
  height: number;
  /** The authority that sealed it. */
  proposer: string;
  decisions: BlockDecision[];
}

/** A participant's account as the contract storage holds it (authority 0's state), micro-units. */
export interface MarketAccountTelemetry {
  balance: number;
  deposit: number;
  /** What a penalty took beyond the deposit. */
  debt: number;
  /** Penalties taken so far: the deposit locked at the start − the deposit now + the debt. */
  penalties: number;
  /** Intervals delivered within the tolerance (the contract's reward). */
  reputation: number;
}

export interface MarketLedgerTelemetry {
  /** `off` (not asked for), `starting` (deploying), `live`, `failed` (`reason`: the market goes on unsettled). */
  state: 'off' | 'starting' | 'live' | 'failed';
  reason?: string;
  authorities: number;
  /** Final blocks on the chain. */
  blocks: number;
  /** Intervals settled. */
  settled: number;
  /** Start of the last interval settled, s. */
  lastSettled_s?: number;
  /** Per participant, read back from the contract after the last settlement. */
  accounts: Record<string, MarketAccountTelemetry>;
  /** The pool (congestion rent, penalties), micro-units. */
  pool: number;
}

/** The market's report (`telemetry()` of the live market controller). */
export interface MarketView {
  /** The controller's id. */
  market: string;
  /** Twin time of the decision that made this record, s. */
  t_s: number;
  interval_s: number;
  gateClosure_s: number;
  pricing: 'uniform' | 'pay-as-bid';
  /** Every participant's microgrid, and the prosumer it belongs to (run config `prosumers`). */
  participants: Record<string, { microgrid: string; prosumer?: string }>;
  /** The latest intervals in full (at most three: cleared, delivering, just delivered), oldest first. */
  intervals: MarketIntervalTelemetry[];
  /** The last intervals in brief (at most 96), oldest first: prices per microgrid, volume, FIDs. */
  history: {
    intervalStart_s: number;
    prices: Record<string, number>;
    volume_wh: number;
    fids: Record<string, { cleared_wh: number; delivered_wh: number | null }>;
  }[];
  ledger: MarketLedgerTelemetry;
  /**
   * Meter readings the authorities refused (forged, replayed, late, unknown meter, malformed): how
   * many so far, and the last 20 with why, at which twin time, by which authority.
   */
  readingsRefused?: { count: number; last: (RefusedReading & { t_s: number })[] };
}

export interface MarketTelemetry extends ControllerTelemetry, MarketView {
  kind: 'market';
}

/** Whether a controller's telemetry is the market's (the bench reads it by this kind). */
export function isMarketTelemetry(value: ControllerTelemetry | undefined): value is MarketTelemetry {
  return value?.kind === 'market' && Array.isArray((value as { intervals?: unknown }).intervals);
}
