/**
 * What a campaign leaves beside its results (docs/campaigns.md § Campaign folder): the table of
 * parameters × outcomes (results.csv, results.jsonl), JUnit XML with one test case per run, the
 * HTML report, and the campaign's verdict against its pass criteria. Everything here is derived
 * from the stored results, so it can be rebuilt at any time and is the same whichever workers ran.
 */
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { escapeHtml } from '../reports/html.ts';
import { generateReport } from '../reports/index.ts';
import { xmlEscape } from '../reports/junit.ts';
import type { RunResult } from './execute.ts';
import { FIGURE_UNITS, FIGURE_WORSE, type FigureName, isDetectionFigure } from './figures.ts';
import type { Campaign } from './load.ts';

export interface CampaignVerdict {
  passed: boolean;
  summary: string;
  runs: number;
  passedRuns: number;
  failedRuns: number;
  errorRuns: number;
  missing: number;
  /** Figure bounds broken: column, run id, value, bound. */
  /** value null: an attack the run did not detect, against a time-to-detect bound. */
  violations: { column: string; id: string; value: number | null; bound: string }[];
}

/** The campaign's verdict: enough runs passed and every collected figure within its bounds. */
export function judgeCampaign(campaign: Campaign, results: readonly RunResult[]): CampaignVerdict {
  const passedRuns = results.filter((r) => r.status === 'passed').length;
  const errorRuns = results.filter((r) => r.status === 'error').length;
  const failedRuns = results.length - passedRuns - errorRuns;
  const missing = campaign.runs.length - results.length;
  const violations: CampaignVerdict['violations'] = [];
  for (const [column, { min, max }] of Object.entries(campaign.pass.figures)) {
    for (const r of results) {
      const v = r.figures[column];
      // An undetected attack has no time to detect, and breaks any bound on it.
      if (v === null && isDetectionFigure(figureOf(column)) && r.status !== 'error')
        violations.push({ column, id: r.id, value: null, bound: 'detected' });
      if (typeof v !== 'number') continue;
      if (min !== undefined && v < min) violations.push({ column, id: r.id, value: v, bound: `min ${min}` });
      if (max !== undefined && v > max) violations.push({ column, id: r.id, value: v, bound: `max ${max}` });
    }
  }
  const fraction = campaign.runs.length === 0 ? 1 : passedRuns / campaign.runs.length;
  const enough = fraction + 1e-12 >= campaign.pass.min_pass_fraction;
  const parts = [
    `${passedRuns} of ${campaign.runs.length} runs passed`,
    failedRuns ? `${failedRuns} failed` : '',
    errorRuns ? `${errorRuns} could not run` : '',
    missing ? `${missing} missing` : '',
    campaign.pass.min_pass_fraction < 1 ? `(${campaign.pass.min_pass_fraction * 100}% required)` : '',
    violations.length
      ? `${violations.length} figure bound${violations.length === 1 ? '' : 's'} broken (${[...new Set(violations.map((v) => v.column))].join(', ')})`
      : '',
  ].filter(Boolean);
  return {
    passed: enough && violations.length === 0 && missing === 0,
    summary: parts.join(', '),
    runs: campaign.runs.length,
    passedRuns,
    failedRuns,
    errorRuns,
    missing,
    violations,
  };
}

