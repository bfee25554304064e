/**
 * The market's ledger on the embedded PoA chain: deploys MarketLedger.sol (compiled ABI/bytecode in
 * MarketLedger.json), and turns the market's steps — credits, deposits, order commitments, clearing
 * votes, settlement — into transactions. Balances are read back from each authority's own contract
 * storage; nothing about money is kept in TypeScript beside the chain.
 */
import { readFileSync } from 'node:fs';
import { type Address, createAddressFromString, createContractAddress } from '@ethereumjs/util';
import type { ClearingResult } from '../clearing.ts';
import { canonicalReading, type MeterReading } from '../metering.ts';
import type { Participant } from '../orders.ts';
import { declaredPart } from '../position.ts';
import { type SharingRule, share } from '../sharing.ts';
import { bytesToHex, concat, decodeWord, encodeArgs, encodeCall, hexToBytes, keccak } from './abi.ts';
import { type Authority, LedgerError, type PoaChain } from './chain.ts';
import { type CommittedBlock, EmbeddedEngine, type EngineCall, type LedgerEngine } from './engine.ts';
import { type BookCommitment, merklePath } from './order-commitment.ts';

const artifact = JSON.parse(readFileSync(new URL('./MarketLedger.json', import.meta.url), 'utf8')) as {
  bytecode: string;
};

export interface LedgerRules {
  retailPrice: number;
  feedInPrice: number;
  /** Deviation tolerated without penalty: toleranceWh + |cleared| × tolerancePermille / 1000. */
  toleranceWh: number;
  tolerancePermille: number;
  /** Penalty per Wh of deviation beyond the tolerance, micro-units. */
  penaltyPerWh: number;
}

/** One participant's line in an interval's settlement. */
export interface SettlementLine {
  participant: string;
  /** Declared net position, Wh (sell positive): P2P fills plus the unmatched rest of its orders. */
  clearedWh: bigint;
  /** Money for it, micro-units (received positive): P2P payments and the main grid's for the rest. */
  trade: bigint;
}

export interface IntervalSettlement {
  interval: bigint;
  lines: SettlementLine[];
  /** To the pool (congestion rent, pay-as-bid spread), micro-units. */
  poolShare: bigint;
  /** To the main-grid account (unmatched volume), micro-units. */
  gridShare: bigint;
}

/** A participant's account address on the chain, derived from its id. */
export function participantAddress(id: string): string {
  return bytesToHex(keccak(new TextEncoder().encode(`gridloop-market-participant:${id}`)).slice(12));
}

/** Passive prosumers of an interval, settled by a community sharing rule (market/sharing.ts). */
export interface PassiveSettlement {
  /** Every metered participant's net energy, Wh (export positive); those without fills are passive. */
  metered: ReadonlyMap<string, bigint>;
  rule: SharingRule;
  retailPrice: number;
  feedInPrice: number;
}

/**
 * Settlement lines of a clearing: per participant, its declared position and money (`declaredPart`,
 * market/position.ts: its fills, and the unmatched rest with the grid unless the market holds it to
 * its matched volume); with `passive`, each metered participant without fills and with a nonzero
 * reading gets a line at its metered energy and the money of the community sharing rule, the
 * community's exchange with the main grid going to the grid account and the rounding remainder to
 * the pool (docs/market.md, "Passive prosumers on the chain").
 */
