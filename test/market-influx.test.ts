/**
 * The market's points (docs/influx-schema.md: market_interval, market_trade, market_fid) from a real
 * market run into a real InfluxDB 1.x on loopback, read back with InfluxQL: the same points and
 * values as the run folder.
 */

import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { marketDayOf } from '../bench/market/market-day.ts';
import { InfluxSink, RunRecorder, readRunPoints } from '../bench/recording/index.ts';
import { simulateRecorded } from '../bench/recording/simulate-run.ts';
import { parseScenario } from '../twin/scenario/load.ts';
import { asGrafanaSends, rowsBySeries } from './dashboard-queries.ts';
import { allQueries, readGenerated } from './dashboards-structure.ts';
import { type Influxdb1Server, startInfluxdb1 } from './servers/index.ts';
import { budget } from './support/machine-speed.ts';

const DB = 'gridloop';
const SHIPPED = new URL('../scenarios/market-day.yaml', import.meta.url).pathname;
let influx: Influxdb1Server;
let dir: string;

beforeAll(async () => {
  influx = await startInfluxdb1();
  await influx.createDatabase(DB);
  dir = await mkdtemp(join(tmpdir(), 'gridloop-market-influx-'));
});
afterAll(async () => {
  await influx?.dispose();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('market points → real InfluxDB 1.x', () => {
  it('an hour of the market day: InfluxDB holds the run folder’s market points, value for value', {
    timeout: budget(120_000),
  }, async () => {
    const text = readFileSync(SHIPPED, 'utf8')
      .replace(/^duration_s: 86400$/m, 'duration_s: 3600')
      .replace(/^startHour: 0$/m, 'startHour: 11');
    const scenario = parseScenario(text, SHIPPED);
    const market = (await marketDayOf(scenario, scenario.dt_s))!;
    let rec: RunRecorder | undefined;
    await simulateRecorded(scenario, {
      dt_s: scenario.dt_s,
      every_s: 60,
      controllers: () => [market.controller],
      onStep: market.onStep,
      recordMore: market.recordPoints,
      open: async () => {
        rec = await RunRecorder.open({
          runsDir: dir,
          scenario: scenario.name,
          sinks: [new InfluxSink({ name: 'influx1', target: { api: 'v1', url: influx.url, database: DB } })],
        });
        return rec;
      },
    });
    const filePoints = await readRunPoints(rec!.dir);
    for (const measurement of ['market_interval', 'market_trade', 'market_fid']) {
      const fromFile = filePoints.filter((p) => p.measurement === measurement);
      expect(fromFile.length, measurement).toBeGreaterThan(0);
      const series = await influx.query(`SELECT * FROM "${measurement}" WHERE "run" = '${rec!.id}'`, DB);
      const rows = series.flatMap((s) =>
        s.values.map(
          (row) => Object.fromEntries(s.columns.map((c, i) => [c, row[i]])) as Record<string, unknown>,
        ),
      );
      expect(rows.length, measurement).toBe(fromFile.length);
      // Series by series, in time order (InfluxQL's epoch=ns times come back as doubles, which cannot hold
      // the nanosecond the recorder adds to tell two points of one series and instant apart).
      const seriesOf = (tags: Record<string, unknown>) =>
        `${tags.microgrid ?? ''}|${tags.participant ?? ''}|${tags.side ?? ''}|${tags.fid ?? ''}`;
      const inInflux = new Map<string, Record<string, unknown>[]>();
      for (const r of rows) inInflux.set(seriesOf(r), [...(inInflux.get(seriesOf(r)) ?? []), r]);
      const seen = new Map<string, number>();
      const mismatches: string[] = [];
      for (const p of [...fromFile].sort((a, b) =>
        a.time_ns < b.time_ns ? -1 : a.time_ns > b.time_ns ? 1 : 0,
      )) {
        const k = seriesOf(p.tags);
        const n = seen.get(k) ?? 0;
        seen.set(k, n + 1);
        const row = inInflux.get(k)?.[n];
        for (const [field, value] of Object.entries(p.fields)) {
          const got = row?.[field];
          const want = typeof value === 'bigint' ? Number(value) : value;
          if (got !== want && mismatches.length < 5)
            mismatches.push(`${measurement} ${k} #${n}.${field}: ${got} != ${want}`);
        }
      }
      expect(mismatches, measurement).toEqual([]);
    }
    // The Market dashboard's clearing, delivery and trade panels on this `simulate` run: each returns
    // the run folder's values (the ledger's panels read `gridloop attack` runs:
    // test/market-dashboard-influx.test.ts).
    const times = filePoints.map((p) => p.time_ns).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
    const range = { from_ns: times[0], to_ns: times.at(-1)! };
    const queries = allQueries(readGenerated().find((d) => d.file === 'gridloop-market.json')!.json);
    const panel = async (title: string, variables: Record<string, string> = {}) =>
      rowsBySeries(
        await influx.query(
          asGrafanaSends(queries.find((q) => q.where.includes(`'${title}'`))!.query, range, {
            run: rec!.id,
            microgrid: '.*',
            participant: '.*',
            ...variables,
          }),
          DB,
        ),
      );
    const inFile = (measurement: string, tags: Record<string, string>, field: string) =>
      filePoints
        .filter(
          (p) => p.measurement === measurement && Object.entries(tags).every(([k, v]) => p.tags[k] === v),
        )
        .sort((x, y) => (x.time_ns < y.time_ns ? -1 : x.time_ns > y.time_ns ? 1 : 0))
        .map((p) => p.fields[field]);
    const prices = await panel('Clearing price per microgrid');
    const p2p = await panel('Energy traded peer to peer');
    const grid = await panel('Energy with the main grid');
    expect([...prices.keys()].sort()).toEqual(['MG1', 'MG2', 'MG3']);
    for (const mg of ['MG1', 'MG2', 'MG3']) {
      const col = (rows: Map<string, Record<string, unknown>[]>, c: string) => rows.get(mg)!.map((r) => r[c]);
      expect(col(prices, 'price'), mg).toEqual(inFile('market_interval', { microgrid: mg }, 'price'));
      expect(col(prices, 'bracket high'), mg).toEqual(
        inFile('market_interval', { microgrid: mg }, 'price_hi'),
      );
      expect(col(p2p, 'sold'), mg).toEqual(inFile('market_interval', { microgrid: mg }, 'sold_wh'));
      expect(col(grid, 'bought from grid'), mg).toEqual(
        inFile('market_interval', { microgrid: mg }, 'grid_bought_wh'),
      );
    }
    const fids = await panel('FID energy: cleared and delivered');
    for (const fid of ['fid-18-33', 'fid-25-29'])
      expect(
        fids.get(fid)!.map((r) => r.delivered),
        fid,
      ).toEqual(inFile('market_fid', { fid }, 'delivered_wh'));
    const who = filePoints.find((p) => p.measurement === 'market_trade')!.tags.participant!;
    const trades = await panel('Trades per participant', { participant: who });
    for (const [key, rows] of trades) {
      const [participant, side] = key.split(' ');
      expect(participant).toBe(who);
      expect(rows.map((r) => r.filled)).toEqual(inFile('market_trade', { participant, side }, 'filled_wh'));
    }
    expect(trades.size).toBeGreaterThan(0);
    // The delivery figures InfluxDB holds are the report's.
    const fid = await influx.query(
      `SELECT "cleared_wh", "delivered_wh", "shortfall" FROM "market_fid" WHERE "run" = '${rec!.id}' AND "fid" = 'fid-25-29'`,
      DB,
    );
    const report = market.report();
    expect(fid[0].values.map((v) => v[1])).toEqual(
      report.intervals.map((i) => i.fids.find((f) => f.fid === 'fid-25-29')!.cleared_wh),
    );
  });
});
