/**
 * Between the real-time loop and the live server: turns loop snapshots into LiveStates for the
 * page, twin events into timeline entries, and API commands into twin commands. Pure: the
 * composer (bench/demo.ts) owns the loop and the server and calls these.
 */
import type { TwinCommand, TwinEvent } from '../../twin/api.ts';
import type { Snapshot } from '../runtime/messages.ts';
import type { ApiCommand, GridTopology, LiveEvent, LiveState } from './api.ts';

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
      return { kind: 'fid-setpoint', fidId: command.fidId, p_mw: command.p_mw };
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
 * Rounds for the live view: 10 µHz, 10 µpu, 10 W and 0.1 µs are below anything a page shows, and
 * full doubles would double every state's size for 200 viewers. The recording keeps full precision.
 */
function round(value: number, per: number): number {
  return Math.round(value * per) / per;
}

const ALARMS = /trip|emergency|fault|shed|ufls|overcurrent|resync-failed|lost/;
const WARNINGS = /island|disturbance|offline|overrun|standby|reconnect/;

/** Timeline entry for a twin event; trips and faults are alarms. */
export function liveEventOf(event: TwinEvent): Omit<LiveEvent, 'time'> {
  const severity = ALARMS.test(event.kind) ? 'alarm' : WARNINGS.test(event.kind) ? 'warning' : 'info';
  return { ...event, severity, source: 'twin' };
}

/**
 * Builds LiveStates from snapshots. Keeps what snapshots send only on change (bus ids, island
 * membership) and the breaker positions, which the twin reports through events and commands.
 */
export class LiveStateBuilder {
  private busIndex: Int32Array | undefined;
  private islandBuses: string[][] | undefined;
  private readonly breakers = new Map<string, { from: string; to: string; closed: boolean }>();
  private readonly fidIds: Set<string>;
  private readonly pccOf = new Map<string, string>();

  constructor(private readonly topology: GridTopology) {
    for (const s of topology.switches) this.breakers.set(s.id, { from: s.from, to: s.to, closed: s.closed });
    for (const l of topology.lines) {
      if (l.breaker) this.breakers.set(l.id, { from: l.from, to: l.to, closed: l.inService });
    }
    this.fidIds = new Set(topology.fids.map((f) => f.id));
    for (const m of topology.microgrids) if (m.pccSwitch) this.pccOf.set(m.id, m.pccSwitch);
  }

  /** Records a breaker position the twin confirmed (command result or event). */
  observe(event: TwinEvent): void {
    const set = (id: string | undefined, closed: boolean) => {
      const b = id === undefined ? undefined : this.breakers.get(id);
      if (b) b.closed = closed;
    };
    if (event.kind === 'breaker') set(event.target, /\bclosed\b/.test(event.message));
    else if (event.kind === 'overcurrent-trip') set(event.target, false);
    else if (event.kind === 'islanded' && event.target) set(this.pccOf.get(event.target), false);
    else if (event.kind === 'reconnected' && event.target) set(this.pccOf.get(event.target), true);
  }

  /** Takes what a snapshot carries only on change; call for every snapshot, published or not. */
  absorb(snapshot: Snapshot): void {
    if (!this.busIndex && snapshot.busIds) {
      const at = new Map(snapshot.busIds.map((id, i) => [id, i]));
      this.busIndex = Int32Array.from(this.topology.buses, (b) => at.get(b.id) ?? -1);
    }
    if (snapshot.islandBuses) this.islandBuses = snapshot.islandBuses;
  }

  /** The LiveState for the newest absorbed snapshot. */
  build(snapshot: Snapshot): LiveState {
    const islandOf = new Map<string, number>();
    this.islandBuses?.forEach((buses, i) => {
      for (const b of buses) islandOf.set(b, i);
    });
    const devices: LiveState['devices'] = {};
    const fids: NonNullable<LiveState['fids']> = {};
    for (const [id, d] of Object.entries(snapshot.devices)) {
      if (this.fidIds.has(id)) fids[id] = { p_mw: round(d.p_mw, 1e5) };
      else {
        devices[id] = { ...d, p_mw: round(d.p_mw, 1e5), q_mvar: round(d.q_mvar, 1e5) };
        if (d.soc !== undefined) devices[id].soc = round(d.soc, 1e4);
      }
    }
    const switches: Record<string, boolean> = {};
    for (const [id, b] of this.breakers) {
      // Ends in different islands are certainly apart, whatever was last heard about the breaker.
      const a = islandOf.get(b.from);
      const z = islandOf.get(b.to);
      switches[id] = b.closed && !(a !== undefined && z !== undefined && a !== z);
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
      switches,
      fids,
      loop: {
        lateness_us: round(snapshot.loop.lateness_us, 10),
        work_us: round(snapshot.loop.work_us, 10),
        overruns: snapshot.loop.overruns,
      },
    };
  }
}
