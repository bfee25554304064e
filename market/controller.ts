/**
 * The market as a controller of the twin (twin/control/contract.ts): every interval it collects the
 * bidding agents' orders, clears them across the microgrids with the FIDs' ratings as limits, and
 * schedules each FID to carry the cleared net exchange. Depends on the twin's contract only.
 */
import type { TwinState } from '../twin/api.ts';
import type {
  ActuatorRef,
  Controller,
  ControllerAction,
  RefusedAction,
  TwinCatalog,
} from '../twin/control/contract.ts';
import { type ClearingResult, clear, type MarketLink, type MarketNetwork } from './clearing.ts';
import {
  DEFAULT_MARKET_CONFIG,
  type MarketConfig,
  OrderBook,
  type Participant,
  type Refusal,
} from './orders.ts';

/** Turns the twin's state into orders for the interval starting at `intervalStart_s`. */
export type Bidder = (
  state: Readonly<TwinState>,
  intervalStart_s: number,
  ctx: { catalog: TwinCatalog; config: MarketConfig },
) => unknown[];

export interface MarketControllerOptions {
  /** FIDs the market schedules (claimed when the run is built). */
  fids: readonly string[];
  participants: ReadonlyMap<string, Participant>;
  bidder: Bidder;
  config?: Partial<MarketConfig>;
  /** Controller id. @default 'market' */
  id?: string;
  /**
   * Whether the ledger can make progress (a majority of authorities online). While it cannot, no new
   * clearing is scheduled: the FIDs keep the last cleared schedule for one interval, then return to
   * zero exchange. @default always true
   */
  ledgerLive?: () => boolean;
}

export interface IntervalRecord {
  intervalStart_s: number;
  /** Absent when the ledger could not make progress and nothing was cleared. */
  result?: ClearingResult;
  /** What the run says about this interval when it is not a normal clearing. */
  note?: string;
  refused: Refusal[];
  actions: ControllerAction[];
}

export class MarketController implements Controller {
  readonly id: string;
  readonly period_s: number;
  readonly claims: readonly ActuatorRef[];
  readonly config: MarketConfig;
  readonly history: IntervalRecord[] = [];
  readonly refusedActions: RefusedAction[] = [];
  private catalog?: TwinCatalog;
  private network?: MarketNetwork;
  /** Market link index → FID id (link a is always the FID's side A). */
  private fidOfLink: { fid: string }[] = [];

  constructor(private readonly options: MarketControllerOptions) {
    this.id = options.id ?? 'market';
    this.config = { ...DEFAULT_MARKET_CONFIG, ...options.config };
    this.period_s = this.config.interval_s;
    this.claims = options.fids.map((id) => ({ kind: 'fid' as const, id }));
  }

  attach(catalog: TwinCatalog): void {
    this.catalog = catalog;
    const mgOfBus = new Map<string, string>();
    for (const mg of catalog.microgrids) for (const b of mg.buses) mgOfBus.set(b, mg.id);
    const links: MarketLink[] = [];
    this.fidOfLink = [];
    const hours = this.config.interval_s / 3600;
    for (const id of this.options.fids) {
      const fid = catalog.fids.find((f) => f.id === id);
      if (!fid) throw new TypeError(`market: FID ${id} is not in the twin's catalog`);
      const a = mgOfBus.get(fid.busA);
      const b = mgOfBus.get(fid.busB);
      if (!a || !b || a === b)
        throw new TypeError(`market: FID ${id} must join two microgrids (buses ${fid.busA}, ${fid.busB})`);
      links.push({ id, a, b, cap_wh: Math.floor(fid.rating_mw * 1e6 * hours) });
      this.fidOfLink.push({ fid: id });
    }
    this.network = { microgrids: catalog.microgrids.map((m) => m.id), links };
  }

  /** Clears the interval that starts one gate-closure time from now and schedules the FIDs. */
  decide(state: Readonly<TwinState>, actions: ControllerAction[]): void {
    if (!this.catalog || !this.network) throw new Error('market: decide() before attach()');
    const start = state.t_s + this.config.gateClosure_s;
    if (this.options.ledgerLive && !this.options.ledgerLive()) {
      this.holdOrRelease(start, actions);
      return;
    }
    const book = new OrderBook(start, this.options.participants, this.config);
    for (const order of this.options.bidder(state, start, { catalog: this.catalog, config: this.config }))
      book.submit(order);
    const result = clear(book.orders, this.options.participants, this.config, this.network);
    const hours = this.config.interval_s / 3600;
    const mine: ControllerAction[] = result.links.map((l, k) => ({
      kind: 'fid-setpoint',
      id: this.fidOfLink[k].fid,
      // Link a is the FID's side A: the cleared flow a → b is the FID's A→B transfer, as average MW.
      p_mw: l.flow_wh / 1e6 / hours,
    }));
    actions.push(...mine);
    this.history.push({ intervalStart_s: start, result, refused: [...book.refused], actions: mine });
  }

  /** Ledger down: keep the last schedule for one interval, then zero exchange. */
  private holdOrRelease(start: number, actions: ControllerAction[]): void {
    const last = this.history.at(-1);
    const holding = last?.result !== undefined;
    const mine: ControllerAction[] = holding
      ? last.actions.map((a) => ({ ...a }))
      : this.options.fids.map((id) => ({ kind: 'fid-setpoint' as const, id, p_mw: 0 }));
    const note = holding
      ? 'ledger cannot make progress: FIDs keep the last cleared schedule for this interval'
      : 'ledger cannot make progress: FIDs return to zero exchange';
    actions.push(...mine);
    this.history.push({ intervalStart_s: start, note, refused: [], actions: mine });
  }

  feedback(refused: readonly RefusedAction[]): void {
    this.refusedActions.push(...refused);
  }
}

/**
 * A bidding agent per microgrid: its underlying net position (PCC import plus what the FIDs bring
 * in now) over the next interval, persistence forecast, at the user's limit prices. The microgrid's
 * participant id is the microgrid id.
 */
export function microgridAgents(limits: { buyPrice: number; sellPrice: number }): Bidder {
  return (state, intervalStart_s, { catalog, config }) => {
    const mgOfBus = new Map<string, string>();
    for (const mg of catalog.microgrids) for (const b of mg.buses) mgOfBus.set(b, mg.id);
    const fidInto = new Map<string, number>();
    for (const f of catalog.fids) {
      const s = state.fids?.[f.id];
      if (!s) continue;
      const a = mgOfBus.get(f.busA);
      const b = mgOfBus.get(f.busB);
      if (a) fidInto.set(a, (fidInto.get(a) ?? 0) + s.p_a_mw);
      if (b) fidInto.set(b, (fidInto.get(b) ?? 0) + s.p_b_mw);
    }
    const hours = config.interval_s / 3600;
    const orders: unknown[] = [];
    for (const mg of catalog.microgrids) {
      const m = state.microgrids?.[mg.id];
      if (!m) continue;
      const import_mw = m.pcc_p_mw + (fidInto.get(mg.id) ?? 0);
      const qty_wh = Math.round(Math.abs(import_mw) * 1e6 * hours);
      if (qty_wh === 0) continue;
      const buy = import_mw > 0;
      orders.push({
        id: `${mg.id}@${intervalStart_s}`,
        participant: mg.id,
        side: buy ? 'buy' : 'sell',
        qty_wh,
        price: buy ? limits.buyPrice : limits.sellPrice,
        t_s: state.t_s,
      });
    }
    return orders;
  };
}
