/**
 * Consensus under attack (docs/market.md, "Consensus under attack"; docs/security.md, "Attacks on the
 * market's ledger"): the market's proof-of-authority chain as a host target of the twin's attack
 * engine (twin/attacks/engine.ts, HostAttackTarget, prefix `ledger.`). A scenario's
 * `security.attacks` may hold, beside the twin's attacks, six attacks on the chain, each with a window
 * `start_s`/`stop_s` in twin time:
 *
 *   non-authority-sealer    ledger.chain                 an outsider seals blocks
 *   forged-state-root       ledger.chain | ledger.authority<i>   an authority's state is forged; it
 *                                                        strikes when that authority is in turn
 *   conflicting-clearing    ledger.authority<i>          it votes a conflicting clearing result
 *   equivocating-authority  ledger.chain | ledger.authority<i>   a second block at the height of its
 *                                                        (the chain's) last block
 *   forged-meter-reading    ledger.meter.<participant>   a signed reading with a forged value
 *   authority-offline       ledger.authority<i>          down while the attack lasts
 *
 * The chain settles every delivered interval at its end, during the run (the run awaits the
 * settlement before its next step): an attack strikes each settlement made while it is active
 * (start_s ≤ interval end < stop_s). Every authority's decision on every block, and every meter
 * register's on every reading, goes into the run's alarm log as a detector sample (detector: the
 * authority, or `meters@<authority>`; the chain itself, `chain`, for an authority missing blocks): a
 * refusal is an alarm naming the attack whose block or reading it refused, so the engine's detection
 * metrics (detected, by whom, time to detect, false alarms) hold for ledger attacks as for the
 * twin's. A reference chain settles the same intervals unattacked; at the end every participant's
 * balance, deposit and debt, read from every authority's contract storage, must equal it.
 *
 * The glue lives here because market/ may import only the twin's contract, and the twin nothing:
 * bench/ may use both (test/architecture/import-rules.test.ts).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { ClearingResult } from '../../market/clearing.ts';
import { keccak } from '../../market/ledger/abi.ts';
import { Authority, authorityKey, LedgerError } from '../../market/ledger/chain.ts';
import {
  type IntervalSettlement,
  type LedgerRules,
  MarketLedger,
  participantAddress,
  resultHash,
  settlementOf,
} from '../../market/ledger/ledger.ts';
import { MeterRegister, meterKeyOf, signReading } from '../../market/metering.ts';
import { DEFAULT_MARKET_CONFIG } from '../../market/orders.ts';
import type { TwinState } from '../../twin/api.ts';
import type { AttackSpec } from '../../twin/attacks/attacks.ts';
import type { AttackInterval, HostAttackTarget } from '../../twin/attacks/engine.ts';
import type { Controller } from '../../twin/control/contract.ts';
import type { AlarmLog } from '../../twin/detection/alarms.ts';
import type { AssertionOutcome } from '../../twin/scenario/assertions.ts';
import { type Scenario, ScenarioError } from '../../twin/scenario/load.ts';
import type { PointSink } from '../recording/schema.ts';
import { type MarketDay, marketDayOf } from './market-day.ts';
import {
  DEFAULT_SETTLEMENT_RULES,
  ParticipantMeters,
  SETTLEMENT_CREDIT,
  SETTLEMENT_DEPOSIT,
} from './market-settlement.ts';

export const LEDGER_PREFIX = 'ledger.';

export const LEDGER_ATTACK_KINDS = [
  'non-authority-sealer',
  'forged-state-root',
  'conflicting-clearing',
  'equivocating-authority',
  'forged-meter-reading',
  'authority-offline',
] as const;
export type LedgerAttackKind = (typeof LEDGER_ATTACK_KINDS)[number];

/** What each kind may target: the chain, one authority, one participant's meter. */
const TARGETS: Record<LedgerAttackKind, readonly ('chain' | 'authority' | 'meter')[]> = {
  'non-authority-sealer': ['chain'],
  'forged-state-root': ['chain', 'authority'],
  'conflicting-clearing': ['authority'],
  'equivocating-authority': ['chain', 'authority'],
  'forged-meter-reading': ['meter'],
  'authority-offline': ['authority'],
};

/** One ledger attack: its ground truth (the engine's label) and what the defenders did about it. */
export interface LedgerAttackOutcome {
  id: string;
  kind: LedgerAttackKind;
  /** As written (`ledger.authority1`…). */
  target: string;
  /** Who it turned out to be (the authority in turn, the last block's sealer), once it struck. */
  culprit?: string;
  start_s: number;
  stop_s: number;
  /** Settlements it struck (twin time of each interval's end, s). */
  struck_s: number[];
  detected: boolean;
  /** Who rejected it: authorities (block validation, the vote), `meters@<authority>`, or `chain`. */
  rejectedBy: string[];
  reasons: string[];
  /** First rejection, twin time (s). */
  detected_s?: number;
}