/** The table's columns: run id, scenario, parameters, outcome, figures, failed assertions. */
function tableRows(campaign: Campaign, results: readonly RunResult[]) {
  const header = [
    'id',
    'scenario',
    ...campaign.columns,
    'status',
    'verdict',
    ...campaign.figureColumns,
    'failed_assertions',
  ];
  const rows = results.map((r) => [
    r.id,
    r.scenario,
    ...campaign.columns.map((c) => r.params[c] ?? null),
    r.status,
    r.verdict,
    ...campaign.figureColumns.map((c) => r.figures[c] ?? null),
    r.assertions
      .filter((a) => !a.passed)
      .map((a) => a.name)
      .join('; '),
  ]);
  return { header, rows };
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * results.csv and results.jsonl: only what the run decided (no wall times, hosts or folders), so
 * the same campaign gives the same bytes on any pool of workers.
 */
export function renderTable(
  campaign: Campaign,
  results: readonly RunResult[],
): { csv: string; jsonl: string } {
  const { header, rows } = tableRows(campaign, results);
  const csv = [header, ...rows].map((row) => row.map(csvCell).join(',')).join('\n');
  const jsonl = results
    .map((r) =>
      JSON.stringify({
        id: r.id,
        scenario: r.scenario,
        params: r.params,
        status: r.status,
        verdict: r.verdict,
        figures: r.figures,
        assertions: r.assertions.map((a) => ({
          name: a.name,
          passed: a.passed,
          ...(a.value !== undefined ? { value: a.value } : {}),
        })),
      }),
    )
    .join('\n');
  return { csv: `${csv}\n`, jsonl: results.length ? `${jsonl}\n` : '' };
}

/** JUnit XML: one <testcase> per run; a failed verdict is a <failure>, a run that could not run an <error>. */
export function renderCampaignJunit(campaign: Campaign, results: readonly RunResult[]): string {
  const failures = results.filter((r) => r.status === 'failed').length;
  const errors = results.filter((r) => r.status === 'error').length;
  const time = results.reduce((s, r) => s + r.wall_s, 0);
  const cls = `gridloop.campaign.${campaign.name}`;
  const cases = results.map((r) => {
    const params = Object.entries(r.params)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    const body =
      r.status === 'failed'
        ? `\n      <failure type="verdict" message="${xmlEscape(r.verdict)}">${xmlEscape(
            r.assertions
              .filter((a) => !a.passed)
              .map((a) => `${a.name}: ${a.detail}`)
              .join('\n'),
          )}</failure>\n    `
        : r.status === 'error'
          ? `\n      <error type="run-error" message="${xmlEscape(r.verdict)}"/>\n    `
          : '';
    return `    <testcase classname="${xmlEscape(cls)}" name="${xmlEscape(`${r.id}${params ? ` (${params})` : ''}`)}" time="${r.wall_s.toFixed(3)}">${body}</testcase>`;
  });
  const timestamp = new Date().toISOString().slice(0, 19);
  return `<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="${xmlEscape(cls)}" package="gridloop.campaign" id="0" timestamp="${timestamp}" hostname="${xmlEscape(hostname() || 'localhost')}" tests="${results.length}" failures="${failures}" errors="${errors}" skipped="0" time="${time.toFixed(3)}">
    <properties>
      <property name="campaign" value="${xmlEscape(campaign.name)}"/>
      <property name="runs" value="${campaign.runs.length}"/>
    </properties>
${cases.join('\n')}
    <system-out/>
    <system-err/>
  </testsuite>
</testsuites>
`;
}

const WORST = 5;
const MATRIX_MAX = 40;

function figureOf(column: string): FigureName {
  return column.split('.')[0] as FigureName;
}

/** The worst runs of each figure, worst first. */
export function worstCases(campaign: Campaign, results: readonly RunResult[]): Map<string, RunResult[]> {
  const out = new Map<string, RunResult[]>();
  for (const column of campaign.figureColumns) {
    const low = FIGURE_WORSE[figureOf(column)] === 'low';
    const withValue = results.filter((r) => typeof r.figures[column] === 'number');
    withValue.sort(
      (a, b) => ((a.figures[column] as number) - (b.figures[column] as number)) * (low ? 1 : -1),
    );
    out.set(column, withValue.slice(0, WORST));
  }
  return out;
}

function histogram(values: number[], unit: string, title: string): string {
  const w = 360;
  const h = 120;
  if (values.length === 0) return `<figure><figcaption>${escapeHtml(title)}: no values</figcaption></figure>`;
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const bins = Math.min(20, Math.max(1, values.length));
  const width = hi > lo ? (hi - lo) / bins : 1;
  const counts = new Array<number>(bins).fill(0);
  for (const v of values) counts[Math.min(bins - 1, Math.floor((v - lo) / width))]!++;
  const top = Math.max(...counts);
  const bw = w / bins;
  const bars = counts
    .map((c, i) => {
      const bh = (c / top) * (h - 20);
      return `<rect x="${(i * bw).toFixed(1)}" y="${(h - 15 - bh).toFixed(1)}" width="${(bw - 1).toFixed(1)}" height="${bh.toFixed(1)}" fill="#1f77b4"><title>${(lo + i * width).toPrecision(6)}…${(lo + (i + 1) * width).toPrecision(6)} ${escapeHtml(unit)}: ${c}</title></rect>`;
    })
    .join('');
  const sorted = [...values].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)]!;
  return `<figure><figcaption>${escapeHtml(title)} (${escapeHtml(unit)}): min ${lo.toPrecision(6)}, median ${median.toPrecision(6)}, max ${hi.toPrecision(6)}, ${values.length} runs</figcaption><svg viewBox="0 0 ${w} ${h}" width="${w}" height="${h}" role="img">${bars}<text x="0" y="${h - 2}" font-size="10">${lo.toPrecision(5)}</text><text x="${w}" y="${h - 2}" font-size="10" text-anchor="end">${hi.toPrecision(5)}</text></svg></figure>`;
}

