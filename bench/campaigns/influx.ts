/**
 * Campaign points in InfluxDB (docs/campaigns.md § InfluxDB): with GRIDLOOP_INFLUX_URL set (the
 * same settings as run recording, bench/config/influx-env.ts), the coordinator writes one
 * `campaign_run` point per stored result — tags campaign, run, scenario, status and each parameter;
 * fields passed, figures, wall_s — through the recorder's InfluxSink (batches, spool on outage).
 */
import { join } from 'node:path';
import { influxTargetFromEnv } from '../config/influx-env.ts';
import { InfluxSink } from '../recording/influx-sink.ts';
import { encodeLine } from '../recording/line-protocol.ts';
import type { FieldOf, Measurement } from '../recording/schema.ts';
import type { RunResult } from './execute.ts';
import type { FigureName } from './figures.ts';
import type { Campaign } from './load.ts';

/** Listed in the published schema (bench/recording/schema.ts), which the Campaign dashboard reads. */
export const CAMPAIGN_MEASUREMENT = 'campaign_run' satisfies Measurement;

// A figure missing from the schema would be written but never shown by the dashboard: a compile error.
true satisfies FigureName extends FieldOf<typeof CAMPAIGN_MEASUREMENT> ? true : false;

/** One result as a line of line protocol at `time_ns` (when it was stored). */
export function campaignPoint(campaign: Campaign, r: RunResult, time_ns: bigint): string {
  const tags: Record<string, string> = {
    campaign: campaign.name,
    run: r.id,
    scenario: r.scenario,
    status: r.status,
  };
  for (const [k, v] of Object.entries(r.params)) tags[`p_${k}`] = String(v);
  const fields: Record<string, number | boolean | string> = {
    passed: r.status === 'passed',
    wall_s: r.wall_s,
  };
  for (const [k, v] of Object.entries(r.figures)) if (typeof v === 'number') fields[k] = v;
  return encodeLine(CAMPAIGN_MEASUREMENT, tags, fields, time_ns);
}

/**
 * A writer of campaign points when the environment names an InfluxDB, else undefined. Throws
 * InfluxConfigError for incomplete settings. Its spool folder is `<campaign folder>/spool/influx`.
 */
export async function campaignInflux(
  campaign: Campaign,
  dir: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<{ write(r: RunResult): void; close(): Promise<void> } | undefined> {
  const target = influxTargetFromEnv(env);
  if (!target) return undefined;
  const sink = new InfluxSink({ target, spoolDir: join(dir, 'spool', 'influx') });
  await sink.open(dir);
  return {
    write: (r) => sink.write(`${campaignPoint(campaign, r, BigInt(Date.now()) * 1_000_000n)}\n`, 1),
    close: () => sink.close(),
  };
}
