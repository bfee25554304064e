/**
 * One interface over the three ledger engines (docs/market.md, "Ledger engines"): the market's
 * ledger (ledger.ts) deploys MarketLedger.sol and sends the same transactions whatever runs them.
 *
 * - `embedded` (default): the in-process 3+-authority Clique chain on @ethereumjs (chain.ts);
 * - `edr`: hardhat's EDR in process (engine-rpc.ts), fast for long or large runs;
 * - `json-rpc`: a lab's own chain over JSON-RPC through viem (engine-rpc.ts).
 */
import { createAddressFromString } from '@ethereumjs/util';
import { bytesToHex } from './abi.ts';
import { type Authority, type BlockOutcome, type ChainCall, LedgerError, PoaChain } from './chain.ts';

export type EngineKind = 'embedded' | 'edr' | 'json-rpc';

/** One transaction: from an authority (its index in `engine.authorities`; default: any). */
export interface EngineCall {
  from?: number;
  /** Contract called (0x hex); undefined deploys `data` as init code. */
  to?: string;
  data: Uint8Array;
  /** Gas limit of the transaction; default: the engine's choice (shared block gas, or an estimate). */
  gas?: bigint;
}

/** A block that became final. */
export interface CommittedBlock {
  number: bigint;
  hash: string;
  gasUsed: bigint;
  /** Who sealed it (the authority's name on the embedded chain, the node's coinbase elsewhere). */
  proposer: string;
  /** Authorities that accepted it (the embedded chain: proposer included); the node elsewhere. */
  acceptedBy: string[];
  rejectedBy: { authority: string; reason: string }[];
}

export interface LedgerEngine {
  readonly kind: EngineKind;
  /** Authority accounts (0x addresses): they deploy the contract and send every transaction. */
  readonly authorities: readonly string[];
  readonly blockGasLimit: bigint;
  /**
   * The independent states balances are read from: every authority's own on the embedded chain,
   * the one node elsewhere. `call(…, reader)` takes an index into this list.
   */
  readonly readers: readonly string[];
  /**
   * Puts each group of calls on the chain in order (the embedded chain: one block per group; an
   * automining node: one block per transaction), all or nothing: if one transaction reverts or a
   * block gets no majority, the chain is left as it was before and LedgerError says why.
   */
  submit(groups: readonly (readonly EngineCall[])[]): Promise<CommittedBlock[]>;
  /** The next nonce of an authority's account (a deployment's address follows from it). */
  nonceOf(authority: number): Promise<bigint>;
  /** A read-only call against one reader's state. */
  call(to: string, data: Uint8Array, reader?: number): Promise<Uint8Array>;
  /** Frees what the engine holds (a provider, a connection). */
  close(): Promise<void>;
}

/** The embedded Clique chain as a LedgerEngine. */
export class EmbeddedEngine implements LedgerEngine {
  readonly kind = 'embedded';

  constructor(readonly chain: PoaChain) {}

  static async create(options: { authorities?: number; seed?: string; blockGasLimit?: bigint } = {}) {
    return new EmbeddedEngine(
      await PoaChain.create(options.authorities ?? 3, options.seed, options.blockGasLimit),
    );
  }

  get authorities(): string[] {
    return this.chain.authorities.map((a) => a.address.toString());
  }

  get readers(): string[] {
    return this.chain.authorities.map((a) => a.name);
  }

  get blockGasLimit(): bigint {
    return this.chain.authorities[0].gasLimit;
  }

  async submit(groups: readonly (readonly EngineCall[])[]): Promise<CommittedBlock[]> {
    const outcomes = await this.chain.commitAll(groups.map((g) => g.map((c) => this.chainCall(c))));
    return outcomes.map(committedBlock);
  }

  call(to: string, data: Uint8Array, reader = 0): Promise<Uint8Array> {
    const a = this.chain.authorities[reader];
    if (!a) throw new LedgerError(`no reader ${reader}: the chain has ${this.readers.length}`);
    return a.call(createAddressFromString(to), data);
  }

  async close(): Promise<void> {}

  nonceOf(authority: number): Promise<bigint> {
    const a = this.chain.authorities[authority];
    return a.nonceOf(a.address);
  }

  private chainCall(c: EngineCall): ChainCall {
    let from: Authority | undefined;
    if (c.from !== undefined) {
      from = this.chain.authorities[c.from];
      if (!from) throw new LedgerError(`no authority ${c.from}: the chain has ${this.authorities.length}`);
    }
    return {
      from,
      to: c.to === undefined ? undefined : createAddressFromString(c.to),
      data: c.data,
      gas: c.gas,
    };
  }
}

export function committedBlock(o: BlockOutcome): CommittedBlock {
  return {
    number: o.block.header.number,
    hash: bytesToHex(o.block.hash()),
    gasUsed: o.block.header.gasUsed,
    proposer: o.proposer,
    acceptedBy: o.acceptedBy,
    rejectedBy: o.rejectedBy,
  };
}
