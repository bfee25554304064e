/**
 * A ledger run on a node — hardhat's EDR in process or a lab's chain over JSON-RPC — in the run
 * folder, and its verification by replay (docs/market.md, "The chain in the run folder", "A node's
 * chain"). The embedded chain keeps every block and seal in this process (persist.ts); a node seals
 * its own blocks, so what a run can keep of them is its own transactions:
 *
 *   <run>/ledger/chain.jsonl     line 1: the header (engine, chain id, hardfork, authorities,
 *                                contract); then one line per transaction of the market, in chain
 *                                order: its block (number, hash, timestamp, coinbase, gas limit), the
 *                                raw signed transaction, its sender, status, gas used and events
 *   <run>/ledger/accounts.json   the accounts as persist.ts writes them, plus the block they were
 *                                read at and the contract's storage root (when the node tells it)
 *
 * Verification re-executes the transactions from the contract's deployment on the embedded EVM
 * (@ethereumjs/vm: no network, no EDR) and compares each one's status, gas and events, then every
 * account, the storage root and conservation. There are no Clique seals to check; with `rpc`, the
 * record's blocks are fetched again from the node and their hashes compared.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBlock } from '@ethereumjs/block';
import { type Common, createCustomCommon, type Hardfork, Mainnet } from '@ethereumjs/common';
import { MerklePatriciaTrie } from '@ethereumjs/mpt';
import { Caches, MerkleStateManager } from '@ethereumjs/statemanager';
import { createTxFromRLP, createTxFromRPC, type TypedTransaction } from '@ethereumjs/tx';
import { type Address, createAccount, createAddressFromString, MapDB, ValueEncoding } from '@ethereumjs/util';
import { createVM, runTx, type VM } from '@ethereumjs/vm';
import { bytesToHex, decodeWord, hexToBytes, keccak } from './abi.ts';
import { LedgerError, revertReason } from './chain.ts';
import { EmbeddedEngine } from './engine.ts';
import { RpcEngine } from './engine-rpc.ts';
import type { MarketLedger } from './ledger.ts';
import {
  ACCOUNTS_FILE,
  type AccountRecord,
  CHAIN_FILE,
  chainLines,
  checkLedgerAccounts,
  type LedgerAccounts,
  LedgerFileError,
  persistLedger,
  readLedgerAccounts,
  type VerifyReport,
  verifyLedger,
} from './persist.ts';

const FORMAT = 'gridloop-ledger-chain';
const VERSION = 1;
/** Hardforks the replay can run: the rules the record's node ran, as far as @ethereumjs knows them. */
const HARDFORKS = ['berlin', 'london', 'paris', 'shanghai', 'cancun', 'prague', 'osaka'] as const;

export interface ReplayHeader {
  format: typeof FORMAT;
  version: number;
  engine: 'edr' | 'json-rpc';
  /** The node's chain id: every transaction is signed for it (EIP-155). */
  chainId: number;
  /** The node's rules: known for EDR (berlin), inferred from a block header's fields on a node. */
  hardfork: (typeof HARDFORKS)[number];
  blockGasLimit: string;
  /** Authority addresses: every transaction must be signed by one of them. */
  authorities: string[];
  contract: string;
  /** The node's web3_clientVersion, when it answers. */
  client?: string;
  transactions: number;
}

/** One transaction of the market, as the node mined it. */
export interface TxLine {
  /** Its place in the record, from 1. */
  tx: number;
  block: number;
  blockHash: string;
  timestamp: number;
  coinbase: string;
  gasLimit: string;
  baseFeePerGas?: string;
  /** Its index in the block. */
  index: number;
  hash: string;
  from: string;
  /** The signed transaction (RLP, hex): keccak256 of it is `hash`. */
  raw: string;
  status: 'success' | 'reverted';
  gasUsed: string;
  contractAddress?: string;
  logs: { address: string; topics: string[]; data: string }[];
}

export interface ReplayAccountsFile extends LedgerAccounts {
  /** The block the accounts were read at. */
  block: { number: number; hash: string };
  /** The contract's storage root there (eth_getProof), when the node answers it. */
  storageRoot?: string;
}

