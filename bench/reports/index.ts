/**
 * Run reports: `generateReport(runDir)` writes `report.html` (self-contained: the verdict and the
 * assertions it rests on, IEEE 1547 checks as information, plots, events) and `junit.xml` into the
 * run folder (or `outDir`). The verdict is the run's own (bench/recording/verdict.ts), never judged
 * again here. See docs/recording.md § Reports.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PerformanceCategory } from '../../twin/ieee1547/settings.ts';
import { judgeRun, type RunManifest, type RunVerdict, readRun } from '../recording/index.ts';
import { renderHtml } from './html.ts';
import { type ComplianceCheck, ieee1547Checks, nominalFrequency } from './ieee1547-checks.ts';
import { renderJunit } from './junit.ts';
import { extractRunData, type RunData } from './run-data.ts';

export { escapeHtml, renderHtml, svgPlot } from './html.ts';
export { type ComplianceCheck, ieee1547Checks, nominalFrequency } from './ieee1547-checks.ts';
export { renderJunit } from './junit.ts';
export { extractRunData, type RunData, type Series } from './run-data.ts';

export interface ReportOptions {
  /** Where report.html and junit.xml go. @default the run folder */
  outDir?: string;
  /** IEEE 1547 performance category for the checks. @default manifest.ieee1547Category ?? 'II' */
  category?: PerformanceCategory;
}

export interface ReportResult {
  htmlPath: string;
  junitPath: string;
  /** The run's verdict (manifest.json's, or judged from the manifest for a run never closed). */
  verdict: RunVerdict;
  passed: boolean;
  tests: number;
  failures: number;
  errors: number;
  /** IEEE 1547 checks on the recording: information, not part of the verdict. */
  checks: ComplianceCheck[];
}

/**
 * The verdict the recorder wrote when it closed the run; a run never closed (killed, crashed) or
 * recorded before verdicts existed is judged from its manifest by the same function.
 */
export function verdictOf(manifest: RunManifest, data: RunData): RunVerdict {
  return (
    manifest.verdict ??
    judgeRun({ status: manifest.status, reason: manifest.reason, assertions: data.assertions })
  );
}

export async function generateReport(runDir: string, options: ReportOptions = {}): Promise<ReportResult> {
  const run = await readRun(runDir);
  const data = extractRunData(run);
  const category =
    options.category ?? (run.manifest.ieee1547Category as PerformanceCategory | undefined) ?? 'II';
  const f0 = nominalFrequency(data, typeof run.manifest.f0_hz === 'number' ? run.manifest.f0_hz : undefined);
  const checks = ieee1547Checks(data, category, f0);
  const verdict = verdictOf(run.manifest, data);
  const junit = renderJunit(run.manifest, data, verdict, checks);
  const html = renderHtml({
    manifest: run.manifest,
    data,
    checks,
    verdict,
    generatedAt: new Date().toISOString(),
  });
  const outDir = options.outDir ?? runDir;
  await mkdir(outDir, { recursive: true });
  const htmlPath = join(outDir, 'report.html');
  const junitPath = join(outDir, 'junit.xml');
  await Promise.all([writeFile(htmlPath, html), writeFile(junitPath, junit.xml)]);
  return {
    htmlPath,
    junitPath,
    verdict,
    passed: verdict.passed,
    tests: junit.tests,
    failures: junit.failures,
    errors: junit.errors,
    checks,
  };
}
