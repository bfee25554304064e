/**
 * JUnit XML for CI systems (Jenkins, GitLab, GitHub test reporters): one <testsuite> per run
 * inside <testsuites>, one <testcase> per scenario assertion plus one for the run itself (an
 * incomplete or failed run is an <error>): exactly what the run's verdict rests on, so the suite
 * fails exactly when the verdict does. `time`: for the suite and the run's test case, how long the
 * run took (wall clock, manifest start..end); for an assertion, the span of scenario time it
 * watched (its after..until window, `span_s`). IEEE 1547 checks on the recording are information: they go to <system-out>.
 * The structure follows the Ant/Jenkins JUnit format; bench/reports/junit.xsd states it and the
 * tests validate against it.
 */
import { hostname } from 'node:os';
import type { RunManifest, RunVerdict } from '../recording/index.ts';
import type { ComplianceCheck } from './ieee1547-checks.ts';
import type { RunData } from './run-data.ts';

export function xmlEscape(text: string): string {
  // Characters XML 1.0 cannot hold at all are dropped; the rest escaped.
  return text
    .replace(/[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(
      /[&<>"']/g,
      (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!,
    );
}

interface Case {
  classname: string;
  name: string;
  time_s: number;
  failure?: { type: string; message: string; text?: string };
  error?: { type: string; message: string };
}

export interface JunitResult {
  xml: string;
  tests: number;
  failures: number;
  errors: number;
}

export function renderJunit(
  manifest: RunManifest,
  data: RunData,
  verdict: RunVerdict,
  checks: ComplianceCheck[],
): JunitResult {
  const base = `gridloop.${manifest.scenario.replace(/[^A-Za-z0-9_.-]+/g, '_') || 'run'}`;
  // How long the run took on the wall clock (a simulated run is faster or slower than its twin
  // time); a run never closed has no end: the span of what it recorded.
  const wall_s = manifest.end_ns
    ? Number(BigInt(manifest.end_ns) - BigInt(manifest.start_ns)) / 1e9
    : data.duration_s;
  const cases: Case[] = [];
  cases.push({
    classname: `${base}.run`,
    name: 'run completed',
    time_s: wall_s,
    ...(manifest.status === 'complete'
      ? {}
      : {
          error: {
            type: `run-${manifest.status}`,
            message: `run ${manifest.status}${manifest.reason ? `: ${manifest.reason}` : ''}`,
          },
        }),
  });
  for (const a of data.assertions) {
    cases.push({
      classname: `${base}.assertions`,
      name: a.name,
      time_s: a.span_s ? a.span_s[1] - a.span_s[0] : data.duration_s,
      ...(a.passed
        ? {}
        : {
            failure: {
              type: 'assertion',
              message: a.message ?? `${a.name} failed`,
              text: [
                a.value !== undefined ? `value: ${a.value}` : '',
                a.expected ? `expected: ${a.expected}` : '',
                a.t_s !== undefined ? `t: ${a.t_s} s` : '',
              ]
                .filter(Boolean)
                .join('\n'),
            },
          }),
    });
  }
  const failures = cases.filter((c) => c.failure).length;
  const errors = cases.filter((c) => c.error).length;
  const timestamp = manifest.start.slice(0, 19);
  const time = wall_s.toFixed(3);
  const body = cases
    .map((c) => {
      const open = `    <testcase name="${xmlEscape(c.name)}" classname="${xmlEscape(c.classname)}" time="${Math.max(0, c.time_s).toFixed(3)}"`;
      if (c.failure) {
        return `${open}>\n      <failure type="${xmlEscape(c.failure.type)}" message="${xmlEscape(c.failure.message)}">${xmlEscape(c.failure.text ?? c.failure.message)}</failure>\n    </testcase>`;
      }
      if (c.error) {
        return `${open}>\n      <error type="${xmlEscape(c.error.type)}" message="${xmlEscape(c.error.message)}">${xmlEscape(c.error.message)}</error>\n    </testcase>`;
      }
      return `${open}/>`;
    })
    .join('\n');
  const properties = [
    ['run', manifest.id],
    ['grid', String(manifest.grid ?? '')],
    ['seed', String(manifest.seed ?? '')],
    ['status', manifest.status],
    ['verdict', verdict.passed ? 'passed' : 'failed'],
    ['verdict.summary', verdict.summary],
    ['git.commit', manifest.git.commit ?? ''],
    ['gridloop.version', manifest.versions.gridloop],
  ]
    .map(([k, v]) => `      <property name="${xmlEscape(k)}" value="${xmlEscape(v)}"/>`)
    .join('\n');
  const systemOut = [
    `gridloop run ${manifest.id}: ${verdict.summary}`,
    ...(checks.length > 0
      ? [
          'IEEE 1547-2018 checks on the recording (information, not part of the verdict):',
          ...checks.map((c) => `  ${c.passed ? 'met' : 'not met'}  ${c.name}: ${c.detail}`),
        ]
      : []),
  ].join('\n');
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="${xmlEscape(base)}" package="gridloop" id="0" timestamp="${timestamp}" hostname="${xmlEscape(hostname() || 'localhost')}" tests="${cases.length}" failures="${failures}" errors="${errors}" skipped="0" time="${time}">
    <properties>
${properties}
    </properties>
${body}
    <system-out>${xmlEscape(systemOut)}</system-out>
    <system-err></system-err>
  </testsuite>
</testsuites>
`;
  return { xml, tests: cases.length, failures, errors };
}