export interface ChainDecision {
  /** Twin time of the settlement it belongs to (the interval's end). */
  t_s: number;
  height: bigint;
  authority: string;
  /** `reading-refused`: the authority's meter register refused a reading (`proposer` is the meter). */
  outcome: 'accepted' | 'refused' | 'offline' | 'reading-refused';
  proposer: string;
  reason?: string;
  attack?: string;
}

/** A participant's account after an interval's settlement, as an online authority's storage holds it. */
export interface AccountAfterInterval {
  /** The interval's end (twin time, s). */
  t_s: number;
  participant: string;
  microgrid: string;
  /** Declared net position settled (sell positive), Wh. */
  cleared_wh: number;
  /** Metered energy its meter signed and its authority accepted (produced positive), Wh. */
  metered_wh: number;
  /** Micro-units. */
  balance: bigint;
  deposit: bigint;
  debt: bigint;
  /** Taken from the deposit plus added to the debt by this interval's settlement, micro-units. */
  penalty: bigint;
  /** Deliveries within the tolerance so far. */
  reputation: bigint;
}

export interface LedgerReport {
  authorities: number;
  attacks: LedgerAttackOutcome[];
  /** Honest blocks or readings refused. */
  falseAlarms: string[];
  /** Intervals settled on the attacked chain (interval numbers: start = number × interval_s). */
  settled: number[];
  /** Intervals the attacked chain could not settle, and why. */
  unsettled: { interval: number; reason: string }[];
  /** Per participant and authority: what differs from the reference chain (empty: balances right). */
  balanceMismatches: string[];
  /** Participants whose accounts were compared on every authority. */
  participantsChecked: number;
  decisions: ChainDecision[];
  /** Σ balances of every participant on each authority (micro-units). */
  balanceTotals: Record<string, bigint>;
  /** Every participant's account after each settled interval. */
  accounts: AccountAfterInterval[];
}

/** Whether a scenario's attacks reach the ledger (they need the market's chain attached). */
export function hasLedgerAttacks(s: { security?: { attacks?: readonly AttackSpec[] } }): boolean {
  return (s.security?.attacks ?? []).some((a) => a.target?.startsWith(LEDGER_PREFIX));
}

/** Interval ends at which a run of `duration_s` settles (the first interval, at t = 0, is not cleared). */
export function settlementTimes(interval_s: number, duration_s: number): number[] {
  const times: number[] = [];
  for (let m = 2; m * interval_s <= duration_s + 1e-6; m++) times.push(m * interval_s);
  return times;
}

/** Authorities of the chain: `market.settlement.authorities`, default one per microgrid (≥ 3). */
function authoritiesOf(market: MarketDay): number {
  return market.section.settlement?.authorities ?? Math.max(3, market.catalog.microgrids.length);
}

/** Rules of the chain: the market's prices and the settlement's delivery rules (docs/market.md). */
function rulesOf(market: MarketDay): LedgerRules {
  const section = market.section;
  return {
    retailPrice: section.retailPrice ?? DEFAULT_MARKET_CONFIG.retailPrice,
    feedInPrice: section.feedInPrice ?? DEFAULT_MARKET_CONFIG.feedInPrice,
    toleranceWh: section.settlement?.toleranceWh ?? DEFAULT_SETTLEMENT_RULES.toleranceWh,
    tolerancePermille: section.settlement?.tolerancePermille ?? DEFAULT_SETTLEMENT_RULES.tolerancePermille,
    penaltyPerWh: section.settlement?.penaltyPerWh ?? DEFAULT_SETTLEMENT_RULES.penaltyPerWh,
  };
}

type Block = Awaited<ReturnType<Authority['propose']>>;

/**
 * Why `spec` cannot strike the chain (a TypeError naming the problem), or nothing: a ledger kind, a
 * target that exists (`ledger.chain`, `ledger.authority<i>` with i < authorities,
 * `ledger.meter.<participant>`) and suits the kind, and a window holding a settlement.
 */
