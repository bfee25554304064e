/**
 * The market's ledger on the embedded PoA chain: deploys MarketLedger.sol (compiled ABI/bytecode in
 * MarketLedger.json), and turns the market's steps — credits, deposits, order commitments, clearing
 * votes, settlement — into transactions. Balances are read back from each authority's own contract
 * storage; nothing about money is kept in TypeScript beside the chain.
 */
import { readFileSync } from 'node:fs';
import { type Address, createAddressFromString, createContractAddress } from '@ethereumjs/util';
import type { ClearingResult } from '../clearing.ts';
import { bytesToHex, concat, decodeWord, encodeArgs, encodeCall, hexToBytes, keccak } from './abi.ts';
import { type Authority, type BlockOutcome, type ChainCall, PoaChain } from './chain.ts';

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

/** Settlement lines of a clearing: per participant, its fills plus the unmatched rest with the grid. */
export function settlementOf(interval: number, result: ClearingResult): IntervalSettlement {
  const byParticipant = new Map<string, SettlementLine>();
  let gridShare = 0n;
  for (const f of result.fills) {
    const line = byParticipant.get(f.participant) ?? { participant: f.participant, clearedWh: 0n, trade: 0n };
    const sign = f.side === 'sell' ? 1n : -1n;
    line.clearedWh += sign * BigInt(f.filled_wh + f.unmatched_wh);
    line.trade += sign * BigInt(f.amount + f.gridAmount);
    gridShare -= sign * BigInt(f.gridAmount); // the grid receives from buyers, pays sellers
    byParticipant.set(f.participant, line);
  }
  const lines = [...byParticipant.values()].sort((a, b) => (a.participant < b.participant ? -1 : 1));
  return { interval: BigInt(interval), lines, poolShare: BigInt(result.pool), gridShare };
}

const RESULT_TYPES = ['uint64', 'address[]', 'int256[]', 'int256[]', 'int256', 'int256'];

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

/** The hash the authorities vote on (the same as the contract's `resultHash`). */
export function resultHash(s: IntervalSettlement): string {
  return bytesToHex(keccak(encodeArgs(RESULT_TYPES, resultArgs(s))));
}

export class MarketLedger {
  private constructor(
    readonly chain: PoaChain,
    readonly contract: Address,
  ) {}

  static async deploy(authorities: number, rules: LedgerRules, seed = 'gridloop'): Promise<MarketLedger> {
    const chain = await PoaChain.create(authorities, seed);
    const deployer = chain.authorities[0];
    const nonce = await deployer.nonceOf(deployer.address);
    const args = encodeArgs(
      ['address[]', 'int256', 'int256', 'int256', 'int256', 'int256'],
      [
        chain.authorities.map((a) => a.address.toString()),
        rules.retailPrice,
        rules.feedInPrice,
        rules.toleranceWh,
        rules.tolerancePermille,
        rules.penaltyPerWh,
      ],
    );
    await chain.commit([{ from: deployer, data: concat([hexToBytes(artifact.bytecode), args]) }]);
    return new MarketLedger(chain, createContractAddress(deployer.address, nonce));
  }

  private call(signature: string, args: Parameters<typeof encodeCall>[1], from?: Authority): ChainCall {
    return { from, to: this.contract, data: encodeCall(signature, args) };
  }

  credit(amounts: ReadonlyMap<string, bigint>): Promise<BlockOutcome> {
    const who = [...amounts.keys()];
    return this.chain.commit([
      this.call('credit(address[],int256[])', [who.map(participantAddress), who.map((w) => amounts.get(w)!)]),
    ]);
  }

  lockDeposits(amounts: ReadonlyMap<string, bigint>): Promise<BlockOutcome> {
    const who = [...amounts.keys()];
    return this.chain.commit([
      this.call('lockDeposit(address[],int256[])', [
        who.map(participantAddress),
        who.map((w) => amounts.get(w)!),
      ]),
    ]);
  }

  commitOrders(
    interval: bigint,
    orders: readonly { hash: string; participant: string; deposit: bigint }[],
  ): Promise<BlockOutcome> {
    return this.chain.commit([
      this.call('commitOrders(uint64,bytes32[],address[],int256[])', [
        interval,
        orders.map((o) => o.hash),
        orders.map((o) => participantAddress(o.participant)),
        orders.map((o) => o.deposit),
      ]),
    ]);
  }

  /** Each authority votes the hash of the settlement it computed (one transaction each, one block). */
  vote(interval: bigint, hashes: ReadonlyMap<Authority, string>): Promise<BlockOutcome> {
    return this.chain.commit(
      [...hashes].map(([a, h]) => this.call('submitClearing(uint64,bytes32)', [interval, h], a)),
    );
  }

  /** Settles the accepted interval in one transaction (all or nothing) against the metered energy. */
  settle(s: IntervalSettlement, meteredWh: ReadonlyMap<string, bigint>): Promise<BlockOutcome> {
    return this.chain.commit([
      this.call('settle(uint64,address[],int256[],int256[],int256,int256,int256[])', [
        ...resultArgs(s),
        s.lines.map((l) => meteredWh.get(l.participant) ?? l.clearedWh),
      ]),
    ]);
  }

  /** Reads an int256 view of the contract from one authority's own state. */
  async read(
    authority: Authority,
    signature: string,
    args: Parameters<typeof encodeCall>[1] = [],
  ): Promise<bigint> {
    return decodeWord(await authority.call(this.contract, encodeCall(signature, args)));
  }

  async readBytes32(authority: Authority, signature: string, args: Parameters<typeof encodeCall>[1] = []) {
    return bytesToHex(await authority.call(this.contract, encodeCall(signature, args)));
  }

  /** A participant's balance, deposit and debt as each authority's contract storage holds them. */
  async accountOnEvery(participant: string) {
    const who = participantAddress(participant);
    return Promise.all(
      this.chain.authorities.map(async (a) => ({
        authority: a.name,
        balance: await this.read(a, 'balanceOf(address)', [who]),
        deposit: await this.read(a, 'depositOf(address)', [who]),
        debt: await this.read(a, 'debtOf(address)', [who]),
      })),
    );
  }
}

export { createAddressFromString };
