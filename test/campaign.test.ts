/**
 * `gridloop campaign` with the embedded worker pool, as a user runs it: the campaign folder (run
 * folders, results once per run, table, JUnit valid against the common schema, HTML report),
 * figures checked against the scenario's own assertion on the same quantity, a re-run that skips
 * what is done, a worker process killed mid-run whose run is retried, and bad input.
 */
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateXML } from 'xmllint-wasm';
import type { RunResult } from '../bench/campaigns/execute.ts';
import { loadCampaign } from '../bench/campaigns/load.ts';
import { WorkerPool } from '../bench/campaigns/pool.ts';
import { startInfluxdb1 } from './servers/index.ts';
import { repoRoot, runGridloop } from './support/cli.ts';

const campaignFile = join(repoRoot, 'test', 'fixtures', 'campaigns', 'small.yaml');
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'gridloop-campaign-'));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('gridloop campaign (embedded pool)', () => {
  it('runs every combination into one campaign folder, and a re-run skips what is done', async () => {
    const out = join(tmp, 'c1');
    const first = await runGridloop(['campaign', campaignFile, '--workers', '2', '--out', out, '--json'], {
      timeout_ms: 180_000,
    });
    expect(first.stderr).toBe('');
    // min_pass_fraction 0.5: the two 0.4 MW steps break the 49.7 Hz nadir assertion, the campaign passes.
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      runs: 4,
      passedRuns: 2,
      failedRuns: 2,
      ran: 4,
      skipped: 0,
    });

    const campaign = await loadCampaign(campaignFile);
    const csv = (await readFile(join(out, 'results.csv'), 'utf8')).trim().split('\n');
    expect(csv[0]).toBe(
      'id,scenario,load_mw,seed,status,verdict,frequency-nadir,rocof-max,voltage-min.MG2,failed_assertions',
    );
    expect(csv.slice(1).map((l) => l.split(',')[0])).toEqual(campaign.runs.map((r) => r.id));
    const rows = (await readFile(join(out, 'results.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as RunResult);
    for (const row of rows) {
      // The figure and the scenario's own frequency-nadir assertion watch the same quantity
      // through separate code (MG2 is the only island whose frequency moves).
      const assertion = row.assertions.find((a) => a.name.startsWith('frequency-nadir'))!;
      expect(row.figures['frequency-nadir']).toBeCloseTo(assertion.value as number, 3);
      expect(row.status).toBe((row.params.load_mw as number) < 0.2 ? 'passed' : 'failed');
      // Every run is a run folder `gridloop report` and `replay` can open.
      const manifest = JSON.parse(await readFile(join(out, 'runs', row.id, 'manifest.json'), 'utf8'));
      expect(manifest).toMatchObject({ status: 'complete', mode: 'simulate' });
    }
    // A larger step sags the frequency further (droop: Δf ∝ ΔP, hand check of the figures' sense).
    const nadir = (mw: number) =>
      rows.find((r) => r.params.load_mw === mw && r.params.seed === 1)!.figures['frequency-nadir']!;
    expect(50 - nadir(0.4)).toBeGreaterThan(3 * (50 - nadir(0.1)));

    const xml = await readFile(join(out, 'junit.xml'), 'utf8');
    const xsd = await readFile(join(repoRoot, 'bench', 'reports', 'junit.xsd'), 'utf8');
    const validation = await validateXML({
      xml: [{ fileName: 'junit.xml', contents: xml }],
      schema: [{ fileName: 'junit.xsd', contents: xsd }],
    });
    expect(validation.errors).toEqual([]);
    expect(xml.match(/<testcase /g)).toHaveLength(4);
    expect(xml.match(/<failure /g)).toHaveLength(2);

    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<table class="matrix"><caption>load_mw × seed');
    expect(html).toContain('Distributions of the collected figures');
    expect(html).toMatch(/frequency-nadir \(lowest first\)/);
    // The worst case links to its run report, generated for it.
    const worst = rows.filter((r) => r.params.load_mw === 0.4).map((r) => r.id);
    expect(worst.some((id) => html.includes(`href="runs/${id}/report.html"`))).toBe(true);

    const results = await readdir(join(out, 'results'));
    expect(results.filter((n) => n.endsWith('.json'))).toHaveLength(4);
    const again = await runGridloop(['campaign', campaignFile, '--out', out, '--json'], {
      timeout_ms: 120_000,
    });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ runs: 4, ran: 0, skipped: 4 });
    expect((await readFile(join(out, 'results.csv'), 'utf8')).trim().split('\n')).toEqual(csv);
  }, 400_000);

  it('a worker process killed mid-run is replaced and the run retried; results exactly once', async () => {
    const campaign = await loadCampaign(campaignFile);
    const runs = campaign.runs.slice(0, 2);
    const pool = new WorkerPool({ workDir: join(tmp, 'pool'), columns: campaign.figureColumns, workers: 1 });
    const results: RunResult[] = [];
    let killed = false;
    try {
      await pool.run(runs, {
        onStart() {
          if (killed) return;
          killed = true;
          // The run has just been handed over: SIGKILL its process as a crash would.
          process.kill(pool.pids[0]!, 'SIGKILL');
        },
        onResult: async (r) => void results.push(r),
      });
    } finally {
      await pool.close();
    }
    expect(killed).toBe(true);
    expect(results.map((r) => r.id).sort()).toEqual(runs.map((r) => r.id).sort());
    expect(results.every((r) => r.status !== 'error')).toBe(true);
    expect(results.find((r) => r.id === runs[0]!.id)!.attempts).toBe(2);
  }, 200_000);

  it('writes one campaign_run point per run to InfluxDB (1.x on loopback) with its parameters and figures', async () => {
    const influx = await startInfluxdb1();
    try {
      await influx.createDatabase('gridloop');
      const out = join(tmp, 'influx');
      const r = await runGridloop(['campaign', campaignFile, '--workers', '2', '--out', out, '--json'], {
        timeout_ms: 180_000,
        env: { GRIDLOOP_INFLUX_URL: influx.url, GRIDLOOP_INFLUX_API: 'v1', GRIDLOOP_INFLUX_DB: 'gridloop' },
      });
      expect(r.code).toBe(0);
      const series = await influx.query(
        'SELECT "passed", "frequency-nadir", "p_load_mw", "run" FROM "campaign_run" WHERE "campaign" = \'small-sweep\'',
        'gridloop',
      );
      const rows = series[0]!.values;
      expect(rows).toHaveLength(4);
      const table = (await readFile(join(out, 'results.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as RunResult);
      const col = (name: string) => series[0]!.columns.indexOf(name);
      for (const row of rows) {
        const result = table.find((t) => t.id === row[col('run')])!;
        expect(row[col('passed')]).toBe(result.status === 'passed');
        expect(row[col('frequency-nadir')]).toBeCloseTo(result.figures['frequency-nadir']!, 6);
        expect(row[col('p_load_mw')]).toBe(String(result.params.load_mw));
      }
    } finally {
      await influx.dispose();
    }
  }, 300_000);

  it('bad input: exit 2 with file:line and what to do', async () => {
    const bad = join(repoRoot, 'test', 'fixtures', 'campaigns', `.bad-${process.pid}.yaml`);
    await writeFile(
      bad,
      'name: bad\nscenarios: [short-load-step.yaml]\naxes:\n  - { path: /events/0/delta_mw, values: [] }\n',
    );
    try {
      const r = await runGridloop(['campaign', bad, '--out', join(tmp, 'bad')]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/\.yaml:4: axis \/events\/0\/delta_mw is empty/);
    } finally {
      await rm(bad, { force: true });
    }
    const missing = await runGridloop(['campaign', 'nope.yaml']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/campaign file 'nope\.yaml' does not exist/);
    const badOption = await runGridloop(['campaign', campaignFile, '--workers', '0']);
    expect(badOption.code).toBe(2);
  }, 120_000);
});
