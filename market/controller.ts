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
  type Order,
  OrderBook,
  type Participant,
  type Refusal,
} from './orders.ts';
import {
  exchangeLimits,
  type IslandReserveOptions,
  islandReserves,
  NetLoadForecast,
  reserveRequirements,
} from './reserve.ts';

/** What a bidder knows besides the state: the twin's catalog, the market's rules, its actions in force. */
export interface BidderContext {
  catalog: TwinCatalog;
  config: MarketConfig;
  /** The market's actions for the interval running now (set-points, curtailments). */
  inForce?: readonly ControllerAction[];
}

/**
 * Turns the twin's state into orders for the interval starting at `intervalStart_s`; `observe`, when
 * given, sees the state at every wake-up of the controller (for forecasts), before any orders.
 */
export type Bidder = ((
  state: Readonly<TwinState>,
  intervalStart_s: number,
  ctx: BidderContext,
) => unknown[]) & {
  observe?(state: Readonly<TwinState>, ctx: BidderContext): void;
};

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
  /**
   * DERs the market dispatches (claimed): at the start of each interval each is set to its cleared
   * P2P position (sold − bought, as average MW), so what it sold is what it delivers. A battery that
   * trades through its agent is listed here; the others follow the microgrid's own control.
   */
  dispatch?: readonly string[];
  /**
   * The island reserve (market/reserve.ts): an islanded microgrid exports or imports only what its
   * grid-forming units can follow with this reserve, and the reserve is co-optimised with energy in
   * the clearing (priced, its providers paid). `false` turns it off.
   * @default {} (the defaults of ISLAND_RESERVE_DEFAULTS; net load forecast by the recent mean)
   */
  reserve?: IslandReserveOptions | false;
  /**
   * Flexible loads the market curtails (claimed), by the participant that bids for them: from the
   * start of each interval each of its loads is curtailed by the share of the participant's buy
   * orders that did not clear, so what clears is what is consumed.
   */
  curtail?: Readonly<Record<string, readonly string[]>>;
  /**
   * FID schedule ramp, s (docs/market.md, "FID schedule ramps"): at each interval's start every FID
   * moves linearly from its set-point to the new one over this time, the new one chosen so the
   * interval still carries the cleared energy (`rampedSetpoint`); each FID's capacity in the clearing
   * is its rating over the interval less this time. 0 = a step (under the converter's ramp rate).
   * @default 0
   */
  fidRamp_s?: number;
}

/**
 * The set-point that carries `target_mw` on average over an interval of `interval_s` when the
 * schedule ramps linearly from `from_mw` to it over the first `ramp_s`:
 * from·T/2 + p·(I − T/2) = target·I.
 */
export function rampedSetpoint(
  from_mw: number,
  target_mw: number,
  interval_s: number,
  ramp_s: number,
): number {
  if (!(ramp_s > 0)) return target_mw;
  return (target_mw * interval_s - (from_mw * ramp_s) / 2) / (interval_s - ramp_s / 2);
}

export interface IntervalRecord {
  intervalStart_s: number;
  /** Twin time the interval was cleared at (one gate-closure time before it starts). */
  clearedAt_s: number;
  /** Absent when the ledger could not make progress and nothing was cleared. */
  result?: ClearingResult;
  /** What the run says about this interval when it is not a normal clearing. */
  note?: string;
  refused: Refusal[];
  /** The orders the book admitted, as submitted (what is committed on the chain; before any holdback). */
  orders?: readonly Order[];
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
  /** Grid-forming participants (DER id) → their microgrid: the island reserve's providers. */
  private gridFormingOf = new Map<string, string>();
  /** Each island's local net load, forecast for the reserve requirement. */
  private netLoad?: NetLoadForecast;
  /** The interval cleared at its gate closure, delivered when it starts. */
  private pending?: IntervalRecord;
  /** The actions of the interval running now. */
  private inForce: readonly ControllerAction[] = [];
  /** Each FID's last set-point the market sent (where the next schedule ramp starts), MW. */
  private readonly fidSetpoint = new Map<string, number>();

  /** The market's actions for the interval running now (meters split a microgrid's load by them). */
  get actionsInForce(): readonly ControllerAction[] {
    return this.inForce;
  }

