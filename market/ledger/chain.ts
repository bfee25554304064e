/**
 * The embedded ledger engine: a proof-of-authority (Clique) Ethereum chain run in process on the
 * @ethereumjs packages. Each authority (one per microgrid) keeps its own blockchain database and its
 * own state trie; a block proposed by one authority is checked by every other one — Clique seal and
 * turn (blockchain.putBlock with consensus validation) and full re-execution of its transactions
 * against the authority's own state (runBlock: state root, receipts and gas must match the header).
 * A block is final when a majority of authorities accepted it; an authority whose block the others
 * reject is reported, and the next authority in line proposes instead (Clique's out-of-turn rule).
 */
import { type Block, type BlockHeader, createBlock } from '@ethereumjs/block';
import { type Blockchain, createBlockchain } from '@ethereumjs/blockchain';
import { type Common, ConsensusAlgorithm, createCustomCommon, Hardfork, Mainnet } from '@ethereumjs/common';
import { MerklePatriciaTrie } from '@ethereumjs/mpt';
import { Caches } from '@ethereumjs/statemanager';
import { createLegacyTx, type LegacyTx } from '@ethereumjs/tx';
import {
  type Address,
  createAddressFromPrivateKey,
  createZeroAddress,
  KECCAK256_RLP,
  MapDB,
  ValueEncoding,
} from '@ethereumjs/util';
import { buildBlock, createVM, runBlock, type VM } from '@ethereumjs/vm';
import { bytesToHex, concat, hexToBytes, keccak } from './abi.ts';
import { SealCachingClique, sealerOf } from './clique.ts';
import { BatchedStateManager } from './state.ts';

/** Our own chain: the default block gas limit is sized for one interval's settlement of 1,000+
 * prosumers (a larger settlement is split over several blocks: docs/market.md, "Split settlement"). */
export const BLOCK_GAS_LIMIT = 400_000_000n;
const CLIQUE_PERIOD_S = 1;
const VANITY = 32;
const SEAL = 65;

export function makeCommon(): Common {
  const early = [
    'chainstart',
    'homestead',
    'tangerineWhistle',
    'spuriousDragon',
    'byzantium',
    'constantinople',
    'petersburg',
    'istanbul',
    'muirGlacier',
    'berlin',
  ];
  const common = createCustomCommon(
    {
      name: 'gridloop-market',
      chainId: 31_337,
      consensus: {
        type: 'poa',
        algorithm: ConsensusAlgorithm.Clique,
        clique: { period: CLIQUE_PERIOD_S, epoch: 30_000 },
      },
      hardforks: early.map((name) => ({ name, block: 0 })),
    },
    Mainnet,
    // The WebAssembly keccak for block, transaction and state-trie hashing (abi.ts).
    { hardfork: Hardfork.Berlin, customCrypto: { keccak256: keccak } },
  );
  // The EVM asks isActivatedEIP twice at every instruction, and the library scans an array each
  // time: a set of the same EIPs, rebuilt whenever the library replaces its list (hardfork change).
  const own = common as unknown as { _activatedEIPsCache: number[] };
  let list: number[] | undefined;
  let active = new Set<number>();
  common.isActivatedEIP = (eip: number) => {
    if (own._activatedEIPsCache !== list) {
      list = own._activatedEIPsCache;
      active = new Set(list);
    }
    return active.has(eip);
  };
  return common;
}

/** Deterministic authority keys for a run (seeded), so every node derives the same genesis. */
export function authorityKey(seed: string, i: number): Uint8Array {
  return keccak(new TextEncoder().encode(`gridloop-market-authority:${seed}:${i}`));
}

