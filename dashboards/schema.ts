/**
 * The measurements, tags and fields the dashboards read.
 *
 * `recorded` transcribes the recorder's published schema (docs/influx-schema.md, "Measurements
 * written today"). `awaiting` lists what the dashboards need but the recorder does not write yet,
 * as defined in docs/grafana.md ("Data the dashboards are waiting for") and reserved under the same
 * names in docs/influx-schema.md: whole measurements (security, which only `gridloop attack`
 * records; `detector` moved to `recorded` when the demo's live detectors started writing it). Panels that name an awaiting item show "No data" until the recorder writes it; test/dashboards-influx.test.ts checks them against synthetic points only, and fails
 * as soon as a recorded run holds one of them, so this list is moved to `recorded` then.
 *
 * The dashboards depend on this published contract, never on the recorder's code. The query builder
 * only accepts names listed here, so a typo is a compile error.
 */

export type FieldType = 'float' | 'integer' | 'boolean' | 'string';

export interface MeasurementSchema {
  readonly tags: readonly string[];
  readonly fields: Readonly<Record<string, FieldType>>;
}

/** Written by the recorder (docs/influx-schema.md). Every point also carries the `run` tag. */
export const recorded = {
  island: {
    tags: ['run', 'island'],
    fields: { f_hz: 'float', rocof_hz_s: 'float', energised: 'boolean', grid_connected: 'boolean' },
  },
  bus: {
    tags: ['run', 'bus', 'island'],
    fields: { vm_pu: 'float', va_deg: 'float' },
  },
  device: {
    tags: ['run', 'device', 'microgrid'],
    fields: { p_mw: 'float', q_mvar: 'float', soc: 'float', online: 'boolean' },
  },
  fid: {
    tags: ['run', 'fid'],
    fields: { p_a_mw: 'float', p_b_mw: 'float', loss_mw: 'float' },
  },
  pcc: {
    tags: ['run', 'microgrid'],
    fields: { p_mw: 'float', q_mvar: 'float' },
  },
  ems: {
    tags: ['run', 'microgrid'],
    fields: { mode: 'string' },
  },
  link: {
    tags: ['run', 'device'],
    fields: { rtt_us: 'float', crc_errors: 'integer', dropped: 'integer', late: 'integer', state: 'string' },
  },
  loop: {
    tags: ['run'],
    fields: { lateness_us: 'float', work_us: 'float', overruns: 'float' },
  },
  recorder: {
    tags: ['run'],
    fields: { queue_bytes: 'float' },
  },
  event: {
    tags: ['run', 'kind'],
    fields: { message: 'string' },
  },
  /** The demo's live χ² detector (bench/attacks/live-detectors.ts) and `gridloop attack`. */
  detector: {
    tags: ['run', 'detector'],
    fields: { statistic: 'float', threshold: 'float', alarm: 'boolean' },
  },
} as const satisfies Record<string, MeasurementSchema>;

/** Needed by the dashboards, not written yet (docs/grafana.md). */
export const awaiting = {
  attack: {
    tags: ['run', 'attack', 'kind'],
    fields: { target: 'string', end_ms: 'integer' },
  },
  auth: {
    tags: ['run', 'device', 'reason'],
    fields: { rejected: 'integer' },
  },
  detection: {
    tags: ['run', 'attack', 'detector'],
    fields: {
      detected: 'boolean',
      time_to_detect_s: 'float',
      false_alarms_per_h: 'float',
      max_abs_df_hz: 'float',
      min_v_pu: 'float',
      energy_not_served_mwh: 'float',
      devices_tripped: 'integer',
    },
  },
} as const satisfies Record<string, MeasurementSchema>;

type Recorded = typeof recorded;
type Awaiting = typeof awaiting;

export type Measurement = keyof Recorded | keyof Awaiting;

export type FieldOf<M extends Measurement> =
  | (M extends keyof Recorded ? keyof Recorded[M]['fields'] : never)
  | (M extends keyof Awaiting ? keyof Awaiting[M]['fields'] : never);

export type TagOf<M extends Measurement> =
  | (M extends keyof Recorded ? Recorded[M]['tags'][number] : never)
  | (M extends keyof Awaiting ? Awaiting[M]['tags'][number] : never);

function part(table: Record<string, MeasurementSchema>, measurement: string): MeasurementSchema | undefined {
  return Object.hasOwn(table, measurement) ? table[measurement] : undefined;
}

/** Tags and fields of a measurement, recorded and awaiting together; undefined when unknown. */
export function measurementSchema(measurement: string): MeasurementSchema | undefined {
  const a = part(recorded, measurement);
  const b = part(awaiting, measurement);
  if (a === undefined && b === undefined) return undefined;
  return {
    tags: [...(a?.tags ?? []), ...(b?.tags ?? [])],
    fields: { ...(a?.fields ?? {}), ...(b?.fields ?? {}) },
  };
}

/** True when the recorder does not write this measurement, tag or field yet. */
export function isAwaiting(measurement: string, name?: string): boolean {
  const a = part(recorded, measurement);
  if (a === undefined) return part(awaiting, measurement) !== undefined;
  if (name === undefined) return false;
  return !(a.tags.includes(name) || Object.hasOwn(a.fields, name));
}