function matrix(campaign: Campaign, results: readonly RunResult[]): string {
  const [rowCol, colCol] = campaign.columns;
  const valuesOf = (c: string | undefined) =>
    c === undefined ? [''] : [...new Set(results.map((r) => String(r.params[c])))];
  const rows = valuesOf(rowCol).slice(0, MATRIX_MAX);
  const cols = valuesOf(colCol).slice(0, MATRIX_MAX);
  const cell = (rv: string, cv: string) => {
    const here = results.filter(
      (r) =>
        (rowCol === undefined || String(r.params[rowCol]) === rv) &&
        (colCol === undefined || String(r.params[colCol]) === cv),
    );
    const ok = here.filter((r) => r.status === 'passed').length;
    const shade =
      here.length === 0 ? '#eee' : ok === here.length ? '#c8e6c9' : ok === 0 ? '#ffcdd2' : '#fff3c4';
    const title = here.length === 1 ? here[0]!.verdict : `${ok} of ${here.length} passed`;
    const text = here.length === 1 ? (ok ? 'pass' : here[0]!.status) : `${ok}/${here.length}`;
    const link =
      here.length === 1 && here[0]!.runDir && !here[0]!.runDir.includes(':') ? here[0]!.runDir : '';
    return `<td style="background:${shade}" title="${escapeHtml(title)}">${link ? `<a href="${escapeHtml(link)}/">${text}</a>` : text}</td>`;
  };
  const others = campaign.columns.slice(2);
  return `<table class="matrix"><caption>${escapeHtml(rowCol ?? 'campaign')}${colCol ? ` × ${escapeHtml(colCol)}` : ''}${others.length ? ` (cells count over ${others.map(escapeHtml).join(', ')})` : ''}</caption>
<tr><th></th>${cols.map((c) => `<th>${escapeHtml(c)}</th>`).join('')}</tr>
${rows.map((r) => `<tr><th>${escapeHtml(r)}</th>${cols.map((c) => cell(r, c)).join('')}</tr>`).join('\n')}</table>`;
}