export interface ReplayVerifyReport extends VerifyReport {
  engine: 'embedded' | 'edr' | 'json-rpc';
  /** Transactions re-executed (a node's chain); for the embedded chain, the blocks' count. */
  transactions: number;
  /** Each interval settled in the replay (its Settled event): lines and penalties taken. */
  intervals: { interval: bigint; participants: bigint; penalties: bigint }[];
  /** What was checked and what could not be (no seals on a node's chain; blocks against the node). */
  notes: string[];
}

/** The rules a node runs, from the fields its block headers carry. */
function hardforkOfBlock(b: Record<string, unknown>): ReplayHeader['hardfork'] {
  if (b.requestsHash !== undefined) return 'prague';
  if (b.blobGasUsed !== undefined) return 'cancun';
  if (b.withdrawalsRoot !== undefined) return 'shanghai';
  if (b.baseFeePerGas !== undefined) return 'london';
  return 'berlin';
}

function replayCommon(chainId: number, hardfork: string): Common {
  return createCustomCommon({ chainId, name: 'gridloop-replay' }, Mainnet, {
    hardfork: hardfork as Hardfork,
    customCrypto: { keccak256: keccak },
  });
}

type RpcBlock = Record<string, unknown> & {
  number: string;
  hash: string;
  timestamp: string;
  miner: string;
  gasLimit: string;
  baseFeePerGas?: string;
  transactions: string[];
};
type RpcReceipt = {
  status: string;
  gasUsed: string;
  blockNumber: string;
  transactionIndex: string;
  contractAddress?: string | null;
  logs: { address: string; topics: string[]; data: string }[];
};

/**
 * Writes the market's transactions on a node (EDR, JSON-RPC) and the accounts of `participants`
 * into `<runDir>/ledger/`: the transactions, receipts and blocks fetched back from the node.
 */
