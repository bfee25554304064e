/**
 * Every panel and annotation query of the generated dashboards, run through the HTTP /query API of
 * a real InfluxDB 1.x (Debian's influxd, started here on loopback) that holds a recorded demo run:
 * `gridloop start --duration` records it exactly as a user would, and its points.lp.gz is written
 * to the server unchanged. Template variables and Grafana macros are substituted the way Grafana
 * does before it sends a query.
 *
 * Panels reading data the recorder does not write yet (schema.ts `awaiting`, docs/grafana.md) are
 * run against synthetic points laid out as docs/grafana.md defines them, and the recorded run is
 * checked not to hold those names, so the list cannot go stale silently.
 */

import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../bench/campaigns/execute.ts';
import { CAMPAIGN_MEASUREMENT, campaignPoint } from '../bench/campaigns/influx.ts';
import type { Campaign } from '../bench/campaigns/load.ts';
import {
  awaiting,
  type FieldType,
  isAwaiting,
  type MeasurementSchema,
  measurementSchema,
  recorded,
} from '../dashboards/schema.ts';
import { allQueries, type Json, type QueryShape, readGenerated, shapeOf } from './dashboards-structure.ts';
import { type Influxdb1Server, type InfluxQLSeries, startInfluxdb1 } from './servers/index.ts';
import { budget } from './support/machine-speed.ts';

const ROOT = resolve(import.meta.dirname, '..');
const RECORDED_DB = 'gridloop';
const SYNTHETIC_DB = 'synthetic';
/** Campaign results written by bench/campaigns' own writer (`campaignPoint`). */
const CAMPAIGN_DB = 'campaign';
const CAMPAIGN_NAME = 'fault-sweep';
/** Twin seconds recorded; long enough for several points per series at the default 100 Hz. */
const DEMO_SECONDS = 3;

let influx: Influxdb1Server;
let runsDir: string;
let runId: string;
let range: { from_ns: bigint; to_ns: bigint };

/** Records the demo the way a user does and returns the run folder. */
async function recordDemo(dir: string): Promise<string> {
  const args = [
    'bin/gridloop.mjs',
    'start',
    '--port',
    '0',
    '--runs-dir',
    dir,
    '--duration',
    String(DEMO_SECONDS),
  ];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const code = await new Promise<number | null>((done) => child.once('exit', (c) => done(c)));
  if (code !== 0) throw new Error(`gridloop start exited with ${code}:\n${output.slice(-4000)}`);
  const runs = readdirSync(dir);
  if (runs.length !== 1) throw new Error(`expected one run folder in ${dir}, found ${runs.join(', ')}`);
  return join(dir, runs[0]);
}

async function write(database: string, lines: string): Promise<void> {
  const response = await fetch(`${influx.url}/write?db=${database}&precision=ns`, {
    method: 'POST',
    body: lines,
  });
  if (response.status !== 204)
    throw new Error(`write to ${database}: ${response.status} ${await response.text()}`);
}

/** Time of a line-protocol line: its last space-separated token (ns). */
const lineTime = (line: string) => BigInt(line.slice(line.lastIndexOf(' ') + 1));

function syntheticValue(type: FieldType, field: string, i: number, time_ns: bigint): string {
  switch (type) {
    case 'float':
      return String(1 + 0.01 * Math.sin(i));
    case 'integer':
      // end_ms marks the end of an attack interval: one second after its start.
      return field === 'end_ms' ? `${time_ns / 1_000_000n + 1000n}i` : `${i}i`;
    case 'boolean':
      return i % 2 === 0 ? 'true' : 'false';
    case 'string':
      return `"${field}-${i % 3}"`;
  }
}

/**
 * Two series per measurement, every tag and field of docs/influx-schema.md and docs/grafana.md,
 * ten points each over the recorded run's time range.
 */
