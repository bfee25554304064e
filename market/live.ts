/**
 * The P2P market as a controller of the live bench (docs/market.md, "On the live bench"): the
 * `MarketController` (agents' orders → clearing across the microgrids → FID schedules) plus what a
 * live market needs around it — each participant's meter and each FID's transfer, sampled every
 * `sample_s` of twin time and integrated per interval; settlement of every delivered interval on the
 * ledger (when there is one); and a telemetry record whenever an interval is cleared, delivered or
 * settled. Depends on the twin's contract only (the ledger comes in through `ledger`).
 */
import type { TwinEvent, TwinState } from '../twin/api.ts';
import type {
  ActuatorRef,
  Controller,
  ControllerAction,
  ControllerTelemetry,
  RefusedAction,
  TwinCatalog,
} from '../twin/control/contract.ts';
import { flexParticipant, loadConsumption, loadParticipant } from './agents.ts';
import type { ClearingResult } from './clearing.ts';
import { type IntervalRecord, MarketController, type MarketControllerOptions } from './controller.ts';
import type { Order, Participant } from './orders.ts';
import { declaredPositions } from './position.ts';
import type {
  MarketIntervalTelemetry,
  MarketLedgerTelemetry,
  MarketTelemetry,
  MarketView,
} from './telemetry.ts';

/** What the live market needs of a ledger (market/live-ledger.ts on the embedded chain). */
export interface LiveSettlement {
  readonly authorities: number;
  readonly blocks: number;
  /** `participants`: the market's registry, for the declared-position rule (market/position.ts). */
  settle(
    k: number,
    result: ClearingResult,
    metered: ReadonlyMap<string, number>,
    participants?: ReadonlyMap<string, Participant>,
  ): Promise<void>;
  accounts(): Promise<Pick<MarketLedgerTelemetry, 'accounts' | 'pool'>>;
  close(): Promise<void>;
}

export interface LiveMarketOptions extends MarketControllerOptions {
  /** Twin time between samples of the meters and FIDs, s; must divide the gate-closure time. @default 1 */
  sample_s?: number;
  /** Participant id → the prosumer it belongs to (who may see its data). */
  prosumers?: Readonly<Record<string, string>>;
  /** Starts the ledger (in the background: the market clears before it is up, unsettled). */
  ledger?: () => Promise<LiveSettlement>;
  /** Authorities the ledger will have (reported while it starts). */
  authorities?: number;
  /** Participants metered as the sum of DERs (a VPP bidding for its members): participant → DER ids. */
  meteredAs?: Readonly<Record<string, readonly string[]>>;
}

/** Money each participant starts with on the ledger, and the part locked as its deposit, micro-units. */
export const LIVE_CREDIT = 10n ** 13n;
export const LIVE_DEPOSIT = 10n ** 12n;

/** Intervals kept in full, and in brief. */
const FULL = 4;
const BRIEF = 96;

/** The converter's transfer A→B, MW: the sending side also supplies the losses (as bench/market/market-day.ts). */
const transferOf = (s: { p_a_mw: number; p_b_mw: number }) => (s.p_a_mw > 0 ? -s.p_a_mw : s.p_b_mw);

export class LiveMarketController implements Controller {
  readonly id: string;
  readonly period_s: number;
  readonly claims: readonly ActuatorRef[];
  readonly market: MarketController;
  private catalog?: TwinCatalog;
  /** Raw orders per interval start, as the agents sent them (the book's limit prices). */
  private readonly books = new Map<number, Order[]>();
  /** Per interval start: energy per participant and per FID so far, Wh. */
  private readonly metered = new Map<
    number,
    { participants: Map<string, number>; fids: Map<string, number> }
  >();
  private readonly intervals: MarketIntervalTelemetry[] = [];
  private readonly history: MarketView['history'] = [];
  private last?: { t_s: number; powers: Map<string, number>; fids: Map<string, number> };
  private slot = Number.NaN;
  private news = false;
  private ledgerState: MarketLedgerTelemetry;
  private ledger?: LiveSettlement;
  /** Settlements in order, one at a time. */
  private queue: Promise<void> = Promise.resolve();
  /** DER → the participant it is metered as (meteredAs). */
  private readonly meteredBy = new Map<string, string>();

