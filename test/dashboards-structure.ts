/**
 * Reading and checking generated dashboard JSON (dashboards/generated/*.json) the way Grafana sees
 * it: plain JSON, no builders. Shared by the dashboards suites.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { measurementSchema } from '../dashboards/schema.ts';

export const GENERATED_DIR = join(import.meta.dirname, '..', 'dashboards', 'generated');

// biome-ignore lint/suspicious/noExplicitAny: dashboard JSON is untyped input here on purpose
export type Json = any;

export interface GeneratedDashboard {
  file: string;
  json: Json;
}

export function readGenerated(dir = GENERATED_DIR): GeneratedDashboard[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.json'))
    .sort()
    .map((file) => ({ file, json: JSON.parse(readFileSync(join(dir, file), 'utf8')) }));
}

/** Every panel, rows included, with panels nested in collapsed rows flattened in. */
export function allPanels(dashboard: Json): Json[] {
  const out: Json[] = [];
  for (const panel of dashboard.panels ?? []) {
    out.push(panel);
    for (const nested of panel.panels ?? []) out.push(nested);
  }
  return out;
}

export interface QueryRef {
  /** "panel 2 'Frequency per island' target A" or "annotation 'Run events'". */
  where: string;
  query: string;
  panelType?: string;
}

/** Every InfluxQL text a dashboard sends: panel targets and annotation targets. */
export function allQueries(dashboard: Json): QueryRef[] {
  const out: QueryRef[] = [];
  for (const panel of allPanels(dashboard)) {
    for (const t of panel.targets ?? []) {
      out.push({
        where: `panel ${panel.id} '${panel.title}' target ${t.refId}`,
        query: t.query,
        panelType: panel.type,
      });
    }
  }
  for (const a of dashboard.annotations?.list ?? []) {
    if (a.target?.query !== undefined) out.push({ where: `annotation '${a.name}'`, query: a.target.query });
  }
  return out;
}

/** Every datasource reference, with where it sits. */
export function datasourceRefs(dashboard: Json): { where: string; ref: Json }[] {
  const out: { where: string; ref: Json }[] = [];
  for (const panel of allPanels(dashboard)) {
    if (panel.datasource) out.push({ where: `panel ${panel.id}`, ref: panel.datasource });
    for (const t of panel.targets ?? []) {
      if (t.datasource) out.push({ where: `panel ${panel.id} target ${t.refId}`, ref: t.datasource });
    }
  }
  for (const v of dashboard.templating?.list ?? []) {
    if (v.datasource) out.push({ where: `variable ${v.name}`, ref: v.datasource });
  }
  for (const a of dashboard.annotations?.list ?? []) {
    if (a.datasource) out.push({ where: `annotation '${a.name}'`, ref: a.datasource });
    if (a.target?.datasource) out.push({ where: `annotation '${a.name}' target`, ref: a.target.datasource });
  }
  return out;
}

const GRID_COLUMNS = 24;

/**
 * Structural problems Grafana would not report clearly or would silently "fix": duplicate panel
 * ids, datasource uids that no provisioned data source has, grid positions outside the 24-column
 * grid or overlapping, targets without refId or query, variables used but not defined.
 * Returns one message per problem (empty when the dashboard is sound).
 */
