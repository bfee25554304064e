/**
 * Reports from recorded runs: the HTML is self-contained and shows plots, events, assertions and
 * IEEE 1547 checks; the JUnit XML validates against the common schema (bench/reports/junit.xsd,
 * checked with libxml2's xmllint); `gridloop report` exits 0 / 1 / 2.
 */

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { validateXML } from 'xmllint-wasm';
import { RunRecorder, readRun } from '../bench/recording/index.ts';
import { extractRunData, generateReport, ieee1547Checks } from '../bench/reports/index.ts';
import { runGridloop } from './support/cli.ts';
import { budget } from './support/machine-speed.ts';

const repoRoot = join(import.meta.dirname, '..');
const tempDirs: string[] = [];
afterAll(async () => {
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

/**
 * A 4 s, 50 Hz run: frequency dips to 48.5 Hz for 0.5 s from t = 1 s (below UF1 = 58.5·50/60 =
 * 48.75 Hz, far shorter than its 300 s clearing time), then to 46.9 Hz for 0.3 s from t = 2.5 s
 * (below UF2 = 56.5·50/60 ≈ 47.083 Hz for longer than 0.16 s: DERs must trip), bus 2 sags to
 * 0.85 pu for 0.2 s from t = 3 s. `tripAt` is when device pv1 trips (or never).
 */
async function recordRun(
  runsDir: string,
  opts: { tripAt?: number; assertionPasses: boolean; tripCommanded?: boolean },
) {
  const rec = await RunRecorder.open({
    runsDir,
    scenario: 'dip',
    manifest: { grid: 'test', seed: 3, dt_s: 0.01 },
  });
  for (let k = 0; k <= 400; k++) {
    const t = k * 0.01;
    const f = t >= 1 && t < 1.5 ? 48.5 : t >= 2.5 && t < 2.8 ? 46.9 : 50;
    const at = rec.timeOf(t);
    rec.point(
      'island',
      { island: 'main' },
      { f_hz: f, rocof_hz_s: 0, energised: true, grid_connected: true },
      at,
    );
    rec.point('bus', { bus: '1' }, { vm_pu: 1.0, va_deg: 0 }, at);
    rec.point('bus', { bus: '2' }, { vm_pu: t >= 3 && t < 3.2 ? 0.85 : 0.99, va_deg: -1 }, at);
    const tripped = opts.tripAt !== undefined && t >= opts.tripAt;
    rec.point('device', { device: 'pv1' }, { p_mw: tripped ? 0 : 0.4, q_mvar: 0, online: true, tripped }, at);
    rec.point('device', { device: 'bess1' }, { p_mw: 0.1, q_mvar: 0, soc: 0.5 - t / 100, online: true }, at);
    if (k === 100)
      rec.event({ kind: 'load-step', message: 'load <b>step</b> & more', t_s: t, source: 'scenario' });
    // What the twin logs when a scenario's generator-trip action trips the unit.
    if (opts.tripCommanded && opts.tripAt !== undefined && Math.abs(t - opts.tripAt) < 1e-9)
      rec.event({
        kind: 'der-trip',
        message: 'pv1 tripped: manual trip',
        target: 'pv1',
        source: 'twin',
        t_s: t - 0.005,
        data: { cause: 'manual trip' },
      });
  }
  rec.assertion({ name: 'frequency nadir above 46 Hz', passed: true, value: 46.9, expected: '> 46' });
  rec.assertion({
    name: 'battery SoC stays above 0.49',
    passed: opts.assertionPasses,
    value: 0.46,
    expected: '> 0.49',
    message: opts.assertionPasses ? undefined : 'SoC fell to 0.46',
  });
  await rec.close({ status: 'complete' });
  return rec.dir;
}

const extractRunDataShape = {
  start_ns: 0n,
  duration_s: 3,
  frequency: [],
  rocof: [],
  gridConnected: [],
  voltage: [],
  power: [],
  soc: [],
  transitions: [],
  events: [],
  assertions: [],
};

const cli = (args: string[]) => runGridloop(args);

describe('run reports', () => {
  it('IEEE 1547 checks: excursions, mandatory trip and ride-through judged against hand-computed thresholds', async () => {
    const runsDir = await mkdtemp(join(tmpdir(), 'gridloop-report-'));
    tempDirs.push(runsDir);
    const data = extractRunData(
      await readRun(await recordRun(runsDir, { tripAt: 2.6, assertionPasses: true })),
    );
    const checks = ieee1547Checks(data, 'II', 50);
    const byName = (prefix: string) => checks.find((c) => c.name.startsWith(prefix))!;
    const freq = byName('frequency within continuous operation (48.75..51.00 Hz)');
    expect(freq.passed).toBe(false);
    expect(freq.detail).toMatch(/left the range for 0\.500 s from t = 1\.000 s, reaching 48\.500 Hz/);
    expect(byName('voltage within continuous operation').detail).toMatch(
      /bus 2 left the range for 0\.200 s from t = 3\.000 s/,
    );
    expect(byName('UF2 mandatory trip (47.08 Hz, 0.16 s)').passed).toBe(true);
    expect(byName('UF1 mandatory trip').passed).toBe(true);
    expect(byName('no trip while').passed).toBe(true);

    const late = extractRunData(
      await readRun(await recordRun(runsDir, { tripAt: undefined, assertionPasses: true })),
    );
    expect(ieee1547Checks(late, 'II', 50).find((c) => c.name.startsWith('UF2'))!.passed).toBe(false);
    const early = extractRunData(
      await readRun(await recordRun(runsDir, { tripAt: 0.5, assertionPasses: true })),
    );
    const ride = ieee1547Checks(early, 'II', 50).find((c) => c.name.startsWith('no trip while'))!;
    expect(ride.passed).toBe(false);
    expect(ride.detail).toBe('pv1 tripped at 0.500 s');
    // The same trip commanded by the scenario (a scripted generator trip) is the stimulus, not
    // the device failing to ride through; nor does it count as the device's protection tripping.
    const scripted = extractRunData(
      await readRun(await recordRun(runsDir, { tripAt: 0.5, tripCommanded: true, assertionPasses: true })),
    );
    const scriptedChecks = ieee1547Checks(scripted, 'II', 50);
    const scriptedRide = scriptedChecks.find((c) => c.name.startsWith('no trip while'))!;
    expect(scriptedRide.passed).toBe(true);
    expect(scriptedRide.detail).toMatch(/commanded, not judged: pv1 at 0\.500 s/);
    expect(scriptedChecks.find((c) => c.name.startsWith('UF2'))!.passed).toBe(false);
  });

  it('IEEE 1547 ROCOF is the mean over at least 0.1 s (§6.5.2.5), not the per-step slope', () => {
    // 50 Hz falling at 3 Hz/s for 50 ms then flat: steepest 0.1 s mean 0.15 Hz / 0.1 s = 1.5 Hz/s,
    // inside category II's 2.0·50/60 = 1.667 Hz/s. Falling at 2 Hz/s for 0.2 s: 2 Hz/s, beyond.
    const series = (rate: number, lasts: number) => {
      const t_s: number[] = [];
      const values: number[] = [];
      for (let k = 0; k <= 300; k++) {
        const t = k * 0.01;
        t_s.push(t);
        values.push(50 - rate * Math.min(Math.max(t - 1, 0), lasts));
      }
      return { name: 'MG2', t_s, values };
    };
    const data = (rate: number, lasts: number) => ({
      ...extractRunDataShape,
      frequency: [series(rate, lasts)],
      rocof: [{ name: 'MG2', t_s: [1.01], values: [-rate] }],
    });
    const rocof = (rate: number, lasts: number) =>
      ieee1547Checks(data(rate, lasts), 'II', 50).find((c) => c.name.startsWith('ROCOF'))!;
    const short = rocof(3, 0.05);
    expect(short.name).toBe('ROCOF (0.1 s mean) within category II ride-through (1.67 Hz/s), island MG2');
    expect(short.passed).toBe(true);
    expect(short.detail).toMatch(/steepest 0\.1 s mean -1\.500 Hz\/s .*instantaneous peak -3\.000 Hz\/s/);
    const long = rocof(2, 0.2);
    expect(long.passed).toBe(false);
    expect(long.detail).toMatch(/steepest 0\.1 s mean -2\.000 Hz\/s/);
  });

  it('writes a self-contained HTML report and a JUnit file that validates against the common schema', async () => {
    const runsDir = await mkdtemp(join(tmpdir(), 'gridloop-report-'));
    tempDirs.push(runsDir);
    const dir = await recordRun(runsDir, { tripAt: 2.6, assertionPasses: false });
    const result = await generateReport(dir);
    expect(result.passed).toBe(false);
    const html = await readFile(result.htmlPath, 'utf8');
    expect(html).not.toMatch(/<script|<link|src=|href="http/);
    expect(html.match(/<svg /g)).toHaveLength(4);
    expect(html).toContain('load &#60;b&#62;step&#60;/b&#62; &#38; more');
    expect(html).toContain('battery SoC stays above 0.49');
    expect(html).toContain('SoC fell to 0.46');
    expect(html).toContain('IEEE 1547-2018 checks (information, not part of the verdict)');
    expect(html).toMatch(/class="event"><title>1\.000 s · load-step/);

    const xml = await readFile(result.junitPath, 'utf8');
    const xsd = await readFile(join(repoRoot, 'bench', 'reports', 'junit.xsd'), 'utf8');
    const validation = await validateXML({
      xml: [{ fileName: 'junit.xml', contents: xml }],
      schema: [{ fileName: 'junit.xsd', contents: xsd }],
    });
    expect(validation.errors).toEqual([]);
    expect(validation.valid).toBe(true);
    expect(xml).toContain('<failure type="assertion" message="SoC fell to 0.46">');
    // Only the SoC assertion: the IEEE 1547 checks are information (in <system-out>), and the
    // badge, the verdict table, JUnit and the exit code agree.
    expect(result.failures).toBe(1);
    expect(result.tests).toBe(3);
    expect(result.verdict).toMatchObject({ passed: false, failed: ['battery SoC stays above 0.49'] });
    expect(html).toContain('<span class="verdict fail">FAILED</span>');
    expect(xml).toMatch(/<system-out>[^<]*not met {2}frequency within continuous operation/);
    // Schema validation catches a malformed report (independent of our writer).
    const broken = xml.replace(/ timestamp="[^"]*"/, '');
    const invalid = await validateXML({
      xml: [{ fileName: 'junit.xml', contents: broken }],
      schema: [{ fileName: 'junit.xsd', contents: xsd }],
    });
    expect(invalid.valid).toBe(false);
  });

  it('gridloop report exits 0 when everything passed, 1 when something failed, 2 for a bad folder', {
    timeout: budget(120_000),
  }, async () => {
    const runsDir = await mkdtemp(join(tmpdir(), 'gridloop-report-'));
    tempDirs.push(runsDir);
    const good = await recordRun(runsDir, { tripAt: 2.6, assertionPasses: true });
    const bad = await recordRun(runsDir, { tripAt: 2.6, assertionPasses: false });
    // Its recording leaves the IEEE 1547 continuous-operation ranges: information, not the verdict.
    const ok = await cli(['report', good]);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/PASSED/);
    const failed = await cli(['report', bad, '--out', join(runsDir, 'out')]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain(join(runsDir, 'out', 'junit.xml'));
    const missing = await cli(['report', join(runsDir, 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/run folder '.*nope' does not exist/);
  });
});