  constructor(private readonly options: LiveMarketOptions) {
    const agents = options.bidder;
    this.market = new MarketController({
      ...options,
      bidder: (state, start, ctx) => {
        const orders = agents(state, start, ctx);
        this.books.set(start, orders as Order[]);
        return orders;
      },
    });
    this.id = this.market.id;
    this.claims = this.market.claims;
    const sample = options.sample_s ?? 1;
    if (
      !(sample > 0) ||
      Math.abs(this.market.period_s / sample - Math.round(this.market.period_s / sample)) > 1e-9
    )
      throw new TypeError(
        `market: sample_s ${sample} must divide the gate-closure time ${this.market.period_s} s`,
      );
    this.period_s = sample;
    for (const [participant, ders] of Object.entries(options.meteredAs ?? {}))
      for (const der of ders) this.meteredBy.set(der, participant);
    this.ledgerState = {
      state: options.ledger ? 'starting' : 'off',
      authorities: options.ledger ? (options.authorities ?? 3) : 0,
      blocks: 0,
      settled: 0,
      accounts: {},
      pool: 0,
    };
    if (options.ledger) {
      // In the background: a chain that takes its time to deploy never holds the market up.
      this.queue = options
        .ledger()
        .then(async (ledger) => {
          this.ledger = ledger;
          this.ledgerState.state = 'live';
          this.ledgerState.authorities = ledger.authorities;
          await this.readAccounts();
        })
        .catch((err: unknown) => this.ledgerFailed(err));
    }
  }

  attach(catalog: TwinCatalog): void {
    this.catalog = catalog;
    this.market.attach(catalog);
  }

  /**
   * Samples the meters and FIDs; at every gate-closure time, the market's own decision (clear an
   * interval, schedule the FIDs); when an interval is over, its deliveries and its settlement.
   */
  decide(state: Readonly<TwinState>, actions: ControllerAction[]): void {
    this.sample(state);
    const slot = Math.floor((state.t_s + 1e-6) / this.market.period_s);
    if (slot === this.slot) return;
    this.slot = slot;
    const before = this.market.history.length;
    this.market.decide(state, actions);
    for (const record of this.market.history.slice(before)) this.addInterval(record);
    for (const i of this.intervals) {
      if (i.state === 'cleared' && state.t_s + 1e-6 >= i.intervalStart_s) {
        i.state = 'delivering';
        this.news = true;
      }
    }
  }

  feedback(refused: readonly RefusedAction[], _events: readonly TwinEvent[]): void {
    this.market.feedback(refused);
  }

  /** A record when an interval was cleared, delivered or settled since the last one; else nothing. */
  telemetry(): ControllerTelemetry | undefined {
    if (!this.news) return undefined;
    this.news = false;
    const { interval_s, gateClosure_s, pricing } = this.market.config;
    const participants: MarketView['participants'] = {};
    for (const [id, p] of this.market.participants) {
      const prosumer = this.options.prosumers?.[id];
      participants[id] = { microgrid: p.microgrid, ...(prosumer ? { prosumer } : {}) };
    }
    const record: MarketTelemetry = {
      kind: 'market',
      market: this.id,
      t_s: this.last?.t_s ?? 0,
      interval_s,
      gateClosure_s,
      pricing,
      participants,
      // Copies: the worker posts the record, but a test may hold it while the market goes on.
      intervals: structuredClone(this.intervals),
      history: structuredClone(this.history),
      ledger: structuredClone(this.ledgerState),
    };
    return record;
  }

  detach(): void {
    void this.ledger?.close().catch(() => {});
  }

