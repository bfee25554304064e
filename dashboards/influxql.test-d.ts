import { describe, expectTypeOf, it } from 'vitest';
import { InfluxQueryBuilder, influxql } from './influxql.ts';

describe('the query builder only names what the published schema has', () => {
  it('accepts fields and tags of the chosen measurement', () => {
    expectTypeOf(
      influxql({ from: 'island', fields: [{ field: 'f_hz', fn: 'mean' }], groupByTags: ['island'] }),
    ).toEqualTypeOf<string>();
    expectTypeOf(
      InfluxQueryBuilder.select({ from: 'device', fields: [{ field: 'soc', fn: 'last' }], where: [] }),
    ).toEqualTypeOf<InfluxQueryBuilder>();
  });

  it('rejects a field of another measurement, an unknown tag, an unknown measurement and function', () => {
    // @ts-expect-error vm_pu is a field of bus, not of island
    influxql({ from: 'island', fields: [{ field: 'vm_pu', fn: 'mean' }] });
    // @ts-expect-error island has no tag "bus"
    influxql({ from: 'island', fields: [{ field: 'f_hz', fn: 'mean' }], groupByTags: ['bus'] });
    // @ts-expect-error no measurement "volts"
    influxql({ from: 'volts', fields: [{ field: 'f_hz', fn: 'mean' }] });
    // @ts-expect-error derivative is not among the functions every InfluxDB version offers
    influxql({ from: 'island', fields: [{ field: 'f_hz', fn: 'derivative' }] });
  });
});