export function genesisBlock(common: Common, signers: readonly Address[], gasLimit = BLOCK_GAS_LIMIT): Block {
  const sorted = [...signers].sort((a, b) => (a.toString() < b.toString() ? -1 : 1));
  const extraData = concat([new Uint8Array(VANITY), ...sorted.map((a) => a.bytes), new Uint8Array(SEAL)]);
  return createBlock(
    {
      header: {
        number: 0n,
        gasLimit,
        difficulty: 1n,
        timestamp: 0n,
        extraData,
        stateRoot: KECCAK256_RLP,
      },
    },
    { common, setHardfork: false },
  );
}

export type BlockVerdict = { ok: true } | { ok: false; reason: string };

/** One authority: its key, its own chain database (blockchain) and its own state (VM). */
export class Authority {
  constructor(
    readonly name: string,
    readonly key: Uint8Array,
    readonly address: Address,
    readonly common: Common,
    readonly blockchain: Blockchain,
    readonly vm: VM,
    readonly gasLimit: bigint,
  ) {}

  static async create(
    name: string,
    key: Uint8Array,
    signers: readonly Address[],
    gasLimit = BLOCK_GAS_LIMIT,
  ): Promise<Authority> {
    const common = makeCommon();
    const genesis = genesisBlock(common, signers, gasLimit);
    const blockchain = await createBlockchain({
      common,
      genesisBlock: genesis,
      validateConsensus: true,
      validateBlocks: true,
      // Clique's checks, each recovering the block's sealer once between them (clique.ts).
      consensusDict: { [ConsensusAlgorithm.Clique]: new SealCachingClique() },
    });
    const vm = await createVM({
      common,
      blockchain,
      // Caches in front of the state trie: without them every account and storage read walks and
      // RLP-decodes trie nodes (the settlement's hot spot). setStateRoot clears them.
      // Trie values kept as bytes, not hex strings (every node read converted them back otherwise).
      // A block's storage writes go into the storage trie in one pass (state.ts).
      stateManager: new BatchedStateManager({
        common,
        caches: new Caches(),
        trie: new MerklePatriciaTrie({
          useKeyHashing: true,
          common,
          db: new MapDB(),
          valueEncoding: ValueEncoding.Bytes,
        }),
      }),
      // The EVM asks for the sealer (COINBASE, the fee recipient) at every transaction.
      evmOpts: { cliqueSigner: (header) => sealerOf(header as BlockHeader) },
    });
    return new Authority(name, key, createAddressFromPrivateKey(key), common, blockchain, vm, gasLimit);
  }

  async head(): Promise<Block> {
    return this.blockchain.getCanonicalHeadBlock();
  }

  /** Signs a call to `to` (or a deployment when `to` is undefined) from this authority. */
  signTx(nonce: bigint, to: Address | undefined, data: Uint8Array, gasLimit = this.gasLimit): LegacyTx {
    const tx = createLegacyTx({ nonce, gasPrice: 0n, gasLimit, to, data }, { common: this.common });
    return tx.sign(this.key);
  }

  async nonceOf(address: Address): Promise<bigint> {
    return (await this.vm.stateManager.getAccount(address))?.nonce ?? 0n;
  }

  /** Builds and seals the next block on its own state; `keep`: also put it on its own chain. */
  async propose(txs: readonly LegacyTx[], inTurn: boolean, keep = true): Promise<Block> {
    const parent = await this.head();
    const builder = await buildBlock(this.vm, {
      parentBlock: parent,
      headerData: {
        number: parent.header.number + 1n,
        gasLimit: this.gasLimit,
        timestamp: parent.header.timestamp + BigInt(CLIQUE_PERIOD_S),
        difficulty: inTurn ? 2n : 1n,
        extraData: new Uint8Array(VANITY + SEAL),
        coinbase: createZeroAddress(),
      },
      blockOpts: {
        cliqueSigner: this.key,
        putBlockIntoBlockchain: keep,
        calcDifficultyFromHeader: undefined,
      },
    });
    for (const tx of txs) {
      const r = await builder.addTransaction(tx, { skipHardForkValidation: true });
      if (r.execResult.exceptionError) {
        await builder.revert();
        throw new LedgerError(
          `${this.name}: transaction reverted: ${revertReason(r.execResult.returnValue)}`,
        );
      }
    }
    const { block } = await builder.build();
    return block;
  }

