/**
 * JUnit XML for CI systems (Jenkins, GitLab, GitHub test reporters): one <testsuite> per run
 * inside <testsuites>, one <testcase> per scenario assertion and per IEEE 1547 check, plus one
 * for the run itself (an incomplete or failed run is an <error>). The structure follows the
 * Ant/Jenkins JUnit format; bench/reports/junit.xsd states it and the tests validate against it.
 */
import { hostname } from 'node:os';
import type { RunManifest } from '../recording/index.ts';
import type { ComplianceCheck } from './ieee1547-checks.ts';
import type { RunData } from './run-data.ts';

function xmlEscape(text: string): string {
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
  failure?: { type: string; message: string; text?: string };
  error?: { type: string; message: string };
}

export interface JunitResult {
  xml: string;
  tests: number;
  failures: number;
  errors: number;
}

export function renderJunit(manifest: RunManifest, data: RunData, checks: ComplianceCheck[]): JunitResult {
  const base = `gridloop.${manifest.scenario.replace(/[^A-Za-z0-9_.-]+/g, '_') || 'run'}`;
  const cases: Case[] = [];
  cases.push({
    classname: `${base}.run`,
    name: 'run completed',
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
  for (const c of checks) {
    cases.push({
      classname: `${base}.ieee1547`,
      name: c.name,
      ...(c.passed ? {} : { failure: { type: 'ieee1547', message: c.detail } }),
    });
  }
  const failures = cases.filter((c) => c.failure).length;
  const errors = cases.filter((c) => c.error).length;
  const timestamp = manifest.start.slice(0, 19);
  const time = data.duration_s.toFixed(3);
  const body = cases
    .map((c) => {
      const open = `    <testcase name="${xmlEscape(c.name)}" classname="${xmlEscape(c.classname)}" time="0"`;
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
    ['git.commit', manifest.git.commit ?? ''],
    ['gridloop.version', manifest.versions.gridloop],
  ]
    .map(([k, v]) => `      <property name="${xmlEscape(k)}" value="${xmlEscape(v)}"/>`)
    .join('\n');
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="${xmlEscape(base)}" package="gridloop" id="0" timestamp="${timestamp}" hostname="${xmlEscape(hostname() || 'localhost')}" tests="${cases.length}" failures="${failures}" errors="${errors}" skipped="0" time="${time}">
    <properties>
${properties}
    </properties>
${body}
    <system-out>${xmlEscape(`gridloop run ${manifest.id}: ${cases.length} tests, ${failures} failures, ${errors} errors`)}</system-out>
    <system-err></system-err>
  </testsuite>
</testsuites>
`;
  return { xml, tests: cases.length, failures, errors };
}