export function checkLedgerAttack(
  spec: AttackSpec,
  chain: {
    authorities: number;
    participants: { has(id: string): boolean };
    times: readonly number[];
    interval_s: number;
    duration_s: number;
  },
): void {
  const kind = spec.kind as LedgerAttackKind;
  if (!LEDGER_ATTACK_KINDS.includes(kind))
    throw new TypeError(
      `attack kind '${spec.kind}' cannot target the ledger ('${spec.target}'); ledger attacks are ${LEDGER_ATTACK_KINDS.join(', ')}`,
    );
  const name = spec.target.slice(LEDGER_PREFIX.length);
  const n = chain.authorities;
  const index = /^authority(\d+)$/.exec(name);
  const sort =
    name === 'chain' ? 'chain' : index ? 'authority' : name.startsWith('meter.') ? 'meter' : undefined;
  if (sort === undefined)
    throw new TypeError(
      `unknown ledger target '${spec.target}': expected ledger.chain, ledger.authority<0…${n - 1}> or ledger.meter.<participant>`,
    );
  if (index && Number(index[1]) >= n)
    throw new TypeError(
      `unknown ledger target '${spec.target}': the chain has ${n} authorities, authority0…authority${n - 1}`,
    );
  const participant = name.slice('meter.'.length);
  if (sort === 'meter' && !chain.participants.has(participant))
    throw new TypeError(
      `unknown ledger target '${spec.target}': no participant '${participant}' in the market`,
    );
  if (!TARGETS[kind].includes(sort))
    throw new TypeError(
      `${kind} attack cannot target '${spec.target}': it takes ${TARGETS[kind].map((t) => (t === 'chain' ? 'ledger.chain' : t === 'authority' ? 'ledger.authority<i>' : 'ledger.meter.<participant>')).join(' or ')}`,
    );
  const stop = spec.stop_s ?? Number.POSITIVE_INFINITY;
  if (!chain.times.some((t) => t >= spec.start_s && t < stop))
    throw new TypeError(
      `ledger attack window [${spec.start_s}, ${spec.stop_s ?? 'end'}) holds no settlement: the market settles each interval at its end, at ${chain.times.join(', ') || 'no time'} s of this run (interval ${chain.interval_s} s, duration ${chain.duration_s} s)`,
    );
}

/** The market's chain under attack: a host target of the attack engine for `ledger.*`. */
export class LedgerUnderAttack implements HostAttackTarget {
  readonly prefix = LEDGER_PREFIX;
  readonly kinds = LEDGER_ATTACK_KINDS;
  readonly meters: ParticipantMeters;
  private log?: AlarmLog;
  private readonly outcomes: (LedgerAttackOutcome & { label: AttackInterval })[] = [];
  private readonly participants: string[];
  private readonly registers: Map<string, MeterRegister>;
  private readonly ownerOf = new Map<string, Authority>();
  private readonly keys = new Map<string, KeyObject>();
  private readonly times: number[];
  private queue: Promise<void> = Promise.resolve();
  private owed?: Promise<void>;
  private failure?: unknown;
  private settledUntil = -Infinity;
  private logged = { accepted: 0, refused: 0 };
  /** Authorities down, by the attack that took them down. */
  private readonly down = new Map<string, Authority>();
  private readonly previous: Map<string, { deposit: bigint; debt: bigint }>;
  private sink?: { point: PointSink; timeOf: (t_s: number) => bigint };
  private finished?: Promise<AssertionOutcome[]>;
  readonly report: LedgerReport;

  private constructor(
    readonly market: MarketDay,
    readonly ledger: MarketLedger,
    readonly reference: MarketLedger,
    private readonly scenario: Scenario,
  ) {
    const interval_s = market.section.interval_s;
    this.meters = new ParticipantMeters(market.catalog, interval_s, () => market.controller.actionsInForce);
    this.times = settlementTimes(interval_s, scenario.duration_s);
    const authorities = ledger.chain.authorities;
    const n = authorities.length;
    const seed = `${scenario.name}#${scenario.seed}`;
    // Each microgrid's meters are registered with one authority (microgrid i → authority i mod n).
    const byName = (i: number) => authorities.find((a) => a.name === `authority${i}`)!;
    const mgAuthority = new Map(market.catalog.microgrids.map((m, i) => [m.id, byName(i % n)]));
    this.registers = new Map(
      authorities.map((a) => [a.name, new MeterRegister(`${seed}/${a.name}`, interval_s)]),
    );
    this.participants = [...market.controller.participants.keys()].sort();
    for (const p of this.participants) {
      const owner = mgAuthority.get(market.controller.participants.get(p)!.microgrid) ?? byName(0);
      this.ownerOf.set(p, owner);
      const key = meterKeyOf(seed, `meter:${p}`);
      this.keys.set(p, key);
      this.registers.get(owner.name)!.register(`meter:${p}`, p, createPublicKey(key));
    }
    this.previous = new Map(this.participants.map((p) => [p, { deposit: SETTLEMENT_DEPOSIT, debt: 0n }]));
    this.report = {
      authorities: n,
      attacks: this.outcomes,
      falseAlarms: [],
      settled: [],
      unsettled: [],
      balanceMismatches: [],
      participantsChecked: 0,
      decisions: [],
      balanceTotals: {},
      accounts: [],
    };
  }

  /**
   * Deploys the attacked chain and its reference (authorities: `market.settlement.authorities`,
   * default max(3, microgrids)), credits every participant and locks its deposit on both.
   */
  static async create(market: MarketDay, scenario: Scenario): Promise<LedgerUnderAttack> {
    const n = authoritiesOf(market);
    const rules = rulesOf(market);
    const participants = [...market.controller.participants.keys()].sort();
    const chains: MarketLedger[] = [];
    for (const name of ['attacked', 'reference']) {
      const l = await MarketLedger.deploy(n, rules, `${scenario.name}/${name}`);
      await l.credit(new Map(participants.map((p) => [p, SETTLEMENT_CREDIT])));
      await l.lockDeposits(new Map(participants.map((p) => [p, SETTLEMENT_DEPOSIT])));
      chains.push(l);
    }
    return new LedgerUnderAttack(market, chains[0], chains[1], scenario);
  }