  /**
   * Validates a block from another authority: Clique seal and turn, header rules, then re-executes
   * it on this authority's own state and compares the resulting state root, receipts and gas.
   */
  async importBlock(block: Block): Promise<BlockVerdict> {
    // The head's header is enough (its block would decode every transaction of the parent).
    const parent = await this.blockchain.getCanonicalHeadHeader();
    if (!equal(block.header.parentHash, parent.hash()))
      return { ok: false, reason: `${this.name}: block ${block.header.number} does not extend its head` };
    // Its own state, as it stands (a corrupted authority does not get healed from the header).
    const ownRoot = await this.vm.stateManager.getStateRoot();
    try {
      await this.blockchain.putBlock(block);
    } catch (e) {
      return { ok: false, reason: `${this.name}: ${(e as Error).message}` };
    }
    try {
      // putBlock has just validated it (header, seal, transactions: blockchain.validateBlock), so
      // runBlock does not do it again: the same checks twice were a tenth of a block's import.
      await runBlock(this.vm, { block, setHardfork: false, skipBlockValidation: true });
      return { ok: true };
    } catch (e) {
      // Undo: drop the block and go back to its own state before it.
      await this.blockchain.delBlock(block.hash());
      await this.vm.stateManager.setStateRoot(ownRoot);
      return { ok: false, reason: `${this.name}: ${(e as Error).message}` };
    }
  }

  /** Runs a read-only call against this authority's own state (storage read back). */
  async call(to: Address, data: Uint8Array): Promise<Uint8Array> {
    const sm = this.vm.stateManager;
    await sm.checkpoint();
    try {
      const r = await this.vm.evm.runCall({ to, data, caller: this.address, gasLimit: this.gasLimit });
      if (r.execResult.exceptionError)
        throw new LedgerError(`${this.name}: call reverted: ${revertReason(r.execResult.returnValue)}`);
      return r.execResult.returnValue;
    } finally {
      await sm.revert();
    }
  }

  async stateRoot(): Promise<string> {
    return bytesToHex(await this.vm.stateManager.getStateRoot());
  }
}

export class LedgerError extends Error {
  override name = 'LedgerError';
}

/** One transaction to put on the chain: from an authority (default: the block's proposer). */
export interface ChainCall {
  from?: Authority;
  /** Contract called; undefined deploys `data` as init code. */
  to?: Address;
  data: Uint8Array;
  /** Gas limit of the transaction; default: the block's gas shared evenly among its calls. */
  gas?: bigint;
}

export interface BlockOutcome {
  block: Block;
  proposer: string;
  /** Authorities that accepted the block (the proposer included). */
  acceptedBy: string[];
  /** Authorities that rejected it, and why. */
  rejectedBy: { authority: string; reason: string }[];
}

/** Three or more authorities producing blocks in Clique turn, each validating the others' blocks. */
export class PoaChain {
  readonly log: BlockOutcome[] = [];
  /** Proposals the majority refused (e.g. from an authority with a corrupted state). */
  readonly refused: BlockOutcome[] = [];

  /** Authorities that are down: they neither seal nor validate until they come back. */
  private readonly offline = new Set<Authority>();

  private constructor(readonly authorities: Authority[]) {}

  /**
   * Takes an authority down or brings it back; on its return it catches up by importing (and
   * re-executing) every block it missed. Returns the blocks it refused while catching up.
   */
  async setOnline(a: Authority, online: boolean): Promise<BlockVerdict[]> {
    if (!online) {
      this.offline.add(a);
      return [];
    }
    this.offline.delete(a);
    const have = (await a.head()).header.number;
    const refused: BlockVerdict[] = [];
    for (const o of this.log) {
      if (o.block.header.number <= have) continue;
      const verdict = await a.importBlock(o.block);
      if (!verdict.ok) refused.push(verdict);
    }
    return refused;
  }

