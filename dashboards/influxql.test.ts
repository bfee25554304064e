import { describe, expect, it } from 'vitest';
import {
  InfluxQueryBuilder,
  influxql,
  quoteIdentifier,
  quoteString,
  type Selection,
  WHOLE_RANGE,
} from './influxql.ts';
import type { Measurement } from './schema.ts';

describe('influxql', () => {
  it('renders an aggregated selection grouped by time and tags, with Grafana macros', () => {
    expect(
      influxql({
        from: 'island',
        fields: [{ field: 'f_hz', fn: 'mean' }],
        where: [{ tag: 'run', equals: '$run' }],
        groupByTags: ['island'],
      }),
    ).toBe(
      `SELECT mean("f_hz") AS "f_hz" FROM "island" WHERE "run" = '$run' AND $timeFilter ` +
        'GROUP BY time($__interval), "island" fill(null)',
    );
  });

  it('subtracts a number or a dashboard variable from an aggregate, and refuses anything else', () => {
    const deviation = (minus: number | `$${string}`, fn?: 'mean') =>
      influxql({ from: 'island', fields: [{ field: 'f_hz', fn, minus }], interval: fn ? undefined : false });
    expect(deviation('$f0', 'mean')).toMatch(/^SELECT mean\("f_hz"\) - \$f0 AS "f_hz" FROM "island"/);
    expect(deviation(50, 'mean')).toMatch(/^SELECT mean\("f_hz"\) - 50 AS "f_hz" /);
    expect(() => deviation('$f0')).toThrow(/field 'f_hz': minus needs an aggregate/);
    expect(() => deviation('$f0; DROP' as `$${string}`, 'mean')).toThrow(/minus needs an aggregate/);
  });

  it('multiplies a value by a number (a unit change), raw or aggregated, and refuses numbers InfluxQL cannot write', () => {
    const scaled = (times: number, fn?: 'sum') =>
      influxql({
        from: 'market_trade',
        fields: [{ field: 'amount', fn, times }],
        interval: fn ? undefined : false,
      });
    expect(scaled(0.000001)).toBe(
      'SELECT "amount" * 0.000001 AS "amount" FROM "market_trade" WHERE $timeFilter',
    );
    expect(scaled(0.001, 'sum')).toBe(
      'SELECT sum("amount") * 0.001 AS "amount" FROM "market_trade" WHERE $timeFilter GROUP BY time($__interval) fill(null)',
    );
    expect(() => scaled(1e-7)).toThrow(/field 'amount': times needs a number InfluxQL can write/);
    expect(() => scaled(Number.NaN)).toThrow(/times needs a number/);
  });

  it('aggregates over the whole time range (no GROUP BY time, no fill), still requiring aggregates', () => {
    expect(
      influxql({
        from: 'campaign_run',
        fields: [{ field: 'wall_s', fn: 'count', as: 'runs' }],
        where: [{ tag: 'campaign', equals: '$campaign' }],
        interval: WHOLE_RANGE,
        groupByTags: ['status'],
      }),
    ).toBe(
      `SELECT count("wall_s") AS "runs" FROM "campaign_run" WHERE "campaign" = '$campaign' AND $timeFilter GROUP BY "status"`,
    );
    expect(() =>
      influxql({ from: 'campaign_run', fields: [{ field: 'wall_s' }], interval: WHOLE_RANGE }),
    ).toThrow(/every field needs an aggregate/);
  });

  it('renders raw selections with tag columns and a limit, for annotations', () => {
    expect(
      influxql({
        from: 'event',
        fields: [{ field: 'message' }],
        tagColumns: ['kind'],
        where: [{ tag: 'run', equals: 'r1' }],
        interval: false,
        limit: 50,
      }),
    ).toBe(`SELECT "message", "kind" FROM "event" WHERE "run" = 'r1' AND $timeFilter LIMIT 50`);
  });

  it('anchors regex conditions and escapes slashes in them', () => {
    expect(
      influxql({
        from: 'device',
        fields: [{ field: 'p_mw', fn: 'max', as: 'peak' }],
        where: [{ tag: 'microgrid', matches: 'a/b|$microgrid' }],
        interval: '1s',
        fill: 0,
      }),
    ).toBe(
      'SELECT max("p_mw") AS "peak" FROM "device" WHERE "microgrid" =~ /^a\\/b|$microgrid$/ AND $timeFilter ' +
        'GROUP BY time(1s) fill(0)',
    );
  });

  it('keeps one selector next to tag columns', () => {
    expect(
      influxql({
        from: 'bus',
        fields: [{ field: 'vm_pu', fn: 'last' }],
        tagColumns: ['island'],
        groupByTags: ['bus'],
      }),
    ).toBe(
      'SELECT last("vm_pu") AS "vm_pu", "island" FROM "bus" WHERE $timeFilter GROUP BY time($__interval), "bus" fill(null)',
    );
  });

  it('quotes identifiers and strings so user text cannot end them', () => {
    expect(quoteIdentifier('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(quoteString("it's")).toBe("'it\\'s'");
  });

  it('rejects names outside the published schema at run time too, naming them', () => {
    const bad = (selection: unknown) => () => influxql(selection as Selection<Measurement>);
    expect(bad({ from: 'nope', fields: [{ field: 'x', fn: 'mean' }] })).toThrow(/unknown measurement 'nope'/);
    expect(bad({ from: 'island', fields: [{ field: 'volts', fn: 'mean' }] })).toThrow(
      /measurement 'island' has no field 'volts'/,
    );
    expect(bad({ from: 'island', fields: [{ field: 'f_hz', fn: 'mean' }], groupByTags: ['bus'] })).toThrow(
      /measurement 'island' has no tag 'bus'/,
    );
    expect(bad({ from: 'island', fields: [] })).toThrow(/at least one field/);
  });

  it('rejects selections InfluxQL would refuse', () => {
    expect(() =>
      influxql({ from: 'island', fields: [{ field: 'f_hz', fn: 'mean' }, { field: 'rocof_hz_s' }] }),
    ).toThrow(/every field needs an aggregate/);
    expect(() =>
      influxql({ from: 'island', fields: [{ field: 'f_hz', fn: 'mean' }], interval: false }),
    ).toThrow(/raw selection with an aggregate/);
    expect(() =>
      influxql({ from: 'bus', fields: [{ field: 'vm_pu', fn: 'mean' }], tagColumns: ['island'] }),
    ).toThrow(/exactly one selector/);
    expect(() =>
      influxql({ from: 'event', fields: [{ field: 'message' }], interval: false, limit: 0 }),
    ).toThrow(/limit must be a positive integer/);
  });

  it('builds a Grafana InfluxDB query that serialises without the variant marker', () => {
    const query = InfluxQueryBuilder.select({ from: 'loop', fields: [{ field: 'overruns', fn: 'max' }] })
      .refId('B')
      .datasource({ type: 'influxdb', uid: 'ds' })
      .alias('$col')
      .build();
    expect(JSON.parse(JSON.stringify(query))).toEqual({
      rawQuery: true,
      query:
        'SELECT max("overruns") AS "overruns" FROM "loop" WHERE $timeFilter GROUP BY time($__interval) fill(null)',
      resultFormat: 'time_series',
      refId: 'B',
      datasource: { type: 'influxdb', uid: 'ds' },
      alias: '$col',
    });
  });

  it('marks annotation queries as table results with their columns', () => {
    const query = new InfluxQueryBuilder('SELECT "message" FROM "event" WHERE $timeFilter')
      .annotationColumns({ text: 'message', tags: 'kind', timeEnd: 'end_ms', title: 'attack' })
      .build();
    expect(query).toMatchObject({
      fromAnnotations: true,
      textEditor: true,
      resultFormat: 'table',
      textColumn: 'message',
      tagsColumn: 'kind',
      timeEndColumn: 'end_ms',
      titleColumn: 'attack',
    });
  });
});
