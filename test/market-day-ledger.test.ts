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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateRunOpener } from '../bench/cli/scenario-run.ts';
import {
  DEFAULT_SETTLEMENT_RULES,
  marketRunOf,
  SETTLEMENT_CREDIT,
  SETTLEMENT_DEPOSIT,
} from '../bench/market/market-settlement.ts';
import type { Point } from '../bench/recording/line-protocol.ts';
import { readRunPoints } from '../bench/recording/read-run.ts';
import { simulateRecorded } from '../bench/recording/simulate-run.ts';
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
function oneHour(extra = '') {
  const text = readFileSync(SHIPPED, 'utf8')
    .replace(/^duration_s: 86400$/m, 'duration_s: 3600')
    .replace(/^startHour: 0$/m, 'startHour: 11');
  return parseScenario(text + extra, SHIPPED);
}

let runDir: string;
let points: Point[];
/** Per interval start, per participant: net energy integrated here from the twin's states, Wh. */
const integrated = new Map<number, Map<string, number>>();
let participants: string[];

beforeAll(async () => {
  const scenario = oneHour();
  const market = (await marketRunOf(scenario, scenario.dt_s))!;
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

  it("puts each participant's balance where the recorded trades, meters and penalty rule put it, conserving money exactly", () => {
    const accounts = JSON.parse(readFileSync(join(runDir, 'ledger/accounts.json'), 'utf8'));
    const retail = 250n;
    const feedIn = 50n;
    const { toleranceWh, tolerancePermille, penaltyPerWh } = DEFAULT_SETTLEMENT_RULES;
    const want = new Map(
      participants.map((p) => [
        p,
        {
          balance: SETTLEMENT_CREDIT - SETTLEMENT_DEPOSIT,
          deposit: SETTLEMENT_DEPOSIT,
          debt: 0n,
          reputation: 0n,
        },
      ]),
    );
    let pool = 0n;
    let grid = 0n;
    let penalised = 0;
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
      for (const t of trades) {
        const sign = t.tags.side === 'sell' ? 1n : -1n;
        const f = t.fields as Record<string, number>;
        const line = lines.get(t.tags.participant) ?? { cleared: 0n, money: 0n };
        line.cleared += sign * BigInt(f.filled_wh + f.unmatched_wh);
        line.money += sign * BigInt(f.amount + f.grid_amount);
        lines.set(t.tags.participant, line);
        pool -= sign * BigInt(f.amount); // congestion rent: buyers pay more than sellers get
        grid -= sign * BigInt(f.grid_amount); // the grid is paid by buyers, pays sellers
      }
      expect(lines.size).toBeGreaterThan(0);
      for (const [p, line] of lines) {
        const a = want.get(p)!;
        const dev = metered.get(p)! - line.cleared;
        // The deviation is traded with the main grid: surplus at feed-in, shortfall at retail.
        const gridMoney = dev >= 0n ? dev * feedIn : dev * retail;
        a.balance += line.money + gridMoney;
        grid -= gridMoney;
        const abs = (x: bigint) => (x < 0n ? -x : x);
        const excess =
          abs(dev) - BigInt(toleranceWh) - (abs(line.cleared) * BigInt(tolerancePermille)) / 1000n;
        if (excess > 0n) {
          penalised++;
          const penalty = excess * BigInt(penaltyPerWh);
          const taken = penalty < a.deposit ? penalty : a.deposit;
          a.deposit -= taken;
          a.debt += penalty - taken;
          pool += taken;
        } else a.reputation += 1n;
      }
    }
    // Both branches of the rule were exercised.
    expect(penalised).toBeGreaterThan(0);
    expect([...want.values()].some((a) => a.reputation > 0n)).toBe(true);
    for (const [p, a] of want)
      expect(accounts.participants[p], p).toMatchObject({
        balance: String(a.balance),
        deposit: String(a.deposit),
        debt: String(a.debt),
        reputation: String(a.reputation),
      });
    expect(accounts.pool).toBe(String(pool));
    expect(accounts.grid).toBe(String(grid));
    // Conservation, exact: Σ balances + Σ deposits + pool + grid = what was credited.
    const held = Object.values(accounts.participants as Record<string, { balance: string; deposit: string }>)
      .map((a) => BigInt(a.balance) + BigInt(a.deposit))
      .reduce((s, x) => s + x, 0n);
    expect(held + BigInt(accounts.pool) + BigInt(accounts.grid)).toBe(BigInt(accounts.minted));
    expect(BigInt(accounts.minted)).toBe(SETTLEMENT_CREDIT * BigInt(participants.length));
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
  });
});