export function settlementOf(
  interval: number,
  result: ClearingResult,
  options: { participants?: ReadonlyMap<string, Participant>; passive?: PassiveSettlement } = {},
): IntervalSettlement {
  const byParticipant = new Map<string, SettlementLine>();
  let gridShare = 0n;
  let poolShare = BigInt(result.pool);
  for (const f of result.fills) {
    const line = byParticipant.get(f.participant) ?? { participant: f.participant, clearedWh: 0n, trade: 0n };
    const part = declaredPart(f, options.participants?.get(f.participant));
    line.clearedWh += BigInt(part.position_wh);
    line.trade += BigInt(part.money);
    gridShare += BigInt(part.grid);
    byParticipant.set(f.participant, line);
  }
  const passive = options.passive;
  if (passive) {
    const positions = [...passive.metered]
      .filter(([p, wh]) => wh !== 0n && !byParticipant.has(p))
      .map(([participant, wh]) => ({ participant, net_wh: Number(wh) }));
    if (positions.length > 0) {
      const shared = share(positions, passive.rule, passive.retailPrice, passive.feedInPrice);
      for (const { participant, net_wh } of positions)
        byParticipant.set(participant, {
          participant,
          clearedWh: BigInt(net_wh),
          trade: shared.amounts.get(participant)!,
        });
      gridShare += shared.gridNet;
      poolShare += shared.remainder;
    }
  }
  const lines = [...byParticipant.values()].sort((a, b) => (a.participant < b.participant ? -1 : 1));
  return { interval: BigInt(interval), lines, poolShare, gridShare };
}

function resultArgs(s: IntervalSettlement) {
  return [
    s.interval,
    s.lines.map((l) => participantAddress(l.participant)),
    s.lines.map((l) => l.clearedWh),
    s.lines.map((l) => l.trade),
    s.poolShare,
    s.gridShare,
  ];
}

/**
 * The hash the authorities vote on (the same as the contract's `resultHash`): the lines chained,
 * h = keccak256(abi.encode(h, who, clearedWh, trade)) from h = 0, then
 * keccak256(abi.encode(interval, lines, h, poolShare, gridShare)).
 */
export function resultHash(s: IntervalSettlement): string {
  let h = '0x'.padEnd(66, '0');
  for (const l of s.lines)
    h = bytesToHex(
      keccak(
        encodeArgs(
          ['bytes32', 'address', 'int256', 'int256'],
          [h, participantAddress(l.participant), l.clearedWh, l.trade],
        ),
      ),
    );
  return bytesToHex(
    keccak(
      encodeArgs(
        ['uint64', 'uint256', 'bytes32', 'int256', 'int256'],
        [s.interval, s.lines.length, h, s.poolShare, s.gridShare],
      ),
    ),
  );
}

/** A meter's key in the contract: keccak256 of its id. */
export function meterKey(meter: string): string {
  return bytesToHex(keccak(new TextEncoder().encode(meter)));
}

/**
 * Gas of one settlement line, an upper bound (a participant's first settlement with a penalty, a
 * debt and its event: fresh storage slots), and of a settlement transaction without lines. A
 * settlement is split so that each slice's bound fits a block (docs/market.md, "Split settlement").
 */
export const SETTLE_GAS_PER_LINE = 75_000n;
export const SETTLE_GAS_BASE = 150_000n;

/** What a ledger step put on the chain. */
export interface LedgerOutcome {
  blocks: CommittedBlock[];
  /** Of the last block: who sealed it, who accepted it, who refused it and why. */
  proposer: string;
  acceptedBy: string[];
  rejectedBy: { authority: string; reason: string }[];
  gasUsed: bigint;
}

function outcomeOf(blocks: CommittedBlock[]): LedgerOutcome {
  const last = blocks[blocks.length - 1];
  return {
    blocks,
    proposer: last?.proposer ?? '',
    acceptedBy: last?.acceptedBy ?? [],
    rejectedBy: last?.rejectedBy ?? [],
    gasUsed: blocks.reduce((s, b) => s + b.gasUsed, 0n),
  };
}

export class MarketLedger {
  /** Ids of every participant the ledger has moved money for (their accounts are on the chain). */
  readonly participants = new Set<string>();

  private constructor(
    readonly engine: LedgerEngine,
    readonly contractAddress: string,
  ) {}

