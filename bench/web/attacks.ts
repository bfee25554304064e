// Attacks and detector alarms as the event stream tells them (the twin's `attack-start`/`attack-stop`
// events, the detectors' `alarm`/`alarm-cleared` events, each with structured `data`;
// docs/socket-api.md): what is attacked now, since when, and whether a detector has noticed. Live
// and replayed runs feed the page the same events.
import type { AttackEventData, LiveEvent } from '../server/api.ts';

export interface Attack {
  id: string;
  kind: string;
  /** Channel attacked, e.g. `bess-hw.f_hz` or `se.vm_pu.14`. */
  channel: string;
  from_s: number;
  /** Twin time it stopped; absent while it lasts. */
  to_s?: number;
}

export interface Alarm {
  t_s: number;
  detector: string;
  target?: string;
  statistic?: number;
  threshold?: number;
  message: string;
  /** Twin time the detector's `alarm-cleared` ended it; absent while it holds. */
  cleared_s?: number;
}

/** A shaded period on the charts; `to_s` absent while it lasts. */
export interface Span {
  kind: 'attack' | 'alarm';
  from_s: number;
  to_s?: number;
}

/** The event's AttackEventData, when it carries one (older recordings' events do not). */
function attackDataOf(event: LiveEvent): AttackEventData | undefined {
  const d = event.data;
  if (!d || typeof d.attack !== 'string' || typeof d.kind !== 'string' || typeof d.channel !== 'string')
    return undefined;
  if (typeof d.from_s !== 'number') return undefined;
  return d as unknown as AttackEventData;
}

const num = (v: unknown) => (typeof v === 'number' ? v : undefined);

export class AttackLog {
  readonly attacks = new Map<string, Attack>();
  readonly alarms: Alarm[] = [];

  add(event: LiveEvent): void {
    // A live command's outcome arrives as `command:attack`, the twin's own (a scripted attack, a
    // duration running out, a replayed run) as attack-start/attack-stop: all carry the same data.
    if (event.kind === 'attack-start' || event.kind === 'attack-stop' || event.kind === 'command:attack') {
      const data = attackDataOf(event);
      if (!data) return;
      const attack = this.attacks.get(data.attack) ?? {
        id: data.attack,
        kind: data.kind,
        channel: data.channel,
        from_s: data.from_s,
      };
      this.attacks.set(attack.id, attack);
      const ended = event.kind === 'attack-stop' || data.to_s !== undefined;
      if (ended && attack.to_s === undefined) attack.to_s = data.to_s ?? event.t_s;
    } else if (event.kind === 'alarm') {
      const data = event.data ?? {};
      const statistic = num(data.statistic);
      const threshold = num(data.threshold);
      this.alarms.push({
        t_s: event.t_s,
        detector: typeof data.detector === 'string' ? data.detector : 'detector',
        ...(event.target === undefined ? {} : { target: event.target }),
        ...(statistic === undefined ? {} : { statistic }),
        ...(threshold === undefined ? {} : { threshold }),
        message: event.message,
      });
    } else if (event.kind === 'alarm-cleared') {
      const detector = event.data?.detector;
      const open = this.alarms.findLast((a) => a.detector === detector && a.cleared_s === undefined);
      if (open) open.cleared_s = event.t_s;
    }
  }

  /** A new run (twin time going back) forgets the old one's marks. */
  reset(): void {
    this.attacks.clear();
    this.alarms.length = 0;
  }

  active(): Attack[] {
    return [...this.attacks.values()].filter((a) => a.to_s === undefined);
  }

  /** Alarms raised since the attack began (and, once it ended, before its end). */
  alarmsDuring(attack: Attack): Alarm[] {
    return this.alarms.filter(
      (a) => a.t_s >= attack.from_s && (attack.to_s === undefined || a.t_s <= attack.to_s),
    );
  }

  /** Attack periods, and alarm periods: from the alarm until the detector clears it. */
  spans(): Span[] {
    const spans: Span[] = [...this.attacks.values()].map((a) => ({
      kind: 'attack',
      from_s: a.from_s,
      ...(a.to_s === undefined ? {} : { to_s: a.to_s }),
    }));
    for (const alarm of this.alarms) {
      spans.push({
        kind: 'alarm',
        from_s: alarm.t_s,
        ...(alarm.cleared_s === undefined ? {} : { to_s: alarm.cleared_s }),
      });
    }
    return spans;
  }
}

/** What on the diagram a channel belongs to: a bus (`se.vm_pu.14`), a line (`se.p_flow.L3`), a device. */
export function channelTarget(channel: string): { bus?: string; line?: string; device?: string } {
  const se = /^se\.(vm_pu|p_inj|q_inj|p_flow|q_flow)\.(.+)$/.exec(channel);
  if (se) return se[1].endsWith('flow') ? { line: se[2] } : { bus: se[2] };
  const dot = channel.lastIndexOf('.');
  return { device: dot > 0 ? channel.slice(0, dot) : channel };
}