export async function persistReplayLedger(
  ledger: MarketLedger,
  runDir: string,
  participants: Iterable<string> = ledger.participants,
): Promise<void> {
  const engine = ledger.engine;
  if (!(engine instanceof RpcEngine))
    throw new LedgerError(`persistReplayLedger records a node's chain, not the ${engine.kind} engine's`);
  const blocks = new Map<string, RpcBlock>();
  const blockOf = async (number: string) => {
    let b = blocks.get(number);
    if (!b) {
      b = (await engine.request('eth_getBlockByNumber', [number, false])) as RpcBlock;
      blocks.set(number, b);
    }
    return b;
  };
  const latest = (await engine.request('eth_getBlockByNumber', ['latest', false])) as RpcBlock;
  const hardfork = engine.kind === 'edr' ? 'berlin' : hardforkOfBlock(latest);
  const common = replayCommon(engine.chainId, hardfork);
  const fetched: { tx: TypedTransaction; receipt: RpcReceipt; hash: string; from: string }[] = [];
  for (const hash of engine.transactions) {
    const rpcTx = (await engine.request('eth_getTransactionByHash', [hash])) as Record<string, unknown> & {
      from: string;
    };
    const receipt = (await engine.request('eth_getTransactionReceipt', [hash])) as RpcReceipt | null;
    // Sent by a batch that failed on a node without evm_snapshot and never mined: not on the chain.
    if (!rpcTx || !receipt) continue;
    // The node gives the signed transaction's fields; its RLP is the transaction itself.
    const tx = await createTxFromRPC(rpcTx as never, { common });
    if (bytesToHex(tx.hash()) !== hash.toLowerCase())
      throw new LedgerError(
        `transaction ${hash}: rebuilt from the node's answer it hashes to ${bytesToHex(tx.hash())}`,
      );
    fetched.push({ tx, receipt, hash: hash.toLowerCase(), from: rpcTx.from.toLowerCase() });
  }
  fetched.sort(
    (a, b) =>
      Number(BigInt(a.receipt.blockNumber) - BigInt(b.receipt.blockNumber)) ||
      Number(a.receipt.transactionIndex) - Number(b.receipt.transactionIndex),
  );
  const lines: string[] = [];
  for (const [i, f] of fetched.entries()) {
    const b = await blockOf(f.receipt.blockNumber);
    const line: TxLine = {
      tx: i + 1,
      block: Number(b.number),
      blockHash: b.hash,
      timestamp: Number(b.timestamp),
      coinbase: b.miner.toLowerCase(),
      gasLimit: String(BigInt(b.gasLimit)),
      ...(b.baseFeePerGas === undefined ? {} : { baseFeePerGas: String(BigInt(b.baseFeePerGas)) }),
      index: Number(f.receipt.transactionIndex),
      hash: f.hash,
      from: f.from,
      raw: bytesToHex(f.tx.serialize()),
      status: BigInt(f.receipt.status) === 1n ? 'success' : 'reverted',
      gasUsed: String(BigInt(f.receipt.gasUsed)),
      ...(f.receipt.contractAddress ? { contractAddress: f.receipt.contractAddress.toLowerCase() } : {}),
      logs: f.receipt.logs.map((l) => ({
        address: l.address.toLowerCase(),
        topics: l.topics.map((t) => t.toLowerCase()),
        data: l.data.toLowerCase(),
      })),
    };
    lines.push(JSON.stringify(line));
  }
  let client: string | undefined;
  try {
    client = String(await engine.request('web3_clientVersion'));
  } catch {
    client = undefined;
  }
  const header: ReplayHeader = {
    format: FORMAT,
    version: VERSION,
    engine: engine.kind,
    chainId: engine.chainId,
    hardfork,
    blockGasLimit: String(engine.blockGasLimit),
    authorities: [...engine.authorities],
    contract: ledger.contractAddress.toLowerCase(),
    ...(client === undefined ? {} : { client }),
    transactions: lines.length,
  };

  const accounts: ReplayAccountsFile = {
    ...(await readLedgerAccounts(ledger, participants)),
    block: { number: Number(latest.number), hash: latest.hash },
  };
  try {
    const proof = (await engine.request('eth_getProof', [ledger.contractAddress, [], latest.number])) as {
      storageHash: string;
    };
    accounts.storageRoot = proof.storageHash.toLowerCase();
  } catch {
    // A node without eth_getProof: the accounts are still compared one by one.
  }
  mkdirSync(join(runDir, 'ledger'), { recursive: true });
  writeFileSync(join(runDir, CHAIN_FILE), `${[JSON.stringify(header), ...lines].join('\n')}\n`);
  writeFileSync(join(runDir, ACCOUNTS_FILE), `${JSON.stringify(accounts, null, 2)}\n`);
}

/** The ledger of a run into its folder, whatever engine ran it. */
export function persistRunLedger(
  ledger: MarketLedger,
  runDir: string,
  participants: Iterable<string> = ledger.participants,
): Promise<void> {
  return ledger.engine instanceof EmbeddedEngine
    ? persistLedger(ledger, runDir, participants)
    : persistReplayLedger(ledger, runDir, participants);
}

/**
 * Verifies the ledger of a run folder, whatever engine wrote it: the embedded chain from genesis
 * (persist.ts), a node's by replay (verifyReplayLedger).
 */
export async function verifyRunLedger(
  runDir: string,
  options: { rpc?: string } = {},
): Promise<ReplayVerifyReport> {
  const { path, lines } = chainLines(runDir);
  let engine: unknown;
  try {
    engine = (JSON.parse(lines[0]) as { engine?: unknown })?.engine;
  } catch (e) {
    throw new LedgerFileError(`${path}:1: not JSON (${(e as Error).message})`);
  }
  if (engine === 'edr' || engine === 'json-rpc') return verifyReplayLedger(runDir, options);
  if (options.rpc !== undefined)
    throw new LedgerFileError(
      `--rpc checks a node's blocks; ${path} holds the embedded chain (engine '${String(engine)}')`,
    );
  const report = await verifyLedger(runDir);
  return {
    ...report,
    engine: 'embedded',
    transactions: report.blocks,
    intervals: [],
    notes: ['Clique seals and turns, headers, state roots, receipts and gas of every block checked'],
  };
}

