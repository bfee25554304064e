/**
 * A small typed InfluxQL query builder for Grafana's InfluxDB data source.
 *
 * The foundation SDK ships no InfluxDB query type, so this file supplies one the way the SDK's
 * README describes for third-party queries: an `InfluxQuery` type that declares itself a
 * `cog.Dataquery` variant and a builder that implements `cog.Builder<cog.Dataquery>`. Field names
 * follow Grafana's InfluxQuery model (public/app/plugins/datasource/influxdb/types.ts): `refId`,
 * `datasource`, `rawQuery`, `query`, `resultFormat`, `alias`, and for annotations
 * `fromAnnotations`, `textColumn`, `tagsColumn`, `timeEndColumn`, `titleColumn`.
 *
 * Queries are always raw InfluxQL (`rawQuery: true`), generated from a typed selection so that
 * only measurements, tags and fields of the published schema (./schema.ts) can be named. The
 * generated text sticks to what InfluxQL offers on InfluxDB 1.x, on 2.x through a DBRP mapping and
 * on 3.x: plain aggregates and selectors, GROUP BY time and tags, fill(); no subqueries, no SLIMIT,
 * no regex measurement names.
 */

import type { Builder, Dataquery } from '@grafana/grafana-foundation-sdk/cog';
import type { DataSourceRef } from '@grafana/grafana-foundation-sdk/common';
import { type FieldOf, type Measurement, measurementSchema, type TagOf } from './schema.ts';

/** How Grafana turns the InfluxDB response into data frames. */
export type ResultFormat = 'time_series' | 'table' | 'logs';

/** Grafana's InfluxDB query, as stored in a dashboard's `targets` or an annotation's `target`. */
export interface InfluxQuery {
  refId?: string;
  hide?: boolean;
  datasource?: DataSourceRef;
  /** Always true here: the `query` text is used as is, not rebuilt from the visual editor. */
  rawQuery: boolean;
  query: string;
  resultFormat: ResultFormat;
  /** Legend pattern; `$tag_<key>` and `$col` are replaced by Grafana. */
  alias?: string;
  fromAnnotations?: boolean;
  textEditor?: boolean;
  textColumn?: string;
  tagsColumn?: string;
  timeEndColumn?: string;
  titleColumn?: string;
  _implementsDataqueryVariant(): void;
}

export const defaultInfluxQuery = (): InfluxQuery => ({
  rawQuery: true,
  query: '',
  resultFormat: 'time_series',
  _implementsDataqueryVariant() {},
});

/** Aggregates and selectors available in InfluxQL on InfluxDB 1.x, 2.x and 3.x alike. */
export type Aggregate = 'mean' | 'median' | 'min' | 'max' | 'first' | 'last' | 'sum' | 'count' | 'spread';

/** Selectors return one real point per group, so that point's tags can be selected with them. */
const SELECTORS: ReadonlySet<Aggregate> = new Set(['first', 'last', 'min', 'max']);

export interface FieldSelection<M extends Measurement> {
  field: FieldOf<M>;
  /** Omitted in raw selections (no GROUP BY time), required when grouping by time. */
  fn?: Aggregate;
  /** Column name in the result; defaults to the field name. */
  as?: string;
  /**
   * Subtracted from the aggregate: a number or a dashboard variable (`$f0`), so a panel can show a
   * deviation from a value only known per run.
   */
  minus?: number | `$${string}`;
  /** Multiplies the value (raw or aggregated) by this number: a unit change, e.g. micro-units to money units. */
  times?: number;
}

/**
 * A tag condition. Values may hold Grafana variables (`$run`). `equals` compares with a quoted
 * string; `matches` anchors a regex, the form Grafana expects for multi-value and "All" variables.
 */
export type TagCondition<M extends Measurement> =
  | { tag: TagOf<M>; equals: string }
  | { tag: TagOf<M>; matches: string };

/** `interval` for one aggregate over the dashboard's whole time range: no GROUP BY time, no fill. */
export const WHOLE_RANGE = 'whole-range';

