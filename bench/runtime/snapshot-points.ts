import type { EmsModeName, TwinState } from '../../twin/api.ts';
import type { Grid } from '../../twin/grid/model.ts';
import type { PointFields, PointSink, PointTags } from '../recording/schema.ts';
import type { LinkStats, Snapshot } from './messages.ts';

export type { PointSink };

export interface SnapshotPointOptions {
  /** Write the per-bus `bus` points (the many, slow ones). @default true */
  includeBuses?: boolean;
  /** Island id of each bus now: the `island` tag of `bus` points. */
  busIsland?: ReadonlyMap<string, string>;
  /** Microgrid id of each device: the `microgrid` tag of `device` points. */
  deviceMicrogrid?: ReadonlyMap<string, string>;
}

/** The recorded schema's EMS mode names (docs/influx-schema.md): the twin's `standby-power` is `standby`. */
export type RecordedEmsMode = 'standby' | Exclude<EmsModeName, 'standby-power'>;

/** An EMS mode as the recording and the live state publish it. */
export function publishedEmsMode(mode: EmsModeName): RecordedEmsMode {
  return mode === 'standby-power' ? 'standby' : mode;
}

/**
 * Turns one loop snapshot into recorder points, following docs/influx-schema.md
 * (measurements island, bus, device, fid, pcc, ems, loop). `run` tags are added by the recorder.
 * `pcc` and `ems` are written for every microgrid at every sample: the EMS mode too, so that any
 * dashboard time window holds the mode in force (a few short strings per sample).
 */
export function snapshotToPoints(
  snapshot: Snapshot,
  busIds: readonly string[],
  start_ns: bigint,
  sink: PointSink,
  options: SnapshotPointOptions = {},
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
  if (options.includeBuses ?? true) {
    for (let i = 0; i < busIds.length && i < snapshot.vm_pu.length; i++) {
      const island = options.busIsland?.get(busIds[i]);
      const tags: PointTags<'bus'> = island === undefined ? { bus: busIds[i] } : { bus: busIds[i], island };
      sink('bus', tags, { vm_pu: snapshot.vm_pu[i], va_deg: snapshot.va_deg[i] }, t);
    }
  }
  for (const [device, d] of Object.entries(snapshot.devices)) {
    const fields: PointFields<'device'> = { p_mw: d.p_mw, q_mvar: d.q_mvar, online: d.online };
    if (d.soc !== undefined) fields.soc = d.soc;
    if (d.tripped !== undefined) fields.tripped = d.tripped;
    const microgrid = options.deviceMicrogrid?.get(device);
    sink('device', microgrid === undefined ? { device } : { device, microgrid }, fields, t);
  }
  for (const [fid, f] of Object.entries(snapshot.fids ?? {})) {
    sink('fid', { fid }, { p_a_mw: f.p_a_mw, p_b_mw: f.p_b_mw, loss_mw: f.loss_mw }, t);
  }
  for (const [microgrid, m] of Object.entries(snapshot.microgrids ?? {})) {
    sink('pcc', { microgrid }, { p_mw: m.pcc_p_mw, q_mvar: m.pcc_q_mvar }, t);
    sink('ems', { microgrid }, { mode: publishedEmsMode(m.ems) }, t);
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

/** Updates `busIsland` from the islands' bus lists (when the loop sent them). */
export function updateBusIslands(
  islands: readonly { id: string }[],
  islandBuses: readonly (readonly string[])[] | undefined,
  busIsland: Map<string, string>,
): void {
  if (!islandBuses) return;
  busIsland.clear();
  islands.forEach((island, k) => {
    for (const bus of islandBuses[k] ?? []) busIsland.set(bus, island.id);
  });
}

/** One `link` point per device link, from the loop's link statistics (docs/influx-schema.md). */
export function linkStatsToPoints(links: readonly LinkStats[], time_ns: bigint, sink: PointSink): void {
  for (const link of links) {
    const fields: PointFields<'link'> = {
      crc_errors: BigInt(link.crcErrors),
      dropped: BigInt(link.dropped),
      late: BigInt(link.late),
      state: link.online ? 'online' : 'offline',
    };
    if (Number.isFinite(link.rtt_us_p50)) fields.rtt_us = link.rtt_us_p50;
    sink('link', { device: link.deviceId }, fields, time_ns);
  }
}

/** Microgrid of every unit, DER and hardware device of a grid, from the microgrid of its bus. */
export function deviceMicrogrids(
  grid: Grid,
  hardware: readonly { id: string; bus: string }[] = [],
): Map<string, string> {
  const busMicrogrid = new Map<string, string>();
  for (const bus of grid.buses) if (bus.microgrid !== undefined) busMicrogrid.set(bus.id, bus.microgrid);
  const result = new Map<string, string>();
  for (const device of [...grid.generators, ...grid.ders, ...hardware]) {
    const microgrid = busMicrogrid.get(device.bus);
    if (microgrid !== undefined) result.set(device.id, microgrid);
  }
  return result;
}

/**
 * A twin state seen as a snapshot, without copying, for runs that record in the same process as
 * the twin (simulate, fault-record replay). Only read it before the next step.
 */
export function snapshotOfState(state: TwinState, loop: Snapshot['loop']): Snapshot {
  return {
    t_s: state.t_s,
    step: state.step,
    islands: state.islands,
    // Read by index only, so the twin's typed arrays serve as they are.
    vm_pu: state.vm_pu as unknown as number[],
    va_deg: state.va_deg as unknown as number[],
    devices: state.devices,
    fids: state.fids,
    microgrids: state.microgrids,
    breakers: state.breakers,
    loop,
  };
}

/**
 * A twin state copied into a snapshot that outlives the step, for posting from the loop process
 * to the bench (the twin reuses its arrays every step).
 */
export function copySnapshotOfState(
  state: TwinState,
  loop: { lateness_us: number; work_us: number; overruns: number },
): Snapshot {
  const devices: Snapshot['devices'] = {};
  for (const [id, d] of Object.entries(state.devices)) devices[id] = { ...d };
  return {
    t_s: state.t_s,
    step: state.step,
    islands: state.islands.map((i) => ({
      id: i.id,
      f_hz: i.f_hz,
      rocof_hz_s: i.rocof_hz_s,
      energised: i.energised,
      gridConnected: i.gridConnected,
    })),
    vm_pu: Array.from(state.vm_pu),
    va_deg: Array.from(state.va_deg),
    devices,
    ...(state.fids
      ? { fids: Object.fromEntries(Object.entries(state.fids).map(([id, f]) => [id, { ...f }])) }
      : {}),
    ...(state.microgrids
      ? {
          microgrids: Object.fromEntries(Object.entries(state.microgrids).map(([id, m]) => [id, { ...m }])),
        }
      : {}),
    ...(state.breakers ? { breakers: { ...state.breakers } } : {}),
    loop: { lateness_us: loop.lateness_us, work_us: loop.work_us, overruns: loop.overruns },
  };
}