/** The self-contained HTML report: verdict, pass/fail matrix, figure distributions, worst cases. */
export function renderCampaignHtml(
  campaign: Campaign,
  results: readonly RunResult[],
  verdict: CampaignVerdict,
  reportLinks: ReadonlyMap<string, string>,
): string {
  const worst = worstCases(campaign, results);
  const runLink = (r: RunResult) => {
    const href = reportLinks.get(r.id) ?? (r.runDir && !r.runDir.includes(':') ? `${r.runDir}/` : undefined);
    return href
      ? `<a href="${escapeHtml(href)}">${escapeHtml(r.id)}</a>`
      : escapeHtml(`${r.id}${r.runDir ? ` (${r.runDir})` : ''}`);
  };
  const params = (r: RunResult) =>
    Object.entries(r.params)
      .map(([k, v]) => `${escapeHtml(k)}=${escapeHtml(String(v))}`)
      .join(', ');
  const worstSection = [...worst]
    .map(
      ([column, runs]) =>
        `<h3>${escapeHtml(column)} (${FIGURE_WORSE[figureOf(column)] === 'low' ? 'lowest' : 'highest'} first)</h3><table><tr><th>run</th><th>parameters</th><th>${escapeHtml(column)} (${escapeHtml(FIGURE_UNITS[figureOf(column)])})</th><th>verdict</th></tr>${runs
          .map(
            (r) =>
              `<tr><td>${runLink(r)}</td><td>${params(r)}</td><td>${r.figures[column]}</td><td>${escapeHtml(r.verdict)}</td></tr>`,
          )
          .join('')}</table>`,
    )
    .join('\n');
  const failed = results.filter((r) => r.status !== 'passed').slice(0, 200);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Campaign ${escapeHtml(campaign.name)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}.badge{padding:4px 10px;border-radius:4px;color:#fff}.pass{background:#2e7d32}.fail{background:#c62828}figure{display:inline-block;margin:.5em 1em .5em 0}</style></head>
<body>
<h1>Campaign ${escapeHtml(campaign.name)} <span class="badge ${verdict.passed ? 'pass' : 'fail'}">${verdict.passed ? 'PASSED' : 'FAILED'}</span></h1>
${campaign.description ? `<p>${escapeHtml(campaign.description)}</p>` : ''}
<p>${escapeHtml(verdict.summary)}. Table: <a href="results.csv">results.csv</a>, <a href="results.jsonl">results.jsonl</a>; JUnit: <a href="junit.xml">junit.xml</a>.</p>
${
  verdict.violations.length
    ? `<h2>Figure bounds broken</h2><table><tr><th>figure</th><th>run</th><th>value</th><th>bound</th></tr>${verdict.violations
        .slice(0, 50)
        .map(
          (v) =>
            `<tr><td>${escapeHtml(v.column)}</td><td>${escapeHtml(v.id)}</td><td>${v.value ?? 'not detected'}</td><td>${escapeHtml(v.bound)}</td></tr>`,
        )
        .join('')}</table>`
    : ''
}
<h2>Pass/fail matrix</h2>
${matrix(campaign, results)}
<h2>Distributions of the collected figures</h2>
${
  campaign.figureColumns.length
    ? campaign.figureColumns
        .map((c) =>
          histogram(
            results.map((r) => r.figures[c]).filter((v): v is number => typeof v === 'number'),
            FIGURE_UNITS[figureOf(c)],
            c,
          ),
        )
        .join('\n')
    : '<p>No figures collected (campaign <code>collect:</code>).</p>'
}
<h2>Worst cases</h2>
${worstSection || '<p>No figures collected.</p>'}
<h2>Runs that did not pass</h2>
${failed.length ? `<table><tr><th>run</th><th>parameters</th><th>status</th><th>why</th></tr>${failed.map((r) => `<tr><td>${runLink(r)}</td><td>${params(r)}</td><td>${r.status}</td><td>${escapeHtml(r.verdict)}</td></tr>`).join('')}</table>` : '<p>None.</p>'}
</body></html>
`;
}

/**
 * Writes the table, JUnit XML and HTML report into the campaign folder; run reports
 * (`gridloop report`) are generated for the worst cases so the report's links lead to them.
 */
export async function writeOutputs(
  dir: string,
  campaign: Campaign,
  results: RunResult[],
): Promise<CampaignVerdict> {
  results.sort((a, b) => a.index - b.index);
  const verdict = judgeCampaign(campaign, results);
  const { csv, jsonl } = renderTable(campaign, results);
  await writeFile(join(dir, 'results.csv'), csv);
  await writeFile(join(dir, 'results.jsonl'), jsonl);
  await writeFile(join(dir, 'junit.xml'), renderCampaignJunit(campaign, results));
  const links = new Map<string, string>();
  const chosen = new Set([...worstCases(campaign, results).values()].flat());
  for (const r of results.filter((x) => x.status !== 'passed').slice(0, WORST)) chosen.add(r);
  for (const r of chosen) {
    if (!r.runDir || r.runDir.includes(':') || !existsSync(join(dir, r.runDir, 'manifest.json'))) continue;
    try {
      await generateReport(join(dir, r.runDir));
      links.set(r.id, `${r.runDir}/report.html`);
    } catch {
      // A report that cannot be made leaves the plain folder link.
    }
  }
  await writeFile(join(dir, 'report.html'), renderCampaignHtml(campaign, results, verdict, links));
  await writeFile(join(dir, 'verdict.json'), `${JSON.stringify(verdict, null, 2)}\n`);
  return verdict;
}
