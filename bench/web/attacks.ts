// Attacks and detector alarms as the event stream tells them (the twin's `attack-start`/`attack-stop`
// events, the detectors' `alarm` events; docs/security.md): what is attacked now, since when, and
// whether a detector has noticed. Live and replayed runs feed the page the same events.
import type { LiveEvent } from '../server/api.ts';

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
}

/** A shaded period on the charts; `to_s` absent while it lasts. */
export interface Span {
  kind: 'attack' | 'alarm';
  from_s: number;
  to_s?: number;
}

/** `attack <id>: <kind> on <channel>[ for <d> s]`, the twin's attack-start message (twin/attacks/live.ts). */
const START = /\battack (\S+): (\S+) on (\S+)/;
/** `attack <id> stopped` / `attack <id> ended after its <d> s`. */
const STOP = /\battack (\S+) (?:stopped|ended)/;
/** An alarm with no attack running to end it is shaded this long. */
export const LONE_ALARM_S = 1;

export class AttackLog {
  readonly attacks = new Map<string, Attack>();
  readonly alarms: Alarm[] = [];

  add(event: LiveEvent): void {
    // A live command's outcome arrives as `command:attack` ("<who>: attack …"), the twin's own
    // (a scripted attack, a duration running out, a replayed run) as attack-start/attack-stop.
    const fromCommand = event.kind === 'command:attack';
    const start = event.kind === 'attack-start' || fromCommand ? START.exec(event.message) : null;
    const stop = event.kind === 'attack-stop' || (fromCommand && STOP.test(event.message));
    if (start) {
      const id = event.target ?? start[1];
      this.attacks.set(id, { id, kind: start[2], channel: start[3], from_s: event.t_s });
    } else if (stop) {
      const id = event.target ?? STOP.exec(event.message)?.[1];
      const attack = id === undefined ? undefined : this.attacks.get(id);
      if (attack && attack.to_s === undefined) attack.to_s = event.t_s;
    } else if (event.kind === 'alarm') {
      const data = event.data ?? {};
      this.alarms.push({
        t_s: event.t_s,
        detector: typeof data.detector === 'string' ? data.detector : event.message.split(':')[0],
        ...(event.target === undefined ? {} : { target: event.target }),
        ...(typeof data.statistic === 'number' ? { statistic: data.statistic } : {}),
        ...(typeof data.threshold === 'number' ? { threshold: data.threshold } : {}),
        message: event.message,
      });
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

  /** Attack periods, and alarm periods: from the alarm to the end of the attack it caught. */
  spans(): Span[] {
    const spans: Span[] = [...this.attacks.values()].map((a) => ({
      kind: 'attack',
      from_s: a.from_s,
      ...(a.to_s === undefined ? {} : { to_s: a.to_s }),
    }));
    for (const alarm of this.alarms) {
      const during = [...this.attacks.values()].find(
        (a) => alarm.t_s >= a.from_s && (a.to_s === undefined || alarm.t_s <= a.to_s),
      );
      const to_s = during ? during.to_s : alarm.t_s + LONE_ALARM_S;
      spans.push({ kind: 'alarm', from_s: alarm.t_s, ...(to_s === undefined ? {} : { to_s }) });
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
