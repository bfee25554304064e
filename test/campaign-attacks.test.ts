/**
 * Attack campaigns: attack variants of a security scenario as an axis, time to detect collected per
 * run (the table, the report, the InfluxDB point), checked against the run folder's own attack-start
 * and alarm events and against a hand calculation from the detector's schedule; an undetected
 * attack breaks a time-to-detect bound; bad figure requests name the campaign line.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../bench/campaigns/execute.ts';
import { campaignPoint } from '../bench/campaigns/influx.ts';
import { CampaignError, loadCampaign, parseCampaign } from '../bench/campaigns/load.ts';
import { repoRoot, runGridloop } from './support/cli.ts';

const campaignFile = join(repoRoot, 'test', 'fixtures', 'campaigns', 'attack-ttd.yaml');
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'gridloop-campaign-attacks-'));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('attack campaigns: time to detect', () => {
  it('collects time to detect per attack variant: equal to the alarm event minus the attack start, in the table, report and InfluxDB point', async () => {
    const out = join(tmp, 'ttd');
    const r = await runGridloop(['campaign', campaignFile, '--workers', '2', '--out', out, '--json'], {
      timeout_ms: 180_000,
    });
    expect(r.stderr).toBe('');
    // The null-bias variant is not detected: its run fails its expectations and breaks the bound.
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ runs: 3, passedRuns: 2, failedRuns: 1, errorRuns: 0 });

    const csv = (await readFile(join(out, 'results.csv'), 'utf8')).trim().split('\n');
    expect(csv[0]).toBe(
      'id,scenario,variant,status,verdict,time-to-detect,time-to-detect.bias-v14.state-estimation,voltage-max,failed_assertions',
    );
    const rows = (await readFile(join(out, 'results.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as RunResult);
    const byVariant = new Map(rows.map((row) => [row.params.variant, row]));
    for (const variant of ['early', 'late']) {
      const row = byVariant.get(variant)!;
      // Independent of the figure code: the run folder's events as `gridloop attack` records them.
      const events = (await readFile(join(out, 'runs', row.id, 'events.jsonl'), 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { kind: string; t_s: number });
      const start = events.find((e) => e.kind === 'attack-start')!.t_s;
      const alarm = events.find((e) => e.kind === 'alarm' && e.t_s >= start)!.t_s;
      expect(row.figures['time-to-detect']).toBeCloseTo(alarm - start, 9);
      expect(row.figures['time-to-detect.bias-v14.state-estimation']).toBeCloseTo(alarm - start, 9);
      // Hand calculation: the estimator runs every 0.1 s (every 10 steps of 10 ms) and a 10σ bias
      // alarms at every evaluation from the first one at or after the start; 3-of-5 persistence
      // raises the alarm at the third: the wait for the next evaluation plus two periods.
      const next = Math.ceil(start / 0.1 - 1e-9) * 0.1;
      expect(row.figures['time-to-detect']).toBeCloseTo(next - start + 0.2, 6);
    }
    expect(byVariant.get('early')!.params).toEqual({ variant: 'early' });
    expect(byVariant.get('null-bias')!.figures['time-to-detect']).toBeNull();

    const verdict = JSON.parse(await readFile(join(out, 'verdict.json'), 'utf8'));
    expect(verdict.violations).toEqual([
      { column: 'time-to-detect', id: byVariant.get('null-bias')!.id, value: null, bound: 'detected' },
    ]);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toContain('time-to-detect (s)');
    expect(html).toContain('not detected');

    const campaign = await loadCampaign(campaignFile);
    const line = campaignPoint(campaign, byVariant.get('early')!, 1n);
    expect(line).toMatch(/[ ,]time-to-detect=0\.2,/);
    expect(line).toContain('p_variant=early');
  }, 240_000);

  it('refuses a time-to-detect it cannot measure, naming the campaign line', async () => {
    const file = join(tmp, 'bad.yaml');
    const base = (collect: string) =>
      `name: bad\nscenarios: [${join(repoRoot, 'scenarios', 'attacks', 'fdia-bias-voltage.yaml')}]\ncollect:\n  - voltage-min\n  - ${collect}\n`;
    const failure = async (text: string) => {
      await writeFile(file, text);
      return parseCampaign(text, file).then(
        () => undefined,
        (err: CampaignError) => err,
      );
    };
    const unknown = await failure(base('{ figure: time-to-detect, attack: bias-v41 }'));
    expect(unknown).toBeInstanceOf(CampaignError);
    expect(unknown!.message).toMatch(
      /bad\.yaml:5: time-to-detect: .* has no attack 'bias-v41' .*did you mean 'bias-v14'/,
    );
    const detector = await failure(base('{ figure: time-to-detect, detector: chi2 }'));
    expect(detector!.message).toMatch(/:5: .*has no detector 'chi2' \(it has state-estimation\)/);
    const island = await failure(base('{ figure: time-to-detect, island: MG2 }'));
    expect(island!.message).toMatch(/:5: time-to-detect: island and after do not apply/);
    const plain = await failure(
      `name: bad\nscenarios: [${join(repoRoot, 'test', 'fixtures', 'campaigns', 'short-load-step.yaml')}]\ncollect: [time-to-detect]\n`,
    );
    expect(plain!.message).toMatch(/:3: time-to-detect needs an attack scenario/);
  });
});
