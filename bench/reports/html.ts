/**
 * The self-contained HTML report: one file, no scripts, no external resources. Plots are inline
 * SVG (so the report opens anywhere, prints, and survives being mailed), events are drawn as
 * marked vertical lines with their text in a tooltip and in the event table.
 */

import { securitySection } from '../attacks/report-section.ts';
import type { RunManifest, RunVerdict } from '../recording/index.ts';
import type { ComplianceCheck } from './ieee1547-checks.ts';
import type { RunData, Series } from './run-data.ts';

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const COLORS = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#7f7f7f',
  '#bcbd22',
];
const MAX_POINTS = 1200;
const MAX_SERIES = 10;

/** Keeps each bucket's min and max so spikes survive decimation. */
function decimate(series: Series): { t: number[]; v: number[] } {
  const n = series.t_s.length;
  if (n <= MAX_POINTS) return { t: series.t_s, v: series.values };
  const buckets = MAX_POINTS / 2;
  const t: number[] = [];
  const v: number[] = [];
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor((b * n) / buckets);
    const to = Math.floor(((b + 1) * n) / buckets);
    let lo = from;
    let hi = from;
    for (let i = from; i < to; i++) {
      if (series.values[i] < series.values[lo]) lo = i;
      if (series.values[i] > series.values[hi]) hi = i;
    }
    for (const i of lo < hi ? [lo, hi] : [hi, lo]) {
      t.push(series.t_s[i]);
      v.push(series.values[i]);
    }
  }
  return { t, v };
}

/** For many buses: plot the min/max envelope plus the extreme buses instead of every bus. */
function limitSeries(series: Series[]): Series[] {
  if (series.length <= MAX_SERIES) return series;
  const n = series[0].t_s.length;
  const min: Series = {
    name: 'min (all)',
    t_s: series[0].t_s,
    values: new Array(n).fill(Number.POSITIVE_INFINITY),
  };
  const max: Series = {
    name: 'max (all)',
    t_s: series[0].t_s,
    values: new Array(n).fill(Number.NEGATIVE_INFINITY),
  };
  for (const s of series) {
    if (s.t_s.length !== n) continue;
    for (let i = 0; i < n; i++) {
      if (s.values[i] < min.values[i]) min.values[i] = s.values[i];
      if (s.values[i] > max.values[i]) max.values[i] = s.values[i];
    }
  }
  return [min, max];
}

function niceTicks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo || 1;
  const step0 = span / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? mag * 10;
  const ticks: number[] = [];
  for (let x = Math.ceil(lo / step) * step; x <= hi + step * 1e-9; x += step)
    ticks.push(Number(x.toPrecision(12)));
  return ticks;
}

