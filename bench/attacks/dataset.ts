/**
 * A labelled dataset for detection research from a recorded run: one row per recorded instant
 * (twin time t_s), one column per numeric series of the run (`measurement{tag=value,…}.field`,
 * the run tag left out), detector statistics included, and the ground-truth label columns:
 *   attack        1 while any attack interval covers the instant, else 0
 *   attack_ids    ids of the covering attacks, `;`-separated
 *   attack_kinds  their kinds
 * Labels come from the run's `attack` points (start time, end_ms), written by the attack runner.
 */
import type { Point } from '../recording/line-protocol.ts';

/** Ground truth and run outcomes, not features. */
const LABEL_MEASUREMENTS = new Set(['attack', 'detection', 'assertion']);

function seriesName(p: Point, field: string): string {
  const tags = Object.entries(p.tags)
    .filter(([k]) => k !== 'run')
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `${p.measurement}${tags ? `{${tags}}` : ''}.${field}`;
}

function csvCell(v: string): string {
  return /[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
}

export interface Dataset {
  columns: string[];
  rows: number;
  attackRows: number;
  csv: string;
}

/** Builds the CSV; `start_ns` is the run's start (manifest) so rows carry twin time. */
export function buildDataset(points: readonly Point[], start_ns: bigint): Dataset {
  const intervals = points
    .filter((p) => p.measurement === 'attack')
    .map((p) => ({
      id: p.tags.attack ?? '',
      kind: p.tags.kind ?? '',
      from_ns: p.time_ns,
      to_ns: BigInt(p.fields.end_ms as bigint) * 1_000_000n,
    }));
  const byTime = new Map<bigint, Map<string, number>>();
  const columns = new Set<string>();
  for (const p of points) {
    if (LABEL_MEASUREMENTS.has(p.measurement)) continue;
    let row = byTime.get(p.time_ns);
    if (!row) {
      row = new Map();
      byTime.set(p.time_ns, row);
    }
    for (const [field, value] of Object.entries(p.fields)) {
      let v: number;
      if (typeof value === 'number') v = value;
      else if (typeof value === 'bigint') v = Number(value);
      else if (typeof value === 'boolean') v = value ? 1 : 0;
      else continue;
      const name = seriesName(p, field);
      columns.add(name);
      row.set(name, v);
    }
  }
  const cols = [...columns].sort();
  const times = [...byTime.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const lines: string[] = [['t_s', ...cols, 'attack', 'attack_ids', 'attack_kinds'].map(csvCell).join(',')];
  let attackRows = 0;
  for (const t of times) {
    const row = byTime.get(t)!;
    const active = intervals.filter((i) => t >= i.from_ns && t < i.to_ns);
    if (active.length) attackRows++;
    const cells = [
      (Number(t - start_ns) / 1e9).toFixed(6),
      ...cols.map((c) => {
        const v = row.get(c);
        return v === undefined || !Number.isFinite(v) ? '' : String(v);
      }),
      active.length ? '1' : '0',
      csvCell(active.map((i) => i.id).join(';')),
      csvCell(active.map((i) => i.kind).join(';')),
    ];
    lines.push(cells.join(','));
  }
  return {
    columns: ['t_s', ...cols, 'attack', 'attack_ids', 'attack_kinds'],
    rows: times.length,
    attackRows,
    csv: `${lines.join('\n')}\n`,
  };
}