  constructor(private readonly options: MarketControllerOptions) {
    this.id = options.id ?? 'market';
    this.config = { ...DEFAULT_MARKET_CONFIG, ...options.config };
    const { interval_s, gateClosure_s } = this.config;
    const ramp = options.fidRamp_s ?? 0;
    if (!(ramp >= 0 && ramp < interval_s))
      throw new TypeError(`market: fidRamp_s ${ramp} must be ≥ 0 and shorter than interval_s ${interval_s}`);
    // Cleared at the gate closure, delivered from the interval's start: the controller wakes at both,
    // so it runs every gate-closure time, which must divide the interval.
    if (!(gateClosure_s >= 0) || (gateClosure_s > 0 && interval_s % gateClosure_s !== 0))
      throw new TypeError(`market: gateClosure_s ${gateClosure_s} must divide interval_s ${interval_s}`);
    this.period_s = gateClosure_s > 0 ? gateClosure_s : interval_s;
    if (options.reserve !== false) this.netLoad = new NetLoadForecast(options.reserve?.forecast);
    this.claims = [
      ...options.fids.map((id) => ({ kind: 'fid' as const, id })),
      ...(options.dispatch ?? []).map((id) => ({ kind: 'der' as const, id })),
      ...Object.values(options.curtail ?? {}).flatMap((loads) =>
        loads.map((id) => ({ kind: 'load' as const, id })),
      ),
    ];
  }

