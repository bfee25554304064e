/**
 * Running generated dashboard queries the way Grafana sends them, and reading the answer by series:
 * shared by the suites that check panels against a run folder's points.
 */

import type { InfluxQLSeries } from './servers/index.ts';

/** The query with Grafana's macros over [from, to] (ns) and the given variable values substituted. */
export function asGrafanaSends(
  query: string,
  range: { from_ns: bigint; to_ns: bigint },
  variables: Record<string, string>,
): string {
  return query
    .replaceAll(
      '$timeFilter',
      `time >= ${range.from_ns / 1_000_000n}ms and time <= ${range.to_ns / 1_000_000n + 1n}ms`,
    )
    .replaceAll('$__interval', '1s')
    .replace(/\$(\w+)/g, (whole, name: string) => variables[name] ?? whole);
}

/** Rows of each series, keyed by its tag values joined by spaces ("MG1", "pv-24 sell"; "" untagged). */
export function rowsBySeries(series: InfluxQLSeries[]): Map<string, Record<string, unknown>[]> {
  const out = new Map<string, Record<string, unknown>[]>();
  for (const s of series) {
    const key = Object.values(s.tags ?? {}).join(' ');
    out.set(key, [
      ...(out.get(key) ?? []),
      ...s.values.map((row) => Object.fromEntries(s.columns.map((c, i) => [c, row[i]]))),
    ]);
  }
  return out;
}