  /** Integrates the powers held since the last sample into the interval they belong to. */
  private sample(state: Readonly<TwinState>): void {
    const catalog = this.catalog;
    if (!catalog) throw new Error('market: decide() before attach()');
    const { interval_s } = this.market.config;
    const last = this.last;
    if (last && state.t_s > last.t_s) {
      // The powers of the last sample held until now, split at interval boundaries: a late sample
      // (the worker busy settling) must not move energy into the interval before.
      let from = last.t_s;
      while (from < state.t_s) {
        const start = Math.floor((from + 1e-6) / interval_s) * interval_s;
        const to = Math.min(state.t_s, start + interval_s);
        let bucket = this.metered.get(start);
        if (!bucket) {
          bucket = { participants: new Map(), fids: new Map() };
          this.metered.set(start, bucket);
        }
        const hours = (to - from) / 3600;
        for (const [id, p] of last.powers)
          bucket.participants.set(id, (bucket.participants.get(id) ?? 0) + p * 1e6 * hours);
        for (const [id, p] of last.fids) bucket.fids.set(id, (bucket.fids.get(id) ?? 0) + p * 1e6 * hours);
        from = to;
      }
      const start = Math.floor((state.t_s + 1e-6) / interval_s) * interval_s;
      // Buckets of intervals long gone (dropped from the record before they were delivered).
      for (const key of this.metered.keys()) if (key < start - 4 * interval_s) this.metered.delete(key);
      // Intervals over by now: their deliveries are known.
      for (const i of this.intervals)
        if (i.state === 'delivering' && state.t_s + 1e-6 >= i.intervalStart_s + interval_s) this.delivered(i);
    }
    const powers = new Map<string, number>();
    const made = new Map<string, number>();
    for (const der of catalog.ders) {
      const now = state.devices[der.id];
      const p = now?.online && !now.tripped ? now.p_mw : 0;
      if (der.microgrid) made.set(der.microgrid, (made.get(der.microgrid) ?? 0) + p);
      if (this.market.participants.has(der.id)) powers.set(der.id, p);
      else if (this.meteredBy.has(der.id)) {
        const group = this.meteredBy.get(der.id)!;
        powers.set(group, (powers.get(group) ?? 0) + p);
      }
    }
    for (const mg of catalog.microgrids) {
      // A microgrid's loads take what its DERs make and what flows in (as the agents bid it), split
      // between its firm and flexible participants.
      const use = loadConsumption(state, catalog, mg.id, made.get(mg.id) ?? 0, this.market.actionsInForce);
      const firm = loadParticipant(mg.id);
      const flex = flexParticipant(mg.id);
      if (this.market.participants.has(firm)) powers.set(firm, -use.firm_mw);
      if (this.market.participants.has(flex)) powers.set(flex, -use.flex_mw);
    }
    const fids = new Map<string, number>();
    for (const id of this.options.fids) {
      const s = state.fids?.[id];
      if (s) fids.set(id, transferOf(s));
    }
    this.last = { t_s: state.t_s, powers, fids };
  }

  private addInterval(record: IntervalRecord): void {
    const result = record.result;
    const raw = new Map((this.books.get(record.intervalStart_s) ?? []).map((o) => [o.id, o]));
    this.books.delete(record.intervalStart_s);
    const interval: MarketIntervalTelemetry = {
      intervalStart_s: record.intervalStart_s,
      clearedAt_s: record.clearedAt_s,
      state: result ? 'cleared' : 'not-settled',
      ...(record.note ? { note: record.note } : {}),
      prices: result ? result.prices.map((p) => ({ ...p })) : [],
      volume_wh: result?.volume_wh ?? 0,
      pool: result?.pool ?? 0,
      orders: (result?.fills ?? []).map((f) => {
        const o = raw.get(f.orderId);
        return {
          id: f.orderId,
          participant: f.participant,
          microgrid: f.microgrid,
          side: f.side,
          qty_wh: f.filled_wh + f.unmatched_wh,
          limit: o?.price ?? f.price,
          filled_wh: f.filled_wh,
          price: f.price,
          amount: f.amount,
          grid_amount: f.gridAmount,
        };
      }),
      refused: record.refused.map((r) => ({ ...r })),
      fids: (result?.links ?? []).map((l) => ({
        fid: l.id,
        cleared_wh: l.flow_wh,
        delivered_wh: null,
        binding: l.binding,
        ...(l.message ? { message: l.message } : {}),
      })),
      deliveries: [],
    };
    this.intervals.push(interval);
    // Whole intervals only: the oldest goes once it is over (delivered or settled).
    while (this.intervals.length > FULL) this.intervals.shift();
    if (result) this.brief(interval);
    this.news = true;
  }

