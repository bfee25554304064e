/**
 * The market day settled on the embedded proof-of-authority chain (docs/market.md, "Settlement of the
 * market day"). Each interval's admitted orders, at its gate closure, become one Merkle root per
 * microgrid's book (deposits checked by the contract), committed in the next block. Every interval
 * the market delivered is, at its end: metered from the twin (each participant's net energy, signed
 * by its meter's Ed25519 key and accepted by its microgrid's authority), its reading commitments put
 * on the chain, its clearing result voted by every authority and settled against the metered energy
 * (the declared-position rule, the passive prosumers by the community sharing rule, penalties and
 * rewards by the contract's rules). At the end
 * of the run the chain is written into the run folder (`persistLedger`: ledger/chain.jsonl,
 * accounts.json), which `gridloop ledger verify` re-executes from genesis.
 *
 * Settling is asynchronous (a chain) while the twin steps synchronously: each interval's work is
 * queued in order as the interval ends, with everything it needs captured then, so the chain is the
 * same whether the queue runs between steps or after the last one; `finish` waits for it.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { flexParticipant, loadConsumption, loadParticipant } from '../../market/agents.ts';
import type { ClearingResult } from '../../market/clearing.ts';
import type { IntervalRecord } from '../../market/controller.ts';
import { keccak } from '../../market/ledger/abi.ts';
import type { BlockOutcome } from '../../market/ledger/chain.ts';
import { LedgerError } from '../../market/ledger/chain.ts';
import { type LedgerRules, MarketLedger, resultHash, settlementOf } from '../../market/ledger/ledger.ts';
import { type BookCommitment, bookCommitments } from '../../market/ledger/order-commitment.ts';
import { persistLedger } from '../../market/ledger/persist.ts';
import { MeterRegister, signReading } from '../../market/metering.ts';
import { DEFAULT_MARKET_CONFIG } from '../../market/orders.ts';
import type { SharingRule } from '../../market/sharing.ts';
import type { TwinState } from '../../twin/api.ts';
import type { ControllerAction, TwinCatalog } from '../../twin/control/contract.ts';
import type { Scenario } from '../../twin/scenario/load.ts';
import type { PointSink } from '../recording/schema.ts';
import type { SimulateRunOptions } from '../recording/simulate-run.ts';
import { MARKET_DEPOSIT, type MarketDay, marketDayOf } from './market-day.ts';

/** Money each participant brings into the market at the start, micro-units (10⁷ money units). */
export const SETTLEMENT_CREDIT = 10n ** 13n;
/**
 * Of which locked as its deposit (penalties are taken from it), micro-units, unless
 * `market.settlement.deposits` names its own: the deposit the order book admits orders against.
 */
export const SETTLEMENT_DEPOSIT = BigInt(MARKET_DEPOSIT);

/** The delivery rules when the scenario's `market.settlement` does not set them (docs/market.md). */
export const DEFAULT_SETTLEMENT_RULES = { toleranceWh: 100, tolerancePermille: 50, penaltyPerWh: 100 };

/**
 * Net energy of every participant per interval, from the twin's states (Wh, export positive): a DER
 * its output (zero while offline or tripped); a microgrid's loads (`load:<mg>`) minus their demand —
 * what the microgrid's DERs make plus what its PCC and FIDs bring in.
 */
export class ParticipantMeters {
  private readonly energy = new Map<number, Map<string, number>>();
  private lastT = 0;

  constructor(
    private readonly catalog: TwinCatalog,
    readonly interval_s: number,
    /** The market's actions in force (its curtailments split a microgrid's load between participants). */
    private readonly inForce: () => readonly ControllerAction[] = () => [],
  ) {}

  readonly onStep = (state: TwinState): void => {
    const dt = state.t_s - this.lastT;
    this.lastT = state.t_s;
    // The step that ends at t covered (t − dt, t]: it belongs to the interval holding its middle.
    const start = Math.floor((state.t_s - dt / 2) / this.interval_s) * this.interval_s;
    let m = this.energy.get(start);
    if (!m) {
      m = new Map();
      this.energy.set(start, m);
    }
    const toWh = (p_mw: number) => (p_mw * 1e6 * dt) / 3600;
    const made = new Map<string, number>();
    for (const d of this.catalog.ders) {
      const now = state.devices[d.id];
      const p = now?.online && !now.tripped ? now.p_mw : 0;
      m.set(d.id, (m.get(d.id) ?? 0) + toWh(p));
      if (d.microgrid) made.set(d.microgrid, (made.get(d.microgrid) ?? 0) + p);
    }
    for (const mg of this.catalog.microgrids) {
      const use = loadConsumption(state, this.catalog, mg.id, made.get(mg.id) ?? 0, this.inForce());
      const firm = loadParticipant(mg.id);
      m.set(firm, (m.get(firm) ?? 0) - toWh(use.firm_mw));
      if (use.flex_mw === 0) continue;
      const flex = flexParticipant(mg.id);
      m.set(flex, (m.get(flex) ?? 0) - toWh(use.flex_mw));
    }
  };