function parseReplayHeader(line: string, path: string): ReplayHeader {
  let h: Partial<ReplayHeader>;
  try {
    h = JSON.parse(line);
  } catch (e) {
    throw new LedgerFileError(`${path}:1: not JSON (${(e as Error).message})`);
  }
  const bad = (what: string) => new LedgerFileError(`${path}:1: ${what}`);
  if (h?.format !== FORMAT) throw bad(`not a gridloop ledger chain (format '${h?.format}')`);
  if (h.version !== VERSION) throw bad(`version ${h.version}, this gridloop reads ${VERSION}`);
  if (!Number.isSafeInteger(h.chainId) || (h.chainId as number) <= 0)
    throw bad('/chainId must be a positive integer');
  if (!HARDFORKS.includes(h.hardfork as never)) throw bad(`/hardfork must be one of ${HARDFORKS.join(', ')}`);
  if (typeof h.blockGasLimit !== 'string' || !/^[0-9]+$/.test(h.blockGasLimit))
    throw bad('/blockGasLimit must be a decimal string');
  if (!Array.isArray(h.authorities) || h.authorities.length === 0 || !h.authorities.every(isAddress))
    throw bad('/authorities must list the authority addresses');
  if (!isAddress(h.contract)) throw bad('/contract must be an address');
  if (!isCount(h.transactions)) throw bad('/transactions must be the number of transaction lines');
  return h as ReplayHeader;
}

const isHex = (x: unknown): x is string => typeof x === 'string' && /^0x([0-9a-fA-F]{2})*$/.test(x);
const isAddress = (x: unknown): x is string => isHex(x) && x.length === 42;
const isDecimal = (x: unknown): x is string => typeof x === 'string' && /^[0-9]+$/.test(x);
const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

/** The first field of a transaction line that is not what the format says, or undefined. */
function badField(l: Partial<TxLine>): string | undefined {
  if (!isCount(l.block)) return '/block must be a block number';
  if (!isHex(l.blockHash) || l.blockHash.length !== 66) return '/blockHash must be a 32-byte hex string';
  if (!isCount(l.timestamp)) return '/timestamp must be a whole number of seconds';
  if (!isAddress(l.coinbase)) return '/coinbase must be an address';
  if (!isDecimal(l.gasLimit)) return '/gasLimit must be a decimal string';
  if (l.baseFeePerGas !== undefined && !isDecimal(l.baseFeePerGas))
    return '/baseFeePerGas must be a decimal string';
  if (!isCount(l.index)) return '/index must be the transaction index in its block';
  if (!isHex(l.hash) || l.hash.length !== 66) return '/hash must be a 32-byte hex string';
  if (!isAddress(l.from)) return '/from must be an address';
  if (!isHex(l.raw)) return '/raw must be a hex string';
  if (l.status !== 'success' && l.status !== 'reverted') return "/status must be 'success' or 'reverted'";
  if (!isDecimal(l.gasUsed)) return '/gasUsed must be a decimal string';
  if (l.contractAddress !== undefined && !isAddress(l.contractAddress))
    return '/contractAddress must be an address';
  if (
    !Array.isArray(l.logs) ||
    !l.logs.every(
      (g) => isAddress(g?.address) && Array.isArray(g.topics) && g.topics.every(isHex) && isHex(g.data),
    )
  )
    return '/logs must list { address, topics, data } in hex';
  return undefined;
}

const SETTLED = bytesToHex(keccak(new TextEncoder().encode('Settled(uint64,uint256,int256)')));

function logsOf(logs: readonly [Uint8Array, Uint8Array[], Uint8Array][] | undefined): TxLine['logs'] {
  return (logs ?? []).map(([address, topics, data]) => ({
    address: bytesToHex(address),
    topics: topics.map(bytesToHex),
    data: bytesToHex(data),
  }));
}