  /** The signer set of the genesis (for a node that follows the chain without being an authority). */
  get signers(): Address[] {
    return this.authorities.map((a) => a.address);
  }

  /**
   * A block arriving from elsewhere (a node outside the authority set, an equivocating authority):
   * every online authority validates and re-executes it; kept only if a majority accept it.
   */
  async receive(
    block: Block,
  ): Promise<{ acceptedBy: string[]; rejectedBy: { authority: string; reason: string }[] }> {
    const acceptedBy: string[] = [];
    const rejectedBy: { authority: string; reason: string }[] = [];
    for (const a of this.authorities) {
      if (!this.isOnline(a)) continue;
      const v = await a.importBlock(block);
      if (v.ok) acceptedBy.push(a.name);
      else rejectedBy.push({ authority: a.name, reason: v.reason });
    }
    if (acceptedBy.length >= this.quorum)
      this.log.push({ block, proposer: 'external', acceptedBy, rejectedBy });
    return { acceptedBy, rejectedBy };
  }

  isOnline(a: Authority): boolean {
    return !this.offline.has(a);
  }

  static async create(count: number, seed = 'gridloop', gasLimit = BLOCK_GAS_LIMIT): Promise<PoaChain> {
    if (!Number.isInteger(count) || count < 3)
      throw new TypeError('a PoA ledger needs at least 3 authorities');
    const keys = Array.from({ length: count }, (_, i) => authorityKey(seed, i));
    const signers = keys.map((k) => createAddressFromPrivateKey(k));
    // Clique turn order follows the signer list in the genesis (sorted by address).
    const order = signers
      .map((a, i) => ({ a: a.toString(), i }))
      .sort((x, y) => (x.a < y.a ? -1 : 1))
      .map((x) => x.i);
    const auths = await Promise.all(
      order.map((i) => Authority.create(`authority${i}`, keys[i], signers, gasLimit)),
    );
    return new PoaChain(auths);
  }

  get quorum(): number {
    return Math.floor(this.authorities.length / 2) + 1;
  }

  /**
   * Puts `txs` in the next block: the in-turn authority proposes, every other re-executes; if the
   * majority refuses, the next authority proposes out of turn. Throws LedgerError when no authority
   * gets a majority (the chain cannot make progress: a reported state, never a hang).
   */
  async commit(calls: readonly ChainCall[]): Promise<BlockOutcome> {
    const n = this.authorities.length;
    const height = BigInt(this.log.length) + 1n;
    const online = this.authorities.filter((a) => this.isOnline(a)).length;
    if (online < this.quorum)
      throw new LedgerError(
        `the chain cannot make progress: ${online} of ${n} authorities online, ${this.quorum} needed`,
      );
    const first = Number(height % BigInt(n));
    const reasons: string[] = [];
    for (let k = 0; k < n; k++) {
      const proposer = this.authorities[(first + k) % n];
      if (!this.isOnline(proposer) || this.signedRecently(proposer, height)) continue;
      // Each authority's own state before this height (a corrupted one keeps its corruption).
      const before = new Map<Authority, Uint8Array>();
      for (const a of this.authorities) before.set(a, await a.vm.stateManager.getStateRoot());
      let block: Block;
      try {
        block = await proposer.propose(await this.sign(proposer, calls), k === 0);
      } catch (e) {
        reasons.push((e as Error).message);
        await this.rollBack(proposer, height, before.get(proposer)!);
        if (e instanceof LedgerError) throw e;
        continue;
      }
      const outcome: BlockOutcome = {
        block,
        proposer: proposer.name,
        acceptedBy: [proposer.name],
        rejectedBy: [],
      };
      for (const a of this.authorities) {
        if (a === proposer || !this.isOnline(a)) continue;
        const verdict = await a.importBlock(block);
        if (verdict.ok) outcome.acceptedBy.push(a.name);
        else outcome.rejectedBy.push({ authority: a.name, reason: verdict.reason });
      }
      if (outcome.acceptedBy.length >= this.quorum) {
        this.log.push(outcome);
        return outcome;
      }
      // Refused: every authority that took it drops it again.
      this.refused.push(outcome);
      reasons.push(...outcome.rejectedBy.map((r) => r.reason));
      for (const name of outcome.acceptedBy) {
        const a = this.authorities.find((x) => x.name === name)!;
        await this.rollBack(a, height, before.get(a)!);
      }
    }
    throw new LedgerError(`no block at height ${height} reached a majority: ${reasons.join('; ')}`);
  }