  /** Each participant's energy over the interval starting at `start`, Wh (unrounded). */
  of(start: number): ReadonlyMap<string, number> {
    return this.energy.get(start) ?? new Map();
  }

  /** Forgets an interval once settled (a day of 100 ms steps keeps only what is still open). */
  drop(start: number): void {
    this.energy.delete(start);
  }
}

/** A meter's Ed25519 key, derived from the run's seed and its id (the same run signs the same way). */
function meterKey(seed: string, meter: string): KeyObject {
  // PKCS#8 DER prefix of an Ed25519 private key, then the 32-byte seed.
  const prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
  const secret = keccak(new TextEncoder().encode(`gridloop-meter:${seed}:${meter}`));
  return createPrivateKey({ key: Buffer.concat([prefix, secret]), format: 'der', type: 'pkcs8' });
}

export interface SettlementOptions {
  /** Authorities of the chain (one per microgrid at least). @default max(3, microgrids) */
  authorities?: number;
  toleranceWh?: number;
  tolerancePermille?: number;
  penaltyPerWh?: number;
  /** Seeds the authority and meter keys. */
  seed: string;
  /** Community sharing rule of the passive prosumers. @default 'mid-market-rate' */
  sharing?: SharingRule;
}

export interface SettlementReport {
  authorities: number;
  rules: LedgerRules;
  /** Intervals settled on the chain (interval numbers: start = number × interval_s). */
  settled: number[];
  /** Intervals that could not be settled, and why (the chain refused, no progress). */
  unsettled: { interval: number; reason: string }[];
  /** Meter readings the authorities refused (none in an honest run). */
  readingsRefused: string[];
  /** Order books committed on the chain (one Merkle root per microgrid and interval), and their orders. */
  books: number;
  orders: number;
  blocks: number;
  gas: bigint;
  /** Whether the chain was written into the run folder (ledger/). */
  persisted: boolean;
}

/** Settles a market day on the embedded chain and writes it into the run folder. */
export class MarketSettlement {
  readonly meters: ParticipantMeters;
  private readonly registers: Map<number, MeterRegister>;
  private readonly authorityOf: Map<string, number>;
  private readonly keys = new Map<string, KeyObject>();
  private readonly participants: string[];
  private queue: Promise<void> = Promise.resolve();
  private failure?: unknown;
  private settledUntil: number;
  private sink?: { point: PointSink; timeOf: (t_s: number) => bigint };
  private blocksRecorded = 0;
  private readonly report: SettlementReport;
  /** Microgrid → the authority its meters and order book belong to. */
  private readonly authorityOfMicrogrid: Map<string, number>;
  /** Order books cleared at a gate closure, waiting for the next block (with their records). */
  private pendingBooks: { record: IntervalRecord; books: BookCommitment[] }[] = [];
  private historySeen = 0;

  private constructor(
    readonly market: MarketDay,
    readonly ledger: MarketLedger,
    readonly rules: LedgerRules,
    seed: string,
    private readonly sharing: SharingRule,
  ) {
    const catalog = market.catalog;
    const interval_s = market.section.interval_s;
    this.meters = new ParticipantMeters(catalog, interval_s, () => market.controller.actionsInForce);
    const n = ledger.engine.authorities.length;
    this.registers = new Map(
      Array.from({ length: n }, (_, i) => [i, new MeterRegister(`${seed}/authority${i}`, interval_s)]),
    );
    // Each microgrid's meters are registered with one authority (microgrid i → authority i mod n).
    const mgIndex = new Map(catalog.microgrids.map((m, i) => [m.id, i % n]));
    this.authorityOfMicrogrid = mgIndex;
    this.participants = [...market.controller.participants.keys()].sort();
    this.authorityOf = new Map();
    for (const p of this.participants) {
      const a = mgIndex.get(market.controller.participants.get(p)!.microgrid) ?? 0;
      this.authorityOf.set(p, a);
      const key = meterKey(seed, `meter:${p}`);
      this.keys.set(p, key);
      this.registers.get(a)!.register(`meter:${p}`, p, createPublicKey(key));
    }
    this.settledUntil = -Infinity;
    this.report = {
      authorities: n,
      rules,
      settled: [],
      unsettled: [],
      readingsRefused: [],
      books: 0,
      orders: 0,
      blocks: 0,
      gas: 0n,
      persisted: false,
    };
  }

