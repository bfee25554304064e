/**
 * The Market dashboard (dashboards/market/, gridloop-market) and the `chain` points on a real
 * InfluxDB 1.x on loopback, fed with a real run: `gridloop attack` of the shipped consensus scenario
 * (scenarios/attacks/consensus-under-attack.yaml: one hour of the market day on the twin, settled on
 * the embedded 3-authority chain under six attacks) records market_interval, market_trade,
 * market_fid, market_account and chain points into its run folder, whose points.lp.gz is written to
 * the server unchanged. Every panel and variable query of the generated JSON, substituted as Grafana
 * does, must return what the run folder's points hold — values read from the points file here, not
 * from the dashboard — and cross-checks between measurements (volumes against trades, balances
 * against each authority's total) tie the figures to each other.
 */

import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRunPoints } from '../bench/recording/index.ts';
import type { Point } from '../bench/recording/line-protocol.ts';
import { measurementSchema } from '../bench/recording/schema.ts';
import { asGrafanaSends, rowsBySeries } from './dashboard-queries.ts';
import { allQueries, type Json, readGenerated } from './dashboards-structure.ts';
import { type Influxdb1Server, startInfluxdb1 } from './servers/index.ts';
import { budget } from './support/machine-speed.ts';

const ROOT = resolve(import.meta.dirname, '..');
const SCENARIO = 'scenarios/attacks/consensus-under-attack.yaml';
const DB = 'gridloop';

let influx: Influxdb1Server;
let runsDir: string;
let runId: string;
let points: Point[];
let range: { from_ns: bigint; to_ns: bigint };