  private get authorities(): Authority[] {
    return this.ledger.chain.authorities;
  }

  attach(ctx: { log: AlarmLog }): void {
    this.log = ctx.log;
  }

  /** Why `spec` cannot strike this chain (TypeError), or nothing: checkLedgerAttack. */
  check(spec: AttackSpec): void {
    checkLedgerAttack(spec, {
      authorities: this.authorities.length,
      participants: this.ownerOf,
      times: this.times,
      interval_s: this.market.section.interval_s,
      duration_s: this.scenario.duration_s,
    });
  }

  launch(spec: AttackSpec, label: AttackInterval): void {
    this.check(spec);
    this.outcomes.push({
      id: label.id,
      kind: spec.kind as LedgerAttackKind,
      target: spec.target,
      start_s: label.start_s,
      stop_s: label.stop_s,
      struck_s: [],
      detected: false,
      rejectedBy: [],
      reasons: [],
      label,
    });
  }

  stop(id: string, t_s: number): void {
    const o = this.outcomes.find((x) => x.id === id);
    if (o) o.stop_s = t_s;
  }

  pending(): Promise<void> | undefined {
    const owed = this.owed;
    this.owed = undefined;
    return owed;
  }

  /** Where the chain's points go (the run's recorder): `chain` decisions, `market_account`, totals. */
  recordPoints(point: PointSink, timeOf: (t_s: number) => bigint): void {
    this.sink = { point, timeOf };
  }

  /** Sees every state after the market: meters it and queues each interval's settlement as it ends. */
  readonly onStep = (state: TwinState): void => {
    this.meters.onStep(state);
    const interval = this.market.section.interval_s;
    const end = Math.floor((state.t_s + 1e-6) / interval) * interval;
    const start = end - interval;
    if (start <= this.settledUntil) return;
    this.settledUntil = start;
    const result = this.market.controller.history.find((h) => h.intervalStart_s === start)?.result;
    const energy = new Map(this.meters.of(start));
    this.meters.drop(start);
    if (!result) return;
    this.queue = this.queue.then(async () => {
      if (this.failure) return;
      try {
        await this.settleInterval(start, end, result, energy);
      } catch (err) {
        this.failure = err;
      }
    });
    this.owed = this.queue;
  };

  private active(t_s: number, kind: LedgerAttackKind) {
    return this.outcomes.filter((o) => o.kind === kind && o.start_s <= t_s && t_s < o.stop_s);
  }

  private authority(target: string): Authority | undefined {
    return this.authorities.find((a) => `${LEDGER_PREFIX}${a.name}` === target);
  }

  /** A decision on one block or reading: a sample of its detector, an alarm when it refused. */
  private decide(
    t_s: number,
    detector: string,
    refused: boolean,
    what: string,
    attack?: LedgerAttackOutcome,
  ): void {
    this.log?.decision(
      { t_s, detector, statistic: refused ? 1 : 0, threshold: 0.5, alarm: refused },
      attack?.target,
      refused ? what : '',
      attack?.id,
    );
    if (!refused) return;
    if (!attack) {
      this.report.falseAlarms.push(`${detector} at ${t_s} s: ${what}`);
      return;
    }
    attack.detected = true;
    attack.detected_s ??= t_s;
    if (!attack.rejectedBy.includes(detector)) attack.rejectedBy.push(detector);
    if (!attack.reasons.includes(what)) attack.reasons.push(what);
  }

  /** Every authority's decision on the blocks made (or refused by the majority) since the last call. */
  private recordBlocks(t_s: number, corruption?: LedgerAttackOutcome): void {
    const chain = this.ledger.chain;
    for (; this.logged.accepted < chain.log.length; this.logged.accepted++) {
      const o = chain.log[this.logged.accepted];
      for (const a of this.authorities) {
        const rejected = o.rejectedBy.find((r) => r.authority === a.name);
        const outcome = o.acceptedBy.includes(a.name) ? 'accepted' : rejected ? 'refused' : 'offline';
        // The corrupted authority refusing the majority's block is its corruption showing, not a
        // detection; anyone else refusing a block the majority made final is a false alarm.
        const ownFault = corruption && rejected && corruption.culprit === a.name;
        this.pushDecision(
          t_s,
          o.block.header.number,
          a.name,
          outcome,
          o.proposer,
          rejected?.reason,
          ownFault ? corruption : undefined,
        );
        if (outcome !== 'offline' && !ownFault)
          this.decide(
            t_s,
            a.name,
            outcome === 'refused',
            `block ${o.block.header.number} of ${o.proposer}: ${rejected?.reason ?? ''}`,
          );
      }
    }
    for (; this.logged.refused < chain.refused.length; this.logged.refused++) {
      const o = chain.refused[this.logged.refused];
      for (const r of o.rejectedBy) {
        this.pushDecision(
          t_s,
          o.block.header.number,
          r.authority,
          'refused',
          o.proposer,
          r.reason,
          corruption,
        );
        this.decide(t_s, r.authority, true, r.reason, corruption);
      }
    }
  }