  /**
   * Puts each group of calls in a block of its own, one after the other, all or nothing: if one block
   * cannot be made final (a transaction reverts, no majority), every authority drops the blocks of
   * this batch already made and returns to its state before it; LedgerError says which block failed.
   */
  async commitAll(blocks: readonly (readonly ChainCall[])[]): Promise<BlockOutcome[]> {
    const logLength = this.log.length;
    const before = new Map<Authority, { head: bigint; root: Uint8Array }>();
    for (const a of this.authorities)
      before.set(a, { head: (await a.head()).header.number, root: await a.vm.stateManager.getStateRoot() });
    const done: BlockOutcome[] = [];
    try {
      for (const calls of blocks) done.push(await this.commit(calls));
      return done;
    } catch (e) {
      for (const [a, b] of before) {
        if ((await a.head()).header.number > b.head)
          await a.blockchain.delBlock((await a.blockchain.getBlock(b.head + 1n)).hash());
        await a.vm.stateManager.setStateRoot(b.root);
      }
      this.log.splice(logLength);
      if (done.length === 0) throw e;
      throw new LedgerError(
        `block ${done.length + 1} of ${blocks.length} failed, the ${done.length} before it were dropped: ${(e as Error).message}`,
      );
    }
  }

  /** Signs the calls with sequential nonces as the proposer's state sees them. */
  private async sign(proposer: Authority, calls: readonly ChainCall[]): Promise<LegacyTx[]> {
    const next = new Map<Authority, bigint>();
    const txs: LegacyTx[] = [];
    for (const c of calls) {
      const from = c.from ?? proposer;
      const nonce = next.get(from) ?? (await proposer.nonceOf(from.address));
      next.set(from, nonce + 1n);
      // By default the block's gas shared evenly: a call that needs more says so (ChainCall.gas).
      txs.push(from.signTx(nonce, c.to, c.data, c.gas ?? proposer.gasLimit / BigInt(calls.length)));
    }
    return txs;
  }

  private signedRecently(a: Authority, height: bigint): boolean {
    // Clique: a signer may seal only one of any floor(n/2)+1 consecutive blocks.
    const window = Math.floor(this.authorities.length / 2);
    const recent = this.log.slice(-window).filter((o) => o.block.header.number >= height - BigInt(window));
    return recent.some((o) => o.proposer === a.name);
  }

  private async rollBack(a: Authority, height: bigint, parentRoot: Uint8Array): Promise<void> {
    const head = await a.head();
    if (head.header.number === height) await a.blockchain.delBlock(head.hash());
    await a.vm.stateManager.setStateRoot(parentRoot);
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** The Error(string) message of a revert, when there is one. */
export function revertReason(data: Uint8Array): string {
  if (data.length >= 68 && bytesToHex(data.slice(0, 4)) === '0x08c379a0') {
    const len = Number(BigInt(bytesToHex(data.slice(36, 68))));
    return new TextDecoder().decode(data.slice(68, 68 + len));
  }
  return data.length ? bytesToHex(data) : 'no reason';
}

export { hexToBytes };