function syntheticPoints(): string {
  const names = new Set([...Object.keys(recorded), ...Object.keys(awaiting)]);
  const lines: string[] = [];
  const step = (range.to_ns - range.from_ns) / 10n;
  for (const name of names) {
    const schema = measurementSchema(name) as MeasurementSchema;
    for (const series of [1, 2]) {
      const tags = schema.tags.map((t) => `${t}=${t === 'run' ? runId : `${t}-${series}`}`).join(',');
      for (let i = 0; i < 10; i++) {
        const time = range.from_ns + BigInt(i) * step;
        const fields = Object.entries(schema.fields)
          .map(([field, type]) => `${field}=${syntheticValue(type, field, i, time)}`)
          .join(',');
        lines.push(`${name},${tags} ${fields} ${time}`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

/** A run result as the campaign coordinator stores it; only what `campaignPoint` reads matters. */
function campaignResult(
  id: string,
  status: RunResult['status'],
  figures: RunResult['figures'],
  clearing_s: number,
): RunResult {
  return {
    id,
    index: 0,
    specHash: 'spec',
    params: { clearing_s },
    scenario: 'fault-mg1',
    status,
    verdict: status,
    assertions: [],
    figures,
    worker: 'host/1',
    attempts: 1,
    wall_s: 1.5 + clearing_s,
  };
}

/** Hand-written figures (no island-free figure left out) for five runs of a campaign: 3 passed, 1 failed, 1 error. */
const CAMPAIGN_RESULTS: RunResult[] = [
  campaignResult('r1', 'passed', fig(49.8, 50.05, 0.4, 0.97, 1.02, 0.3), 0.1),
  campaignResult('r2', 'passed', fig(49.7, 50.08, 0.6, 0.95, 1.03, 0.5), 0.2),
  campaignResult('r3', 'passed', fig(49.6, 50.1, 0.9, 0.93, 1.04, 0.4), 0.3),
  campaignResult('r4', 'failed', fig(49.1, 50.2, 1.8, 0.86, 1.08, null), 0.4),
  campaignResult('r5', 'error', fig(null, null, null, null, null, null), 0.5),
];
function fig(...[nadir, peak, rocof, vmin, vmax, detect]: (number | null)[]): RunResult['figures'] {
  return {
    'frequency-nadir': nadir,
    'frequency-peak': peak,
    'rocof-max': rocof,
    'voltage-min': vmin,
    'voltage-max': vmax,
    // Attack runs' time to detect, s (null: not detected).
    'time-to-detect': detect ?? null,
    // A figure bound to an island: a name the campaign file chooses, beside the schema's.
    'frequency-nadir.MG1': nadir,
  };
}

/** What Grafana sends for `query` with the given variable values: macros and variables replaced. */
function substitute(query: string, variables: Record<string, string>): string {
  const from_ms = range.from_ns / 1_000_000n;
  const to_ms = range.to_ns / 1_000_000n + 1n;
  return query
    .replaceAll('$timeFilter', `time >= ${from_ms}ms and time <= ${to_ms}ms`)
    .replaceAll('$__interval', '100ms')
    .replace(/\$(\w+)/g, (whole, name: string) => variables[name] ?? whole);
}

const isCampaignQuery = (shape: QueryShape) => shape.measurement === CAMPAIGN_MEASUREMENT;

/**
 * The names of a query the recorder does not write yet (the measurement's name when it is missing).
 * Campaign queries wait for nothing: `gridloop campaign` writes their points, checked on CAMPAIGN_DB.
 */
function awaitedNames(shape: QueryShape): string[] {
  if (isCampaignQuery(shape)) return [];
  if (isAwaiting(shape.measurement)) return [shape.measurement];
  return [...new Set([...shape.fields, ...shape.tags])].filter((n) => isAwaiting(shape.measurement, n));
}
const awaitsRecorder = (shape: QueryShape) => awaitedNames(shape).length > 0;

/** Problems with a query's result: no series, missing columns or tags, columns that are all null. */
function resultProblems(series: InfluxQLSeries[], shape: QueryShape): string[] {
  if (series.length === 0) return ['no series'];
  const problems: string[] = [];
  for (const s of series) {
    const label = `series ${JSON.stringify(s.tags ?? {})}`;
    if (s.name !== shape.measurement) problems.push(`${label}: measurement ${s.name}`);
    if (JSON.stringify(s.columns) !== JSON.stringify(['time', ...shape.columns])) {
      problems.push(`${label}: columns ${s.columns.join(',')}, expected time,${shape.columns.join(',')}`);
    }
    for (const tag of shape.groupByTags) {
      if (!s.tags?.[tag]) problems.push(`${label}: no value for tag ${tag}`);
    }
    s.columns.forEach((column, i) => {
      if (i > 0 && !s.values.some((row) => row[i] !== null))
        problems.push(`${label}: column ${column} is all null`);
    });
  }
  return problems;
}

const INFLUX_TYPES: Record<FieldType, string> = {
  float: 'float',
  integer: 'integer',
  boolean: 'boolean',
  string: 'string',
};

beforeAll(async () => {
  runsDir = mkdtempSync(join(tmpdir(), 'gridloop-dashboards-run-'));
  influx = await startInfluxdb1();
  await influx.createDatabase(RECORDED_DB);
  await influx.createDatabase(SYNTHETIC_DB);
  const runDir = await recordDemo(runsDir);
  runId = runDir.slice(runDir.lastIndexOf('/') + 1);
  const text = gunzipSync(readFileSync(join(runDir, 'points.lp.gz'))).toString('utf8');
  const lines = text.split('\n').filter((l) => l !== '' && !l.startsWith('#'));
  let from_ns = lineTime(lines[0]);
  let to_ns = from_ns;
  for (const line of lines) {
    const t = lineTime(line);
    if (t < from_ns) from_ns = t;
    if (t > to_ns) to_ns = t;
  }
  range = { from_ns, to_ns };
  for (let i = 0; i < lines.length; i += 5000)
    await write(RECORDED_DB, `${lines.slice(i, i + 5000).join('\n')}\n`);
  await write(SYNTHETIC_DB, syntheticPoints());
  await influx.createDatabase(CAMPAIGN_DB);
  const campaign = { name: CAMPAIGN_NAME } as Campaign;
  const step = (range.to_ns - range.from_ns) / BigInt(CAMPAIGN_RESULTS.length);
  await write(
    CAMPAIGN_DB,
    `${CAMPAIGN_RESULTS.map((r, i) => campaignPoint(campaign, r, range.from_ns + BigInt(i) * step)).join('\n')}\n`,
  );
}, budget(120_000));

afterAll(async () => {
  await influx?.dispose();
  if (runsDir) rmSync(runsDir, { recursive: true, force: true });
});

const dashboards = readGenerated();
const queries = dashboards.flatMap(({ file, json }) => allQueries(json).map((q) => ({ file, ...q })));

describe('the recorded demo run against the schema the dashboards read', () => {
  it('holds every measurement, tag and field of docs/influx-schema.md, with its type', async () => {
    const problems: string[] = [];
    for (const [name, schema] of Object.entries<MeasurementSchema>(recorded)) {
      const fieldKeys = await influx.query(`SHOW FIELD KEYS FROM "${name}"`, RECORDED_DB);
      const tagKeys = await influx.query(`SHOW TAG KEYS FROM "${name}"`, RECORDED_DB);
      const fieldTypes = new Map((fieldKeys[0]?.values ?? []).map(([key, type]) => [key, type]));
      const tags = new Set((tagKeys[0]?.values ?? []).map(([key]) => key));
      if (fieldTypes.size === 0) problems.push(`measurement ${name} is not recorded`);
      for (const [field, type] of Object.entries(schema.fields)) {
        const actual = fieldTypes.get(field);
        if (actual === undefined) problems.push(`${name}.${field} is not recorded`);
        else if (actual !== INFLUX_TYPES[type]) problems.push(`${name}.${field} is ${actual}, not ${type}`);
      }
      for (const tag of schema.tags) if (!tags.has(tag)) problems.push(`${name} has no tag ${tag}`);
    }
    expect(problems).toEqual([]);
  });

  it('does not hold the names the dashboards still wait for (else move them to `recorded`)', async () => {
    const present: string[] = [];
    for (const [name, schema] of Object.entries<MeasurementSchema>(awaiting)) {
      const fieldKeys = await influx.query(`SHOW FIELD KEYS FROM "${name}"`, RECORDED_DB);
      const tagKeys = await influx.query(`SHOW TAG KEYS FROM "${name}"`, RECORDED_DB);
      const names = new Set(
        [...(fieldKeys[0]?.values ?? []), ...(tagKeys[0]?.values ?? [])].map(([key]) => key),
      );
      for (const n of [...schema.tags, ...Object.keys(schema.fields)]) {
        if (n !== 'run' && names.has(n)) present.push(`${name}.${n}`);
      }
    }
    expect(present).toEqual([]);
  });
});

describe('dashboard variables', () => {
  it('the run variable offers the recorded run (the Market dashboard: runs with a market, synthetic here)', async () => {
    const runDashboards = dashboards.filter(({ json }) => json.uid !== 'gridloop-campaign');
    expect(runDashboards).toHaveLength(7);
    for (const { json } of runDashboards) {
      const run = json.templating.list.find((v: Json) => v.name === 'run');
      const db = json.uid === 'gridloop-market' ? SYNTHETIC_DB : RECORDED_DB;
      const series = await influx.query(substitute(run.query, {}), db);
      expect(series[0]?.values.map(([, value]) => value)).toContain(runId);
    }
  });

  it('the microgrid variable offers the microgrids of the run (synthetic: awaiting the tag)', async () => {
    const microgrid = dashboards
      .flatMap(({ json }) => json.templating.list)
      .find((v: Json) => v.name === 'microgrid');
    const series = await influx.query(substitute(microgrid.query, { run: runId }), SYNTHETIC_DB);
    expect(series[0]?.values.map(([, value]) => value)).toEqual(['microgrid-1', 'microgrid-2']);
  });

  it('the nominal frequency variable f0 reads 50 Hz from the recorded demo and 60 Hz from a 60 Hz run', async () => {
    const f0 = dashboards.flatMap(({ json }) => json.templating.list).find((v: Json) => v.name === 'f0');
    const values = async (run: string, database: string) =>
      (await influx.query(substitute(f0.query, { run }), database))[0]?.values.map(([, v]) => v);
    expect(await values(runId, RECORDED_DB)).toEqual([50]);
    // With it, the frequency panel plots the demo's normal operation inside its ±0.5 Hz band.
    const frequency = queries.find((q) => q.where.includes("'Frequency deviation"))!;
    const deviations = (
      await influx.query(substitute(frequency.query, { run: runId, f0: '50' }), RECORDED_DB)
    ).flatMap((s) => s.values.map(([, v]) => v).filter((v) => v !== null) as number[]);
    expect(deviations.length).toBeGreaterThan(0);
    for (const df of deviations) expect(Math.abs(df)).toBeLessThan(0.5);
    // A 60 Hz run that starts slightly off nominal and later sags: the first sample decides.
    const run60 = 'synthetic-60-hz';
    await influx.createDatabase('sixty');
    await write(
      'sixty',
      [59.98, 59.4, 59.2]
        .map((f, i) => `island,run=${run60},island=MG1 f_hz=${f} ${range.from_ns + BigInt(i) * 1_000_000n}`)
        .join('\n'),
    );
    expect(await values(run60, 'sixty')).toEqual([60]);
  });
});

describe('every dashboard query on InfluxDB 1.x', () => {
  it('covers all eight dashboards and reads only names of the published schema', () => {
    expect(new Set(queries.map((q) => q.file)).size).toBe(8);
    for (const q of queries) {
      const shape = shapeOf(q.query);
      const schema = measurementSchema(shape.measurement);
      expect(schema, `${q.file} ${q.where}`).toBeDefined();
      for (const field of shape.fields)
        expect(Object.keys(schema!.fields), `${q.file} ${q.where}`).toContain(field);
      for (const tag of shape.tags) expect(schema!.tags, `${q.file} ${q.where}`).toContain(tag);
    }
  });

  it.each(queries.map((q) => [`${q.file} ${q.where}`, q] as const))(
    '%s returns the expected series (recorded run, or synthetic points while it awaits the recorder)',
    async (_, q) => {
      const shape = shapeOf(q.query);
      const awaited = awaitedNames(shape);
      // Its queries select fixed tag values (chain outcomes) no synthetic point has: they run on a
      // real market run with a chain instead (test/market-dashboard-influx.test.ts).
      if (q.file === 'gridloop-market.json') return;
      const synthetic = await influx.query(
        substitute(q.query, {
          run: runId,
          microgrid: 'microgrid-1',
          f0: '50',
          campaign: 'campaign-1',
          prosumer: 'prosumer-1',
        }),
        SYNTHETIC_DB,
      );
      expect(resultProblems(synthetic, shape), 'synthetic').toEqual([]);
      if (isCampaignQuery(shape)) {
        const written = await influx.query(substitute(q.query, { campaign: CAMPAIGN_NAME }), CAMPAIGN_DB);
        expect(resultProblems(written, shape), 'campaign points').toEqual([]);
        return;
      }
      // Until devices carry a microgrid tag, the microgrid variable's "All" (regex .*) still matches
      // every device, since a missing tag compares as the empty string: those panels work on real data.
      if (awaited.length === 0 || (awaited.length === 1 && awaited[0] === 'microgrid')) {
        const real = await influx.query(
          substitute(q.query, { run: runId, microgrid: '.*', f0: '50' }),
          RECORDED_DB,
        );
        expect(resultProblems(real, shape), 'recorded run').toEqual([]);
      }
    },
  );

  it('these panels are checked against the recorded run today (the rest wait for the recorder)', () => {
    const onRecordedData = queries
      .filter((q) => {
        if (isCampaignQuery(shapeOf(q.query))) return false;
        const awaited = awaitedNames(shapeOf(q.query));
        return awaited.length === 0 || (awaited.length === 1 && awaited[0] === 'microgrid');
      })
      .map((q) => /'([^']+)'/.exec(q.where)![1]);
    expect([...new Set(onRecordedData)].sort()).toEqual([
      'Battery state of charge',
      'Bus voltage magnitude',
      'DER active power',
      'DER reactive power',
      'Detector alarms',
      'Detector statistic vs threshold',
      'EMS mode',
      'FID flows',
      'Frequency deviation from $f0 Hz per island',
      'Island membership per bus',
      'Island state',
      'Link errors',
      'Link round-trip time',
      'Link state',
      'Loop lateness',
      'Overruns',
      'PCC power',
      'ROCOF per island',
      'Recorder queue',
      'Run events',
      'Voltage envelope',
    ]);
  });

  it('the panels waiting for the recorder are exactly those documented in docs/grafana.md', () => {
    const pending = queries
      .filter((q) => awaitsRecorder(shapeOf(q.query)))
      .map((q) => `${q.file} ${q.where}`);
    const doc = readFileSync(join(ROOT, 'docs', 'grafana.md'), 'utf8');
    for (const where of pending) {
      const title = /'([^']+)'/.exec(where)![1];
      expect(doc, `docs/grafana.md should list "${title}" as waiting`).toContain(title);
    }
  });
});

describe('the Campaign dashboard on points written by `gridloop campaign` (bench/campaigns/influx.ts)', () => {
  const campaignQueries = queries.filter((q) => q.file === 'gridloop-campaign.json');
  const panel = (title: string) => campaignQueries.find((q) => q.where.includes(`'${title}'`))!.query;
  const run = (query: string) => influx.query(substitute(query, { campaign: CAMPAIGN_NAME }), CAMPAIGN_DB);

  it('every query reads campaign_run, restricted to the chosen campaign', () => {
    expect(campaignQueries.length).toBeGreaterThanOrEqual(9);
    for (const q of campaignQueries) {
      expect(shapeOf(q.query).measurement, q.where).toBe(CAMPAIGN_MEASUREMENT);
      expect(q.query, q.where).toContain(`"campaign" = '$campaign'`);
    }
  });

  it('the campaign variable offers the campaign', async () => {
    const variable = readGenerated()
      .find(({ json }) => json.uid === 'gridloop-campaign')!
      .json.templating.list.find((v: Json) => v.name === 'campaign');
    const series = await influx.query(variable.query, CAMPAIGN_DB);
    expect(series[0]?.values.map(([, value]) => value)).toEqual([CAMPAIGN_NAME]);
  });

  it('runs by status counts the results written: 3 passed, 1 failed, 1 error', async () => {
    const series = await run(panel('Runs by status'));
    const counts = Object.fromEntries(series.map((s) => [s.tags?.status, s.values[0][1]]));
    expect(counts).toEqual({ passed: 3, failed: 1, error: 1 });
    const overTime = (await run(panel('Runs over time'))).flatMap((s) =>
      s.values.map(([, n]) => n as number),
    );
    expect(overTime.reduce((a, b) => a + b, 0)).toBe(5);
  });

  it('the figure histograms get one value per run that has the figure (the errored run has none)', async () => {
    const values = async (title: string) =>
      (await run(panel(title))).flatMap((s) => s.values.map(([, v]) => v)).sort();
    expect(await values('Frequency nadir per run')).toEqual([49.1, 49.6, 49.7, 49.8]);
    expect(await values('ROCOF per run')).toEqual([0.4, 0.6, 0.9, 1.8]);
    expect(await values('Lowest voltage per run')).toEqual([0.86, 0.93, 0.95, 0.97]);
    expect(await values('Wall time per run')).toEqual([1.6, 1.7, 1.8, 1.9, 2]);
  });

  it('the runs table has one line per run with its id, scenario, status and figures', async () => {
    const [series] = await run(panel('Runs'));
    const rows = series.values.map((row) => Object.fromEntries(series.columns.map((c, i) => [c, row[i]])));
    expect(rows.map((r) => [r.run, r.scenario, r.status, r['frequency-nadir']])).toEqual([
      ['r1', 'fault-mg1', 'passed', 49.8],
      ['r2', 'fault-mg1', 'passed', 49.7],
      ['r3', 'fault-mg1', 'passed', 49.6],
      ['r4', 'fault-mg1', 'failed', 49.1],
      ['r5', 'fault-mg1', 'error', null],
    ]);
  });
});