  /** The default: a fresh embedded Clique chain of `authorities` authorities, contract deployed. */
  static async deploy(
    authorities: number,
    rules: LedgerRules,
    seed = 'gridloop',
    blockGasLimit?: bigint,
  ): Promise<MarketLedger> {
    return MarketLedger.deployOn(await EmbeddedEngine.create({ authorities, seed, blockGasLimit }), rules);
  }

  /** Deploys MarketLedger.sol on any engine (embedded, EDR, a lab's chain) from authority 0. */
  static async deployOn(engine: LedgerEngine, rules: LedgerRules): Promise<MarketLedger> {
    const nonce = await engine.nonceOf(0);
    const args = encodeArgs(
      ['address[]', 'int256', 'int256', 'int256', 'int256', 'int256'],
      [
        [...engine.authorities],
        rules.retailPrice,
        rules.feedInPrice,
        rules.toleranceWh,
        rules.tolerancePermille,
        rules.penaltyPerWh,
      ],
    );
    const gas = DEPLOY_GAS < engine.blockGasLimit ? DEPLOY_GAS : engine.blockGasLimit;
    await engine.submit([[{ from: 0, data: concat([hexToBytes(artifact.bytecode), args]), gas }]]);
    const address = createContractAddress(createAddressFromString(engine.authorities[0]), nonce);
    return new MarketLedger(engine, address.toString());
  }

  /** The embedded chain (its authorities, blocks, refusals); LedgerError on another engine. */
  get chain(): PoaChain {
    if (!(this.engine instanceof EmbeddedEngine))
      throw new LedgerError(`the ${this.engine.kind} engine has no embedded chain`);
    return this.engine.chain;
  }

  /** The contract's address (@ethereumjs Address), as before engines had names. */
  get contract(): Address {
    return createAddressFromString(this.contractAddress);
  }

  private call(signature: string, args: Parameters<typeof encodeCall>[1], from?: number): EngineCall {
    return { from, to: this.contractAddress, data: encodeCall(signature, args) };
  }

  private async submit(groups: EngineCall[][]): Promise<LedgerOutcome> {
    return outcomeOf(await this.engine.submit(groups));
  }

  credit(amounts: ReadonlyMap<string, bigint>): Promise<LedgerOutcome> {
    const who = [...amounts.keys()];
    for (const w of who) this.participants.add(w);
    return this.submit([
      [
        this.call('credit(address[],int256[])', [
          who.map(participantAddress),
          who.map((w) => amounts.get(w)!),
        ]),
      ],
    ]);
  }

  lockDeposits(amounts: ReadonlyMap<string, bigint>): Promise<LedgerOutcome> {
    const who = [...amounts.keys()];
    return this.submit([
      [
        this.call('lockDeposit(address[],int256[])', [
          who.map(participantAddress),
          who.map((w) => amounts.get(w)!),
        ]),
      ],
    ]);
  }

  /**
   * Commits books of an interval's orders (order-commitment.ts), each as one transaction of its
   * microgrid's authority (`authorityOf`), in one block. The contract refuses a book when a listed
   * participant's deposit does not cover its need ("deposit too small"), or after the clearing was
   * accepted ("gate closed").
   */
  commitOrderBooks(
    books: readonly BookCommitment[],
    authorityOf: (microgrid: string) => number = () => 0,
  ): Promise<LedgerOutcome> {
    return this.submit([this.orderBookCalls(books, authorityOf)]);
  }

  orderBookCalls(books: readonly BookCommitment[], authorityOf: (microgrid: string) => number): EngineCall[] {
    return books.map((b) =>
      this.call(
        'commitOrderRoot(uint64,bytes32,bytes32,uint256,address[],int256[])',
        [
          b.interval,
          b.book,
          b.root,
          BigInt(b.orders.length),
          [...b.needs.keys()].map(participantAddress),
          [...b.needs.values()],
        ],
        authorityOf(b.microgrid),
      ),
    );
  }

