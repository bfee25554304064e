/**
 * The embedded chain in a run folder, and its verification from genesis (docs/market.md, "The chain
 * in the run folder"; `gridloop ledger verify runs/<id>`).
 *
 *   <run>/ledger/chain.jsonl     line 1: the chain's header (signers, gas limit, contract, genesis
 *                                hash); then one line per block, in height order: {number, hash, rlp}
 *   <run>/ledger/accounts.json   every participant's balance, deposit, debt and reputation, pool,
 *                                grid and minted, as the chain held them when the run ended
 *
 * Verification builds the genesis from the header, then a follower node (it holds no signer key)
 * checks every block as an authority does — Clique seal and turn, header rules, re-execution with
 * the state root, receipts and gas compared with the header — and finally reads every account back
 * from the contract storage it computed and compares it with accounts.json and with conservation.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createBlockFromRLP } from '@ethereumjs/block';
import { createAddressFromString } from '@ethereumjs/util';
import { bytesToHex, decodeWord, encodeCall, hexToBytes, keccak } from './abi.ts';
import { Authority } from './chain.ts';
import type { MarketLedger } from './ledger.ts';
import { participantAddress } from './ledger.ts';

export const CHAIN_FILE = 'ledger/chain.jsonl';
export const ACCOUNTS_FILE = 'ledger/accounts.json';
const FORMAT = 'gridloop-ledger-chain';
const VERSION = 1;

export interface ChainHeader {
  format: typeof FORMAT;
  version: number;
  engine: 'embedded';
  chainId: number;
  blockGasLimit: string;
  /** Authority addresses (the Clique signer set of the genesis). */
  signers: string[];
  genesisHash: string;
  contract: string;
}

export interface AccountRecord {
  address: string;
  balance: string;
  deposit: string;
  debt: string;
  reputation: string;
}

/** Every participant's account, the pool, the grid and minted money, as the chain held them at the end. */
export interface LedgerAccounts {
  participants: Record<string, AccountRecord>;
  pool: string;
  grid: string;
  minted: string;
}

export interface AccountsFile extends LedgerAccounts {
  stateRoot: string;
}

/** The accounts of `participants` (and the pool, grid and minted) read from authority 0's contract storage. */
export async function readLedgerAccounts(
  ledger: MarketLedger,
  participants: Iterable<string>,
): Promise<LedgerAccounts> {
  const ids = [...new Set(participants)].sort();
  const onChain = await ledger.accountsOf(ids);
  return {
    participants: Object.fromEntries(
      ids.map((id, i) => [
        id,
        {
          address: participantAddress(id),
          balance: String(onChain[i].balance),
          deposit: String(onChain[i].deposit),
          debt: String(onChain[i].debt),
          reputation: String(onChain[i].reputation),
        },
      ]),
    ),
    pool: String(await ledger.read(0, 'pool()')),
    grid: String(await ledger.read(0, 'grid()')),
    minted: String(await ledger.read(0, 'minted()')),
  };
}

/**
 * Compares the recorded accounts with the re-executed contract's (`call` runs a view call on it) and
 * checks conservation: balances + deposits + pool + grid = minted. Each difference is pushed to `problems`.
 */
export async function checkLedgerAccounts(
  accounts: Partial<LedgerAccounts>,
  participants: [string, Partial<AccountRecord>][],
  call: (data: Uint8Array) => Promise<Uint8Array>,
  problems: string[],
): Promise<void> {
  // Every account in one call (4 words each, after the array's offset and length).
  const words = await call(
    encodeCall('accountsOf(address[])', [participants.map(([id]) => participantAddress(id))]),
  );
  let total = 0n;
  participants.forEach(([id, rec], i) => {
    (['balance', 'deposit', 'debt', 'reputation'] as const).forEach((field, f) => {
      const onChain = decodeWord(words, 2 + 4 * i + f);
      if (field === 'balance' || field === 'deposit') total += onChain;
      if (String(onChain) !== String(rec?.[field]))
        problems.push(`${id}: ${field} recorded ${rec?.[field]}, the re-executed chain holds ${onChain}`);
    });
  });
  const figures = {} as Record<'pool' | 'grid' | 'minted', bigint>;
  for (const field of ['pool', 'grid', 'minted'] as const) {
    figures[field] = decodeWord(await call(encodeCall(`${field}()`, [])));
    if (String(figures[field]) !== String(accounts[field]))
      problems.push(`${field}: recorded ${accounts[field]}, the re-executed chain holds ${figures[field]}`);
  }
  if (total + figures.pool + figures.grid !== figures.minted)
    problems.push(
      `money is not conserved: balances + deposits + pool + grid = ${total + figures.pool + figures.grid}, minted ${figures.minted}`,
    );
}