async function recordConsensusRun(dir: string): Promise<string> {
  const child = spawn(process.execPath, ['bin/gridloop.mjs', 'attack', SCENARIO, '--runs-dir', dir], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
  if (code !== 0) throw new Error(`gridloop attack exited with ${code}:\n${output.slice(-4000)}`);
  const runs = readdirSync(dir);
  if (runs.length !== 1) throw new Error(`expected one run folder in ${dir}, found ${runs.join(', ')}`);
  return join(dir, runs[0]);
}

beforeAll(async () => {
  runsDir = mkdtempSync(join(tmpdir(), 'gridloop-market-dashboard-'));
  influx = await startInfluxdb1();
  await influx.createDatabase(DB);
  const runDir = await recordConsensusRun(runsDir);
  runId = runDir.slice(runDir.lastIndexOf('/') + 1);
  points = (await readRunPoints(runDir)).sort(byTime);
  range = { from_ns: points[0].time_ns, to_ns: points.at(-1)!.time_ns };
  // The run folder's file as it is, as docs/influx-schema.md says it imports.
  const lines = gunzipSync(readFileSync(join(runDir, 'points.lp.gz')))
    .toString('utf8')
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'));
  for (let i = 0; i < lines.length; i += 5000) {
    const response = await fetch(`${influx.url}/write?db=${DB}&precision=ns`, {
      method: 'POST',
      body: `${lines.slice(i, i + 5000).join('\n')}\n`,
    });
    if (response.status !== 204) throw new Error(`write: ${response.status} ${await response.text()}`);
  }
}, budget(240_000));

afterAll(async () => {
  await influx?.dispose();
  if (runsDir) rmSync(runsDir, { recursive: true, force: true });
});

const byTime = (a: Point, b: Point) => (a.time_ns < b.time_ns ? -1 : a.time_ns > b.time_ns ? 1 : 0);

/** The run folder's points of a measurement (and tag values), in time order. */
function recorded(measurement: string, tags: Record<string, string> = {}): Point[] {
  return points.filter(
    (p) => p.measurement === measurement && Object.entries(tags).every(([k, v]) => p.tags[k] === v),
  );
}
const field = (ps: Point[], name: string) => ps.map((p) => toNumber(p.fields[name]));
const toNumber = (v: unknown) => (typeof v === 'bigint' ? Number(v) : v);
const distinct = (values: unknown[]) => [...new Set(values)].sort();

const market = readGenerated().find((d) => d.file === 'gridloop-market.json')!.json;
const queries = allQueries(market);

/** The panel query with this title, as Grafana sends it for these variable values. */
async function panel(
  title: string,
  variables: Record<string, string> = {},
): Promise<Map<string, Record<string, unknown>[]>> {
  const q = queries.find((x) => x.where.includes(`'${title}'`));
  if (!q) throw new Error(`no panel '${title}'`);
  const series = await influx.query(substitute(q.query, variables), DB);
  return rowsBySeries(series);
}

function substitute(query: string, variables: Record<string, string>): string {
  return asGrafanaSends(query, range, { run: runId, microgrid: '.*', participant: '.*', ...variables });
}

const column = (rows: Record<string, unknown>[] | undefined, name: string) =>
  (rows ?? []).map((r) => r[name]);
const micro = (values: unknown[]) => values.map((v) => (v as number) * 1e-6);

describe('the run folder of `gridloop attack` of the consensus scenario', () => {
  it('holds market and chain points for the dashboard to read', () => {
    for (const m of ['market_interval', 'market_trade', 'market_fid', 'market_account', 'chain'])
      expect(recorded(m).length, m).toBeGreaterThan(0);
  });
});

describe('chain points → real InfluxDB 1.x', () => {
  it('reads back every chain point, value for value, with the tags and field types of docs/influx-schema.md', async () => {
    const schema = measurementSchema('chain')!;
    const fieldKeys = await influx.query('SHOW FIELD KEYS FROM "chain"', DB);
    expect(Object.fromEntries(fieldKeys[0].values.map(([k, t]) => [k, t]))).toEqual(
      Object.fromEntries(Object.entries(schema.fields).map(([k, t]) => [k, t])),
    );
    const tagKeys = await influx.query('SHOW TAG KEYS FROM "chain"', DB);
    expect(tagKeys[0].values.map(([k]) => k).sort()).toEqual([...schema.tags].sort());
    // Every outcome the run decided: blocks accepted, refused, missed offline, a refused reading, the totals.
    const outcomes = await influx.query(`SHOW TAG VALUES FROM "chain" WITH KEY = "outcome"`, DB);
    expect(outcomes[0].values.map(([, v]) => v).sort()).toEqual([
      'accepted',
      'balances',
      'offline',
      'reading-refused',
      'refused',
    ]);
    const fromFile = recorded('chain');
    const rows = rowsBySeries(await influx.query(`SELECT * FROM "chain" WHERE "run" = '${runId}'`, DB));
    const all = [...rows.values()].flat();
    expect(all.length).toBe(fromFile.length);
    // Series by series (authority, outcome), in time order.
    const mismatches: string[] = [];
    const bySeries = new Map<string, Point[]>();
    for (const p of fromFile) {
      const k = `${p.tags.authority}|${p.tags.outcome}`;
      bySeries.set(k, [...(bySeries.get(k) ?? []), p]);
    }
    for (const [k, ps] of bySeries) {
      const [authority, outcome] = k.split('|');
      const got = all.filter((r) => r.authority === authority && r.outcome === outcome);
      expect(got.length, k).toBe(ps.length);
      ps.forEach((p, i) => {
        for (const f of Object.keys(schema.fields)) {
          const want = toNumber(p.fields[f]) ?? null;
          if (got[i][f] !== want) mismatches.push(`${k} #${i} ${f}: ${got[i][f]} != ${want}`);
        }
      });
    }
    expect(mismatches.slice(0, 5)).toEqual([]);
    // The integer height reads back as an integer; the end totals are equal on every authority.
    expect(all.filter((r) => r.outcome === 'accepted').every((r) => Number.isInteger(r.height))).toBe(true);
    expect(new Set(all.filter((r) => r.outcome === 'balances').map((r) => r.balance_total)).size).toBe(1);
  });
});

describe('the Market dashboard on InfluxDB 1.x, against the run folder', () => {
  it('its variables offer the run, its microgrids and its participants', async () => {
    const variable = (name: string) => market.templating.list.find((v: Json) => v.name === name);
    const values = async (name: string) =>
      (await influx.query(substitute(variable(name).query, {}), DB))[0].values.map(([, v]) => v).sort();
    expect(await values('run')).toEqual([runId]);
    expect(await values('microgrid')).toEqual(
      distinct(recorded('market_interval').map((p) => p.tags.microgrid)),
    );
    expect(await values('participant')).toEqual(
      distinct(recorded('market_trade').map((p) => p.tags.participant)),
    );
    expect((await values('microgrid')).length).toBe(3);
  });

  it('every panel query returns data', async () => {
    const titles = queries
      .filter((q) => q.where.startsWith('panel'))
      .map((q) => /'([^']+)'/.exec(q.where)![1]);
    expect(titles.length).toBe(15);
    for (const title of titles) expect((await panel(title)).size, title).toBeGreaterThan(0);
    const events = queries.find((q) => q.where === "annotation 'Run events'")!;
    expect((await influx.query(substitute(events.query, {}), DB)).length).toBeGreaterThan(0);
  });

  it('clearing price per microgrid: the price and its bracket of every interval, the price inside it', async () => {
    const rows = await panel('Clearing price per microgrid');
    for (const mg of ['MG1', 'MG2', 'MG3']) {
      const ps = recorded('market_interval', { microgrid: mg });
      expect(ps.length, mg).toBeGreaterThanOrEqual(4);
      expect(column(rows.get(mg), 'price'), mg).toEqual(field(ps, 'price'));
      expect(column(rows.get(mg), 'bracket low'), mg).toEqual(field(ps, 'price_lo'));
      expect(column(rows.get(mg), 'bracket high'), mg).toEqual(field(ps, 'price_hi'));
      for (const r of rows.get(mg)!) {
        expect(r['bracket low'] as number).toBeLessThanOrEqual(r.price as number);
        expect(r.price as number).toBeLessThanOrEqual(r['bracket high'] as number);
      }
    }
    // Narrowed to one microgrid, only its series.
    expect([...(await panel('Clearing price per microgrid', { microgrid: 'MG2' })).keys()]).toEqual(['MG2']);
  });

  it('energy traded peer to peer and with the main grid: each microgrid’s sums of its orders’ fills and unmatched rests', async () => {
    const p2p = await panel('Energy traded peer to peer');
    const grid = await panel('Energy with the main grid');
    const trades = recorded('market_trade');
    const sum = (mg: string, time: bigint, side: string, f: string) =>
      trades
        // Two orders of one participant and side at one instant: the recorder writes the second 1 ns later.
        .filter(
          (t) =>
            t.tags.microgrid === mg && t.time_ns - time < 1000n && t.time_ns >= time && t.tags.side === side,
        )
        .reduce((s, t) => s + (t.fields[f] as number), 0);
    let traded = 0;
    for (const mg of ['MG1', 'MG2', 'MG3']) {
      const ps = recorded('market_interval', { microgrid: mg });
      const near = (values: unknown[]) => values.map((v) => expect.closeTo(v as number, 6));
      expect(column(p2p.get(mg), 'bought'), mg).toEqual(
        near(ps.map((p) => sum(mg, p.time_ns, 'buy', 'filled_wh'))),
      );
      expect(column(p2p.get(mg), 'sold'), mg).toEqual(
        near(ps.map((p) => sum(mg, p.time_ns, 'sell', 'filled_wh'))),
      );
      expect(column(grid.get(mg), 'bought from grid'), mg).toEqual(
        near(ps.map((p) => sum(mg, p.time_ns, 'buy', 'unmatched_wh'))),
      );
      expect(column(grid.get(mg), 'sold to grid'), mg).toEqual(
        near(ps.map((p) => sum(mg, p.time_ns, 'sell', 'unmatched_wh'))),
      );
      traded += (column(p2p.get(mg), 'sold') as number[]).reduce((a, b) => a + b, 0);
    }
    // What the microgrids sold is the intervals' whole volume.
    const volumes = new Map(
      recorded('market_interval').map((p) => [p.time_ns, p.fields.volume_wh as number]),
    );
    expect(traded).toBeCloseTo(
      [...volumes.values()].reduce((a, b) => a + b, 0),
      6,
    );
    expect(traded).toBeGreaterThan(0);
  });

  it('FID energy and shortfalls: cleared against delivered per FID, with binding, shortfall and constraint', async () => {
    const energy = await panel('FID energy: cleared and delivered');
    const table = [...(await panel('FID shortfalls and binding limits')).values()].flat();
    const fids = distinct(recorded('market_fid').map((p) => p.tags.fid));
    expect(fids).toEqual(['fid-18-33', 'fid-25-29']);
    for (const fid of fids as string[]) {
      const ps = recorded('market_fid', { fid });
      expect(column(energy.get(fid), 'cleared'), fid).toEqual(field(ps, 'cleared_wh'));
      expect(column(energy.get(fid), 'delivered'), fid).toEqual(field(ps, 'delivered_wh'));
      const rows = table.filter((r) => r.fid === fid);
      for (const f of ['cleared_wh', 'delivered_wh', 'error', 'binding', 'shortfall', 'constraint'])
        expect(column(rows, f), `${fid} ${f}`).toEqual(field(ps, f));
    }
    // A shortfall names its constraint.
    for (const r of table) if (r.shortfall) expect(r.constraint).not.toBe('');
  });

  it('trades and money of one chosen participant, in money units', async () => {
    const who = 'pv-24';
    const trades = await panel('Trades per participant', { participant: who });
    const money = await panel('Money per participant', { participant: who });
    const ps = recorded('market_trade', { participant: who, side: 'sell' });
    expect(ps.length).toBeGreaterThan(0);
    expect([...trades.keys()]).toEqual([`${who} sell`]);
    expect(column(trades.get(`${who} sell`), 'filled')).toEqual(field(ps, 'filled_wh'));
    expect(column(trades.get(`${who} sell`), 'with grid')).toEqual(field(ps, 'unmatched_wh'));
    const near = (values: unknown[]) => values.map((v) => expect.closeTo(v as number, 9));
    expect(column(money.get(`${who} sell`), 'peer to peer')).toEqual(near(micro(field(ps, 'amount'))));
    expect(column(money.get(`${who} sell`), 'with grid')).toEqual(near(micro(field(ps, 'grid_amount'))));
    // Matched energy is paid at the microgrid's clearing price: amount (micro-units) = Wh × price per MWh.
    for (const p of ps)
      expect(p.fields.amount as number).toBeCloseTo(
        (p.fields.filled_wh as number) * (p.fields.price as number),
        0,
      );
  });

  it('deliveries, accounts, penalties and reputation of each participant after each settled interval', async () => {
    const deliveries = await panel('Deliveries per participant');
    const accounts = await panel('Balance, deposit and debt per participant');
    const penalties = await panel('Penalties per participant');
    const reputation = await panel('Reputation per participant');
    const participants = distinct(recorded('market_account').map((p) => p.tags.participant)) as string[];
    expect(participants.length).toBeGreaterThan(10);
    expect([...accounts.keys()].sort()).toEqual(participants);
    const near = (values: unknown[]) => values.map((v) => expect.closeTo(v as number, 9));
    for (const who of participants) {
      const ps = recorded('market_account', { participant: who });
      expect(ps.length, who).toBe(3); // the three settled intervals
      expect(column(deliveries.get(who), 'cleared'), who).toEqual(field(ps, 'cleared_wh'));
      expect(column(deliveries.get(who), 'metered'), who).toEqual(field(ps, 'metered_wh'));
      for (const f of ['balance', 'deposit', 'debt'])
        expect(column(accounts.get(who), f), `${who} ${f}`).toEqual(near(micro(field(ps, f))));
      expect(column(penalties.get(who), 'penalty'), who).toEqual(near(micro(field(ps, 'penalty'))));
      expect(column(reputation.get(who), 'reputation'), who).toEqual(field(ps, 'reputation'));
      // A penalty is what the interval took from the deposit plus what it added to the debt.
      let deposit = 1e12; // the deposit every participant locked (bench/market/consensus-scenario.ts)
      let debt = 0;
      for (const p of ps) {
        const d = p.fields.deposit as number;
        const b = p.fields.debt as number;
        expect(p.fields.penalty as number, who).toBe(deposit - d + b - debt);
        deposit = d;
        debt = b;
      }
      // Reputation counts accurate deliveries: never more than the intervals settled, never down.
      const rep = field(ps, 'reputation') as number[];
      for (let i = 1; i < rep.length; i++) expect(rep[i]).toBeGreaterThanOrEqual(rep[i - 1]);
      expect(rep.at(-1)!).toBeLessThanOrEqual(ps.length);
    }
    // The participants' last balances add up to the total every authority's storage holds.
    const last = participants.map((who) => recorded('market_account', { participant: who }).at(-1)!);
    const total = last.reduce((s, p) => s + (p.fields.balance as number), 0);
    for (const p of recorded('chain', { outcome: 'balances' })) expect(p.fields.balance_total).toBe(total);
  });

  it('chain health: block heights, decisions per authority, refused blocks and readings, balance totals', async () => {
    const heights = await panel('Block height per authority');
    const decisions = await panel('Block decisions per authority');
    const refused = [...(await panel('Refused blocks and readings')).values()].flat();
    const totals = await panel('Balance total per authority');
    const authorities = ['authority0', 'authority1', 'authority2'];
    expect([...heights.keys()].sort()).toEqual(authorities);
    for (const a of authorities) {
      const accepted = recorded('chain', { authority: a, outcome: 'accepted' });
      expect(column(heights.get(a), 'height'), a).toEqual(field(accepted, 'height'));
      // Heights climb one block at a time.
      const h = field(accepted, 'height') as number[];
      for (let i = 1; i < h.length; i++) expect(h[i]).toBeGreaterThan(h[i - 1]);
      expect(column(totals.get(a), 'balance total'), a).toEqual([
        expect.closeTo(
          (recorded('chain', { authority: a, outcome: 'balances' })[0].fields.balance_total as number) * 1e-6,
          9,
        ),
      ]);
    }
    // Decisions counted per authority and outcome, as the points file holds them.
    const counts = new Map<string, number>();
    for (const p of recorded('chain'))
      if (p.tags.outcome !== 'balances')
        counts.set(
          `${p.tags.authority} ${p.tags.outcome}`,
          (counts.get(`${p.tags.authority} ${p.tags.outcome}`) ?? 0) + 1,
        );
    expect(Object.fromEntries([...decisions].map(([k, rows]) => [k, rows[0].decisions]))).toEqual(
      Object.fromEntries(counts),
    );
    // authority2 was offline for the third interval (the scenario's `offline` attack).
    expect(counts.get('authority2 offline')).toBeGreaterThan(0);
    // Every refusal, with who refused it, why and the attack it belongs to.
    const want = recorded('chain').filter(
      (p) => p.tags.outcome === 'refused' || p.tags.outcome === 'reading-refused',
    );
    expect(refused.length).toBe(want.length);
    expect(refused.map((r) => `${r.authority} ${r.outcome} ${r.attack}`).sort()).toEqual(
      want.map((p) => `${p.tags.authority} ${p.tags.outcome} ${p.fields.attack}`).sort(),
    );
    // The forged meter reading of pv-24, refused by the register of MG1's authority.
    expect(refused.filter((r) => r.outcome === 'reading-refused')).toEqual([
      expect.objectContaining({ authority: 'authority0', proposer: 'meter:pv-24', attack: 'forged-meter' }),
    ]);
    // The outsider's blocks, refused by all three.
    expect(distinct(refused.filter((r) => r.attack === 'outsider').map((r) => r.authority))).toEqual(
      authorities,
    );
  });
});