  /** Proves the book's order `index` against the root on the chain (the contract walks its path). */
  async proveOrder(book: BookCommitment, index: number, reader: Authority | number = 0): Promise<boolean> {
    const out = await this.engine.call(
      this.contractAddress,
      encodeCall('proveOrder(uint64,bytes32,bytes32,uint256,bytes32[])', [
        book.interval,
        book.book,
        book.leaves[index],
        BigInt(index),
        merklePath(book.leaves, index),
      ]),
      this.readerIndex(reader),
    );
    return decodeWord(out) === 1n;
  }

  /**
   * Each authority votes the hash of the settlement it computed (one transaction each, one block).
   * Keys: an authority of the embedded chain, or an authority's index on any engine.
   */
  vote(interval: bigint, hashes: ReadonlyMap<Authority | number, string>): Promise<LedgerOutcome> {
    return this.submit([this.voteCalls(interval, hashes)]);
  }

  private voteCalls(interval: bigint, hashes: ReadonlyMap<Authority | number, string>): EngineCall[] {
    return [...hashes].map(([a, h]) =>
      this.call('submitClearing(uint64,bytes32)', [interval, h], this.indexOf(a)),
    );
  }

  /** The interval's meter-reading commitments and every authority's vote, in one block. */
  commitReadingsAndVote(
    interval: bigint,
    commitments: readonly { meter: string; commitment: string }[],
    hashes: ReadonlyMap<Authority | number, string>,
    before: readonly EngineCall[] = [],
  ): Promise<LedgerOutcome> {
    const readings = commitments.length > 0 ? [this.readingsCall(interval, commitments)] : [];
    return this.submit([[...before, ...readings, ...this.voteCalls(interval, hashes)]]);
  }

  /**
   * Settles the accepted interval against the metered energy. One transaction when its gas bound
   * fits a block; otherwise split into slices of consecutive lines, one block each (settleSlice), the
   * last one checking the whole against the accepted clearing. Either way all or nothing: the engine
   * drops every slice if one fails, so an interval is never left half settled.
   */
  settle(s: IntervalSettlement, meteredWh: ReadonlyMap<string, bigint>): Promise<LedgerOutcome> {
    for (const l of s.lines) this.participants.add(l.participant);
    const metered = s.lines.map((l) => meteredWh.get(l.participant) ?? l.clearedWh);
    const perSlice = this.linesPerSlice();
    if (s.lines.length <= perSlice)
      return this.submit([
        [
          {
            ...this.call('settle(uint64,address[],int256[],int256[],int256,int256,int256[])', [
              ...resultArgs(s),
              metered,
            ]),
            gas: this.settleGas(s.lines.length),
          },
        ],
      ]);
    const groups: EngineCall[][] = [];
    for (let from = 0; from < s.lines.length; from += perSlice) {
      const to = Math.min(from + perSlice, s.lines.length);
      const lines = s.lines.slice(from, to);
      groups.push([
        {
          ...this.call('settleSlice(uint64,address[],int256[],int256[],int256[],int256,int256,bool)', [
            s.interval,
            lines.map((l) => participantAddress(l.participant)),
            lines.map((l) => l.clearedWh),
            lines.map((l) => l.trade),
            metered.slice(from, to),
            s.poolShare,
            s.gridShare,
            to === s.lines.length,
          ]),
          gas: this.settleGas(lines.length),
        },
      ]);
    }
    return this.submit(groups);
  }

  /** How many settlement lines one transaction may carry on this engine's blocks. */
  linesPerSlice(): number {
    const room = (this.engine.blockGasLimit * 95n) / 100n - SETTLE_GAS_BASE;
    const n = Number(room / SETTLE_GAS_PER_LINE);
    if (n < 1)
      throw new LedgerError(
        `block gas limit ${this.engine.blockGasLimit} is too small for one settlement line`,
      );
    return n;
  }

  private settleGas(lines: number): bigint {
    const bound = SETTLE_GAS_BASE + SETTLE_GAS_PER_LINE * BigInt(lines);
    return bound < this.engine.blockGasLimit ? bound : this.engine.blockGasLimit;
  }

