import { COMMANDED_TRIP_CAUSES } from '../../twin/scenario/assertions.ts';
import type { AssertionResult, Point, RecordedEvent, RecordedRun } from '../recording/index.ts';

/** One plotted or checked quantity: times in seconds from the run start. */
export interface Series {
  name: string;
  t_s: number[];
  values: number[];
}

/** Device trip/online changes, seconds from the run start. */
export interface DeviceTransition {
  device: string;
  t_s: number;
  kind: 'tripped' | 'offline' | 'back';
  /**
   * A trip the scenario or an operator commanded (a `der-trip` event whose cause is a command,
   * e.g. a scripted generator trip), not the device's protection operating.
   */
  commanded?: boolean;
}

export interface RunData {
  start_ns: bigint;
  duration_s: number;
  frequency: Series[];
  rocof: Series[];
  gridConnected: Series[];
  voltage: Series[];
  power: Series[];
  soc: Series[];
  transitions: DeviceTransition[];
  events: (RecordedEvent & { rel_s: number })[];
  assertions: AssertionResult[];
}

/** How far before the sample that shows a trip its commanding event may lie (≥ one record interval). */
const COMMANDED_TRIP_MATCH_S = 1;

function push(map: Map<string, Series>, name: string, t: number, value: number) {
  let series = map.get(name);
  if (!series) {
    series = { name, t_s: [], values: [] };
    map.set(name, series);
  }
  series.t_s.push(t);
  series.values.push(value);
}

const num = (v: unknown): number | undefined =>
  typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;

/** Sorts a run's points into the series the report plots and checks (docs/influx-schema.md). */
export function extractRunData(run: RecordedRun): RunData {
  const start_ns = BigInt(run.manifest.start_ns);
  const rel = (time_ns: bigint) => Number(time_ns - start_ns) / 1e9;
  const frequency = new Map<string, Series>();
  const rocof = new Map<string, Series>();
  const connected = new Map<string, Series>();
  const voltage = new Map<string, Series>();
  const power = new Map<string, Series>();
  const soc = new Map<string, Series>();
  const transitions: DeviceTransition[] = [];
  const deviceState = new Map<string, { tripped: boolean; online: boolean }>();
  const assertions: AssertionResult[] = [...(run.manifest.assertions ?? [])];
  const fromManifest = new Set(assertions.map((a) => a.name));
  let last = 0;
  const points: Point[] = [...run.points].sort((a, b) =>
    a.time_ns < b.time_ns ? -1 : a.time_ns > b.time_ns ? 1 : 0,
  );
  for (const p of points) {
    const t = rel(p.time_ns);
    if (t > last) last = t;
    switch (p.measurement) {
      case 'island': {
        const id = p.tags.island ?? '?';
        const f = num(p.fields.f_hz);
        if (f !== undefined && p.fields.energised !== false) push(frequency, id, t, f);
        const r = num(p.fields.rocof_hz_s);
        if (r !== undefined && p.fields.energised !== false) push(rocof, id, t, r);
        if (typeof p.fields.grid_connected === 'boolean')
          push(connected, id, t, p.fields.grid_connected ? 1 : 0);
        break;
      }
      case 'bus': {
        const v = num(p.fields.vm_pu);
        if (v !== undefined) push(voltage, p.tags.bus ?? '?', t, v);
        break;
      }
      case 'device': {
        const id = p.tags.device ?? '?';
        const pm = num(p.fields.p_mw);
        if (pm !== undefined) push(power, id, t, pm);
        const s = num(p.fields.soc);
        if (s !== undefined) push(soc, id, t, s);
        const state = deviceState.get(id) ?? { tripped: false, online: true };
        const tripped = p.fields.tripped === true;
        const online = p.fields.online !== false;
        if (tripped && !state.tripped) transitions.push({ device: id, t_s: t, kind: 'tripped' });
        else if (!online && state.online) transitions.push({ device: id, t_s: t, kind: 'offline' });
        else if ((state.tripped && !tripped) || (!state.online && online))
          transitions.push({ device: id, t_s: t, kind: 'back' });
        deviceState.set(id, { tripped, online });
        break;
      }
      case 'assertion': {
        const name = p.tags.name ?? '?';
        if (fromManifest.has(name)) break;
        assertions.push({
          name,
          passed: p.fields.passed === true,
          value: num(p.fields.value),
          message: typeof p.fields.message === 'string' ? p.fields.message : undefined,
          t_s: t,
        });
        break;
      }
    }
  }
  // A commanded trip shows in the device's points at the first sample after its der-trip event.
  const commandedTrips = run.events.filter(
    (e) => e.kind === 'der-trip' && COMMANDED_TRIP_CAUSES.has(String(e.data?.cause)),
  );
  for (const tr of transitions) {
    if (tr.kind !== 'tripped') continue;
    tr.commanded = commandedTrips.some((e) => {
      const t = rel(e.time_ns);
      return e.target === tr.device && t <= tr.t_s + 1e-9 && t > tr.t_s - COMMANDED_TRIP_MATCH_S;
    });
  }
  const end_ns = run.manifest.end_ns ? BigInt(run.manifest.end_ns) : undefined;
  return {
    start_ns,
    duration_s: end_ns !== undefined ? Math.max(last, rel(end_ns)) : last,
    frequency: [...frequency.values()],
    rocof: [...rocof.values()],
    gridConnected: [...connected.values()],
    voltage: [...voltage.values()],
    power: [...power.values()],
    soc: [...soc.values()],
    transitions,
    events: run.events.map((e) => ({ ...e, rel_s: rel(e.time_ns) })),
    assertions,
  };
}
