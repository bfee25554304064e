/**
 * A ledger run on a node in the run folder, verified by replay (docs/market.md, "A node's chain in
 * the run folder"): a small market (4 participants, 2 settled intervals with meter commitments and
 * penalties) on hardhat's EDR in process and over JSON-RPC against a real `hardhat node` on
 * 127.0.0.1, persisted; `gridloop ledger verify` re-executes its transactions on the embedded EVM
 * (another EVM than the node's) and holds; a changed byte, amount, gas, event, block hash or
 * balance is named with the transaction, its file line and why (exit 1).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCustomCommon, Mainnet } from '@ethereumjs/common';
import { createLegacyTx, createTxFromRLP } from '@ethereumjs/tx';
import { createAddressFromPrivateKey } from '@ethereumjs/util';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../bench/cli/main.ts';
import { openScenarioRun } from '../bench/cli/scenario-run.ts';
import { marketRunOf } from '../bench/market/market-settlement.ts';
import { simulateRecorded } from '../bench/recording/simulate-run.ts';
import { clear } from '../market/clearing.ts';
import { bytesToHex, encodeCall, hexToBytes, keccak } from '../market/ledger/abi.ts';
import { authorityKey } from '../market/ledger/chain.ts';
import type { LedgerEngine } from '../market/ledger/engine.ts';
import { createEdrEngine, createLedgerEngine, type RpcEngine } from '../market/ledger/engine-rpc.ts';
import { type IntervalSettlement, MarketLedger, resultHash, settlementOf } from '../market/ledger/ledger.ts';
import { ACCOUNTS_FILE, CHAIN_FILE } from '../market/ledger/persist.ts';
import { persistRunLedger, type TxLine, verifyRunLedger } from '../market/ledger/persist-replay.ts';
import { DEFAULT_MARKET_CONFIG, type Order, type Participant } from '../market/orders.ts';
import { parseScenario, ScenarioError } from '../twin/scenario/load.ts';
import { freePort, startHardhatNode } from './servers/index.ts';
import type { LoopbackServer } from './servers/loopback-server.ts';

const RULES = {
  retailPrice: 250,
  feedInPrice: 50,
  toleranceWh: 10,
  tolerancePermille: 50,
  penaltyPerWh: 100,
};
const SEED = 'replay-test';
const DEPOSIT = 30_000n;
const root = mkdtempSync(join(tmpdir(), 'gridloop-ledger-replay-'));
/** The hardhat chain's rules, for decoding and re-signing its transactions in the test. */
const common = createCustomCommon({ chainId: 31337 }, Mainnet, { hardfork: 'berlin' });
/** Transactions each engine's run sent (filled by its suite). */
const sentBy = new Map<string, number>();

let node: LoopbackServer | undefined;
/** The JSON-RPC run's ledger (its node stays up until the end of the file). */
let rpcLedger: MarketLedger | undefined;
afterAll(async () => {
  await node?.dispose();
  rmSync(root, { recursive: true, force: true });
});

