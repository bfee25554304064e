/**
 * The measurements, tags and fields the dashboards read: the recorder's published schema
 * (bench/recording/schema.ts, documented in docs/influx-schema.md), not a copy of it. That module
 * imports nothing, so the dashboards depend on the published contract, never on the recorder's code.
 * The query builder only accepts names listed there, so a typo or a renamed field is a compile error.
 *
 * `recorded` and `awaiting` split the schema by what the demo run (`gridloop start`) writes: the
 * dashboards' tests run every panel against a recorded demo run, and panels reading an `awaiting`
 * measurement against synthetic points only (test/dashboards-influx.test.ts, which fails as soon as
 * a recorded demo run holds one of them, so the split cannot go stale).
 */
import {
  type FieldOf,
  type FieldType,
  type Measurement,
  type MeasurementSchema,
  measurementSchema,
  RECORDED_SCHEMA,
  type TagOf,
} from '../bench/recording/schema.ts';

export type { FieldOf, FieldType, Measurement, MeasurementSchema, TagOf };
export { measurementSchema };

/**
 * Measurements the demo run does not write: `attack`, `auth` and `detection` come from
 * `gridloop attack` (docs/security.md), `assertion` from scenarios with assertions, `sink` from
 * runs with an InfluxDB sink, `campaign_run` from `gridloop campaign` (one point per run result;
 * the Campaign dashboard's test writes those with bench/campaigns' own writer).
 */
const NOT_IN_DEMO_RUN = [
  'attack',
  'auth',
  'detection',
  'assertion',
  'sink',
  'campaign_run',
  // Runs hosting a VPP controller write these (test/vpp-live.test.ts runs the VPP dashboard on them).
  'vpp',
  'vpp_member',
  // Simulated runs of a VPP under bi-level scheduling (test/vpp-simulate.test.ts).
  'vpp_operator',
  // Runs of a scenario with a `market:` section (`simulate`) or ledger attacks (`gridloop attack`, targets `ledger.*`)
  // write these (test/market-influx.test.ts; the Market dashboard: test/market-dashboard-influx.test.ts).
  'market_interval',
  'market_trade',
  'market_fid',
  'market_account',
  'market_vpp',
  'market_meter',
  'market_order',
  'market_book',
  'chain',
] as const satisfies readonly Measurement[];
type NotInDemoRun = (typeof NOT_IN_DEMO_RUN)[number];

type Schema = typeof RECORDED_SCHEMA;

/** Written by the demo run. Every point also carries the `run` tag. */
export const recorded = Object.fromEntries(
  Object.entries(RECORDED_SCHEMA).filter(([name]) => !(NOT_IN_DEMO_RUN as readonly string[]).includes(name)),
) as { readonly [M in Exclude<Measurement, NotInDemoRun>]: Schema[M] };

/** In the schema, not written by the demo run. */
export const awaiting = Object.fromEntries(NOT_IN_DEMO_RUN.map((name) => [name, RECORDED_SCHEMA[name]])) as {
  readonly [M in NotInDemoRun]: Schema[M];
};

/** True when the demo run does not write this measurement (every field and tag of one it writes is written). */
export function isAwaiting(measurement: string, _name?: string): boolean {
  return Object.hasOwn(awaiting, measurement);
}