/** A JSON-RPC request to the node given with --rpc (plain fetch: viem is not needed to check). */
async function rpcRequest(url: string, method: string, params: unknown[]): Promise<unknown> {
  let body: { result?: unknown; error?: { message?: string } } | undefined;
  let failure = '';
  // Twice: a kept-alive connection the node has just closed fails the first try ("other side closed").
  for (let attempt = 0; attempt < 2 && body === undefined; attempt++) {
    try {
      const r = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
        signal: AbortSignal.timeout(30_000),
      });
      body = (await r.json()) as typeof body;
    } catch (e) {
      const cause = (e as { cause?: { message?: string } }).cause?.message;
      failure = `${(e as Error).message}${cause ? ` (${cause})` : ''}`;
    }
  }
  if (body === undefined) throw new LedgerFileError(`--rpc ${url}: ${method} failed: ${failure}`);
  if (body.error) throw new LedgerFileError(`--rpc ${url}: ${method}: ${body.error.message ?? 'error'}`);
  return body.result;
}

/**
 * Replays a node's ledger record (EDR, JSON-RPC) from the contract's deployment on the embedded EVM
 * and checks every transaction, account and conservation; with `rpc`, also the record's blocks
 * against the node's. Throws LedgerFileError for a missing or unreadable folder, header or accounts
 * file; a transaction or account that does not hold is a problem (ok false), named with the
 * transaction, its block, the file line and why.
 */