async function cli(...argv: string[]) {
  const out: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
  const err = vi.spyOn(console, 'error').mockImplementation((...a) => void out.push(a.join(' ')));
  try {
    return { code: await main(argv), text: out.join('\n') };
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
}

/**
 * Penalties the contract takes in an interval, by the rules as written (docs/market.md): beyond
 * toleranceWh + |cleared| × permille / 1000, excess × penaltyPerWh from the deposit, at most all of it.
 */
function penaltiesByHand(
  s: IntervalSettlement,
  metered: ReadonlyMap<string, bigint>,
  deposits: Map<string, bigint>,
) {
  let taken = 0n;
  for (const l of s.lines) {
    const dev = (metered.get(l.participant) ?? l.clearedWh) - l.clearedWh;
    const abs = (x: bigint) => (x < 0n ? -x : x);
    const excess =
      abs(dev) - BigInt(RULES.toleranceWh) - (abs(l.clearedWh) * BigInt(RULES.tolerancePermille)) / 1000n;
    if (excess <= 0n) continue;
    const deposit = deposits.get(l.participant)!;
    const t = excess * BigInt(RULES.penaltyPerWh) < deposit ? excess * BigInt(RULES.penaltyPerWh) : deposit;
    deposits.set(l.participant, deposit - t);
    taken += t;
  }
  return taken;
}

const engines: { name: 'edr' | 'json-rpc'; create(): Promise<RpcEngine> }[] = [
  { name: 'edr', create: () => createEdrEngine({ seed: SEED }) },
  {
    name: 'json-rpc',
    async create() {
      node = await startHardhatNode();
      // As a lab would, the authorities' accounts funded on the node (keys from the seed); then the
      // engine as a scenario's `market.settlement: { engine: json-rpc, rpcUrl }` makes it, paying
      // the node's gas price.
      for (let i = 0; i < 3; i++)
        await fetch(node.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            jsonrpc: '2.0',
            id: 1,
            method: 'hardhat_setBalance',
            params: [
              createAddressFromPrivateKey(authorityKey(SEED, i)).toString(),
              '0x33b2e3c9fd0803ce8000000',
            ],
          }),
        });
      return (await createLedgerEngine({
        kind: 'json-rpc',
        authorities: 3,
        seed: SEED,
        url: node.url,
      })) as RpcEngine;
    },
  },
];