  private pushDecision(
    t_s: number,
    height: bigint,
    authority: string,
    outcome: ChainDecision['outcome'],
    proposer: string,
    reason?: string,
    attack?: LedgerAttackOutcome,
  ): void {
    const d: ChainDecision = { t_s, height, authority, outcome, proposer };
    if (reason) d.reason = reason;
    if (attack) d.attack = attack.id;
    this.report.decisions.push(d);
    this.sink?.point(
      'chain',
      { authority, outcome },
      { height, proposer, reason: reason ?? '', attack: attack?.id ?? '' },
      this.sink.timeOf(t_s),
    );
  }

  /** A block from outside the turn (an outsider, an equivocating copy): every online authority judges it. */
  private async strikeWith(
    t_s: number,
    attack: LedgerAttackOutcome,
    block: Block,
    proposer: string,
  ): Promise<void> {
    const v = await this.ledger.chain.receive(block);
    for (const r of v.rejectedBy) {
      this.pushDecision(t_s, block.header.number, r.authority, 'refused', proposer, r.reason, attack);
      this.decide(t_s, r.authority, true, r.reason, attack);
    }
    if (v.acceptedBy.length > 0) attack.reasons.push(`accepted by ${v.acceptedBy.join(', ')}`);
  }

  /** A node replaying the chain's blocks (up to `upTo` of them) with `key`. */
  private async follower(
    name: string,
    key: Uint8Array,
    upTo = this.ledger.chain.log.length,
  ): Promise<Authority> {
    const chain = this.ledger.chain;
    const f = await Authority.create(name, key, chain.signers);
    for (const o of chain.log.slice(0, upTo)) await f.importBlock(o.block);
    return f;
  }

