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
  /** Microgrids islanded by design (plannedIslands): the `connection` field of `island` points. */
  plannedIslands?: ReadonlySet<string>;
}

/**
 * How an island is connected, as the `island` point's `connection` field records it: to the main
 * grid, islanded by design (every microgrid in it is one the grid file gives no PCC: it never
 * connects), or islanded (a microgrid that can connect is cut off: islanding, a trip).
 */
export type IslandConnection = 'grid-connected' | 'islanded-by-design' | 'islanded';

export function islandConnection(
  island: { id: string; gridConnected: boolean },
  planned: ReadonlySet<string> | undefined,
): IslandConnection {
  if (island.gridConnected) return 'grid-connected';
  const members = island.id.split('+');
  return planned && members.every((id) => planned.has(id)) ? 'islanded-by-design' : 'islanded';
}

/** The microgrids of a grid islanded by design: those with no PCC switch to the main grid. */
export function plannedIslands(grid: Pick<Grid, 'microgrids'>): Set<string> {
  return new Set((grid.microgrids ?? []).filter((m) => !m.pccSwitch).map((m) => m.id));
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
        connection: islandConnection(island, options.plannedIslands),
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
 * Keys of the twin's state records (devices, FIDs, microgrids, breakers), listed once per record:
 * `for…in` over a record with many keys (dictionary mode) allocates a key list every time. The
 * twin builds these records once and updates them in place, so their keys never change.
 */
const recordKeys = new WeakMap<object, string[]>();
function keysOf(record: object): string[] {
  let keys = recordKeys.get(record);
  if (!keys) {
    keys = Object.keys(record);
    recordKeys.set(record, keys);
  }
  return keys;
}

/**
 * Copies `from`'s entries into `into`, reusing its entries: created once as copies, then updated
 * field by field by `update` (named stores: a double stored into an existing field of the same
 * shape is written in place, where a generic keyed store boxes a new number each time).
 */
function copyRecord<T extends object>(
  into: Record<string, T>,
  from: Readonly<Record<string, T>>,
  update: (to: T, from: T) => void,
): Record<string, T> {
  const ids = keysOf(from);
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    const target = into[id];
    if (target) update(target, from[id]);
    else into[id] = { ...from[id] };
  }
  return into;
}

type DeviceEntry = Snapshot['devices'][string];
type FidEntry = NonNullable<TwinState['fids']>[string];
type MicrogridEntry = NonNullable<TwinState['microgrids']>[string];

function updateDevice(to: DeviceEntry, from: DeviceEntry): void {
  to.p_mw = from.p_mw;
  to.q_mvar = from.q_mvar;
  to.online = from.online;
  if (from.soc !== undefined) to.soc = from.soc;
  if (from.tripped !== undefined) to.tripped = from.tripped;
}

function updateFid(to: FidEntry, from: FidEntry): void {
  to.p_a_mw = from.p_a_mw;
  to.p_b_mw = from.p_b_mw;
  to.loss_mw = from.loss_mw;
}

function updateMicrogrid(to: MicrogridEntry, from: MicrogridEntry): void {
  to.pcc_p_mw = from.pcc_p_mw;
  to.pcc_q_mvar = from.pcc_q_mvar;
  to.ems = from.ems;
  to.islanded = from.islanded;
}

function copyNumbers(into: number[], from: ArrayLike<number>): number[] {
  for (let i = 0; i < from.length; i++) into[i] = from[i];
  into.length = from.length;
  return into;
}

/**
 * A copy of the state that outlives the step (the twin reuses its arrays and records), for posting
 * to the bench process. With `into` (a snapshot already posted, so free again) the copy is written
 * over it in place and allocates nothing once its entries exist; entries are never removed (the
 * twin's sets of islands' fields, devices, FIDs, microgrids and breakers are fixed at build time).
 */
export function copySnapshotOfState(
  state: TwinState,
  loop: { lateness_us: number; work_us: number; overruns: number },
  into?: Snapshot,
): Snapshot {
  const s: Snapshot = into ?? {
    t_s: 0,
    step: 0,
    islands: [],
    vm_pu: [],
    va_deg: [],
    devices: {},
    loop: { lateness_us: 0, work_us: 0, overruns: 0 },
  };
  s.t_s = state.t_s;
  s.step = state.step;
  const islands = s.islands;
  for (let i = 0; i < state.islands.length; i++) {
    const from = state.islands[i];
    let to = islands[i];
    if (!to) {
      to = { id: '', f_hz: 0, rocof_hz_s: 0, energised: false, gridConnected: false };
      islands.push(to);
    }
    to.id = from.id;
    to.f_hz = from.f_hz;
    to.rocof_hz_s = from.rocof_hz_s;
    to.energised = from.energised;
    to.gridConnected = from.gridConnected;
  }
  islands.length = state.islands.length;
  copyNumbers(s.vm_pu, state.vm_pu);
  copyNumbers(s.va_deg, state.va_deg);
  copyRecord(s.devices, state.devices, updateDevice);
  if (state.fids) s.fids = copyRecord(s.fids ?? {}, state.fids, updateFid);
  if (state.microgrids) s.microgrids = copyRecord(s.microgrids ?? {}, state.microgrids, updateMicrogrid);
  if (state.breakers) {
    s.breakers ??= {};
    const breakers = s.breakers;
    const ids = keysOf(state.breakers);
    for (let i = 0; i < ids.length; i++) breakers[ids[i]] = state.breakers[ids[i]];
  }
  s.islandBuses = undefined;
  s.busIds = undefined;
  s.loop.lateness_us = loop.lateness_us;
  s.loop.work_us = loop.work_us;
  s.loop.overruns = loop.overruns;
  return s;
}