describe.each(engines)('a market run on the $name engine in the run folder', ({ name, create }) => {
  const run = join(root, name);
  let engine: LedgerEngine;
  let sent = 0;
  const expectedIntervals: { interval: bigint; participants: bigint; penalties: bigint }[] = [];

  /** A copy of the good run whose files `edit` changes. */
  function tampered(tag: string, edit: (dir: string) => void): string {
    const dir = join(root, `${name}-${tag}`);
    mkdirSync(join(dir, 'ledger'), { recursive: true });
    for (const f of [CHAIN_FILE, ACCOUNTS_FILE]) writeFileSync(join(dir, f), readFileSync(join(run, f)));
    edit(dir);
    return dir;
  }
  /** A copy of the run with transaction line `n` (file line n + 1) changed by `edit`. */
  function withTx(tag: string, n: number, edit: (l: TxLine) => void): string {
    return tampered(tag, (d) => {
      const path = join(d, CHAIN_FILE);
      const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
      const l = JSON.parse(lines[n]) as TxLine;
      edit(l);
      lines[n] = JSON.stringify(l);
      writeFileSync(path, `${lines.join('\n')}\n`);
    });
  }
  const lines = () =>
    readFileSync(join(run, CHAIN_FILE), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
  /** The line of the last settlement (the last transaction that emitted a Penalty or Settled). */
  const settleLine = () => lines().length - 1;

  beforeAll(async () => {
    engine = await create();
    const ledger = await MarketLedger.deployOn(engine, RULES);
    if (name === 'json-rpc') rpcLedger = ledger;
    const people = ['ann', 'ben', 'cat', 'dan'];
    await ledger.credit(new Map(people.map((p) => [p, 2_000_000n])));
    await ledger.lockDeposits(new Map(people.map((p) => [p, DEPOSIT])));
    const deposits = new Map(people.map((p) => [p, DEPOSIT]));
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
      const commitments = people.map((p) => ({
        meter: `meter:${p}`,
        commitment: bytesToHex(keccak(new TextEncoder().encode(`${p}#${k}`))),
      }));
      await ledger.commitReadingsAndVote(
        BigInt(k),
        commitments,
        new Map([0, 1, 2].map((a) => [a, resultHash(s)])),
      );
      const metered = new Map(s.lines.map((l, i) => [l.participant, l.clearedWh - BigInt(150 * i)]));
      await ledger.settle(s, metered);
      expectedIntervals.push({
        interval: BigInt(k),
        participants: BigInt(s.lines.length),
        penalties: penaltiesByHand(s, metered, deposits),
      });
    }
    sent = (engine as RpcEngine).transactions.length;
    sentBy.set(name, sent);
    await persistRunLedger(ledger, run);
  }, 120_000);
  afterAll(() => engine?.close());

  it('writes the transactions with their blocks and the node chain id; verify replays them (exit 0)', async () => {
    const [header, ...txs] = lines();
    expect(header).toMatchObject({
      format: 'gridloop-ledger-chain',
      engine: name,
      chainId: 31337,
      hardfork: 'berlin',
      transactions: sent,
    });
    // deploy, credit, deposits, then per interval: the commitments, 3 votes, the settlement.
    expect(txs.length).toBe(3 + 2 * 5);
    expect(txs[0].contractAddress).toBe(header.contract);
    // Automine: one transaction per block, numbered on from the node's genesis.
    expect(txs.map((t) => t.block)).toEqual(txs.map((_, i) => i + 1));
    const report = await verifyRunLedger(run);
    expect(report.problems).toEqual([]);
    expect(report).toMatchObject({
      ok: true,
      engine: name,
      transactions: sent,
      blocks: sent,
      participants: 4,
    });
    expect(report.intervals).toEqual(expectedIntervals);
    expect(expectedIntervals.some((i) => i.penalties > 0n)).toBe(true);
    const { code, text } = await cli('ledger', 'verify', run);
    expect(code).toBe(0);
    expect(text).toMatch(
      new RegExp(`^ledger holds: ${sent} transactions of ${sent} ${name} blocks re-executed, 4 accounts`),
    );
    expect(text).toMatch(/no Clique seals to check/);
    expect(text).toMatch(/contract storage root/);
    expect(text).toMatch(
      new RegExp(`interval 2: 4 lines settled, penalties ${expectedIntervals[1].penalties}`),
    );
  }, 120_000);

  it('names a changed byte, amount, gas or event with the transaction, its line and why (exit 1)', async () => {
    const n = settleLine();
    const where = `tx ${n} \\(block ${n}, .*chain\\.jsonl:${n + 1}\\)`;
    const cases: [string, (l: TxLine) => void, RegExp][] = [
      [
        'byte',
        (l) => {
          const i = l.raw.length - 200;
          l.raw = l.raw.slice(0, i) + (l.raw[i] === '0' ? '1' : '0') + l.raw.slice(i + 1);
        },
        /its raw transaction hashes to 0x[0-9a-f]{64}, the line says/,
      ],
      [
        // One metered amount changed in the settlement's call data, the hash made to match: the
        // signature no longer belongs to the authority.
        'amount',
        (l) => {
          const tx = createTxFromRLP(hexToBytes(l.raw), { common });
          const data = tx.data.slice();
          data[data.length - 1] ^= 1;
          const forged = createLegacyTx({ ...tx.toJSON(), data, v: tx.v, r: tx.r, s: tx.s }, { common });
          l.raw = bytesToHex(forged.serialize());
          l.hash = bytesToHex(forged.hash());
        },
        /signed by 0x[0-9a-f]{40}, the line says 0x/,
      ],
      [
        'gas',
        (l) => {
          l.gasUsed = String(BigInt(l.gasUsed) + 1n);
        },
        /gas used recorded \d+, re-executed \d+/,
      ],
      [
        'status',
        (l) => {
          l.status = 'reverted';
        },
        /status recorded reverted, re-executed success/,
      ],
      [
        'event',
        (l) => {
          const g = l.logs.at(-1)!;
          g.data = `${g.data.slice(0, -1)}${g.data.endsWith('0') ? '1' : '0'}`;
        },
        /event \d+ recorded .*, re-executed /,
      ],
    ];
    for (const [tag, edit, why] of cases) {
      const { code, text } = await cli('ledger', 'verify', withTx(tag, n, edit));
      expect(code, tag).toBe(1);
      expect(text, tag).toMatch(/ledger does NOT hold/);
      expect(text, tag).toMatch(new RegExp(`${where}: ${why.source}`));
    }
    // A transaction dropped from the record (the lines renumbered): the next one's nonce gives it away.
    const dropped = tampered('dropped', (d) => {
      const path = join(d, CHAIN_FILE);
      const all = readFileSync(path, 'utf8').trimEnd().split('\n');
      all.splice(2, 1);
      const renumbered = all.map((s, i) => (i === 0 ? s : JSON.stringify({ ...JSON.parse(s), tx: i })));
      writeFileSync(path, `${renumbered.join('\n')}\n`);
    });
    const { code, text } = await cli('ledger', 'verify', dropped);
    expect(code).toBe(1);
    expect(text).toMatch(/tx 2 \(block 3, .*chain\.jsonl:3\): cannot be re-executed: .*nonce/);
  }, 120_000);

  it('refuses bad input with a clear message, never a crash', async () => {
    const header = (edit: (h: Record<string, unknown>) => void) =>
      tampered(`header-${Math.random().toString(36).slice(2)}`, (d) => {
        const path = join(d, CHAIN_FILE);
        const all = readFileSync(path, 'utf8').split('\n');
        const h = JSON.parse(all[0]);
        edit(h);
        all[0] = JSON.stringify(h);
        writeFileSync(path, all.join('\n'));
      });
    const cases: [string, (h: Record<string, unknown>) => void, RegExp][] = [
      ['chain id', (h) => delete h.chainId, /chain\.jsonl:1: \/chainId must be a positive integer/],
      [
        'hardfork',
        (h) => Object.assign(h, { hardfork: 'frontier' }),
        /chain\.jsonl:1: \/hardfork must be one of berlin/,
      ],
      [
        'contract',
        (h) => Object.assign(h, { contract: '0x12' }),
        /chain\.jsonl:1: \/contract must be an address/,
      ],
    ];
    for (const [tag, edit, why] of cases)
      expect(await cli('ledger', 'verify', header(edit)), tag).toMatchObject({
        code: 2,
        text: expect.stringMatching(why),
      });
    // The record cut short after a whole line: the header's count gives it away.
    const cut = tampered('cut', (d) => {
      const path = join(d, CHAIN_FILE);
      writeFileSync(path, `${readFileSync(path, 'utf8').trimEnd().split('\n').slice(0, -1).join('\n')}\n`);
    });
    expect(await cli('ledger', 'verify', cut)).toMatchObject({
      code: 1,
      text: expect.stringMatching(
        new RegExp(`the header counts ${sent} transactions, the file holds ${sent - 1}`),
      ),
    });
    // A transaction line with a field that is not what the format says: named with its JSON path.
    const field = withTx('field', 3, (l) => Object.assign(l, { gasUsed: 12 }));
    expect(await cli('ledger', 'verify', field)).toMatchObject({
      code: 1,
      text: expect.stringMatching(/tx 3 \(block 3, .*chain\.jsonl:4\): \/gasUsed must be a decimal string/),
    });
    const accounts = tampered('accounts-garbage', (d) => writeFileSync(join(d, ACCOUNTS_FILE), '{"pool"'));
    expect(await cli('ledger', 'verify', accounts)).toMatchObject({
      code: 2,
      text: expect.stringMatching(/accounts\.json: not JSON/),
    });
    // --rpc to a port nothing listens on: a clear error (exit 2), not a hang.
    const closed = `http://127.0.0.1:${await freePort()}`;
    expect(await cli('ledger', 'verify', run, '--rpc', closed)).toMatchObject({
      code: 2,
      text: expect.stringMatching(new RegExp(`--rpc ${closed}: eth_chainId failed`)),
    });
  }, 120_000);

  it('names a tampered account with the recorded and the re-executed figure (exit 1)', async () => {
    const dir = tampered('accounts', (d) => {
      const path = join(d, ACCOUNTS_FILE);
      const a = JSON.parse(readFileSync(path, 'utf8'));
      a.participants.ben.balance = String(BigInt(a.participants.ben.balance) + 1n);
      writeFileSync(path, JSON.stringify(a));
    });
    const { code, text } = await cli('ledger', 'verify', dir);
    expect(code).toBe(1);
    expect(text).toMatch(/ben: balance recorded \d+, the re-executed chain holds \d+/);
  }, 120_000);
});