  /**
   * Deploys the ledger (a fresh embedded chain), credits every participant and locks its deposit.
   */
  static async create(market: MarketDay, options: SettlementOptions): Promise<MarketSettlement> {
    const section = market.section;
    const rules: LedgerRules = {
      retailPrice: section.retailPrice ?? DEFAULT_MARKET_CONFIG.retailPrice,
      feedInPrice: section.feedInPrice ?? DEFAULT_MARKET_CONFIG.feedInPrice,
      toleranceWh: options.toleranceWh ?? DEFAULT_SETTLEMENT_RULES.toleranceWh,
      tolerancePermille: options.tolerancePermille ?? DEFAULT_SETTLEMENT_RULES.tolerancePermille,
      penaltyPerWh: options.penaltyPerWh ?? DEFAULT_SETTLEMENT_RULES.penaltyPerWh,
    };
    const n = options.authorities ?? Math.max(3, market.catalog.microgrids.length);
    const ledger = await MarketLedger.deploy(n, rules, options.seed);
    const registry = market.controller.participants;
    const participants = [...registry.keys()].sort();
    await ledger.credit(new Map(participants.map((p) => [p, SETTLEMENT_CREDIT])));
    // Each participant locks the deposit the order book admits its orders against.
    await ledger.lockDeposits(
      new Map(
        participants.map((p) => [p, BigInt(registry.get(p)!.deposit)] as const).filter(([, d]) => d > 0n),
      ),
    );
    return new MarketSettlement(market, ledger, rules, options.seed, options.sharing ?? 'mid-market-rate');
  }

  /** Sees every state after the market: meters it, and queues each interval's settlement as it ends. */
  readonly onStep = (state: TwinState): void => {
    this.meters.onStep(state);
    // An interval cleared at its gate closure: its admitted orders go into the next block.
    const history = this.market.controller.history;
    for (; this.historySeen < history.length; this.historySeen++) {
      const record = history[this.historySeen];
      if (!record.result || !record.orders || record.orders.length === 0) continue;
      const k = BigInt(Math.round(record.intervalStart_s / this.market.section.interval_s));
      const registry = this.market.controller.participants;
      const books = bookCommitments(
        k,
        record.orders,
        (p) => registry.get(p)?.microgrid,
        this.market.controller.config.depositPerWh,
      );
      this.pendingBooks.push({ record, books });
    }
    const interval = this.market.section.interval_s;
    // The interval before the one now running has ended (as MarketDay counts intervals).
    const end = Math.floor((state.t_s + 1e-6) / interval) * interval;
    const start = end - interval;
    if (start <= this.settledUntil) return;
    this.settledUntil = start;
    const result = this.market.controller.history.find((h) => h.intervalStart_s === start)?.result;
    if (!result) {
      this.meters.drop(start);
      return;
    }
    const energy = new Map(this.meters.of(start));
    this.meters.drop(start);
    const books = this.pendingBooks.splice(0);
    this.queue = this.queue.then(() => this.settleInterval(start, end, result, energy, books));
  };

  /** Where the chain points go (simulate's recorder), when the run is recorded. */
  readonly recordPoints = (_state: TwinState, point: PointSink, timeOf: (t_s: number) => bigint): void => {
    this.sink = { point, timeOf };
  };

