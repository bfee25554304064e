/**
 * Consensus under attack as a scenario (docs/market.md, "Consensus under attack"): a scenario with a
 * `market:` section and a `security.ledger` section runs the market day on the twin, then settles
 * every delivered interval on the embedded proof-of-authority chain (market/ledger/) while the
 * section's attacks strike: a non-authority sealer, an authority with a forged state root, conflicting
 * clearing results from one authority, an equivocating authority, forged meter readings, an authority
 * going offline. Each attack is ground truth (kind, target, interval); the run reports who rejected it
 * and why, honest blocks refused (false alarms), and whether every participant's balance, deposit and
 * debt — read back from every authority's contract storage — equal those of a reference chain that
 * settled the same intervals with no attack.
 *
 * The glue lives here because market/ may import only the twin's contract, and the twin nothing:
 * bench/ may use both (test/architecture/import-rules.ts).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { keccak } from '../../market/ledger/abi.ts';
import { Authority, authorityKey, LedgerError } from '../../market/ledger/chain.ts';
import {
  type LedgerRules,
  MarketLedger,
  participantAddress,
  resultHash,
  settlementOf,
} from '../../market/ledger/ledger.ts';
import { MeterRegister, signReading } from '../../market/metering.ts';
import type { TwinState } from '../../twin/api.ts';
import type { Scenario } from '../../twin/scenario/load.ts';
import { ScenarioError } from '../../twin/scenario/load.ts';
import { runScenario } from '../../twin/scenario/runner.ts';
import type { PointSink } from '../recording/schema.ts';
import { type MarketDay, marketDayOf } from './market-day.ts';
import { ParticipantMeters } from './market-settlement.ts';

export const LEDGER_ATTACK_KINDS = [
  'non-authority-sealer',
  'forged-state-root',
  'conflicting-clearing',
  'equivocating-authority',
  'forged-meter-reading',
  'authority-offline',
] as const;
export type LedgerAttackKind = (typeof LEDGER_ATTACK_KINDS)[number];

export interface LedgerAttackSpec {
  id: string;
  kind: LedgerAttackKind;
  /** Settled interval it strikes (1 = the first interval the market delivered). */
  interval: number;
  /** Authority index (turn order) for the attacks by an authority; default: the one in turn. */
  authority?: number;
  /** Forged meter reading: whose. */
  participant?: string;
  /** Authority offline: the last interval it misses (default: `interval`). */
  until?: number;
}

export interface LedgerSection {
  /** Authorities (one per microgrid at least). @default 3 */
  authorities?: number;
  attacks: LedgerAttackSpec[];
}

/** One attack's ground truth and what the defenders did about it. */
export interface LedgerAttackOutcome extends LedgerAttackSpec {
  target: string;
  /** When it struck: the end of its interval, when the interval is settled (twin time, s). */
  t_s?: number;
  detected: boolean;
  /** Who rejected it: authorities (block validation, the vote), or `meters@<authority>`. */
  rejectedBy: string[];
  reasons: string[];
}

export interface ChainDecision {
  /** Twin time of the settlement it belongs to (the interval's end; 0 before the first). */
  t_s: number;
  height: bigint;
  authority: string;
  /** `reading-refused`: the authority's meter register refused a reading (`proposer` is the meter). */
  outcome: 'accepted' | 'refused' | 'offline' | 'reading-refused';
  proposer: string;
  reason?: string;
  attack?: string;
}

