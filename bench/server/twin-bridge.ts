/**
 * Between the real-time loop and the live server: turns loop snapshots into LiveStates for the
 * page, twin events into timeline entries, and API commands into twin commands. Pure: the
 * composer (bench/start-bench.ts) owns the loop and the server and calls these.
 */
import type { TwinCommand, TwinEvent } from '../../twin/api.ts';
import type { DetectorSample } from '../../twin/detection/alarms.ts';
import type { Snapshot } from '../runtime/messages.ts';
import { publishedEmsMode } from '../runtime/snapshot-points.ts';
import type { ApiCommand, GridTopology, LiveDetector, LiveEvent, LiveState } from './api.ts';

/** Maps an API command onto the twin's; undefined for commands the twin does not handle. */
export function toTwinCommand(command: ApiCommand): TwinCommand | undefined {
  switch (command.type) {
    case 'breaker':
      return { kind: 'breaker', id: command.id, closed: command.closed };
    case 'island':
      return {
        kind: 'island',
        islanded: command.islanded,
        ...(command.microgrid === undefined ? {} : { microgrid: command.microgrid }),
      };
    case 'setpoint':
      return {
        kind: 'setpoint',
        deviceId: command.deviceId,
        ...(command.p_mw === undefined ? {} : { p_mw: command.p_mw }),
        ...(command.q_mvar === undefined ? {} : { q_mvar: command.q_mvar }),
      };
    case 'fid-setpoint':
      return {
        kind: 'fid-setpoint',
        fidId: command.fidId,
        p_mw: command.p_mw,
        ...(command.ramp_s ? { ramp_s: command.ramp_s } : {}),
      };
    case 'emergency-stop':
      return { kind: 'emergency-stop' };
    case 'attack': {
      const { type: _type, action, id, ...attack } = command;
      return {
        kind: 'attack',
        action,
        ...(id === undefined ? {} : { id }),
        ...(action === 'start' ? { attack: attack as { kind: string; target: string } } : {}),
      };
    }
    default:
      return undefined;
  }
}

/**
 * Rounds for the live view: 10 µHz, 10 µpu, 10 W (10 var) and 0.1 µs are below anything a page shows, and
 * full doubles would double every state's size for 200 viewers. The recording keeps full precision.
 */
function round(value: number, per: number): number {
  return Math.round(value * per) / per;
}

const ALARMS = /trip|emergency|fault|shed|ufls|overcurrent|resync-failed|lost|^alarm$|detector-failed/;
const WARNINGS = /island|disturbance|offline|overrun|standby|reconnect/;

/** Timeline entry for a twin event; trips, faults, detector alarms and failed scenario verdicts are alarms. */
export function liveEventOf(event: TwinEvent): Omit<LiveEvent, 'time'> {
  const severity =
    event.kind === 'scenario-verdict'
      ? event.data?.passed === true
        ? 'info'
        : 'alarm'
      : ALARMS.test(event.kind)
        ? 'alarm'
        : WARNINGS.test(event.kind)
          ? 'warning'
          : 'info';
  return { ...event, severity, source: 'twin' };
}

/**
 * Builds LiveStates from snapshots. Keeps what snapshots send only on change (bus ids, island
 * membership). Breaker positions, PCC power and EMS modes come from the twin in every snapshot.
 */
export class LiveStateBuilder {
  private busIndex: Int32Array | undefined;
  private islandBuses: string[][] | undefined;
  /** The breakers a page draws: the grid's switches and the lines marked as breakers. */
  private readonly breakerIds: string[];
  private readonly fidIds: Set<string>;
  /** Each live detector's latest evaluation (absent: the run has none). */
  private detectors: Record<string, LiveDetector> | undefined;

  constructor(private readonly topology: GridTopology) {
    this.breakerIds = [
      ...topology.switches.map((s) => s.id),
      ...topology.lines.filter((l) => l.breaker).map((l) => l.id),
    ];
    this.fidIds = new Set(topology.fids.map((f) => f.id));
  }

  /** Takes what a snapshot carries only on change; call for every snapshot, published or not. */
  absorb(snapshot: Snapshot): void {
    if (!this.busIndex && snapshot.busIds) {
      const at = new Map(snapshot.busIds.map((id, i) => [id, i]));
      this.busIndex = Int32Array.from(this.topology.buses, (b) => at.get(b.id) ?? -1);
    }
    if (snapshot.islandBuses) this.islandBuses = snapshot.islandBuses;
  }

  /** Keeps each detector's latest evaluation for the states that follow (the χ² chart). */
  absorbDetectorSamples(samples: readonly DetectorSample[]): void {
    for (const s of samples) {
      // A non-converged estimate has no finite J to draw (its alarm reaches the page as an event).
      if (!Number.isFinite(s.statistic)) continue;
      this.detectors ??= {};
      this.detectors[s.detector] = {
        t_s: s.t_s,
        statistic: round(s.statistic, 1e3),
        threshold: round(s.threshold, 1e3),
        alarm: s.alarm,
      };
    }
  }

  /** The LiveState for the newest absorbed snapshot. */
  build(snapshot: Snapshot): LiveState {
    const devices: LiveState['devices'] = {};
    const fids: NonNullable<LiveState['fids']> = {};
    for (const [id, d] of Object.entries(snapshot.devices)) {
      if (this.fidIds.has(id)) fids[id] = { p_mw: round(d.p_mw, 1e5) };
      else {
        devices[id] = { ...d, p_mw: round(d.p_mw, 1e5), q_mvar: round(d.q_mvar, 1e5) };
        if (d.soc !== undefined) devices[id].soc = round(d.soc, 1e4);
      }
    }
    let switches: Record<string, boolean> | undefined;
    if (snapshot.breakers) {
      switches = {};
      for (const id of this.breakerIds) {
        const closed = snapshot.breakers[id];
        if (closed !== undefined) switches[id] = closed;
      }
    }
    let microgrids: LiveState['microgrids'];
    if (snapshot.microgrids) {
      microgrids = {};
      for (const [id, m] of Object.entries(snapshot.microgrids)) {
        microgrids[id] = {
          pcc_p_mw: round(m.pcc_p_mw, 1e5),
          pcc_q_mvar: round(m.pcc_q_mvar, 1e5),
          ems: publishedEmsMode(m.ems),
          islanded: m.islanded,
        };
      }
    }
    const index = this.busIndex;
    return {
      t_s: snapshot.t_s,
      step: snapshot.step,
      islands: snapshot.islands.map((island, i) => ({
        ...island,
        f_hz: round(island.f_hz, 1e5),
        rocof_hz_s: round(island.rocof_hz_s, 1e4),
        ...(this.islandBuses?.[i] ? { buses: this.islandBuses[i] } : {}),
      })),
      ...(index ? { vm_pu: Array.from(index, (k) => (k >= 0 ? round(snapshot.vm_pu[k], 1e5) : 0)) } : {}),
      devices,
      ...(switches ? { switches } : {}),
      fids,
      ...(microgrids ? { microgrids } : {}),
      loop: {
        lateness_us: round(snapshot.loop.lateness_us, 10),
        work_us: round(snapshot.loop.work_us, 10),
        overruns: snapshot.loop.overruns,
      },
      ...(this.detectors ? { detectors: { ...this.detectors } } : {}),
    };
  }
}