  /** Settles one interval on both chains at its end `t`, with the attacks active then. */
  private async settleInterval(
    start: number,
    t: number,
    result: ClearingResult,
    energy: ReadonlyMap<string, number>,
  ): Promise<void> {
    const chain = this.ledger.chain;
    const k = Math.round(start / this.market.section.interval_s);
    const n = this.authorities.length;
    for (const o of this.outcomes) if (o.start_s <= t && t < o.stop_s) o.struck_s.push(t);

    // Authorities down while an attack lasts; back (re-executing what they missed) once it stops.
    for (const o of this.outcomes.filter((x) => x.kind === 'authority-offline')) {
      const a = this.authority(o.target)!;
      const on = o.start_s <= t && t < o.stop_s;
      if (on && !this.down.has(o.id)) {
        o.culprit = a.name;
        this.down.set(o.id, a);
        await chain.setOnline(a, false);
      } else if (!on && this.down.has(o.id)) await this.comeBack(o, t);
    }

    // Meter readings, closed at the interval's end; a forged one arrives first.
    for (const o of this.active(t, 'forged-meter-reading')) {
      const p = o.target.slice(`${LEDGER_PREFIX}meter.`.length);
      const owner = this.ownerOf.get(p)!;
      o.culprit = `meter:${p}`;
      const genuine = Math.round(energy.get(p) ?? 0);
      const signed = signReading(
        { meter: `meter:${p}`, participant: p, interval: k, energy_wh: genuine, t_s: t },
        this.keys.get(p)!,
      );
      // The same signed reading with a value in the attacker's favour (a seller claims more).
      const forged = { ...signed, reading: { ...signed.reading, energy_wh: genuine + 50_000 } };
      const v = this.registers.get(owner.name)!.accept(forged, t);
      if (!v.ok) this.readingRefused(t, owner, p, `${v.reason}: ${v.message}`, o);
      else o.reasons.push(`accepted by the register of ${owner.name}`);
    }
    const commitments: { meter: string; commitment: string }[] = [];
    for (const p of this.participants) {
      const owner = this.ownerOf.get(p)!;
      const reading = {
        meter: `meter:${p}`,
        participant: p,
        interval: k,
        energy_wh: Math.round(energy.get(p) ?? 0),
        t_s: t,
      };
      const v = this.registers.get(owner.name)!.accept(signReading(reading, this.keys.get(p)!), t);
      if (v.ok) {
        commitments.push({ meter: reading.meter, commitment: v.commitment });
        this.decide(t, `meters@${owner.name}`, false, '');
      } else this.readingRefused(t, owner, p, `${v.reason}: ${v.message}`);
    }
    const metered = new Map<string, bigint>();
    for (const r of this.registers.values()) for (const [p, e] of r.meteredFor(k)) metered.set(p, e);
    // The declared-position rule the market's agents bid by (market/position.ts).
    const settlement = settlementOf(k, result, { participants: this.market.controller.participants });
    const honestHash = resultHash(settlement);

    // Before the votes: an outsider seals, an authority's state is forged.
    for (const o of this.active(t, 'non-authority-sealer')) {
      const outsider = await this.follower('outsider', authorityKey(`${this.scenario.name}/outsider`, 0));
      o.culprit = 'outsider';
      await this.strikeWith(t, o, await outsider.propose([], true, false), 'outsider');
      await this.strikeWith(t, o, await outsider.propose([], false, false), 'outsider');
    }
    const inTurn = this.authorities[Number((BigInt(chain.log.length) + 1n) % BigInt(n))];
    let corruption: LedgerAttackOutcome | undefined;
    let restore: (() => Promise<void>) | undefined;
    for (const o of this.active(t, 'forged-state-root')) {
      // The forged state shows when its authority seals: it strikes when that one is in turn.
      const culprit = o.target === `${LEDGER_PREFIX}chain` ? inTurn : this.authority(o.target)!;
      if (culprit !== inTurn || !chain.isOnline(culprit) || corruption) continue;
      o.culprit = culprit.name;
      corruption = o;
      // An unused slot of the contract's storage: any write changes the culprit's state root.
      const slot = keccak(new Uint8Array(64));
      const before = await culprit.vm.stateManager.getStorage(this.ledger.contract, slot);
      await culprit.vm.stateManager.putStorage(this.ledger.contract, slot, new Uint8Array([0x42]));
      restore = async () => {
        // Its operator restores the state the majority holds; it catches up by re-executing.
        await culprit.vm.stateManager.putStorage(this.ledger.contract, slot, before);
        await chain.setOnline(culprit, false);
        await chain.setOnline(culprit, true);
      };
    }

    // The votes: every online authority submits the hash of the result it computed.
    const votes = new Map<Authority, string>();
    for (const a of this.authorities) if (chain.isOnline(a)) votes.set(a, honestHash);
    const conflicting = this.active(t, 'conflicting-clearing').filter((o) =>
      chain.isOnline(this.authority(o.target)!),
    );
    for (const o of conflicting) {
      const a = this.authority(o.target)!;
      o.culprit = a.name;
      votes.set(a, resultHash(tampered(settlement)));
    }
    try {
      if (commitments.length > 0) await this.ledger.commitReadingsAndVote(BigInt(k), commitments, votes);
      else await this.ledger.vote(BigInt(k), votes);
      this.recordBlocks(t, corruption);
      for (const o of conflicting) {
        const held = await Promise.all(
          this.authorities
            .filter((a) => chain.isOnline(a) && a.name !== corruption?.culprit)
            .map((a) => this.ledger.readBytes32(a, 'accepted(uint64)', [BigInt(k)])),
        );
        for (const a of this.authorities)
          if (a.name !== o.culprit && chain.isOnline(a))
            this.decide(
              t,
              a.name,
              held.every((h) => h === honestHash),
              `outvoted: the majority's hash ${honestHash.slice(0, 10)}… was accepted for interval ${k}, not ${o.culprit}'s`,
              o,
            );
      }
      await this.ledger.settle(settlement, metered);
      this.recordBlocks(t, corruption);
      this.report.settled.push(k);
    } catch (err) {
      if (!(err instanceof LedgerError)) throw err;
      this.recordBlocks(t, corruption);
      this.report.unsettled.push({ interval: k, reason: err.message });
    }
    await restore?.();

    // An authority down: the chain went on without it (a majority online).
    for (const o of this.outcomes.filter((x) => x.kind === 'authority-offline' && this.down.has(x.id))) {
      const missed = this.report.decisions.filter(
        (d) => d.t_s === t && d.authority === o.culprit && d.outcome === 'offline',
      );
      if (missed.length > 0)
        this.decide(
          t,
          'chain',
          true,
          `blocks ${missed[0].height}…${missed.at(-1)!.height} made final by ${n - this.down.size} of ${n} authorities without ${o.culprit} (offline)`,
          o,
        );
    }
    await this.recordAccounts(t, settlement, metered);

    // After the interval's blocks: an authority seals a second block at the height of its last one.
    for (const o of this.active(t, 'equivocating-authority')) {
      const named = o.target === `${LEDGER_PREFIX}chain` ? undefined : this.authority(o.target)!.name;
      const at = chain.log.findLastIndex((b) => (named ? b.proposer === named : b.proposer !== 'external'));
      if (at < 0) continue;
      const last = chain.log[at];
      const culprit = this.authorities.find((a) => a.name === last.proposer)!;
      o.culprit = culprit.name;
      const copy = await this.follower(`${culprit.name}-copy`, culprit.key, at);
      await this.strikeWith(
        t,
        o,
        await copy.propose([], last.block.header.difficulty === 2n, false),
        culprit.name,
      );
    }

    // The reference chain settles the same interval with the same readings, in peace.
    const refVotes = new Map(this.reference.chain.authorities.map((a) => [a, honestHash]));
    if (commitments.length > 0) await this.reference.commitReadingsAndVote(BigInt(k), commitments, refVotes);
    else await this.reference.vote(BigInt(k), refVotes);
    await this.reference.settle(settlement, metered);
  }