export interface ConsensusRunResult {
  passed: boolean;
  attacks: LedgerAttackOutcome[];
  /** Honest blocks or readings refused. */
  falseAlarms: string[];
  /** Intervals settled on the chain. */
  settled: number;
  /** Per participant and authority: what differs from the reference chain (empty: balances right). */
  balanceMismatches: string[];
  /** Participants whose accounts were compared on every authority. */
  participantsChecked: number;
  decisions: ChainDecision[];
  /** Σ balances of every participant on each authority (micro-units). */
  balanceTotals: Record<string, bigint>;
  /** Every participant's account after each settled interval. */
  accounts: AccountAfterInterval[];
  market: MarketDay;
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

/** Where the run's market points go while it runs (`gridloop attack` passes its recorder's). */
export interface ConsensusRecording {
  point: PointSink;
  timeOf: (t_s: number) => bigint;
}

const RULES: LedgerRules = {
  retailPrice: 250,
  feedInPrice: 50,
  toleranceWh: 100,
  tolerancePermille: 50,
  penaltyPerWh: 100,
};
const CREDIT = 10n ** 13n;
const DEPOSIT = 10n ** 12n;

/** The `security.ledger` section of a scenario, or undefined. */
export function ledgerSectionOf(s: Scenario): LedgerSection | undefined {
  return (s as Scenario & { security?: { ledger?: LedgerSection } }).security?.ledger;
}

export async function runConsensusScenario(
  s: Scenario,
  recording?: ConsensusRecording,
): Promise<ConsensusRunResult> {
  const section = ledgerSectionOf(s);
  if (!section) throw new TypeError('runConsensusScenario: the scenario has no security.ledger section');
  if (!s.market)
    throw new ScenarioError(
      'a security.ledger section needs a market: section',
      s.file,
      undefined,
      '/security/ledger',
    );
  const market = (await marketDayOf(s, s.dt_s))!;
  if (recording) market.recordPoints(undefined, recording.point, recording.timeOf);
  const catalog = market.catalog;
  const interval_s = s.market.interval_s;

  // 1. The market day on the twin, with each participant's metered energy per interval.
  const meters = new ParticipantMeters(catalog, interval_s, () => market.controller.actionsInForce);
  const onStep = (state: TwinState) => {
    market.onStep(state);
    meters.onStep(state);
  };
  await runScenario(s, { dt_s: s.dt_s, controllers: () => [market.controller], onStep });
  const delivered = market.report().intervals;

  // 2. Two chains: the attacked one and a reference that settles the same intervals in peace.
  const n = section.authorities ?? 3;
  const ledger = await MarketLedger.deploy(n, RULES, `${s.name}/attacked`);
  const reference = await MarketLedger.deploy(n, RULES, `${s.name}/reference`);
  const participants = [...market.controller.participants.keys()].sort();
  for (const l of [ledger, reference]) {
    await l.credit(new Map(participants.map((p) => [p, CREDIT])));
    await l.lockDeposits(new Map(participants.map((p) => [p, DEPOSIT])));
  }
  const chain = ledger.chain;
  const authorities = chain.authorities;

  // Meters: one key per participant; each microgrid's authority keeps the register of its meters.
  const mgs = catalog.microgrids.map((m) => m.id);
  const authorityOfMg = new Map(mgs.map((mg, i) => [mg, authorities[i % n]]));
  const registers = new Map(authorities.map((a) => [a, new MeterRegister(`${a.name}-secret`, interval_s)]));
  const keys = new Map<string, KeyObject>();
  for (const p of participants) {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    keys.set(p, privateKey);
    const mg = market.controller.participants.get(p)!.microgrid;
    registers.get(authorityOfMg.get(mg)!)!.register(`meter:${p}`, p, publicKey);
  }

  const outcomes: LedgerAttackOutcome[] = section.attacks.map((a) => ({
    ...a,
    target: a.participant ?? (a.authority !== undefined ? (authorities[a.authority]?.name ?? '?') : 'chain'),
    detected: false,
    rejectedBy: [],
    reasons: [],
  }));
  const decisions: ChainDecision[] = [];
  let now_s = 0;
  const falseAlarms: string[] = [];
  const note = (o: LedgerAttackOutcome, by: string, reason: string) => {
    o.detected = true;
    if (!o.rejectedBy.includes(by)) o.rejectedBy.push(by);
    if (!o.reasons.includes(reason)) o.reasons.push(reason);
  };
  const logged = { accepted: 0, refused: 0 };
  /** Chain decisions since the last call, attributed to `attack` when one is under way. */
  const record = (attack?: LedgerAttackOutcome) => {
    for (; logged.accepted < chain.log.length; logged.accepted++) {
      const o = chain.log[logged.accepted];
      for (const a of authorities) {
        const rejected = o.rejectedBy.find((r) => r.authority === a.name);
        decisions.push({
          t_s: now_s,
          height: o.block.header.number,
          authority: a.name,
          outcome: o.acceptedBy.includes(a.name) ? 'accepted' : rejected ? 'refused' : 'offline',
          proposer: o.proposer,
          ...(rejected ? { reason: rejected.reason } : {}),
        });
      }
    }
    for (; logged.refused < chain.refused.length; logged.refused++) {
      const o = chain.refused[logged.refused];
      for (const r of o.rejectedBy) {
        decisions.push({
          t_s: now_s,
          height: o.block.header.number,
          authority: r.authority,
          outcome: 'refused',
          proposer: o.proposer,
          reason: r.reason,
          ...(attack ? { attack: attack.id } : {}),
        });
        if (attack) note(attack, r.authority, r.reason);
        else
          falseAlarms.push(
            `block ${o.block.header.number} of ${o.proposer} refused by ${r.authority}: ${r.reason}`,
          );
      }
    }
  };
  /** A block from outside the turn (an outsider, an equivocating copy): every authority judges it. */
  const strikeWith = async (
    attack: LedgerAttackOutcome,
    block: Awaited<ReturnType<Authority['propose']>>,
  ) => {
    const v = await chain.receive(block);
    for (const r of v.rejectedBy) {
      note(attack, r.authority, r.reason);
      decisions.push({
        t_s: now_s,
        height: block.header.number,
        authority: r.authority,
        outcome: 'refused',
        proposer: attack.kind,
        reason: r.reason,
        attack: attack.id,
      });
    }
    if (v.acceptedBy.length > 0) attack.reasons.push(`accepted by ${v.acceptedBy.join(', ')}`);
  };
  const follower = async (name: string, key: Uint8Array) => {
    const f = await Authority.create(name, key, chain.signers);
    for (const o of chain.log) await f.importBlock(o.block);
    return f;
  };
  const readingRefused = (owner: Authority, meter: string, reason: string, attack?: string) =>
    decisions.push({
      t_s: now_s,
      height: chain.log.at(-1)?.block.header.number ?? 0n,
      authority: owner.name,
      outcome: 'reading-refused',
      proposer: meter,
      reason,
      ...(attack ? { attack } : {}),
    });
  const accounts: AccountAfterInterval[] = [];
  /** Before the first interval: the locked deposits, no debt. */
  const previous = new Map(participants.map((p) => [p, { deposit: DEPOSIT, debt: 0n }]));
  const inTurn = () => authorities[Number((BigInt(chain.log.length) + 1n) % BigInt(n))];
  const restore: (() => Promise<void>)[] = [];

  let k = 0;
  for (const d of delivered) {
    k++;
    const result = market.controller.history.find((h) => h.intervalStart_s === d.intervalStart_s)?.result;
    if (!result) continue;
    const here = outcomes.filter((o) => o.interval === k);
    now_s = d.intervalStart_s + interval_s;
    for (const o of here) o.t_s = now_s;
    const settlement = settlementOf(k, result, { participants: market.controller.participants });
    const honestHash = resultHash(settlement);

    // Authorities going offline for this interval (and coming back after `until`).
    for (const o of outcomes.filter((x) => x.kind === 'authority-offline')) {
      const a = authorities[o.authority ?? 0];
      if (k === o.interval) await chain.setOnline(a, false);
    }

    // Meter readings, closed at the interval's end; a forged one arrives first.
    const end_s = d.intervalStart_s + interval_s;
    for (const o of here.filter((x) => x.kind === 'forged-meter-reading')) {
      const p = o.participant ?? participants[0];
      const mg = market.controller.participants.get(p)?.microgrid;
      const owner = mg ? authorityOfMg.get(mg) : undefined;
      if (!owner)
        throw new ScenarioError(`unknown participant '${p}'`, s.file, undefined, '/security/ledger/attacks');
      const genuine = Math.round(meters.of(d.intervalStart_s).get(p) ?? 0);
      const signed = signReading(
        { meter: `meter:${p}`, participant: p, interval: k, energy_wh: genuine, t_s: end_s },
        keys.get(p)!,
      );
      // The same signed reading with a value in the attacker's favour (a seller claims more).
      const forged = { ...signed, reading: { ...signed.reading, energy_wh: genuine + 50_000 } };
      const v = registers.get(owner)!.accept(forged, end_s + 1);
      if (!v.ok) {
        note(o, `meters@${owner.name}`, `${v.reason}: ${v.message}`);
        readingRefused(owner, `meter:${p}`, `${v.reason}: ${v.message}`, o.id);
      }
    }
    for (const p of participants) {
      const mg = market.controller.participants.get(p)!.microgrid;
      const owner = authorityOfMg.get(mg)!;
      const energy = Math.round(meters.of(d.intervalStart_s).get(p) ?? 0);
      const v = registers
        .get(owner)!
        .accept(
          signReading(
            { meter: `meter:${p}`, participant: p, interval: k, energy_wh: energy, t_s: end_s },
            keys.get(p)!,
          ),
          end_s + 2,
        );
      if (!v.ok) {
        falseAlarms.push(`honest reading of ${p} refused: ${v.message}`);
        readingRefused(owner, `meter:${p}`, `${v.reason}: ${v.message}`);
      }
    }
    const meteredWh = new Map<string, bigint>();
    for (const r of registers.values()) for (const [p, e] of r.meteredFor(k)) meteredWh.set(p, e);

    // Before the votes: outsiders and corruption strike.
    for (const o of here) {
      if (o.kind === 'non-authority-sealer') {
        const outsider = await follower('outsider', authorityKey(`${s.name}/outsider`, 0));
        await strikeWith(o, await outsider.propose([], true, false));
        await strikeWith(o, await outsider.propose([], false, false));
      } else if (o.kind === 'forged-state-root') {
        const culprit = o.authority !== undefined ? authorities[o.authority] : inTurn();
        o.target = culprit.name;
        // The culprit's copy of a participant's balance, changed in its own state trie.
        const slot = keccak(new Uint8Array(64)); // an unused slot: any write changes the state root
        const before = await culprit.vm.stateManager.getStorage(ledger.contract, slot);
        await culprit.vm.stateManager.putStorage(ledger.contract, slot, new Uint8Array([0x42]));
        restore.push(async () => {
          // Its operator restores the state the majority holds, and it catches up by re-executing.
          await culprit.vm.stateManager.putStorage(ledger.contract, slot, before);
          await chain.setOnline(culprit, false);
          await chain.setOnline(culprit, true);
        });
      }
    }

    // The votes: every online authority submits the hash of the result it computed.
    const votes = new Map<Authority, string>();
    for (const a of authorities) if (chain.isOnline(a)) votes.set(a, honestHash);
    for (const o of here.filter((x) => x.kind === 'conflicting-clearing')) {
      const a = authorities[o.authority ?? 0];
      o.target = a.name;
      const tampered = { ...settlement, lines: settlement.lines.map((l) => ({ ...l })) };
      tampered.lines[0].trade += 1_000_000n;
      tampered.poolShare -= 1_000_000n;
      votes.set(a, resultHash(tampered));
    }
    const corruption = here.find((x) => x.kind === 'forged-state-root');
    try {
      await ledger.vote(BigInt(k), votes);
      record(corruption);
      for (const o of here.filter((x) => x.kind === 'conflicting-clearing')) {
        const held = await Promise.all(
          authorities
            .filter((a) => chain.isOnline(a) && !(corruption && a.name === corruption.target))
            .map((a) => ledger.readBytes32(a, 'accepted(uint64)', [BigInt(k)])),
        );
        if (held.every((h) => h === honestHash))
          for (const a of authorities)
            if (a.name !== o.target && chain.isOnline(a))
              note(
                o,
                a.name,
                `outvoted: the majority's hash ${honestHash.slice(0, 10)}… was accepted, not ${o.target}'s`,
              );
      }
      await ledger.settle(settlement, meteredWh);
      record();
    } catch (err) {
      if (!(err instanceof LedgerError)) throw err;
      falseAlarms.push(`interval ${k}: ${err.message}`);
    }
    for (const f of restore.splice(0)) await f();
    const reader = authorities.find((a) => chain.isOnline(a))!;
    const held = await ledger.accountsOf(participants, reader);
    participants.forEach((p, i) => {
      const now = held[i];
      const before = previous.get(p)!;
      previous.set(p, { deposit: now.deposit, debt: now.debt });
      accounts.push({
        t_s: now_s,
        participant: p,
        microgrid: market.controller.participants.get(p)!.microgrid,
        cleared_wh: Number(settlement.lines.find((l) => l.participant === p)?.clearedWh ?? 0n),
        metered_wh: Number(meteredWh.get(p) ?? 0n),
        ...now,
        penalty: before.deposit - now.deposit + now.debt - before.debt,
      });
    });

    // After the interval's blocks: an equivocating authority seals a second block at the last height.
    for (const o of here.filter((x) => x.kind === 'equivocating-authority')) {
      const lastBlock = chain.log.at(-1)!;
      const culprit = authorities.find((a) => a.name === lastBlock.proposer)!;
      o.target = culprit.name;
      const copy = await Authority.create(`${culprit.name}-copy`, culprit.key, chain.signers);
      for (const x of chain.log.slice(0, -1)) await copy.importBlock(x.block);
      const second = await copy.propose([], lastBlock.block.header.difficulty === 2n, false);
      await strikeWith(o, second);
    }
    for (const o of outcomes.filter((x) => x.kind === 'authority-offline')) {
      const a = authorities[o.authority ?? 0];
      o.target = a.name;
      if (k === (o.until ?? o.interval)) {
        const refused = await chain.setOnline(a, true);
        // Detected: the chain went on without it (a majority online) and it caught up by re-executing.
        note(
          o,
          'chain',
          `went on with ${n - 1} of ${n} authorities; ${a.name} re-executed the blocks it missed${refused.length ? ` (refused ${refused.length})` : ''}`,
        );
      }
    }

    // The reference chain settles the same interval with the honest readings.
    const refVotes = new Map(reference.chain.authorities.map((a) => [a, honestHash]));
    await reference.vote(BigInt(k), refVotes);
    await reference.settle(settlement, meteredWh);
  }

  // 3. Balances, deposits, debts on every authority against the reference chain.
  const mismatches: string[] = [];
  const totals: Record<string, bigint> = Object.fromEntries(authorities.map((a) => [a.name, 0n]));
  const referee = reference.chain.authorities[0];
  for (const p of participants) {
    const who = participantAddress(p);
    const want = {
      balance: await reference.read(referee, 'balanceOf(address)', [who]),
      deposit: await reference.read(referee, 'depositOf(address)', [who]),
      debt: await reference.read(referee, 'debtOf(address)', [who]),
    };
    for (const got of await ledger.accountOnEvery(p)) {
      totals[got.authority] += got.balance;
      for (const f of ['balance', 'deposit', 'debt'] as const)
        if (got[f] !== want[f])
          mismatches.push(`${p} ${f} on ${got.authority}: ${got[f]} (reference ${want[f]})`);
    }
  }
  return {
    passed: outcomes.every((o) => o.detected) && falseAlarms.length === 0 && mismatches.length === 0,
    attacks: outcomes,
    falseAlarms,
    settled: k,
    balanceMismatches: mismatches,
    participantsChecked: participants.length,
    decisions,
    balanceTotals: totals,
    accounts,
    market,
  };
}

/** Lines for a person: each attack, who rejected it, and the balance check. */
export function consensusLines(r: ConsensusRunResult): string[] {
  const lines = r.attacks.map(
    (a) =>
      `  ${a.detected ? 'REJECTED' : 'MISSED  '}  ${a.id} (${a.kind}, interval ${a.interval}, ${a.target})${
        a.detected ? ` by ${a.rejectedBy.join(', ')}: ${a.reasons[0]}` : ''
      }`,
  );
  for (const f of r.falseAlarms) lines.push(`  FALSE ALARM  ${f}`);
  lines.push(
    r.balanceMismatches.length === 0
      ? `  PASS  balances right: ${r.participantsChecked} participants' balance, deposit and debt on every authority equal the unattacked reference chain after ${r.settled} intervals`
      : `  FAIL  balances: ${r.balanceMismatches.slice(0, 5).join('; ')}`,
  );
  return lines;
}

/**
 * The run's points (docs/influx-schema.md): each chain decision (`chain`, refused meter readings
 * included), each attack's ground truth (`attack`) and who rejected it (`detection`, one point per
 * attack and rejecting party), every participant's account after each interval (`market_account`),
 * and the balance totals each authority's storage holds at the end.
 */
export function recordConsensus(
  r: ConsensusRunResult,
  point: PointSink,
  timeOf: (t_s: number) => bigint,
): void {
  for (const d of r.decisions)
    point(
      'chain',
      { authority: d.authority, outcome: d.outcome },
      { height: d.height, proposer: d.proposer, reason: d.reason ?? '', attack: d.attack ?? '' },
      timeOf(d.t_s),
    );
  for (const a of r.attacks) {
    const t = timeOf(a.t_s ?? 0);
    point(
      'attack',
      { attack: a.id, kind: a.kind },
      { target: a.target, end_ms: BigInt(Math.round((a.t_s ?? 0) * 1000)) },
      t,
    );
    for (const by of a.detected ? a.rejectedBy : ['none'])
      point('detection', { attack: a.id, detector: by }, { detected: a.detected, time_to_detect_s: 0 }, t);
  }
  for (const a of r.accounts)
    point(
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
      timeOf(a.t_s),
    );
  const end = Math.max(0, ...r.decisions.map((d) => d.t_s));
  for (const [authority, total] of Object.entries(r.balanceTotals))
    point('chain', { authority, outcome: 'balances' }, { balance_total: Number(total) }, timeOf(end));
}