describe('gridloop ledger verify --rpc', () => {
  it('checks every block hash of a JSON-RPC run against the node', async () => {
    const url = node!.url;
    const run = join(root, 'json-rpc');
    const sent = sentBy.get('json-rpc');
    const ok = await cli('ledger', 'verify', run, '--rpc', url);
    expect(ok.code).toBe(0);
    expect(ok.text).toMatch(
      new RegExp(`every block hash and transaction matches the node at ${url} \\(${sent} blocks\\)`),
    );
    // A block hash the replay cannot see (it is no input of the EVM), but the node can.
    const dir = join(root, 'json-rpc-block-hash');
    mkdirSync(join(dir, 'ledger'), { recursive: true });
    writeFileSync(join(dir, ACCOUNTS_FILE), readFileSync(join(run, ACCOUNTS_FILE)));
    const lines = readFileSync(join(run, CHAIN_FILE), 'utf8').trimEnd().split('\n');
    lines[4] = JSON.stringify({ ...JSON.parse(lines[4]), blockHash: `0x${'ab'.repeat(32)}` });
    writeFileSync(join(dir, CHAIN_FILE), `${lines.join('\n')}\n`);
    expect((await cli('ledger', 'verify', dir)).code).toBe(0);
    const { code, text } = await cli('ledger', 'verify', dir, '--rpc', url);
    expect(code).toBe(1);
    expect(text).toMatch(
      /tx 4 \(block 4, .*chain\.jsonl:5\): the node's block 4 is 0x[0-9a-f]{64}, the record says 0xabab/,
    );
  }, 120_000);
});