  private readingRefused(
    t_s: number,
    owner: Authority,
    p: string,
    reason: string,
    attack?: LedgerAttackOutcome,
  ) {
    this.pushDecision(
      t_s,
      this.ledger.chain.log.at(-1)?.block.header.number ?? 0n,
      owner.name,
      'reading-refused',
      `meter:${p}`,
      reason,
      attack,
    );
    this.decide(t_s, `meters@${owner.name}`, true, reason, attack);
  }

  /** An authority back from being offline: it re-executes every block it missed. */
  private async comeBack(o: LedgerAttackOutcome, t_s: number): Promise<void> {
    const a = this.down.get(o.id)!;
    this.down.delete(o.id);
    const refused = await this.ledger.chain.setOnline(a, true);
    o.reasons.push(
      `${a.name} came back at ${t_s} s and re-executed the blocks it missed${refused.length ? `, refusing ${refused.length}` : ''}`,
    );
  }

  /** Every participant's account after the interval, from an online authority's storage. */
  private async recordAccounts(
    t_s: number,
    settlement: IntervalSettlement,
    metered: ReadonlyMap<string, bigint>,
  ): Promise<void> {
    const reader = this.authorities.find((a) => this.ledger.chain.isOnline(a))!;
    const held = await this.ledger.accountsOf(this.participants, reader);
    this.participants.forEach((p, i) => {
      const now = held[i];
      const before = this.previous.get(p)!;
      this.previous.set(p, { deposit: now.deposit, debt: now.debt });
      const a: AccountAfterInterval = {
        t_s,
        participant: p,
        microgrid: this.market.controller.participants.get(p)!.microgrid,
        cleared_wh: Number(settlement.lines.find((l) => l.participant === p)?.clearedWh ?? 0n),
        metered_wh: Number(metered.get(p) ?? 0n),
        ...now,
        penalty: before.deposit - now.deposit + now.debt - before.debt,
      };
      this.report.accounts.push(a);
      this.sink?.point(
        'market_account',
        { participant: a.participant, microgrid: a.microgrid },
        {
          cleared_wh: a.cleared_wh,
          metered_wh: a.metered_wh,
          balance: Number(a.balance),
          deposit: Number(a.deposit),
          debt: Number(a.debt),
          penalty: Number(a.penalty),
          reputation: Number(a.reputation),
        },
        this.sink.timeOf(t_s),
      );
    });
  }

  /**
   * At the end of the run: waits for the chain, brings back authorities still down, and checks every
   * participant's balance, deposit and debt on every authority against the reference chain.
   */
  finish(): Promise<AssertionOutcome[]> {
    this.finished ??= this.checkBalances();
    return this.finished;
  }

  private async checkBalances(): Promise<AssertionOutcome[]> {
    await this.queue;
    if (this.failure) throw this.failure;
    const end_s = this.scenario.duration_s;
    for (const o of this.outcomes) if (this.down.has(o.id)) await this.comeBack(o, end_s);
    const r = this.report;
    const totals: Record<string, bigint> = Object.fromEntries(this.authorities.map((a) => [a.name, 0n]));
    const referee = this.reference.chain.authorities[0];
    for (const p of this.participants) {
      const who = participantAddress(p);
      const want = {
        balance: await this.reference.read(referee, 'balanceOf(address)', [who]),
        deposit: await this.reference.read(referee, 'depositOf(address)', [who]),
        debt: await this.reference.read(referee, 'debtOf(address)', [who]),
      };
      for (const got of await this.ledger.accountOnEvery(p)) {
        totals[got.authority] += got.balance;
        for (const f of ['balance', 'deposit', 'debt'] as const)
          if (got[f] !== want[f])
            r.balanceMismatches.push(`${p} ${f} on ${got.authority}: ${got[f]} (reference ${want[f]})`);
      }
    }
    r.participantsChecked = this.participants.length;
    r.balanceTotals = totals;
    if (this.sink)
      for (const [authority, total] of Object.entries(totals))
        this.sink.point(
          'chain',
          { authority, outcome: 'balances' },
          { balance_total: Number(total) },
          this.sink.timeOf(end_s),
        );
    return ledgerOutcomes(r);
  }
}

/** The same settlement with one trade moved in the culprit's favour (its result hash differs). */
function tampered(s: IntervalSettlement): IntervalSettlement {
  const t = { ...s, lines: s.lines.map((l) => ({ ...l })) };
  t.lines[0].trade += 1_000_000n;
  t.poolShare -= 1_000_000n;
  return t;
}

