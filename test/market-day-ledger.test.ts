/**
 * The market day settled on the chain (docs/market.md, "The market day on the chain"): an hour of the
 * shipped market day through `simulate`'s runner writes its chain into the run folder; `gridloop
 * ledger verify` (as a user runs it, a process) re-executes it; every participant's balance,
 * deposit, debt and reputation in accounts.json equals a calculation made here from the recorded
 * trades, the metered energy (checked against an integration of the twin's states made here) and
 * the penalty rule as docs/market.md states it — not from anything the ledger computed; money is
 * conserved exactly; a tampered block is named with its height (exit 1).
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateRunOpener } from '../bench/cli/scenario-run.ts';
import {
  DEFAULT_SETTLEMENT_RULES,
  type MarketRun,
  marketRunOf,
  SETTLEMENT_CREDIT,
  SETTLEMENT_DEPOSIT,
} from '../bench/market/market-settlement.ts';
import type { Point } from '../bench/recording/line-protocol.ts';
import { readRunPoints } from '../bench/recording/read-run.ts';
import { simulateRecorded } from '../bench/recording/simulate-run.ts';
import { participantAddress } from '../market/ledger/ledger.ts';
import { type BookCommitment, bookCommitments } from '../market/ledger/order-commitment.ts';
import type { TwinState } from '../twin/api.ts';
import { parseScenario } from '../twin/scenario/load.ts';

const root = join(import.meta.dirname, '..');
const SHIPPED = join(root, 'scenarios/market-day.yaml');
const work = mkdtempSync(join(tmpdir(), 'gridloop-market-ledger-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['bin/gridloop.mjs', ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** The shipped market day cut to one hour from 11:00: intervals 1, 2 and 3 are cleared and settled. */
const oneHour = () =>
  readFileSync(SHIPPED, 'utf8')
    .replace(/^duration_s: 86400$/m, 'duration_s: 3600')
    .replace(/^startHour: 0$/m, 'startHour: 11');

/**
 * In the hour: pv-28 and MG2's flexible loads are passive prosumers (no orders); wind-33's deposit
 * (1000 µ-units) is too small for any order; the market dispatches mt-16, whose offer is
 * only partly matched.
 */
const PASSIVE = ['pv-28', 'flex:MG2'];
const SMALL_DEPOSIT = { id: 'wind-33', deposit: 1000n };
const DISPATCHED = ['mt-16'];
const withRules = (text: string) =>
  text
    // FID schedule steps, as when this hour was chosen: mt-16's offer is then only partly matched.
    .replace(/^ {2}fidRamp_s: 60$/m, '  fidRamp_s: 0')
    .replace(
      /^market:\n/m,
      `market:\n  dispatch: [${DISPATCHED.join(', ')}]\n  settlement: { deposits: { ${SMALL_DEPOSIT.id}: ${SMALL_DEPOSIT.deposit} } }\n`,
    )
    .replace(/^ {2}agents:\n/m, `  agents:\n    passive: [${PASSIVE.map((p) => `'${p}'`).join(', ')}]\n`);

let runDir: string;
let points: Point[];
/** Per interval start, per participant: net energy integrated here from the twin's states, Wh. */
const integrated = new Map<number, Map<string, number>>();
let participants: string[];

let market: MarketRun;