  /**
   * Puts the interval's meter-reading commitments on the chain (one per meter, never overwritten):
   * the raw readings stay with the authority (metering.ts).
   */
  commitReadings(
    interval: bigint,
    commitments: readonly { meter: string; commitment: string }[],
  ): Promise<LedgerOutcome> {
    return this.submit([[this.readingsCall(interval, commitments)]]);
  }

  private readingsCall(
    interval: bigint,
    commitments: readonly { meter: string; commitment: string }[],
  ): EngineCall {
    return this.call('commitReadings(uint64,bytes32[],bytes32[])', [
      interval,
      commitments.map((c) => meterKey(c.meter)),
      commitments.map((c) => c.commitment),
    ]);
  }

  /**
   * Proves a reading against its commitment on the chain (the contract recomputes the hash of the
   * reading's canonical bytes and the salt): true only if it is what the authority committed.
   */
  async proveReading(
    proof: { reading: MeterReading; salt: string },
    reader: Authority | number = 0,
  ): Promise<boolean> {
    const r = proof.reading;
    const out = await this.engine.call(
      this.contractAddress,
      encodeCall('proveReading(uint64,bytes32,bytes,bytes)', [
        r.interval,
        meterKey(r.meter),
        canonicalReading(r),
        new TextEncoder().encode(proof.salt),
      ]),
      this.readerIndex(reader),
    );
    return decodeWord(out) === 1n;
  }

  /** Reads an int256 view of the contract from one reader's own state (an authority, or its index). */
  async read(
    reader: Authority | number,
    signature: string,
    args: Parameters<typeof encodeCall>[1] = [],
  ): Promise<bigint> {
    return decodeWord(
      await this.engine.call(this.contractAddress, encodeCall(signature, args), this.readerIndex(reader)),
    );
  }

  async readBytes32(
    reader: Authority | number,
    signature: string,
    args: Parameters<typeof encodeCall>[1] = [],
  ) {
    return bytesToHex(
      await this.engine.call(this.contractAddress, encodeCall(signature, args), this.readerIndex(reader)),
    );
  }

  /** Many participants' accounts from one reader's contract storage, in one call. */
  async accountsOf(
    participants: readonly string[],
    reader: Authority | number = 0,
  ): Promise<{ balance: bigint; deposit: bigint; debt: bigint; reputation: bigint }[]> {
    const words = await this.engine.call(
      this.contractAddress,
      encodeCall('accountsOf(address[])', [participants.map(participantAddress)]),
      this.readerIndex(reader),
    );
    // After the returned array's offset and length, four words per participant.
    return participants.map((_, i) => {
      const [balance, deposit, debt, reputation] = [0, 1, 2, 3].map((f) => decodeWord(words, 2 + 4 * i + f));
      return { balance, deposit, debt, reputation };
    });
  }

  /** A participant's balance, deposit and debt as each reader's contract storage holds them. */
  async accountOnEvery(participant: string) {
    const who = participantAddress(participant);
    return Promise.all(
      this.engine.readers.map(async (name, i) => ({
        authority: name,
        balance: await this.read(i, 'balanceOf(address)', [who]),
        deposit: await this.read(i, 'depositOf(address)', [who]),
        debt: await this.read(i, 'debtOf(address)', [who]),
      })),
    );
  }

  close(): Promise<void> {
    return this.engine.close();
  }

  private indexOf(a: Authority | number): number {
    if (typeof a === 'number') return a;
    const i = this.chain.authorities.indexOf(a);
    if (i < 0) throw new LedgerError(`${a.name} is not an authority of this chain`);
    return i;
  }

  private readerIndex(r: Authority | number): number {
    return this.indexOf(r);
  }
}

/** Deployment gas: the contract's init code is a few kB. */
const DEPLOY_GAS = 5_000_000n;

export { createAddressFromString };
