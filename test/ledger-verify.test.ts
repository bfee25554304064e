/**
 * The chain in the run folder and `gridloop ledger verify`: a run's ledger re-executed from genesis
 * holds; a tampered block is named with its height, file line and why; a tampered balance is named
 * with both figures; bad input is a clear error (exit 2), never a crash.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cliqueSigner,
  createBlockFromRLP,
  createSealedCliqueBlock,
  type HeaderData,
} from '@ethereumjs/block';
import { createAddressFromPrivateKey } from '@ethereumjs/util';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../bench/cli/main.ts';
import { clear } from '../market/clearing.ts';
import { bytesToHex, hexToBytes, keccak } from '../market/ledger/abi.ts';
import { authorityKey, makeCommon } from '../market/ledger/chain.ts';
import { sealerOf } from '../market/ledger/clique.ts';
import { MarketLedger, resultHash, settlementOf } from '../market/ledger/ledger.ts';
import { ACCOUNTS_FILE, CHAIN_FILE, persistLedger, verifyLedger } from '../market/ledger/persist.ts';
import { DEFAULT_MARKET_CONFIG, type Order, type Participant } from '../market/orders.ts';

const RULES = {
  retailPrice: 250,
  feedInPrice: 50,
  toleranceWh: 10,
  tolerancePermille: 50,
  penaltyPerWh: 100,
};
const root = mkdtempSync(join(tmpdir(), 'gridloop-ledger-verify-'));
const run = join(root, 'run-ok');

/** Runs the CLI, returning its exit code and what it printed. */
async function cli(...argv: string[]) {
  const out: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
  const err = vi.spyOn(console, 'error').mockImplementation((...a) => void out.push(a.join(' ')));
  try {
    const code = await main(argv);
    return { code, text: out.join('\n') };
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
}

/** A copy of the good run whose files `edit` changes. */
function tampered(name: string, edit: (dir: string) => void): string {
  const dir = join(root, name);
  mkdirSync(join(dir, 'ledger'), { recursive: true });
  for (const f of [CHAIN_FILE, ACCOUNTS_FILE]) writeFileSync(join(dir, f), readFileSync(join(run, f)));
  edit(dir);
  return dir;
}

const SEED = 'verify-test';

/**
 * A copy of the good run whose block `n` is rebuilt with `header` changed and sealed with `key`; its
 * line gets the new block's hash, so the hash check passes and the seal or re-execution must catch it.
 */
function resealed(
  name: string,
  n: number,
  key: (genuineSealer: string) => Uint8Array,
  header: (h: HeaderData) => HeaderData = (h) => h,
) {
  const common = makeCommon();
  const lines = readFileSync(join(run, CHAIN_FILE), 'utf8').trimEnd().split('\n');
  const entry = JSON.parse(lines[n]);
  const genuine = createBlockFromRLP(hexToBytes(entry.rlp), { common, setHardfork: false });
  const json = genuine.toJSON();
  const forged = createSealedCliqueBlock(
    { ...json, header: header({ ...json.header } as HeaderData) } as Parameters<
      typeof createSealedCliqueBlock
    >[0],
    key(cliqueSigner(genuine.header).toString()),
    { common, setHardfork: false },
  );
  lines[n] = JSON.stringify({
    ...entry,
    rlp: bytesToHex(forged.serialize()),
    hash: bytesToHex(forged.hash()),
  });
  const dir = tampered(name, (d) => writeFileSync(join(d, CHAIN_FILE), `${lines.join('\n')}\n`));
  return { dir, genuine, forged };
}

/** The key of the authority that sealed a block (`sealer`), or of another one (`other`). */
function authority(sealer: string, same: boolean): Uint8Array {
  const keys = [0, 1, 2].map((i) => authorityKey(SEED, i));
  const key = keys.find((k) => (createAddressFromPrivateKey(k).toString() === sealer) === same);
  if (!key) throw new Error(`no authority key for ${sealer}`);
  return key;
}

beforeAll(async () => {
  const ledger = await MarketLedger.deploy(3, RULES, SEED);
  const people = ['ann', 'ben', 'cat', 'dan'];
  await ledger.credit(new Map(people.map((p) => [p, 2_000_000n])));
  await ledger.lockDeposits(new Map(people.map((p) => [p, 30_000n])));
  const participants = new Map<string, Participant>(
    people.map((id) => [id, { id, microgrid: 'mg', deposit: 0 }]),
  );
  for (let k = 1; k <= 2; k++) {
    const orders: Order[] = people.map((p, i) => ({
      id: `o${k}-${i}`,
      participant: p,
      side: i % 2 ? 'buy' : 'sell',
      qty_wh: 300 + 100 * i * k,
      price: 80 + 20 * i,
      t_s: 0,
    }));
    const s = settlementOf(k, clear(orders, participants, { ...DEFAULT_MARKET_CONFIG, ...RULES }));
    await ledger.vote(BigInt(k), new Map([0, 1, 2].map((a) => [a, resultHash(s)])));
    await ledger.settle(s, new Map(s.lines.map((l, i) => [l.participant, l.clearedWh - BigInt(150 * i)])));
  }
  await persistLedger(ledger, run);
}, 120_000);

afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

describe('gridloop ledger verify', () => {
  it('re-executes a recorded chain from genesis: every block and balance holds', async () => {
    const report = await verifyLedger(run);
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({ ok: true, blocks: 7, participants: 4 });
    const { code, text } = await cli('ledger', 'verify', run);
    expect(code).toBe(0);
    expect(text).toMatch(/^ledger holds: 7 blocks re-executed, 4 accounts checked/);
  }, 120_000);

  it('names a tampered block with its height, line and why (exit 1)', async () => {
    // One byte of the last settlement's transaction changed in the block file.
    const dir = tampered('block', (d) => {
      const path = join(d, CHAIN_FILE);
      const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
      const block = JSON.parse(lines[7]);
      const i = block.rlp.length - 200;
      block.rlp = block.rlp.slice(0, i) + (block.rlp[i] === '0' ? '1' : '0') + block.rlp.slice(i + 1);
      lines[7] = JSON.stringify(block);
      writeFileSync(path, `${lines.join('\n')}\n`);
    });
    const { code, text } = await cli('ledger', 'verify', dir);
    expect(code).toBe(1);
    expect(text).toMatch(/ledger does NOT hold/);
    expect(text).toMatch(/block 7 \(.*chain\.jsonl:8\): /);
  }, 120_000);

  it('names a block sealed by a key outside the signer set, its file hash made to match (exit 1)', async () => {
    // Claimed out of turn (difficulty 1), so the turn rule lets it through to the signer check.
    const { dir } = resealed(
      'foreign-seal',
      5,
      () => keccak(new TextEncoder().encode('not an authority')),
      (h) => ({ ...h, difficulty: 1n }),
    );
    const { code, text } = await cli('ledger', 'verify', dir);
    expect(code).toBe(1);
    expect(text).toMatch(/block 5 \(.*chain\.jsonl:6\): .*invalid PoA block signature \(clique\)/);
  }, 120_000);

  it('refuses a block of the same height re-sealed by another authority out of turn, after the genuine one was verified in this process (the recovered sealers are kept by header hash)', async () => {
    expect((await verifyLedger(run)).ok).toBe(true); // every genuine sealer now recovered and kept
    const { dir, genuine, forged } = resealed('other-authority', 5, (sealer) => authority(sealer, false));
    expect(forged.header.number).toBe(genuine.header.number);
    expect(sealerOf(genuine.header).toString()).toBe(cliqueSigner(genuine.header).toString());
    expect(sealerOf(forged.header).toString()).not.toBe(sealerOf(genuine.header).toString());
    expect(sealerOf(forged.header).toString()).toBe(cliqueSigner(forged.header).toString());
    const report = await verifyLedger(dir);
    expect(report.ok).toBe(false);
    expect(report.blocks).toBe(4);
    expect(report.problems).toEqual([
      expect.stringMatching(/^block 5 \(.*chain\.jsonl:6\): .*(invalid clique difficulty|recently signed)/),
    ]);
  }, 120_000);

  it('names a block whose header claims a wrong state root, though sealed by its own authority (exit 1)', async () => {
    const { dir } = resealed(
      'state-root',
      5,
      (sealer) => authority(sealer, true),
      (h) => ({ ...h, stateRoot: keccak(new TextEncoder().encode('another state')) }),
    );
    const { code, text } = await cli('ledger', 'verify', dir);
    expect(code).toBe(1);
    expect(text).toMatch(/block 5 \(.*chain\.jsonl:6\): .*invalid block stateRoot/);
  }, 120_000);

  it('names a tampered state root, pool or minted in accounts.json (exit 1)', async () => {
    const dir = tampered('accounts-root', (d) => {
      const path = join(d, ACCOUNTS_FILE);
      const accounts = JSON.parse(readFileSync(path, 'utf8'));
      accounts.stateRoot = bytesToHex(keccak(new TextEncoder().encode('another state')));
      accounts.pool = String(BigInt(accounts.pool) + 7n);
      writeFileSync(path, JSON.stringify(accounts));
    });
    const { code, text } = await cli('ledger', 'verify', dir);
    expect(code).toBe(1);
    expect(text).toMatch(/state root: recorded 0x[0-9a-f]{64}, the re-executed chain has 0x[0-9a-f]{64}/);
    expect(text).toMatch(/pool: recorded \d+, the re-executed chain holds \d+/);
  }, 120_000);

  it('names a tampered balance with the recorded and the re-executed figure (exit 1)', async () => {
    const dir = tampered('balance', (d) => {
      const path = join(d, ACCOUNTS_FILE);
      const accounts = JSON.parse(readFileSync(path, 'utf8'));
      accounts.participants.ben.balance = String(BigInt(accounts.participants.ben.balance) + 1n);
      writeFileSync(path, JSON.stringify(accounts));
    });
    const { code, text } = await cli('ledger', 'verify', dir);
    expect(code).toBe(1);
    expect(text).toMatch(/ben: balance recorded \d+, the re-executed chain holds \d+/);
  }, 120_000);

  it('refuses bad input with a clear message (exit 2), never a crash', async () => {
    const missing = await cli('ledger', 'verify', join(root, 'nope'));
    expect(missing.code).toBe(2);
    expect(missing.text).toMatch(/does not exist/);
    mkdirSync(join(root, 'empty'));
    const none = await cli('ledger', 'verify', join(root, 'empty'));
    expect(none).toMatchObject({ code: 2 });
    expect(none.text).toMatch(/holds no ledger: ledger\/chain\.jsonl not found/);
    const header = tampered('header', (d) =>
      writeFileSync(join(d, CHAIN_FILE), '{"format": "gridloop-ledger-chain"'),
    );
    expect(await cli('ledger', 'verify', header)).toMatchObject({
      code: 2,
      text: expect.stringMatching(/chain\.jsonl:1: not JSON/),
    });
    const accounts = tampered('accounts', (d) => writeFileSync(join(d, ACCOUNTS_FILE), 'garbage'));
    expect(await cli('ledger', 'verify', accounts)).toMatchObject({
      code: 2,
      text: expect.stringMatching(/accounts\.json: not JSON/),
    });
    const line = tampered('line', (d) => {
      const path = join(d, CHAIN_FILE);
      const lines = readFileSync(path, 'utf8').split('\n');
      lines[3] = lines[3].slice(0, 40);
      writeFileSync(path, lines.join('\n'));
    });
    expect(await cli('ledger', 'verify', line)).toMatchObject({
      code: 1,
      text: expect.stringMatching(/chain\.jsonl:4: not JSON/),
    });
    expect(await cli('ledger', 'check', run)).toMatchObject({
      code: 2,
      text: expect.stringMatching(/unknown action 'check'/),
    });
  }, 120_000);
});