beforeAll(async () => {
  const scenario = parseScenario(withRules(oneHour()), SHIPPED);
  expect(scenario.market?.agents?.passive).toEqual(PASSIVE);
  expect(scenario.market?.dispatch).toEqual(DISPATCHED);
  market = (await marketRunOf(scenario, scenario.dt_s))!;
  expect(market.settlement).toBeDefined(); // on by default
  participants = [...market.market.controller.participants.keys()];
  const catalog = market.market.catalog;
  const microgridOf = new Map(market.market.controller.participants);
  let last = 0;
  const onStep = (state: TwinState) => {
    market.options.onStep(state);
    const dt = state.t_s - last;
    last = state.t_s;
    const start = Math.floor((state.t_s - dt / 2) / 900) * 900;
    const m = integrated.get(start) ?? new Map<string, number>();
    integrated.set(start, m);
    // A microgrid's loads take what is left of its balance: DER outputs, PCC import, FID inflows.
    const balance = new Map<string, number>();
    for (const [id, device] of Object.entries(state.devices)) {
      const mg = catalog.ders.find((d) => d.id === id)?.microgrid;
      if (!mg) continue;
      const p = device.online && !device.tripped ? device.p_mw : 0;
      m.set(id, (m.get(id) ?? 0) + (p * dt * 1e6) / 3600);
      balance.set(mg, (balance.get(mg) ?? 0) + p);
    }
    for (const mg of catalog.microgrids) {
      let inflow = state.microgrids?.[mg.id]?.pcc_p_mw ?? 0;
      for (const f of catalog.fids) {
        const s = state.fids?.[f.id];
        if (s && mg.buses.includes(f.busA)) inflow += s.p_a_mw;
        if (s && mg.buses.includes(f.busB)) inflow += s.p_b_mw;
      }
      const served = (balance.get(mg.id) ?? 0) + inflow;
      // The flexible loads (by count, as docs/market.md says) take their share of the demand the
      // microgrid would serve uncurtailed, less the curtailment in force; the firm loads the rest.
      const loads = catalog.loads.filter((l) => l.microgrid === mg.id);
      const flexible = loads.filter((l) => l.controllable).map((l) => l.id);
      const share = flexible.length / Math.max(1, loads.length);
      const curtail = market.market.controller.actionsInForce.find(
        (a) => a.kind === 'load-curtail' && flexible.includes(a.id),
      );
      const f = curtail?.kind === 'load-curtail' ? curtail.fraction : 0;
      const flex = flexible.length > 0 ? (served / Math.max(0.05, 1 - share * f)) * share * (1 - f) : 0;
      const id = `load:${mg.id}`;
      expect(microgridOf.get(id)?.microgrid).toBe(mg.id);
      m.set(id, (m.get(id) ?? 0) - ((served - flex) * dt * 1e6) / 3600);
      if (flexible.length > 0)
        m.set(`flex:${mg.id}`, (m.get(`flex:${mg.id}`) ?? 0) - (flex * dt * 1e6) / 3600);
    }
  };
  const run = await simulateRecorded(scenario, {
    ...market.options,
    onStep,
    dt_s: scenario.dt_s,
    every_s: 60,
    open: simulateRunOpener(work, scenario),
  });
  expect(run.verdict.passed).toBe(true);
  expect(market.settled).toMatchObject({ settled: [1, 2, 3], unsettled: [], readingsRefused: [] });
  runDir = run.runDir!;
  points = await readRunPoints(runDir);
}, 300_000);