export function structuralProblems(dashboard: Json, datasourceUids: ReadonlySet<string>): string[] {
  const problems: string[] = [];
  const uid: unknown = dashboard.uid;
  if (typeof uid !== 'string' || !/^[A-Za-z0-9_-]{1,40}$/.test(uid))
    problems.push(`uid ${String(uid)} is not a valid uid`);

  const panels = allPanels(dashboard);
  const seen = new Set<number>();
  for (const panel of panels) {
    if (!Number.isInteger(panel.id) || panel.id <= 0)
      problems.push(`panel '${panel.title}' has no positive integer id`);
    else if (seen.has(panel.id)) problems.push(`panel id ${panel.id} is used twice`);
    else seen.add(panel.id);
  }

  const boxes: { id: number; x: number; y: number; w: number; h: number }[] = [];
  for (const panel of panels) {
    const g = panel.gridPos;
    const name = `panel ${panel.id} '${panel.title}'`;
    if (!g || ![g.x, g.y, g.w, g.h].every(Number.isInteger)) {
      problems.push(`${name}: gridPos ${JSON.stringify(g)} is not four integers`);
      continue;
    }
    if (g.x < 0 || g.y < 0 || g.w < 1 || g.h < 1 || g.x + g.w > GRID_COLUMNS) {
      problems.push(`${name}: gridPos ${JSON.stringify(g)} is outside the ${GRID_COLUMNS}-column grid`);
    }
    if (panel.type === 'row' && (g.x !== 0 || g.w !== GRID_COLUMNS || g.h !== 1)) {
      problems.push(`${name}: a row must span the full width with height 1`);
    }
    boxes.push({ id: panel.id, ...g });
  }
  for (let i = 0; i < boxes.length; i++) {
    for (let j = i + 1; j < boxes.length; j++) {
      const a = boxes[i];
      const b = boxes[j];
      if (a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h) {
        problems.push(`panels ${a.id} and ${b.id} overlap`);
      }
    }
  }

  for (const { where, ref } of datasourceRefs(dashboard)) {
    if (typeof ref?.uid !== 'string' || !datasourceUids.has(ref.uid)) {
      problems.push(`${where}: datasource uid ${JSON.stringify(ref?.uid)} is not provisioned`);
    }
  }

  for (const panel of panels) {
    if (panel.type === 'row') continue;
    const targets: Json[] = panel.targets ?? [];
    if (targets.length === 0) problems.push(`panel ${panel.id} '${panel.title}' has no query`);
    const refIds = new Set<string>();
    for (const t of targets) {
      if (typeof t.refId !== 'string' || t.refId === '')
        problems.push(`panel ${panel.id}: a target has no refId`);
      else if (refIds.has(t.refId)) problems.push(`panel ${panel.id}: refId ${t.refId} is used twice`);
      else refIds.add(t.refId);
      if (t.rawQuery !== true || typeof t.query !== 'string' || t.query.trim() === '') {
        problems.push(`panel ${panel.id} target ${t.refId}: no raw InfluxQL query`);
      }
    }
  }

  const defined = new Set<string>((dashboard.templating?.list ?? []).map((v: Json) => v.name));
  const texts = [
    ...allQueries(dashboard).map((q) => q.query),
    ...(dashboard.templating?.list ?? []).map((v: Json) => String(v.query ?? '')),
  ];
  for (const text of texts) {
    for (const match of text.matchAll(/\$(\w+)/g)) {
      const name = match[1];
      if (name.startsWith('__') || name === 'timeFilter') continue;
      if (!defined.has(name)) problems.push(`query uses $${name}, which the dashboard does not define`);
    }
  }
  return problems;
}

export interface QueryShape {
  measurement: string;
  /** Fields named by the query. */
  fields: string[];
  /** Tags named in WHERE, GROUP BY or as columns. */
  tags: string[];
  groupByTags: string[];
  /** Result columns after `time`, in order. */
  columns: string[];
}

/** Reads back the shape of a query written by dashboards/influxql.ts (its fixed layout only). */
export function shapeOf(query: string): QueryShape {
  const parts =
    /^SELECT (.+) FROM "(\w+)" WHERE (.+?)(?: GROUP BY (.+?))?(?: fill\(.+\))?(?: LIMIT \d+)?$/.exec(query);
  if (!parts) throw new Error(`not a query of the dashboards' builder: ${query}`);
  const [, select, measurement, where, groupBy = ''] = parts;
  const schema = measurementSchema(measurement);
  const fields: string[] = [];
  const tags: string[] = [];
  const columns: string[] = [];
  for (const item of select.split(', ')) {
    // Field names may hold '-' and '.' (campaign figures such as "frequency-nadir").
    // An aggregate or a raw field, scaled (`* 0.000001`) or shifted (`- $f0`), renamed.
    const named =
      /^(?:\w+\("([^"]+)"\)|"([^"]+)")(?: \* -?[\d.]+)?(?: - (?:\$\w+|-?[\d.]+))? AS "([^"]+)"$/.exec(item);
    const plain = /^"([^"]+)"$/.exec(item);
    if (named) {
      fields.push(named[1] ?? named[2]);
      columns.push(named[3]);
    } else if (plain) {
      (schema?.tags.includes(plain[1]) ? tags : fields).push(plain[1]);
      columns.push(plain[1]);
    } else throw new Error(`unexpected select item ${item} in ${query}`);
  }
  for (const m of where.matchAll(/"(\w+)" =~? /g)) tags.push(m[1]);
  const groupByTags = [...groupBy.matchAll(/"(\w+)"/g)].map((m) => m[1]);
  tags.push(...groupByTags);
  return { measurement, fields, tags, groupByTags, columns };
}