/** The ledger's checks in a run's verdict: each attack rejected, no false alarm, balances right. */
export function ledgerOutcomes(r: LedgerReport): AssertionOutcome[] {
  return [
    ...r.attacks.map((a) => ({
      name: `ledger: ${a.id} rejected`,
      type: 'ledger-attack',
      passed: a.detected,
      detail: a.detected
        ? `by ${a.rejectedBy.join(', ')} at ${a.detected_s} s: ${a.reasons[0]}`
        : a.struck_s.length === 0
          ? 'never struck: no settlement in its window'
          : `not rejected${a.reasons.length ? ` (${a.reasons.join('; ')})` : ''}`,
    })),
    {
      name: 'ledger: no honest block or reading refused',
      type: 'ledger-false-alarms',
      passed: r.falseAlarms.length === 0,
      detail: r.falseAlarms.length === 0 ? 'none' : r.falseAlarms.slice(0, 5).join('; '),
    },
    {
      name: 'ledger: balances right on every authority',
      type: 'ledger-balances',
      passed: r.balanceMismatches.length === 0 && r.unsettled.length === 0,
      detail:
        r.balanceMismatches.length > 0
          ? r.balanceMismatches.slice(0, 5).join('; ')
          : r.unsettled.length > 0
            ? `unsettled: ${r.unsettled.map((u) => `interval ${u.interval}: ${u.reason}`).join('; ')}`
            : `${r.participantsChecked} participants' balance, deposit and debt on all ${r.authorities} authorities equal the unattacked reference chain after ${r.settled.length} intervals`,
    },
  ];
}

/** Lines for a person: each ledger attack, who rejected it and why, and the balance check. */
export function consensusLines(r: LedgerReport): string[] {
  const lines = r.attacks.map(
    (a) =>
      `  ${a.detected ? 'REJECTED' : 'MISSED  '}  ${a.id} (${a.kind} on ${a.target}${a.culprit ? ` = ${a.culprit}` : ''}, struck at ${a.struck_s.join(', ') || 'no settlement'} s)${
        a.detected ? ` by ${a.rejectedBy.join(', ')} at ${a.detected_s} s: ${a.reasons[0]}` : ''
      }`,
  );
  for (const f of r.falseAlarms) lines.push(`  FALSE ALARM  ${f}`);
  lines.push(
    r.balanceMismatches.length === 0
      ? `  PASS  balances right: ${r.participantsChecked} participants' balance, deposit and debt on every authority equal the unattacked reference chain after ${r.settled.length} intervals`
      : `  FAIL  balances: ${r.balanceMismatches.slice(0, 5).join('; ')}`,
  );
  return lines;
}

/**
 * What a run attaches for a scenario's ledger attacks (attackRecorded's `hosted`,
 * bench/attacks/attack-run.ts): the market and the chain under attack.
 */
export interface LedgerAttackRun {
  market: MarketDay;
  host: LedgerUnderAttack;
  /** The market's controller. */
  controllers: () => readonly Controller[];
  /** Sees every state (market, then the chain's meters and settlement queue). */
  onStep: (state: TwinState) => void;
  /** The market's and the chain's points go to the run's recorder. */
  recordPoints: (point: PointSink, timeOf: (t_s: number) => bigint) => void;
  report: LedgerReport;
}

/**
 * The market and its chain for a scenario whose `security.attacks` target `ledger.*` (undefined when
 * none does). Checks every ledger attack before anything runs: a bad one is a ScenarioError naming
 * the file, line and JSON path of its `security.attacks` item.
 */
export async function ledgerAttackRunOf(
  s: Scenario & { security?: { attacks?: readonly AttackSpec[] }; attackLines?: (number | undefined)[] },
): Promise<LedgerAttackRun | undefined> {
  if (!hasLedgerAttacks(s)) return undefined;
  const first = s.security!.attacks!.findIndex((a) => a.target.startsWith(LEDGER_PREFIX));
  if (!s.market)
    throw new ScenarioError(
      'attacks on the ledger (target ledger.*) need a market: section (the chain settles its intervals)',
      s.file,
      s.attackLines?.[first],
      `/security/attacks/${first}`,
    );
  const market = (await marketDayOf(s, s.dt_s))!;
  // Checked before the chains are deployed: a bad attack costs no chain.
  const chain = {
    authorities: authoritiesOf(market),
    participants: market.controller.participants,
    times: settlementTimes(market.section.interval_s, s.duration_s),
    interval_s: market.section.interval_s,
    duration_s: s.duration_s,
  };
  s.security!.attacks!.forEach((a, i) => {
    if (!a.target.startsWith(LEDGER_PREFIX)) return;
    try {
      checkLedgerAttack(a, chain);
    } catch (err) {
      throw new ScenarioError((err as Error).message, s.file, s.attackLines?.[i], `/security/attacks/${i}`);
    }
  });
  const host = await LedgerUnderAttack.create(market, s);
  return {
    market,
    host,
    controllers: () => [market.controller],
    report: host.report,
    onStep: (state) => {
      market.onStep(state);
      host.onStep(state);
    },
    recordPoints: (point, timeOf) => {
      market.recordPoints(undefined, point, timeOf);
      host.recordPoints(point, timeOf);
    },
  };
}