  private async settleInterval(
    start: number,
    end: number,
    result: ClearingResult,
    energy: ReadonlyMap<string, number>,
    books: readonly { record: IntervalRecord; books: BookCommitment[] }[],
  ): Promise<void> {
    if (this.failure) return;
    const k = Math.round(start / this.market.section.interval_s);
    try {
      // Each meter signs its reading at the interval's end; its microgrid's authority checks it.
      const commitments: { meter: string; commitment: string }[] = [];
      for (const p of this.participants) {
        const reading = {
          meter: `meter:${p}`,
          participant: p,
          interval: k,
          energy_wh: Math.round(energy.get(p) ?? 0),
          t_s: end,
        };
        const v = this.registers
          .get(this.authorityOf.get(p)!)!
          .accept(signReading(reading, this.keys.get(p)!), end);
        if (v.ok) commitments.push({ meter: reading.meter, commitment: v.commitment });
        else this.report.readingsRefused.push(`interval ${k}, ${p}: ${v.message}`);
        if (v.ok && this.sink)
          this.sink.point(
            'market_meter',
            { participant: p },
            { interval: BigInt(k), energy_wh: BigInt(reading.energy_wh), commitment: v.commitment },
            this.sink.timeOf(end),
          );
      }
      const metered = new Map<string, bigint>();
      for (const r of this.registers.values()) for (const [p, e] of r.meteredFor(k)) metered.set(p, e);
      const settlement = settlementOf(k, result, {
        participants: this.market.controller.participants,
        passive: {
          metered,
          rule: this.sharing,
          retailPrice: this.rules.retailPrice,
          feedInPrice: this.rules.feedInPrice,
        },
      });
      const hash = resultHash(settlement);
      // Every authority votes the hash of the result it computed (the clearing is deterministic), in
      // the block that commits the readings and the order books cleared since the last block (the
      // next interval's: its gate has closed) — a block less per interval for every authority to run.
      const votes = new Map(this.ledger.engine.authorities.map((_, i) => [i, hash]));
      await this.ledger.commitReadingsAndVote(BigInt(k), commitments, votes, this.bookCalls(books));
      this.recordBooks(books);
      await this.ledger.settle(settlement, metered);
      this.report.settled.push(k);
    } catch (err) {
      if (!(err instanceof LedgerError)) {
        this.failure = err;
        return;
      }
      this.report.unsettled.push({ interval: k, reason: err.message });
    }
    this.recordBlocks(end);
  }

  private bookCalls(books: readonly { books: BookCommitment[] }[]) {
    return this.ledger.orderBookCalls(
      books.flatMap((b) => b.books),
      (mg) => this.authorityOfMicrogrid.get(mg) ?? 0,
    );
  }

  /**
   * `market_order` points (each admitted order as committed, each refused one with its reason) and
   * `market_book` points (each book's Merkle root), stamped at the gate closure.
   */
  private recordBooks(books: readonly { record: IntervalRecord; books: BookCommitment[] }[]): void {
    for (const { record, books: bs } of books) {
      this.report.books += bs.length;
      for (const b of bs) this.report.orders += b.orders.length;
      if (!this.sink) continue;
      const time = this.sink.timeOf(record.clearedAt_s);
      for (const b of bs) {
        this.sink.point(
          'market_book',
          { microgrid: b.microgrid },
          { interval: b.interval, root: b.root, orders: BigInt(b.orders.length) },
          time,
        );
        const sink = this.sink;
        b.orders.forEach((o, i) => {
          sink.point(
            'market_order',
            { participant: o.participant, microgrid: b.microgrid, status: 'admitted' },
            {
              interval: b.interval,
              order: o.id,
              side: o.side,
              qty_wh: BigInt(o.qty_wh),
              price: BigInt(o.price),
              t_ms: BigInt(Math.round(o.t_s * 1000)),
              leaf: BigInt(i),
            },
            time,
          );
        });
      }
      const k = bs[0]?.interval ?? 0n;
      for (const r of record.refused)
        this.sink.point(
          'market_order',
          { participant: r.orderId.split('/')[0] ?? '', microgrid: '', status: 'refused' },
          { interval: k, order: r.orderId, reason: r.reason, message: r.message },
          time,
        );
    }
  }

  /** `chain` points: every authority's decision on each block made final since the last call. */
  private recordBlocks(t_s: number): void {
    const chain = this.ledger.chain;
    for (; this.blocksRecorded < chain.log.length; this.blocksRecorded++) {
      const o = chain.log[this.blocksRecorded];
      this.report.blocks++;
      this.report.gas += o.block.header.gasUsed;
      if (!this.sink) continue;
      for (const d of blockDecisions(
        o,
        chain.authorities.map((a) => a.name),
      ))
        this.sink.point(
          'chain',
          { authority: d.authority, outcome: d.outcome },
          { height: o.block.header.number, proposer: o.proposer, reason: d.reason ?? '' },
          this.sink.timeOf(t_s),
        );
    }
  }