export type Fill = 'null' | 'none' | 'previous' | 'linear' | number;

export interface Selection<M extends Measurement> {
  from: M;
  fields: readonly FieldSelection<M>[];
  /**
   * Tag columns returned next to the fields: with raw fields (annotations need the tag as a column),
   * or next to exactly one selector (first, last, min, max), which returns the tags of the point it
   * picked.
   */
  tagColumns?: readonly TagOf<M>[];
  where?: readonly TagCondition<M>[];
  /**
   * Bucket width for aggregated selections. Defaults to Grafana's `$__interval`; `false` makes a
   * raw selection (every point, no aggregate); `WHOLE_RANGE` aggregates over the whole time range
   * (one value per group, e.g. a count of runs for a stat panel).
   */
  interval?: string | false | typeof WHOLE_RANGE;
  groupByTags?: readonly TagOf<M>[];
  /** Defaults to `null` so gaps stay gaps on time series panels. */
  fill?: Fill;
  /** Caps raw selections, e.g. annotation queries. */
  limit?: number;
}

/** Double-quoted InfluxQL identifier. */
export function quoteIdentifier(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Single-quoted InfluxQL string literal. Grafana variables inside it are left for Grafana. */
export function quoteString(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** `/^…$/` regex literal: only `/` needs escaping inside InfluxQL regex literals. */
function anchoredRegex(pattern: string): string {
  return `/^${pattern.replace(/\//g, '\\/')}$/`;
}

function checkNames<M extends Measurement>(selection: Selection<M>): void {
  const measurement = measurementSchema(selection.from);
  if (measurement === undefined) {
    throw new TypeError(`influxql: unknown measurement '${String(selection.from)}'`);
  }
  const where = `influxql: measurement '${selection.from}'`;
  if (selection.fields.length === 0) throw new TypeError(`${where}: select at least one field`);
  for (const { field } of selection.fields) {
    if (!Object.hasOwn(measurement.fields, field)) throw new TypeError(`${where} has no field '${field}'`);
  }
  const tags = [
    ...(selection.tagColumns ?? []),
    ...(selection.groupByTags ?? []),
    ...(selection.where ?? []).map((c) => c.tag),
  ];
  for (const tag of tags) {
    if (!measurement.tags.includes(tag)) throw new TypeError(`${where} has no tag '${tag}'`);
  }
}

/**
 * Renders a selection as InfluxQL with Grafana's `$timeFilter` macro, e.g.
 * `SELECT mean("f_hz") AS "f_hz" FROM "island" WHERE "run" = '$run' AND $timeFilter
 * GROUP BY time($__interval), "island" fill(null)`.
 * Throws a TypeError naming the measurement and the offending part for names outside the schema,
 * and for selections InfluxQL would reject (aggregates mixed with raw fields).
 */
export function influxql<M extends Measurement>(selection: Selection<M>): string {
  checkNames(selection);
  const raw = selection.interval === false;
  const bucketed = !raw && selection.interval !== WHOLE_RANGE;
  const aggregated = selection.fields.filter((f) => f.fn !== undefined).length;
  if (raw && aggregated > 0) {
    throw new TypeError(`influxql: measurement '${selection.from}': raw selection with an aggregate`);
  }
  if (!raw && aggregated !== selection.fields.length) {
    throw new TypeError(
      `influxql: measurement '${selection.from}': every field needs an aggregate when aggregating`,
    );
  }
  if (!raw && selection.tagColumns?.length) {
    const only = selection.fields.length === 1 ? selection.fields[0].fn : undefined;
    if (only === undefined || !SELECTORS.has(only)) {
      throw new TypeError(
        `influxql: measurement '${selection.from}': tag columns need a raw selection or exactly one selector`,
      );
    }
  }
  const columns = selection.fields.map(({ field, fn, as, minus, times }) => {
    if (minus !== undefined && (fn === undefined || !/^(\$\w+|-?\d+(\.\d+)?)$/.test(String(minus)))) {
      throw new TypeError(
        `influxql: measurement '${selection.from}': field '${field}': minus needs an aggregate and a number or a $variable`,
      );
    }
    // InfluxQL number literals have no exponent: 1e-6 prints as 0.000001, 1e-7 would not parse.
    if (times !== undefined && !/^-?\d+(\.\d+)?$/.test(String(times))) {
      throw new TypeError(
        `influxql: measurement '${selection.from}': field '${field}': times needs a number InfluxQL can write without an exponent`,
      );
    }
    const call = fn === undefined ? quoteIdentifier(field) : `${fn}(${quoteIdentifier(field)})`;
    const scaled = times === undefined ? call : `${call} * ${times}`;
    const expression = minus === undefined ? scaled : `${scaled} - ${minus}`;
    return fn === undefined && as === undefined && times === undefined
      ? expression
      : `${expression} AS ${quoteIdentifier(as ?? field)}`;
  });
  for (const tag of selection.tagColumns ?? []) columns.push(quoteIdentifier(tag));

  const conditions = (selection.where ?? []).map((c) =>
    'equals' in c
      ? `${quoteIdentifier(c.tag)} = ${quoteString(c.equals)}`
      : `${quoteIdentifier(c.tag)} =~ ${anchoredRegex(c.matches)}`,
  );
  conditions.push('$timeFilter');

  let text = `SELECT ${columns.join(', ')} FROM ${quoteIdentifier(selection.from)} WHERE ${conditions.join(' AND ')}`;
  const groups: string[] = [];
  if (bucketed) groups.push(`time(${selection.interval ?? '$__interval'})`);
  for (const tag of selection.groupByTags ?? []) groups.push(quoteIdentifier(tag));
  if (groups.length > 0) text += ` GROUP BY ${groups.join(', ')}`;
  if (bucketed) text += ` fill(${selection.fill ?? 'null'})`;
  if (selection.limit !== undefined) {
    if (!Number.isInteger(selection.limit) || selection.limit <= 0) {
      throw new TypeError(`influxql: measurement '${selection.from}': limit must be a positive integer`);
    }
    text += ` LIMIT ${selection.limit}`;
  }
  return text;
}

/** Builds one `InfluxQuery` for a panel's `withTarget` or an annotation's `target`. */
export class InfluxQueryBuilder implements Builder<Dataquery> {
  private readonly internal: InfluxQuery;

  /** Finished InfluxQL text, for the rare query a selection cannot say. Prefer `select`. */
  constructor(query: string) {
    this.internal = defaultInfluxQuery();
    this.internal.query = query;
  }

  /** A query generated from a typed selection of the published schema. */
  static select<M extends Measurement>(selection: Selection<M>): InfluxQueryBuilder {
    return new InfluxQueryBuilder(influxql(selection));
  }

  build(): InfluxQuery {
    return this.internal;
  }

  refId(refId: string): this {
    this.internal.refId = refId;
    return this;
  }

  hide(hide: boolean): this {
    this.internal.hide = hide;
    return this;
  }

  datasource(datasource: DataSourceRef): this {
    this.internal.datasource = datasource;
    return this;
  }

  resultFormat(format: ResultFormat): this {
    this.internal.resultFormat = format;
    return this;
  }

  alias(alias: string): this {
    this.internal.alias = alias;
    return this;
  }

  /** Marks the query as an annotation query and names the columns Grafana reads events from. */
  annotationColumns(columns: { text?: string; tags?: string; timeEnd?: string; title?: string }): this {
    this.internal.fromAnnotations = true;
    this.internal.textEditor = true;
    this.internal.resultFormat = 'table';
    if (columns.text !== undefined) this.internal.textColumn = columns.text;
    if (columns.tags !== undefined) this.internal.tagsColumn = columns.tags;
    if (columns.timeEnd !== undefined) this.internal.timeEndColumn = columns.timeEnd;
    if (columns.title !== undefined) this.internal.titleColumn = columns.title;
    return this;
  }
}