/** A bad ledger folder or file: named, with the line or field (exit code 2 of the CLI). */
export class LedgerFileError extends Error {
  override name = 'LedgerFileError';
}

/**
 * Writes the embedded chain (every final block) and the accounts of `participants` into
 * `<runDir>/ledger/`. Only the embedded engine keeps its chain in this process.
 */
export async function persistLedger(
  ledger: MarketLedger,
  runDir: string,
  participants: Iterable<string> = ledger.participants,
): Promise<void> {
  const chain = ledger.chain;
  const first = chain.authorities[0];
  const genesis = await first.blockchain.getBlock(0n);
  const header: ChainHeader = {
    format: FORMAT,
    version: VERSION,
    engine: 'embedded',
    chainId: Number(first.common.chainId()),
    blockGasLimit: String(first.gasLimit),
    signers: chain.signers.map((a) => a.toString()),
    genesisHash: bytesToHex(genesis.hash()),
    contract: ledger.contractAddress,
  };
  const lines = [JSON.stringify(header)];
  for (const o of chain.log)
    lines.push(
      JSON.stringify({
        number: Number(o.block.header.number),
        hash: bytesToHex(o.block.hash()),
        rlp: bytesToHex(o.block.serialize()),
      }),
    );
  const accounts: AccountsFile = {
    ...(await readLedgerAccounts(ledger, participants)),
    stateRoot: await first.stateRoot(),
  };
  mkdirSync(join(runDir, 'ledger'), { recursive: true });
  writeFileSync(join(runDir, CHAIN_FILE), `${lines.join('\n')}\n`);
  writeFileSync(join(runDir, ACCOUNTS_FILE), `${JSON.stringify(accounts, null, 2)}\n`);
}

export interface VerifyReport {
  ok: boolean;
  blocks: number;
  participants: number;
  /** What does not hold: a block (height and why) or an account (which figure, recorded vs chain). */
  problems: string[];
  seconds: number;
  /** Of which re-executing the blocks. */
  replaySeconds: number;
}