export function svgPlot(title: string, unit: string, input: Series[], data: RunData): string {
  const series = limitSeries(input).filter((s) => s.t_s.length > 0);
  const W = 920;
  const H = 240;
  const L = 64;
  const R = 12;
  const T = 24;
  const B = 34;
  if (series.length === 0) {
    return `<section class="plot"><h3>${escapeHtml(title)}</h3><p class="empty">no data recorded</p></section>`;
  }
  let tMax = data.duration_s;
  let vMin = Number.POSITIVE_INFINITY;
  let vMax = Number.NEGATIVE_INFINITY;
  for (const s of series) {
    for (const x of s.values) {
      if (Number.isFinite(x)) {
        if (x < vMin) vMin = x;
        if (x > vMax) vMax = x;
      }
    }
    tMax = Math.max(tMax, s.t_s[s.t_s.length - 1]);
  }
  if (vMin === vMax) {
    vMin -= Math.abs(vMin) * 0.01 || 1;
    vMax += Math.abs(vMax) * 0.01 || 1;
  }
  const pad = (vMax - vMin) * 0.05;
  vMin -= pad;
  vMax += pad;
  tMax = tMax || 1;
  const x = (t: number) => L + (t / tMax) * (W - L - R);
  const y = (v: number) => T + (1 - (v - vMin) / (vMax - vMin)) * (H - T - B);
  const parts: string[] = [];
  parts.push(`<svg viewBox="0 0 ${W} ${H}" role="img" aria-label="${escapeHtml(title)}">`);
  parts.push(`<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" class="frame"/>`);
  for (const v of niceTicks(vMin, vMax, 5)) {
    parts.push(
      `<line x1="${L}" x2="${W - R}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" class="grid"/>`,
    );
    parts.push(
      `<text x="${L - 6}" y="${(y(v) + 4).toFixed(1)}" class="ytick">${escapeHtml(String(v))}</text>`,
    );
  }
  for (const t of niceTicks(0, tMax, 8)) {
    parts.push(
      `<text x="${x(t).toFixed(1)}" y="${H - B + 16}" class="xtick">${escapeHtml(String(t))}</text>`,
    );
  }
  parts.push(`<text x="${W - R}" y="${H - 4}" class="xlabel">t [s]</text>`);
  parts.push(`<text x="6" y="${T - 8}" class="ylabel">${escapeHtml(unit)}</text>`);
  for (const e of data.events) {
    if (e.kind === 'run-start' || e.kind === 'run-end' || e.rel_s < 0 || e.rel_s > tMax) continue;
    const ex = x(e.rel_s).toFixed(1);
    parts.push(
      `<line x1="${ex}" x2="${ex}" y1="${T}" y2="${H - B}" class="event"><title>${escapeHtml(`${e.rel_s.toFixed(3)} s · ${e.kind}: ${e.message}`)}</title></line>`,
    );
  }
  series.forEach((s, i) => {
    const { t, v } = decimate(s);
    let d = '';
    let pen = false;
    for (let k = 0; k < t.length; k++) {
      if (!Number.isFinite(v[k])) {
        pen = false;
        continue;
      }
      d += `${pen ? 'L' : 'M'}${x(t[k]).toFixed(1)} ${y(v[k]).toFixed(1)}`;
      pen = true;
    }
    parts.push(
      `<path d="${d}" stroke="${COLORS[i % COLORS.length]}" class="line"><title>${escapeHtml(s.name)}</title></path>`,
    );
  });
  parts.push('</svg>');
  const legend = series
    .map(
      (s, i) => `<span><i style="background:${COLORS[i % COLORS.length]}"></i>${escapeHtml(s.name)}</span>`,
    )
    .join('');
  const note = input.length > series.length ? ` <small>(${input.length} series; envelope shown)</small>` : '';
  return `<section class="plot"><h3>${escapeHtml(title)}${note}</h3>${parts.join('')}<div class="legend">${legend}</div></section>`;
}

const STYLE = `
body{font:14px/1.45 system-ui,sans-serif;margin:24px auto;max-width:980px;color:#222}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:16px 0 4px}
.verdict{display:inline-block;padding:4px 12px;border-radius:4px;color:#fff;font-weight:600}
.pass{background:#2e7d32}.fail{background:#c62828}
table{border-collapse:collapse;width:100%;margin:6px 0}
td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5} td.ok{color:#2e7d32;font-weight:600} td.bad{color:#c62828;font-weight:600}
td.info{color:#555} .note{color:#555;font-size:13px}
svg{width:100%;height:auto;display:block}
.frame{fill:#fff;stroke:#999}.grid{stroke:#eee}.line{fill:none;stroke-width:1.3}
.event{stroke:#e65100;stroke-dasharray:4 3;stroke-width:1.2}
.ytick{font-size:10px;text-anchor:end;fill:#555}.xtick{font-size:10px;text-anchor:middle;fill:#555}
.xlabel{font-size:11px;text-anchor:end;fill:#555}.ylabel{font-size:11px;fill:#555}
.legend span{margin-right:14px;font-size:12px;white-space:nowrap}
.legend i{display:inline-block;width:12px;height:3px;margin-right:4px;vertical-align:middle}
.empty{color:#888} dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:6px 0} dt{color:#666}
`;

export interface ReportModel {
  manifest: RunManifest;
  data: RunData;
  /** IEEE 1547 checks on the recording: information, shown apart from the verdict. */
  checks: ComplianceCheck[];
  /** The run's one verdict: the badge, and the first table lists what it rests on. */
  verdict: RunVerdict;
  generatedAt: string;
}