describe('the market day settled on EDR (market.settlement.engine)', () => {
  const shipped = join(import.meta.dirname, '../scenarios/market-day.yaml');
  /** The shipped market day, 45 minutes from 11:00 (intervals 1 and 2 settled), on another engine. */
  const scenarioOn = (settlement: string) =>
    parseScenario(
      readFileSync(shipped, 'utf8')
        .replace(/^duration_s: 86400$/m, 'duration_s: 2700')
        .replace(/^startHour: 0$/m, 'startHour: 11')
        .replace(/^( {2}gateClosure_s: 60\n)/m, `$1  settlement: ${settlement}\n`),
      shipped,
    );

  it('writes its transactions into the run folder, and `gridloop ledger verify` replays them (exit 0)', async () => {
    const scenario = scenarioOn('{ engine: edr }');
    const market = (await marketRunOf(scenario, scenario.dt_s))!;
    const run = await simulateRecorded(scenario, {
      ...market.options,
      dt_s: scenario.dt_s,
      every_s: 60,
      open: () =>
        openScenarioRun('simulate', join(root, 'runs'), {
          scenario,
          file: scenario.file,
          dt_s: scenario.dt_s,
          devices: [],
          loop: { devices: [], runner: 'simulate' },
        }),
    });
    expect(market.settled).toMatchObject({
      settled: [1, 2],
      unsettled: [],
      readingsRefused: [],
      persisted: true,
    });
    const [header, ...txs] = readFileSync(join(run.runDir!, CHAIN_FILE), 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(header).toMatchObject({ engine: 'edr', chainId: 31337, transactions: txs.length });
    // EDR mines each transaction in a block of its own: every block the settlement made is one
    // line (deploy, credit, deposits; per interval the readings, order books and votes, the settlement).
    expect(txs[0].contractAddress).toBe(header.contract);
    expect(market.settled!.blocks).toBe(txs.length);
    const { code, text } = await cli('ledger', 'verify', run.runDir!);
    expect(text).toMatch(new RegExp(`^ledger holds: ${txs.length} transactions of ${txs.length} edr blocks`));
    expect(code).toBe(0);
    expect(text).toMatch(/interval 1: \d+ lines settled[\s\S]*interval 2: \d+ lines settled/);
  }, 300_000);

  it("refuses engine json-rpc without the node's URL", () => {
    expect(() => scenarioOn('{ engine: json-rpc }')).toThrow(ScenarioError);
    expect(() => scenarioOn('{ engine: json-rpc }')).toThrow(/rpcUrl/);
    expect(() => scenarioOn('{ engine: json-rpc, rpcUrl: "http://127.0.0.1:8545" }')).not.toThrow();
  });

  it('records a reverted transaction left on the chain, and replays it as reverted', async () => {
    // What a node without evm_snapshot leaves of a failed batch: a transaction mined with status 0
    // (here a second vote of authority 0 for interval 1, sent straight to the node).
    const ledger = rpcLedger!;
    const engine = ledger.engine as RpcEngine;
    const rpc = async (method: string, params: unknown[]) =>
      (
        (await (
          await fetch(node!.url, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
          })
        ).json()) as { result: unknown }
      ).result;
    const tx = createLegacyTx(
      {
        nonce: await engine.nonceOf(0),
        gasPrice: BigInt(String(await rpc('eth_gasPrice', []))),
        gasLimit: 200_000n,
        to: ledger.contractAddress as `0x${string}`,
        data: encodeCall('submitClearing(uint64,bytes32)', [1n, `0x${'22'.repeat(32)}`]),
      },
      { common },
    ).sign(authorityKey(SEED, 0));
    const hash = bytesToHex(tx.hash());
    await rpc('eth_sendRawTransaction', [bytesToHex(tx.serialize())]); // hardhat mines it, then says it reverted
    expect(await rpc('eth_getTransactionReceipt', [hash])).toMatchObject({ status: '0x0' });
    engine.transactions.push(hash);
    const run = join(root, 'json-rpc-reverted');
    await persistRunLedger(ledger, run);
    const last = JSON.parse(readFileSync(join(run, CHAIN_FILE), 'utf8').trimEnd().split('\n').at(-1)!);
    expect(last).toMatchObject({ hash, status: 'reverted', logs: [] });
    const ok = await cli('ledger', 'verify', run);
    expect(ok.code).toBe(0);
    // Recorded as a success, the replay disagrees and says why.
    const path = join(run, CHAIN_FILE);
    writeFileSync(path, readFileSync(path, 'utf8').replace(/"status":"reverted"/, '"status":"success"'));
    const { code, text } = await cli('ledger', 'verify', run);
    expect(code).toBe(1);
    expect(text).toMatch(
      new RegExp(
        `tx ${last.tx} \\(block ${last.block}, .*\\): status recorded success, re-executed reverted \\(already voted\\)`,
      ),
    );
  }, 120_000);

  it('refuses --rpc for a run on the embedded chain (exit 2)', async () => {
    const ledger = await MarketLedger.deploy(3, RULES, SEED);
    const run = join(root, 'embedded');
    await persistRunLedger(ledger, run);
    expect(JSON.parse(readFileSync(join(run, CHAIN_FILE), 'utf8').split('\n')[0])).toMatchObject({
      engine: 'embedded',
    });
    expect((await cli('ledger', 'verify', run)).code).toBe(0);
    expect(await cli('ledger', 'verify', run, '--rpc', node!.url)).toMatchObject({
      code: 2,
      text: expect.stringMatching(/--rpc checks a node's blocks; .*chain\.jsonl holds the embedded chain/),
    });
  }, 120_000);
});
