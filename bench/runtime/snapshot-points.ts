import type { Snapshot } from './messages.ts';

export type PointFields = Record<string, number | boolean | string>;
export type PointSink = (
  measurement: string,
  tags: Record<string, string>,
  fields: PointFields,
  time_ns: bigint,
) => void;

/**
 * Turns one loop snapshot into recorder points, following docs/influx-schema.md
 * (measurements island, bus, device, loop). `run` tags are added by the recorder.
 */
export function snapshotToPoints(
  snapshot: Snapshot,
  busIds: readonly string[],
  start_ns: bigint,
  sink: PointSink,
  includeBuses = true,
): void {
  const t = start_ns + BigInt(Math.round(snapshot.t_s * 1e9));
  for (const island of snapshot.islands) {
    sink(
      'island',
      { island: island.id },
      {
        f_hz: island.f_hz,
        rocof_hz_s: island.rocof_hz_s,
        energised: island.energised,
        grid_connected: island.gridConnected,
      },
      t,
    );
  }
  for (let i = 0; includeBuses && i < busIds.length && i < snapshot.vm_pu.length; i++) {
    sink('bus', { bus: busIds[i] }, { vm_pu: snapshot.vm_pu[i], va_deg: snapshot.va_deg[i] }, t);
  }
  for (const [device, d] of Object.entries(snapshot.devices)) {
    const fields: PointFields = { p_mw: d.p_mw, q_mvar: d.q_mvar, online: d.online };
    if (d.soc !== undefined) fields.soc = d.soc;
    if (d.tripped !== undefined) fields.tripped = d.tripped;
    sink('device', { device }, fields, t);
  }
  sink(
    'loop',
    {},
    {
      lateness_us: snapshot.loop.lateness_us,
      work_us: snapshot.loop.work_us,
      overruns: snapshot.loop.overruns,
    },
    t,
  );
}