  /** The interval is over: FID energy and each participant's meter; then its settlement. */
  private delivered(i: MarketIntervalTelemetry): void {
    const bucket = this.metered.get(i.intervalStart_s);
    this.metered.delete(i.intervalStart_s);
    for (const f of i.fids) f.delivered_wh = Math.round(bucket?.fids.get(f.fid) ?? 0);
    const record = this.market.history.find((h) => h.intervalStart_s === i.intervalStart_s);
    // Declared positions by the settlement's rule (market/position.ts): a dispatchable unit is held
    // to its matched volume, the rest of the others' orders goes to the grid.
    const declared = declaredPositions(record?.result?.fills ?? [], this.market.participants);
    const metered = new Map<string, number>();
    for (const [p, cleared] of declared) {
      const m = Math.round(bucket?.participants.get(p) ?? 0);
      metered.set(p, m);
      i.deliveries.push({ participant: p, cleared_wh: cleared, metered_wh: m });
    }
    i.deliveries.sort((a, b) => (a.participant < b.participant ? -1 : 1));
    i.state = 'delivered';
    this.brief(i);
    this.news = true;
    if (record?.result && this.ledgerState.state !== 'off') this.settle(i, record.result, metered);
  }

  private settle(i: MarketIntervalTelemetry, result: ClearingResult, metered: Map<string, number>): void {
    // The chain's interval number: 1 for the interval starting at 0 s.
    const k = Math.round(i.intervalStart_s / this.market.config.interval_s) + 1;
    this.queue = this.queue.then(async () => {
      if (!this.ledger) {
        i.state = 'not-settled';
        i.note = `ledger ${this.ledgerState.state}${this.ledgerState.reason ? `: ${this.ledgerState.reason}` : ''}: not settled`;
        this.news = true;
        return;
      }
      try {
        await this.ledger.settle(k, result, metered, this.market.participants);
        i.state = 'settled';
        this.ledgerState.settled++;
        this.ledgerState.lastSettled_s = i.intervalStart_s;
        await this.readAccounts();
      } catch (err) {
        i.state = 'not-settled';
        i.note = `settlement failed: ${err instanceof Error ? err.message : String(err)}`;
      }
      this.news = true;
    });
  }

  private async readAccounts(): Promise<void> {
    if (!this.ledger) return;
    const { accounts, pool } = await this.ledger.accounts();
    this.ledgerState.accounts = accounts;
    this.ledgerState.pool = pool;
    this.ledgerState.blocks = this.ledger.blocks;
    this.news = true;
  }

  private ledgerFailed(err: unknown): void {
    this.ledgerState.state = 'failed';
    this.ledgerState.reason = err instanceof Error ? err.message : String(err);
    this.news = true;
  }

  /** The interval in brief, for the price and FID charts (replaced as it goes on). */
  private brief(i: MarketIntervalTelemetry): void {
    const entry = {
      intervalStart_s: i.intervalStart_s,
      prices: Object.fromEntries(i.prices.map((p) => [p.microgrid, p.price])),
      volume_wh: i.volume_wh,
      fids: Object.fromEntries(
        i.fids.map((f) => [f.fid, { cleared_wh: f.cleared_wh, delivered_wh: f.delivered_wh }]),
      ),
    };
    const at = this.history.findIndex((h) => h.intervalStart_s === i.intervalStart_s);
    if (at >= 0) this.history[at] = entry;
    else this.history.push(entry);
    while (this.history.length > BRIEF) this.history.shift();
  }
}