export async function verifyReplayLedger(
  runDir: string,
  options: { rpc?: string } = {},
): Promise<ReplayVerifyReport> {
  const t0 = performance.now();
  const { path, lines } = chainLines(runDir);
  const header = parseReplayHeader(lines[0], path);
  const accountsPath = join(runDir, ACCOUNTS_FILE);
  let accounts: Partial<ReplayAccountsFile>;
  try {
    accounts = JSON.parse(readFileSync(accountsPath, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new LedgerFileError(
      code
        ? `accounts file ${accountsPath} cannot be read: ${code}`
        : `${accountsPath}: not JSON (${(e as Error).message})`,
    );
  }
  if (!accounts || typeof accounts.participants !== 'object' || accounts.participants === null)
    throw new LedgerFileError(`${accountsPath}: /participants must be an object`);

  const problems: string[] = [];
  const intervals: ReplayVerifyReport['intervals'] = [];
  const common = replayCommon(header.chainId, header.hardfork);
  // Caches in front of the state trie, as on the embedded chain: a settlement reads and writes
  // thousands of storage slots.
  const vm: VM = await createVM({
    common,
    stateManager: new MerkleStateManager({
      common,
      caches: new Caches(),
      // The WebAssembly keccak (common) and values kept as bytes, as the embedded chain's tries.
      trie: new MerklePatriciaTrie({
        useKeyHashing: true,
        common,
        db: new MapDB(),
        valueEncoding: ValueEncoding.Bytes,
      }),
    }),
  });
  const authorities = new Set(header.authorities.map((a) => a.toLowerCase()));
  const contract = header.contract.toLowerCase();
  const seen = new Set<string>();
  let deployed = false;
  let blocks = 0;
  let transactions = 0;
  let last: { block: number; index: number } | undefined;
  let block: ReturnType<typeof createBlock> | undefined;
  const entries: { line: TxLine; where: string }[] = [];

  for (let i = 1; i < lines.length; i++) {
    const where = `${path}:${i + 1}`;
    let line: Partial<TxLine>;
    try {
      line = JSON.parse(lines[i]);
    } catch (e) {
      problems.push(
        `${where}: not JSON (${(e as Error).message}); the chain cannot be followed past transaction ${i - 1}`,
      );
      break;
    }
    const name = `tx ${i} (block ${typeof line?.block === 'number' ? line.block : '?'}, ${where})`;
    const fail = (why: string) => problems.push(`${name}: ${why}`);
    if (line?.tx !== i) {
      fail(`expected transaction ${i} here, the line says ${JSON.stringify(line?.tx)}`);
      break;
    }
    const bad = badField(line);
    if (bad) {
      fail(bad);
      break;
    }
    const l = line as TxLine;
    if (last && (l.block < last.block || (l.block === last.block && l.index <= last.index))) {
      fail(`out of chain order: after block ${last.block} index ${last.index}`);
      break;
    }
    let tx: TypedTransaction;
    try {
      tx = createTxFromRLP(hexToBytes(l.raw), { common });
    } catch (e) {
      fail(`its raw transaction cannot be decoded: ${(e as Error).message}`);
      break;
    }
    const hash = bytesToHex(tx.hash());
    if (hash !== l.hash.toLowerCase()) {
      fail(`its raw transaction hashes to ${hash}, the line says ${l.hash}`);
      break;
    }
    let sender: Address;
    try {
      sender = tx.getSenderAddress();
    } catch (e) {
      fail(`its signature does not verify: ${(e as Error).message}`);
      break;
    }
    const from = sender.toString();
    if (from !== l.from.toLowerCase()) {
      fail(`signed by ${from}, the line says ${l.from}`);
      break;
    }
    if (!authorities.has(from)) {
      fail(`signed by ${from}, not one of the header's authorities`);
      break;
    }
    if (!seen.has(from)) {
      // An authority's transactions before the market's (a lab's account) are not in the record:
      // its nonce starts where its first recorded transaction says; every later one must follow.
      seen.add(from);
      await vm.stateManager.putAccount(sender, createAccount({ nonce: tx.nonce, balance: 0n }));
    }
    if (tx.to && !deployed) {
      fail(`calls ${tx.to.toString()} before the contract ${contract} is deployed by a recorded transaction`);
      break;
    }
    if (!block || block.header.number !== BigInt(l.block)) {
      block = createBlock(
        {
          header: {
            number: BigInt(l.block),
            timestamp: BigInt(l.timestamp),
            gasLimit: BigInt(l.gasLimit),
            coinbase: createAddressFromString(l.coinbase),
            ...(l.baseFeePerGas === undefined ? {} : { baseFeePerGas: BigInt(l.baseFeePerGas) }),
          },
        },
        { common, setHardfork: false },
      );
      blocks++;
    }
    let r: Awaited<ReturnType<typeof runTx>>;
    try {
      r = await runTx(vm, { tx, block, skipBalance: true, skipHardForkValidation: true });
    } catch (e) {
      fail(`cannot be re-executed: ${(e as Error).message.split('\n')[0]}`);
      break;
    }
    transactions++;
    const status = r.execResult.exceptionError ? 'reverted' : 'success';
    if (status !== l.status) {
      const why = r.execResult.exceptionError ? ` (${revertReason(r.execResult.returnValue)})` : '';
      fail(`status recorded ${l.status}, re-executed ${status}${why}`);
      break;
    }
    if (String(r.totalGasSpent) !== l.gasUsed) {
      fail(`gas used recorded ${l.gasUsed}, re-executed ${r.totalGasSpent}`);
      break;
    }
    const created = r.createdAddress?.toString();
    if (created !== l.contractAddress) {
      fail(`contract created recorded ${l.contractAddress ?? 'none'}, re-executed ${created ?? 'none'}`);
      break;
    }
    if (created === contract) deployed = true;
    const logs = logsOf(r.execResult.logs);
    const recorded = l.logs.map((g) => ({
      address: g.address.toLowerCase(),
      topics: g.topics.map((t) => t.toLowerCase()),
      data: g.data.toLowerCase(),
    }));
    const differ = logs.findIndex((g, k) => JSON.stringify(g) !== JSON.stringify(recorded[k]));
    if (logs.length !== recorded.length || differ >= 0) {
      fail(
        logs.length !== recorded.length
          ? `events: recorded ${recorded.length}, re-executed ${logs.length}`
          : `event ${differ + 1} recorded ${JSON.stringify(recorded[differ])}, re-executed ${JSON.stringify(logs[differ])}`,
      );
      break;
    }
    for (const g of logs)
      if (g.address === contract && g.topics[0] === SETTLED) {
        const data = hexToBytes(g.data);
        intervals.push({
          interval: BigInt(g.topics[1]),
          participants: decodeWord(data, 0),
          penalties: decodeWord(data, 1),
        });
      }
    entries.push({ line: l, where });
    last = { block: l.block, index: l.index };
  }
  const replaySeconds = (performance.now() - t0) / 1000;

  const participants = Object.entries(accounts.participants as Record<string, Partial<AccountRecord>>);
  if (problems.length === 0 && transactions !== header.transactions)
    problems.push(
      `${path}: the header counts ${header.transactions} transactions, the file holds ${transactions} (cut short or added to)`,
    );
  if (problems.length === 0 && !deployed)
    problems.push(`contract ${contract}: no recorded transaction deploys it`);
  if (problems.length === 0) {
    const to = createAddressFromString(contract);
    const call = async (data: Uint8Array) => {
      const r = await vm.evm.runCall({
        to,
        data,
        caller: createAddressFromString(header.authorities[0]),
        gasLimit: 10n ** 9n,
      });
      if (r.execResult.exceptionError)
        throw new LedgerError(
          `reading the re-executed contract failed: ${revertReason(r.execResult.returnValue)}`,
        );
      return r.execResult.returnValue;
    };
    await checkLedgerAccounts(accounts, participants, call, problems);
    if (accounts.storageRoot !== undefined) {
      await vm.stateManager.getStateRoot(); // flushes the caches into the tries
      const root = bytesToHex((await vm.stateManager.getAccount(to))!.storageRoot);
      if (root !== String(accounts.storageRoot).toLowerCase())
        problems.push(
          `contract storage root: recorded ${accounts.storageRoot}, the re-executed contract has ${root}`,
        );
    }
  }

  const notes = [
    `${header.engine} (chain id ${header.chainId}, ${header.hardfork} rules): the node sealed its blocks, so there are no Clique seals to check`,
    `re-executed from the contract's deployment on the embedded EVM: each transaction's signer, status, gas and events, then the accounts${accounts.storageRoot === undefined ? '' : ' and the contract storage root'}`,
  ];
  if (options.rpc === undefined) notes.push('block hashes not checked against the node (--rpc <url> does)');
  else if (problems.length === 0) {
    const url = options.rpc;
    const chainId = Number(BigInt(String(await rpcRequest(url, 'eth_chainId', []))));
    if (chainId !== header.chainId)
      problems.push(`--rpc ${url}: the node's chain id is ${chainId}, the record's ${header.chainId}`);
    type NodeBlock = { hash: string; transactions: string[] } | null;
    const fetched = new Map<number, NodeBlock>();
    for (const { line: l, where } of entries) {
      if (problems.length > 0) break;
      let b = fetched.get(l.block);
      if (b === undefined) {
        b = (await rpcRequest(url, 'eth_getBlockByNumber', [
          `0x${l.block.toString(16)}`,
          false,
        ])) as NodeBlock;
        fetched.set(l.block, b);
      }
      const name = `tx ${l.tx} (block ${l.block}, ${where})`;
      if (!b) problems.push(`${name}: the node at ${url} has no block ${l.block}`);
      else if (b.hash.toLowerCase() !== l.blockHash.toLowerCase())
        problems.push(`${name}: the node's block ${l.block} is ${b.hash}, the record says ${l.blockHash}`);
      else if (b.transactions[l.index]?.toLowerCase() !== l.hash.toLowerCase())
        problems.push(
          `${name}: the node's block ${l.block} holds ${b.transactions[l.index] ?? 'nothing'} at index ${l.index}`,
        );
    }
    if (problems.length === 0)
      notes.push(`every block hash and transaction matches the node at ${url} (${fetched.size} blocks)`);
  }
  return {
    ok: problems.length === 0,
    engine: header.engine,
    blocks,
    transactions,
    participants: participants.length,
    intervals,
    problems,
    notes,
    seconds: (performance.now() - t0) / 1000,
    replaySeconds,
  };
}