function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new LedgerFileError(`${what} ${path} cannot be read: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new LedgerFileError(`${path}: not JSON (${(e as Error).message})`);
  }
}

function parseHeader(line: string, path: string): ChainHeader {
  let h: Partial<ChainHeader>;
  try {
    h = JSON.parse(line);
  } catch (e) {
    throw new LedgerFileError(`${path}:1: not JSON (${(e as Error).message})`);
  }
  if (h?.format !== FORMAT)
    throw new LedgerFileError(`${path}:1: not a gridloop ledger chain (format '${h?.format}')`);
  if (h.version !== VERSION)
    throw new LedgerFileError(`${path}:1: version ${h.version}, this gridloop reads ${VERSION}`);
  const hex = (x: unknown) => typeof x === 'string' && /^0x[0-9a-fA-F]+$/.test(x);
  if (!Array.isArray(h.signers) || h.signers.length < 3 || !h.signers.every(hex))
    throw new LedgerFileError(`${path}:1: /signers must list at least 3 authority addresses`);
  if (typeof h.blockGasLimit !== 'string' || !/^[0-9]+$/.test(h.blockGasLimit))
    throw new LedgerFileError(`${path}:1: /blockGasLimit must be a decimal string`);
  if (!hex(h.genesisHash)) throw new LedgerFileError(`${path}:1: /genesisHash must be a hex string`);
  if (!hex(h.contract)) throw new LedgerFileError(`${path}:1: /contract must be a hex address`);
  return h as ChainHeader;
}

/** The lines of a run folder's chain file (whatever engine wrote it); a clear error when there is none. */
export function chainLines(runDir: string): { path: string; lines: string[] } {
  if (!existsSync(runDir) || !statSync(runDir).isDirectory())
    throw new LedgerFileError(`${runDir} is not a folder`);
  const path = join(runDir, CHAIN_FILE);
  if (!existsSync(path))
    throw new LedgerFileError(
      `${runDir} holds no ledger: ${CHAIN_FILE} not found (only runs with a market ledger have one)`,
    );
  const lines = readFileSync(path, 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length === 0) throw new LedgerFileError(`${path}: empty`);
  return { path, lines };
}

/**
 * Re-executes the chain of a run folder from genesis and checks every block and account.
 * Throws LedgerFileError when the folder or a file is missing or unreadable; a block or an account
 * that does not hold is a problem in the report (ok false), named with its height and why.
 */
export async function verifyLedger(runDir: string): Promise<VerifyReport> {
  const t0 = performance.now();
  const { path: chainPath, lines } = chainLines(runDir);
  const header = parseHeader(lines[0], chainPath);
  const accounts = readJsonFile(join(runDir, ACCOUNTS_FILE), 'accounts file') as Partial<AccountsFile>;
  if (!accounts || typeof accounts.participants !== 'object' || accounts.participants === null)
    throw new LedgerFileError(`${join(runDir, ACCOUNTS_FILE)}: /participants must be an object`);

  const problems: string[] = [];
  const signers = header.signers.map((s) => createAddressFromString(s));
  // A follower: its key is no signer's, so it never seals; it only validates and re-executes.
  const follower = await Authority.create(
    'verifier',
    keccak(new TextEncoder().encode('gridloop-ledger-verifier')),
    signers,
    BigInt(header.blockGasLimit),
  );
  const genesis = await follower.head();
  if (bytesToHex(genesis.hash()) !== header.genesisHash.toLowerCase())
    problems.push(
      `genesis: built from the header it hashes to ${bytesToHex(genesis.hash())}, not ${header.genesisHash}`,
    );
  let blocks = 0;
  for (let i = 1; i < lines.length && problems.length === 0; i++) {
    const where = `${chainPath}:${i + 1}`;
    let entry: { number?: unknown; hash?: unknown; rlp?: unknown };
    try {
      entry = JSON.parse(lines[i]);
    } catch (e) {
      problems.push(
        `${where}: not JSON (${(e as Error).message}); the chain cannot be followed past block ${i - 1}`,
      );
      break;
    }
    const height = typeof entry.number === 'number' ? entry.number : i;
    if (entry.number !== i) {
      problems.push(`block ${height} (${where}): expected block ${i} here`);
      break;
    }
    if (typeof entry.rlp !== 'string' || !/^0x[0-9a-fA-F]*$/.test(entry.rlp)) {
      problems.push(`block ${i} (${where}): /rlp must be a hex string`);
      break;
    }
    let block: ReturnType<typeof createBlockFromRLP>;
    try {
      block = createBlockFromRLP(hexToBytes(entry.rlp), { common: follower.common, setHardfork: false });
    } catch (e) {
      problems.push(`block ${i} (${where}): cannot be decoded: ${(e as Error).message}`);
      break;
    }
    if (bytesToHex(block.hash()) !== entry.hash)
      problems.push(
        `block ${i} (${where}): its contents hash to ${bytesToHex(block.hash())}, the file says ${entry.hash}`,
      );
    const verdict = await follower.importBlock(block);
    if (!verdict.ok) {
      problems.push(`block ${i} (${where}): ${verdict.reason.replace(/^verifier: /, '')}`);
      break;
    }
    blocks++;
  }

  const replaySeconds = (performance.now() - t0) / 1000;
  const participants = Object.entries(accounts.participants as Record<string, Partial<AccountRecord>>);
  if (problems.length === 0) {
    const contract = createAddressFromString(header.contract);
    await checkLedgerAccounts(accounts, participants, (data) => follower.call(contract, data), problems);
    const root = await follower.stateRoot();
    if (root !== accounts.stateRoot)
      problems.push(`state root: recorded ${accounts.stateRoot}, the re-executed chain has ${root}`);
  }
  return {
    ok: problems.length === 0,
    blocks,
    participants: participants.length,
    problems,
    seconds: (performance.now() - t0) / 1000,
    replaySeconds,
  };
}