describe('the market day settled on the chain', () => {
  it('writes the chain into the run folder, and `gridloop ledger verify` re-executes it (exit 0)', async () => {
    const header = JSON.parse(readFileSync(join(runDir, 'ledger/chain.jsonl'), 'utf8').split('\n')[0]);
    expect(header).toMatchObject({ format: 'gridloop-ledger-chain', engine: 'embedded' });
    expect(header.signers).toHaveLength(3);
    const r = await cli(['ledger', 'verify', runDir]);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^ledger holds: \d+ blocks re-executed, \d+ accounts checked/);
    expect(r.code).toBe(0);
  }, 120_000);

  it("puts each participant's balance where the recorded trades, meters, sharing and penalty rules put it, conserving money exactly", () => {
    const accounts = JSON.parse(readFileSync(join(runDir, 'ledger/accounts.json'), 'utf8'));
    const retail = 250n;
    const feedIn = 50n;
    const { toleranceWh, tolerancePermille, penaltyPerWh } = DEFAULT_SETTLEMENT_RULES;
    const catalog = market.market.catalog;
    // docs/market.md, "Declared position": dispatchable generators and batteries, and the flexible
    // loads the market curtails, are held to their matched volume; a generator's must-run is not.
    const heldToMatch = (p: string) => {
      const der = catalog.ders.find((d) => d.id === p);
      return p.startsWith('flex:') || der?.dispatchable === true || der?.technology === 'battery';
    };
    const depositOf = (p: string) => (p === SMALL_DEPOSIT.id ? SMALL_DEPOSIT.deposit : SETTLEMENT_DEPOSIT);
    const want = new Map(
      participants.map((p) => [
        p,
        { balance: SETTLEMENT_CREDIT - depositOf(p), deposit: depositOf(p), debt: 0n, reputation: 0n },
      ]),
    );
    let pool = 0n;
    let grid = 0n;
    let penalised = 0;
    /** What main's rule (every unmatched rest in the position) would have penalised, per participant. */
    const penalisedBefore = new Set<string>();
    const passiveSeen = new Set<string>();
    let bothSides = false;
    const abs = (x: bigint) => (x < 0n ? -x : x);
    const excessOf = (dev: bigint, cleared: bigint) =>
      abs(dev) - BigInt(toleranceWh) - (abs(cleared) * BigInt(tolerancePermille)) / 1000n;
    const meters = points.filter((p) => p.measurement === 'market_meter');
    const intervals = [...new Set(meters.map((p) => Number(p.fields.interval)))].sort();
    expect(intervals).toEqual([1, 2, 3]);
    for (const k of intervals) {
      const start = k * 900;
      // Meter readings: what the authorities accepted, against the energy integrated here.
      const metered = new Map<string, bigint>();
      for (const p of meters.filter((x) => Number(x.fields.interval) === k)) {
        const mine = integrated.get(start)!.get(p.tags.participant)!;
        expect(Math.abs(Number(p.fields.energy_wh) - mine), p.tags.participant).toBeLessThanOrEqual(1);
        metered.set(p.tags.participant, BigInt(p.fields.energy_wh as number));
      }
      expect([...metered.keys()].sort()).toEqual([...participants].sort());
      // The interval's trades, stamped at its start: each participant's position and money.
      const lines = new Map<string, { cleared: bigint; money: bigint }>();
      const startNs =
        points.find((p) => p.measurement === 'market_meter' && Number(p.fields.interval) === k)!.time_ns -
        900n * 10n ** 9n;
      // (The recorder moves a point of a series already written at that time on by 1 ns: a
      // participant's second order.)
      const trades = points.filter(
        (p) => p.measurement === 'market_trade' && p.time_ns >= startNs && p.time_ns < startNs + 1000n,
      );
      const allRest = new Map<string, bigint>();
      for (const t of trades) {
        const sign = t.tags.side === 'sell' ? 1n : -1n;
        const f = t.fields as Record<string, number>;
        const p = t.tags.participant;
        const commits = !heldToMatch(p) || String(t.fields.order).includes('/must-run@');
        const line = lines.get(p) ?? { cleared: 0n, money: 0n };
        line.cleared += sign * BigInt(f.filled_wh + (commits ? f.unmatched_wh : 0));
        line.money += sign * BigInt(f.amount + (commits ? f.grid_amount : 0));
        lines.set(p, line);
        allRest.set(p, (allRest.get(p) ?? 0n) + sign * BigInt(f.filled_wh + f.unmatched_wh));
        pool -= sign * BigInt(f.amount); // congestion rent: buyers pay more than sellers get
        if (commits) grid -= sign * BigInt(f.grid_amount); // the grid is paid by buyers, pays sellers
      }
      expect(lines.size).toBeGreaterThan(0);
      for (const p of PASSIVE) expect(lines.has(p), `${p} sent no order`).toBe(false);
      expect(lines.has(SMALL_DEPOSIT.id), `${SMALL_DEPOSIT.id}'s orders refused`).toBe(false);
      // Passive prosumers (no trades, a nonzero reading): the mid-market rate (Zhou et al. 2018) by
      // hand. Buyers pay rounded up, sellers get rounded down; the remainder to the pool.
      const passive = [...metered].filter(([p, wh]) => !lines.has(p) && wh !== 0n);
      const S = passive.reduce((x, [, wh]) => (wh > 0n ? x + wh : x), 0n);
      const D = passive.reduce((x, [, wh]) => (wh < 0n ? x - wh : x), 0n);
      if (S > 0n && D > 0n) bothSides = true;
      const mid = { num: retail + feedIn, den: 2n };
      const sell = S > D ? { num: mid.num * D + 2n * feedIn * (S - D), den: 2n * S } : mid;
      const buy = D > S ? { num: mid.num * S + 2n * retail * (D - S), den: 2n * D } : mid;
      let paid = 0n;
      let received = 0n;
      for (const [p, wh] of passive) {
        passiveSeen.add(p);
        const money = wh > 0n ? (wh * sell.num) / sell.den : -((-wh * buy.num + buy.den - 1n) / buy.den);
        if (money > 0n) received += money;
        else paid -= money;
        lines.set(p, { cleared: wh, money });
      }
      const gridNet = (D > S ? (D - S) * retail : 0n) - (S > D ? (S - D) * feedIn : 0n);
      grid += gridNet;
      pool += paid - received - gridNet;
      for (const [p, line] of lines) {
        const a = want.get(p)!;
        const dev = metered.get(p)! - line.cleared;
        // The deviation is traded with the main grid: surplus at feed-in, shortfall at retail.
        const gridMoney = dev >= 0n ? dev * feedIn : dev * retail;
        a.balance += line.money + gridMoney;
        grid -= gridMoney;
        const excess = excessOf(dev, line.cleared);
        if (excess > 0n) {
          penalised++;
          const penalty = excess * BigInt(penaltyPerWh);
          const taken = penalty < a.deposit ? penalty : a.deposit;
          a.deposit -= taken;
          a.debt += penalty - taken;
          pool += taken;
        } else a.reputation += 1n;
        const before = allRest.get(p);
        if (before !== undefined && excessOf(metered.get(p)! - before, before) > 0n) penalisedBefore.add(p);
      }
    }
    // Both branches of the rule were exercised.
    expect(penalised).toBeGreaterThan(0);
    expect([...want.values()].some((a) => a.reputation > 0n)).toBe(true);
    // The passive prosumers were settled, buyers and sellers in one interval at least.
    expect([...passiveSeen].sort()).toEqual([...PASSIVE, SMALL_DEPOSIT.id].sort());
    expect(bothSides).toBe(true);
    for (const [p, a] of want)
      expect(accounts.participants[p], p).toMatchObject({
        balance: String(a.balance),
        deposit: String(a.deposit),
        debt: String(a.debt),
        reputation: String(a.reputation),
      });
    expect(accounts.pool).toBe(String(pool));
    expect(accounts.grid).toBe(String(grid));
    // The units the market dispatches run what they were matched and keep their deposits; with every
    // unmatched rest in their position (main's rule) they would have been penalised.
    for (const p of DISPATCHED) {
      expect(accounts.participants[p], p).toMatchObject({
        deposit: String(SETTLEMENT_DEPOSIT),
        debt: '0',
        reputation: '3',
      });
      expect(penalisedBefore.has(p), p).toBe(true);
    }
    // Conservation, exact: Σ balances + Σ deposits + pool + grid = what was credited.
    const held = Object.values(accounts.participants as Record<string, { balance: string; deposit: string }>)
      .map((a) => BigInt(a.balance) + BigInt(a.deposit))
      .reduce((s, x) => s + x, 0n);
    expect(held + BigInt(accounts.pool) + BigInt(accounts.grid)).toBe(BigInt(accounts.minted));
    expect(BigInt(accounts.minted)).toBe(SETTLEMENT_CREDIT * BigInt(participants.length));
  });

  it("commits each microgrid's admitted orders as the Merkle root computed here from the recorded orders, and proves an order against it", async () => {
    const ledger = market.settlement!.ledger;
    const k256 = (hex: string) => `0x${Buffer.from(keccak_256(Buffer.from(hex, 'hex'))).toString('hex')}`;
    const w = (x: bigint | string) =>
      typeof x === 'string'
        ? x.slice(2).padStart(64, '0')
        : (((1n << 256n) + x) % (1n << 256n)).toString(16).padStart(64, '0');
    const orders = points.filter((p) => p.measurement === 'market_order' && p.tags.status === 'admitted');
    const books = new Map<string, Point[]>();
    for (const o of orders) {
      const key = `${o.fields.interval}|${o.tags.microgrid}`;
      books.set(key, [...(books.get(key) ?? []), o]);
    }
    const intervals = new Set([...books.keys()].map((k) => Number(k.split('|')[0])));
    for (const k of [1, 2, 3]) expect(intervals.has(k), `interval ${k}`).toBe(true);
    let checked = 0;
    for (const [key, book] of books) {
      const [k, mg] = key.split('|');
      // The tie rule (docs/market.md): sells cheapest first, then buys dearest first; earlier t, lower id.
      const f = (o: Point) => o.fields as Record<string, string | number | bigint>;
      const sorted = [...book].sort((a, b) => {
        const [x, y] = [f(a), f(b)];
        if (x.side !== y.side) return x.side === 'sell' ? -1 : 1;
        const px = x.side === 'sell' ? Number(x.price) : -Number(x.price);
        const py = y.side === 'sell' ? Number(y.price) : -Number(y.price);
        return px - py || Number(x.t_ms) - Number(y.t_ms) || (String(x.order) < String(y.order) ? -1 : 1);
      });
      expect(
        sorted.map((o) => Number(f(o).leaf)),
        key,
      ).toEqual(sorted.map((_, i) => i));
      const leaves = sorted.map((o) =>
        k256(
          w(BigInt(k)) +
            w(k256(Buffer.from(String(f(o).order)).toString('hex'))) +
            w(participantAddress(o.tags.participant)) +
            w(f(o).side === 'sell' ? 0n : 1n) +
            w(BigInt(f(o).qty_wh)) +
            w(BigInt(f(o).price)) +
            w(BigInt(f(o).t_ms)),
        ),
      );
      let level = [...leaves];
      while ((level.length & (level.length - 1)) !== 0) level.push(`0x${'0'.repeat(64)}`);
      while (level.length > 1)
        level = level.flatMap((x, i) => (i % 2 === 0 ? [k256(x.slice(2) + level[i + 1].slice(2))] : []));
      const bookKey = k256(Buffer.from(mg).toString('hex'));
      for (let a = 0; a < 3; a++)
        expect(await ledger.readBytes32(a, 'orderRoot(uint64,bytes32)', [BigInt(k), bookKey]), key).toBe(
          level[0],
        );
      const recorded = points.find(
        (p) => p.measurement === 'market_book' && p.tags.microgrid === mg && String(p.fields.interval) === k,
      );
      expect(recorded?.fields.root).toBe(level[0]);
      // An order proven against the root on the chain; the same order with one Wh more is not.
      const i = leaves.length - 1;
      const commitment = { interval: BigInt(k), book: bookKey, leaves } as unknown as BookCommitment;
      expect(await ledger.proveOrder(commitment, i)).toBe(true);
      const o = f(sorted[i]);
      const forged = [...leaves];
      forged[i] = k256(
        w(BigInt(k)) +
          w(k256(Buffer.from(String(o.order)).toString('hex'))) +
          w(participantAddress(sorted[i].tags.participant)) +
          w(o.side === 'sell' ? 0n : 1n) +
          w(BigInt(o.qty_wh) + 1n) +
          w(BigInt(o.price)) +
          w(BigInt(o.t_ms)),
      );
      expect(await ledger.proveOrder({ ...commitment, leaves: forged }, i)).toBe(false);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(9); // three microgrids, three intervals at least
    // Every filled order of the run is among the committed ones.
    const committed = new Set(orders.map((o) => String(o.fields.order)));
    for (const t of points.filter((p) => p.measurement === 'market_trade'))
      expect(committed.has(String(t.fields.order)), String(t.fields.order)).toBe(true);
  });

  it('refuses the orders of a participant whose deposit is too small, with the reason, and the chain refuses to commit them', async () => {
    const refused = points.filter((p) => p.measurement === 'market_order' && p.tags.status === 'refused');
    expect(refused.length).toBeGreaterThanOrEqual(3);
    for (const r of refused) {
      expect(r.tags.participant).toBe(SMALL_DEPOSIT.id);
      expect(r.fields.reason).toBe('deposit-too-small');
      expect(String(r.fields.message)).toMatch(/needs a deposit of \d+ µ-units, wind-33 has 1000 free/);
    }
    // Left out of the clearing: no trade of it, none of its orders committed.
    expect(
      points.some((p) => p.measurement === 'market_trade' && p.tags.participant === SMALL_DEPOSIT.id),
    ).toBe(false);
    expect(
      points.some(
        (p) =>
          p.measurement === 'market_order' &&
          p.tags.status === 'admitted' &&
          p.tags.participant === SMALL_DEPOSIT.id,
      ),
    ).toBe(false);
    // An authority that tried to commit such an order anyway is refused by the contract.
    const ledger = market.settlement!.ledger;
    const order = {
      id: 'x',
      participant: SMALL_DEPOSIT.id,
      side: 'sell' as const,
      qty_wh: 11,
      price: 10,
      t_s: 0,
    };
    await expect(ledger.commitOrderBooks(bookCommitments(99n, [order], () => 'MG3', 100))).rejects.toThrow(
      /deposit too small/,
    );
    expect((await ledger.accountsOf([SMALL_DEPOSIT.id]))[0].deposit).toBe(SMALL_DEPOSIT.deposit);
  });

  it("records every authority's decision on every block as chain points", () => {
    const blocks = readFileSync(join(runDir, 'ledger/chain.jsonl'), 'utf8').trim().split('\n').length - 1;
    const chain = points.filter((p) => p.measurement === 'chain' && p.tags.outcome === 'accepted');
    expect(chain).toHaveLength(3 * blocks);
    expect(new Set(chain.map((p) => Number(p.fields.height))).size).toBe(blocks);
    expect(points.filter((p) => p.tags.outcome === 'balances')).toHaveLength(3);
  });

  it('names the height of a tampered block (exit 1)', async () => {
    const copy = join(work, 'tampered');
    mkdirSync(join(copy, 'ledger'), { recursive: true });
    copyFileSync(join(runDir, 'ledger/accounts.json'), join(copy, 'ledger/accounts.json'));
    const lines = readFileSync(join(runDir, 'ledger/chain.jsonl'), 'utf8').split('\n');
    // Block 6 (line 7): one byte of its transactions changed.
    const entry = JSON.parse(lines[6]);
    expect(entry.number).toBe(6);
    const at = entry.rlp.length - 200;
    entry.rlp = `${entry.rlp.slice(0, at)}${entry.rlp[at] === '0' ? '1' : '0'}${entry.rlp.slice(at + 1)}`;
    lines[6] = JSON.stringify(entry);
    writeFileSync(join(copy, 'ledger/chain.jsonl'), lines.join('\n'));
    const r = await cli(['ledger', 'verify', copy]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/ledger does NOT hold/);
    expect(r.stdout).toMatch(/block 6 \(.*chain\.jsonl:7\)/);
  }, 120_000);

  it('runs without the chain when the section turns settlement off, and refuses a bad settlement section', async () => {
    const off = await marketRunOf(
      parseScenario(
        readFileSync(SHIPPED, 'utf8').replace(/^market:\n/m, 'market:\n  settlement: { enabled: false }\n'),
        SHIPPED,
      ),
      0.1,
    );
    expect(off?.settlement).toBeUndefined();
    expect(off?.options.finish).toBeUndefined();
    expect(() =>
      parseScenario(
        readFileSync(SHIPPED, 'utf8').replace(/^market:\n/m, 'market:\n  settlement: { authorities: 2 }\n'),
        SHIPPED,
      ),
    ).toThrow(/market-day.yaml:\d+ \(at \/market\/settlement\/authorities\)/);
    // Passive prosumers and deposits name registered participants; a deposit is a whole, bounded number.
    const section = (text: string, agents = '') =>
      parseScenario(
        readFileSync(SHIPPED, 'utf8')
          .replace(/^market:\n/m, `market:\n${text}`)
          .replace(/^ {2}agents:\n/m, `  agents:\n${agents}`),
        SHIPPED,
      );
    await expect(marketRunOf(section('  settlement: { deposits: { pv-99: 5 } }\n'), 0.1)).rejects.toThrow(
      /\(at \/market\/settlement\/deposits\/pv-99\): unknown participant 'pv-99'/,
    );
    await expect(marketRunOf(section('', "    passive: ['flex:MG9']\n"), 0.1)).rejects.toThrow(
      /\(at \/market\/agents\/passive\/0\): unknown participant 'flex:MG9'/,
    );
    expect(() => section('  settlement: { deposits: { pv-24: -1 } }\n')).toThrow(
      /\(at \/market\/settlement\/deposits\/pv-24\)/,
    );
    expect(() => section('  settlement: { sharing: fair }\n')).toThrow(
      /\(at \/market\/settlement\/sharing\)/,
    );
  });
});