  /**
   * Waits for every queued interval, then writes the chain into `runDir` (when recorded) and the
   * balance totals of every authority as `chain` points.
   */
  async finish(runDir?: string, end_s = 0): Promise<SettlementReport> {
    await this.queue;
    if (this.failure) throw this.failure;
    // Books cleared after the last settled interval (the run ended before they were delivered).
    const books = this.pendingBooks.splice(0);
    if (books.length > 0)
      try {
        await this.ledger.commitOrderBooks(
          books.flatMap((b) => b.books),
          (mg) => this.authorityOfMicrogrid.get(mg) ?? 0,
        );
        this.recordBooks(books);
      } catch (err) {
        if (!(err instanceof LedgerError)) throw err;
        this.report.unsettled.push({ interval: -1, reason: `order books not committed: ${err.message}` });
      }
    this.recordBlocks(end_s);
    if (runDir) {
      await persistLedger(this.ledger, runDir, this.participants);
      this.report.persisted = true;
    }
    if (this.sink) {
      const readers = this.ledger.engine.readers;
      for (let i = 0; i < readers.length; i++) {
        const total = (await this.ledger.accountsOf(this.participants, i)).reduce(
          (s, a) => s + a.balance,
          0n,
        );
        this.sink.point(
          'chain',
          { authority: readers[i], outcome: 'balances' },
          { balance_total: Number(total) },
          this.sink.timeOf(end_s),
        );
      }
    }
    return this.report;
  }
}

/** Each authority's decision on a final block: accepted, refused (why), or offline. */
export function blockDecisions(
  o: BlockOutcome,
  authorities: readonly string[],
): { authority: string; outcome: 'accepted' | 'refused' | 'offline'; reason?: string }[] {
  return authorities.map((authority) => {
    const rejected = o.rejectedBy.find((r) => r.authority === authority);
    if (o.acceptedBy.includes(authority)) return { authority, outcome: 'accepted' };
    return rejected
      ? { authority, outcome: 'refused', reason: rejected.reason }
      : { authority, outcome: 'offline' };
  });
}

/** The report's lines for a person; `ledgerDir`: where the run folder's chain ended up. */
export function settlementLines(r: SettlementReport, ledgerDir?: string): string[] {
  const lines = r.unsettled.map((u) => `  UNSETTLED  interval ${u.interval}: ${u.reason}`);
  for (const x of r.readingsRefused.slice(0, 5)) lines.push(`  READING REFUSED  ${x}`);
  lines.push(
    `  ${r.unsettled.length === 0 ? 'PASS' : 'FAIL'}  market settlement: ${r.settled.length} intervals settled against the meters on a ${r.authorities}-authority chain (${r.blocks} blocks, ${r.gas} gas), ${r.orders} orders committed in ${r.books} books${ledgerDir ? `; chain in ${ledgerDir}` : ''}`,
  );
  return lines;
}

/** What a run attaches for a scenario's market: the market day and, unless disabled, its settlement. */
export interface MarketRun {
  market: MarketDay;
  settlement?: MarketSettlement;
  /** Options of simulateRecorded (bench/recording/simulate-run.ts) that run both. */
  options: Required<Pick<SimulateRunOptions, 'controllers' | 'onStep' | 'recordMore'>> &
    Pick<SimulateRunOptions, 'finish' | 'vpp'>;
  /** The settlement's report, once the run has finished. */
  settled?: SettlementReport;
}

/**
 * The market of a scenario with a `market:` section as `gridloop simulate` runs it (undefined
 * without one): clearing and delivery check (MarketDay) and, unless `market.settlement.enabled` is
 * false, the settlement on the chain, written into the run folder when the run is recorded.
 */
export async function marketRunOf(scenario: Scenario, dt_s: number): Promise<MarketRun | undefined> {
  const market = await marketDayOf(scenario, dt_s);
  if (!market) return undefined;
  const section = market.section.settlement;
  const settlement =
    section?.enabled === false
      ? undefined
      : await MarketSettlement.create(market, {
          ...section,
          sharing: section?.sharing,
          seed: `${scenario.name}#${scenario.seed}`,
        });
  const run: MarketRun = {
    market,
    settlement,
    options: {
      controllers: () => [market.controller],
      // The scenario's VPP when it bids in this market (market.vpp): its award is its target.
      vpp: market.vpp?.run,
      onStep: settlement
        ? (state) => {
            market.onStep(state);
            settlement.onStep(state);
          }
        : market.onStep,
      recordMore: settlement
        ? (state, point, timeOf) => {
            market.recordPoints(state, point, timeOf);
            settlement.recordPoints(state, point, timeOf);
          }
        : market.recordPoints,
      finish: settlement
        ? async ({ dir, end_s }) => {
            run.settled = await settlement.finish(dir, end_s);
          }
        : undefined,
    },
  };
  return run;
}