  /** The registered participants (by id). */
  get participants(): ReadonlyMap<string, Participant> {
    return this.options.participants;
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
      // A ramped schedule reaches the rating only after the ramp (rampedSetpoint stays within it).
      const carrying_h = hours - (this.options.fidRamp_s ?? 0) / 3600;
      links.push({ id, a, b, cap_wh: Math.floor(fid.rating_mw * 1e6 * carrying_h) });
      this.fidOfLink.push({ fid: id });
    }
    this.network = { microgrids: catalog.microgrids.map((m) => m.id), links };
    this.gridFormingOf = new Map(
      catalog.ders
        .filter((d) => d.gridForming && d.microgrid && this.participants.get(d.id)?.microgrid === d.microgrid)
        .map((d) => [d.id, d.microgrid!]),
    );
  }

  /**
   * At an interval's gate closure: clears it. At its start: schedules the FIDs (and the dispatched
   * DERs) to carry what was cleared, for the whole interval.
   */
  decide(state: Readonly<TwinState>, actions: ControllerAction[]): void {
    if (!this.catalog || !this.network) throw new Error('market: decide() before attach()');
    const { interval_s, gateClosure_s } = this.config;
    // What was cleared is delivered from the wake-up at the interval start; orders are collected at
    // the last wake-up before the gate closes (or at it), so every order the agents send is in time.
    const due = this.pending;
    if (due && Math.abs(state.t_s - due.intervalStart_s) < this.period_s / 2) {
      actions.push(...due.actions);
      this.inForce = due.actions;
      this.pending = undefined;
    }
    this.options.bidder.observe?.(state, this.bidderContext());
    this.netLoad?.observe(state, this.catalog);
    const gate = state.t_s + gateClosure_s;
    const start = Math.ceil((gate - 1e-9) / interval_s) * interval_s;
    if (start - gate < this.period_s - 1e-9 && this.pending?.intervalStart_s !== start) {
      this.pending =
        this.options.ledgerLive && !this.options.ledgerLive()
          ? this.holdOrRelease(state, start)
          : this.clearInterval(state, start);
      this.history.push(this.pending);
    }
  }

  private clearInterval(state: Readonly<TwinState>, start: number): IntervalRecord {
    const book = new OrderBook(start, this.options.participants, this.config);
    for (const order of this.options.bidder(state, start, this.bidderContext())) book.submit(order);
    const { interval_s } = this.config;
    const network = this.liveNetwork(state);
    // Island reserve: the exchange each island's grid-forming units can follow, and the reserve they
    // keep, co-optimised with energy, on the island's net load forecast at the gate closure.
    const reserve = this.options.reserve ?? {};
    if (reserve !== false) {
      const forecast = (mg: string) =>
        this.netLoad?.forecast(this.catalog!, mg, start, interval_s, start - this.config.gateClosure_s);
      const reserves = islandReserves(state, this.catalog!, interval_s, reserve, forecast);
      network.limits = exchangeLimits(reserves, interval_s);
      network.reserves = reserveRequirements(reserves, this.gridFormingOf, interval_s);
    }
    const result = clear(book.orders, this.options.participants, this.config, network);
    const hours = interval_s / 3600;
    // Link a is the FID's side A: the cleared flow a → b is the FID's A→B transfer, as average MW.
    const mine = this.fidActions(
      state,
      result.links.map((l) => l.flow_wh / 1e6 / hours),
    );
    for (const id of this.options.dispatch ?? []) {
      let sold_wh = 0;
      for (const f of result.fills)
        if (f.participant === id) sold_wh += f.side === 'sell' ? f.filled_wh : -f.filled_wh;
      mine.push({ kind: 'der-setpoint', id, p_mw: sold_wh / 1e6 / hours });
    }
    for (const [participant, loads] of Object.entries(this.options.curtail ?? {})) {
      let wanted = 0;
      let unmatched = 0;
      for (const f of result.fills)
        if (f.participant === participant && f.side === 'buy') {
          wanted += f.filled_wh + f.unmatched_wh;
          unmatched += f.unmatched_wh;
        }
      const fraction = wanted > 0 ? unmatched / wanted : 0;
      for (const id of loads) mine.push({ kind: 'load-curtail', id, fraction });
    }
    return {
      intervalStart_s: start,
      clearedAt_s: state.t_s,
      result,
      refused: [...book.refused],
      orders: book.orders,
      actions: mine,
    };
  }

  /**
   * The network as it can carry energy now: a FID with a side in a de-energised island (a microgrid
   * that blacked out) carries nothing, so the market does not clear an exchange through it.
   */
  private liveNetwork(state: Readonly<TwinState>): MarketNetwork {
    const network = this.network!;
    const dead = new Set<string>();
    for (const island of state.islands) if (!island.energised) for (const b of island.buses) dead.add(b);
    if (dead.size === 0) return { ...network };
    const fids = this.catalog!.fids;
    return {
      microgrids: network.microgrids,
      links: network.links.map((l) => {
        const f = fids.find((x) => x.id === l.id);
        return f && (dead.has(f.busA) || dead.has(f.busB)) ? { ...l, cap_wh: 0 } : l;
      }),
    };
  }

  /**
   * Each FID's set-point for an interval whose average transfer A→B is `average_mw[k]` (FID k of
   * `fidOfLink`), ramped from its last set-point when `fidRamp_s` is set.
   */
  private fidActions(state: Readonly<TwinState>, average_mw: readonly number[]): ControllerAction[] {
    const ramp_s = this.options.fidRamp_s ?? 0;
    return average_mw.map((target, k) => {
      const id = this.fidOfLink[k].fid;
      const s = state.fids?.[id];
      // Before the market's first set-point, the ramp starts from what the FID carries now.
      const from = this.fidSetpoint.get(id) ?? (s ? (s.p_a_mw > 0 ? -s.p_a_mw : s.p_b_mw) : 0);
      const p_mw = rampedSetpoint(from, target, this.config.interval_s, ramp_s);
      this.fidSetpoint.set(id, p_mw);
      return ramp_s > 0
        ? { kind: 'fid-setpoint' as const, id, p_mw, ramp_s }
        : { kind: 'fid-setpoint' as const, id, p_mw };
    });
  }

  /** Ledger down: keep the last schedule for one interval, then zero exchange. */
  private holdOrRelease(state: Readonly<TwinState>, start: number): IntervalRecord {
    const t_s = state.t_s;
    const last = this.history.at(-1);
    const holding = last?.result !== undefined;
    const hours = this.config.interval_s / 3600;
    const mine: ControllerAction[] = holding
      ? [
          ...this.fidActions(
            state,
            last.result!.links.map((l) => l.flow_wh / 1e6 / hours),
          ),
          ...last.actions.filter((a) => a.kind !== 'fid-setpoint').map((a) => ({ ...a })),
        ]
      : [
          ...this.fidActions(
            state,
            this.options.fids.map(() => 0),
          ),
          ...(this.options.dispatch ?? []).map((id) => ({ kind: 'der-setpoint' as const, id, p_mw: 0 })),
          ...Object.values(this.options.curtail ?? {}).flatMap((loads) =>
            loads.map((id) => ({ kind: 'load-curtail' as const, id, fraction: 0 })),
          ),
        ];
    const note = holding
      ? 'ledger cannot make progress: FIDs keep the last cleared schedule for this interval'
      : 'ledger cannot make progress: FIDs return to zero exchange';
    return { intervalStart_s: start, clearedAt_s: t_s, note, refused: [], actions: mine };
  }

  private bidderContext(): BidderContext {
    return { catalog: this.catalog!, config: this.config, inForce: this.inForce };
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