export function renderHtml(model: ReportModel): string {
  const { manifest: m, data, checks } = model;
  const row = (cells: string[]) => `<tr>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
  const status = (ok: boolean) => (ok ? '<td class="ok">pass</td>' : '<td class="bad">FAIL</td>');
  const meta: [string, string][] = [
    ['run', m.id],
    ['scenario', m.scenario],
    ['grid', String(m.grid ?? '—')],
    ['seed', String(m.seed ?? '—')],
    ['step', m.dt_s !== undefined ? `${m.dt_s * 1000} ms` : '—'],
    ['status', m.status + (m.reason ? ` (${m.reason})` : '')],
    ['start', m.start],
    ['end', m.end ?? '— (run incomplete)'],
    ['duration', `${data.duration_s.toFixed(3)} s`],
    ['devices', m.devices.map((d) => d.id).join(', ') || '—'],
    [
      'gridloop',
      `${m.versions.gridloop} · node ${m.versions.node} · commit ${m.git.commit ?? 'unknown'}${m.git.dirty ? ' (modified)' : ''}`,
    ],
  ];
  const span = (a: RunData['assertions'][number]) =>
    a.span_s ? `${a.span_s[0].toFixed(3)}..${a.span_s[1].toFixed(3)}` : '';
  // The verdict's table: the run reaching its end, then every assertion, each once.
  const verdictTable = `<table><tr><th>what</th><th>result</th><th>value</th><th>expected</th><th>span [s]</th><th>message</th></tr><tr><td>run completed</td>${status(m.status === 'complete')}<td>${escapeHtml(m.status)}</td><td>complete</td><td>${`0.000..${data.duration_s.toFixed(3)}`}</td><td>${escapeHtml(m.reason ?? '')}</td></tr>${data.assertions
    .map(
      (a) =>
        `<tr><td>${escapeHtml(a.name)}</td>${status(a.passed)}<td>${a.value ?? ''}</td><td>${escapeHtml(a.expected ?? '')}</td><td>${span(a)}</td><td>${escapeHtml(a.message ?? '')}</td></tr>`,
    )
    .join('')}</table>${data.assertions.length === 0 ? '<p class="empty">no assertions recorded</p>' : ''}`;
  const compliance = `<table><tr><th>check</th><th>observed</th><th>detail</th></tr>${checks
    .map(
      (c) =>
        `<tr><td>${escapeHtml(c.name)}</td><td class="info">${c.passed ? 'met' : 'not met'}</td><td>${escapeHtml(c.detail)}</td></tr>`,
    )
    .join('')}</table>`;
  const events =
    data.events.length === 0
      ? '<p class="empty">no events</p>'
      : `<table><tr><th>t [s]</th><th>kind</th><th>source</th><th>target</th><th>message</th></tr>${data.events
          .map((e) =>
            row([
              e.rel_s.toFixed(3),
              escapeHtml(e.kind),
              escapeHtml(e.source ?? ''),
              escapeHtml(e.target ?? ''),
              escapeHtml(e.message),
            ]),
          )
          .join('')}</table>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>gridloop report · ${escapeHtml(m.id)}</title><style>${STYLE}</style></head>
<body>
<h1>gridloop run report</h1>
<p><span class="verdict ${model.verdict.passed ? 'pass' : 'fail'}">${model.verdict.passed ? 'PASSED' : 'FAILED'}</span> ${escapeHtml(model.verdict.summary)} · generated ${escapeHtml(model.generatedAt)}</p>
<dl>${meta.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${escapeHtml(v)}</dd>`).join('')}</dl>
<h2>Verdict</h2>${verdictTable}
<h2>IEEE 1547-2018 checks (information, not part of the verdict)</h2>
<p class="note">Judged on the recording alone, which cannot tell the scenario's own disturbance (a scripted fault or trip) from the device under test; "not met" for a range means the run left it, which the standard then allows a device to trip for. A scenario that wants IEEE 1547 behaviour judged asks for the <code>ieee1547-compliance</code> assertion.</p>
${compliance}
${securitySection(data.events)}
<h2>Plots</h2>
${svgPlot('Frequency', 'Hz', data.frequency, data)}
${svgPlot('Bus voltages', 'pu', data.voltage, data)}
${svgPlot('Device active power', 'MW', data.power, data)}
${svgPlot('State of charge', '0..1', data.soc, data)}
<h2>Events</h2>${events}
</body></html>
`;
}
