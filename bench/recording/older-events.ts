/**
 * Events of recordings made before attack events carried `data` (AttackEventData, docs/socket-api.md)
 * and before detectors logged `alarm-cleared`: what a reader of today (the replayed live page) needs,
 * rebuilt from what those recordings hold.
 *   - `attack-start` / `attack-stop` get their `data` back from their text, in the two forms the
 *     recorders wrote: a `gridloop attack` run's `<kind> on <channel>` (target = attack id), and a
 *     live run's `attack <id>: <kind> on <channel>[ for <d> s]` / `attack <id> stopped` /
 *     `attack <id> ended after its <d> s`. A stop takes its start's kind and channel.
 *   - `alarm-cleared`, when a run has alarms and not one clearing, comes from the recorded detector
 *     evaluations: the first evaluation after an alarm whose `alarm` field is false ends it.
 * Events that already carry their data pass through unchanged, so a run of today is read as is.
 */
import type { DetectorSample } from '../../twin/detection/alarms.ts';
import type { RecordedEvent } from './read-run.ts';

const ATTACK_RUN_START = /^(?<kind>\S+) on (?<channel>\S+)$/;
const LIVE_START =
  /^attack (?<attack>\S+): (?<kind>\S+) on (?<channel>\S+?)(?: for (?<duration>[\d.e+-]+) s)?$/;
const LIVE_STOP = /^attack (?<attack>\S+) (?:stopped|ended after its [\d.e+-]+ s)$/;

function hasAttackData(e: RecordedEvent): boolean {
  const d = e.data;
  return (
    d !== undefined &&
    typeof d.attack === 'string' &&
    typeof d.kind === 'string' &&
    typeof d.channel === 'string' &&
    typeof d.from_s === 'number'
  );
}

/**
 * `events` (in time order) with the attack data and alarm clearings older recordings lack;
 * `samples` are the run's recorded detector evaluations, in time order.
 */
export function withAttackMarks(
  events: RecordedEvent[],
  samples: readonly DetectorSample[],
): RecordedEvent[] {
  const started = new Map<string, { kind: string; channel: string; from_s: number }>();
  const out = events.map((e) => {
    if (e.kind !== 'attack-start' && e.kind !== 'attack-stop') return e;
    if (hasAttackData(e)) {
      const d = e.data as { attack: string; kind: string; channel: string; from_s: number };
      started.set(d.attack, d);
      return e;
    }
    if (e.kind === 'attack-start') {
      const live = LIVE_START.exec(e.message)?.groups;
      const run = live ? undefined : ATTACK_RUN_START.exec(e.message)?.groups;
      const attack = live?.attack ?? e.target;
      const found = live ?? run;
      if (!found || attack === undefined) return e;
      const data = { kind: found.kind, channel: found.channel, from_s: e.t_s };
      started.set(attack, data);
      const duration = live?.duration === undefined ? {} : { duration_s: Number(live.duration) };
      return { ...e, data: { ...e.data, attack, ...data, ...duration } };
    }
    const attack = LIVE_STOP.exec(e.message)?.groups?.attack ?? e.target;
    const start = attack === undefined ? undefined : started.get(attack);
    if (attack === undefined || !start) return e;
    return { ...e, data: { ...e.data, attack, ...start, to_s: e.t_s } };
  });
  return [...out, ...clearingsOf(out, samples)].sort((a, b) => a.t_s - b.t_s);
}

/** The `alarm-cleared` events a run recorded before detectors logged them (none when it has any). */
function clearingsOf(events: readonly RecordedEvent[], samples: readonly DetectorSample[]): RecordedEvent[] {
  if (events.some((e) => e.kind === 'alarm-cleared')) return [];
  const cleared: RecordedEvent[] = [];
  for (const alarm of events) {
    if (alarm.kind !== 'alarm') continue;
    const detector = typeof alarm.data?.detector === 'string' ? alarm.data.detector : undefined;
    const end = samples.find(
      (s) => s.t_s > alarm.t_s + 1e-9 && !s.alarm && (detector === undefined || s.detector === detector),
    );
    if (!end) continue;
    cleared.push({
      time_ns: alarm.time_ns + BigInt(Math.round((end.t_s - alarm.t_s) * 1e9)),
      t_s: end.t_s,
      kind: 'alarm-cleared',
      // The text today's detectors log (bench/attacks/live-detectors.ts alarmClearedEventOf).
      message: `${end.detector}: alarm cleared (${end.statistic.toFixed(1)} ≤ ${end.threshold.toFixed(1)})`,
      source: alarm.source,
      data: { detector: end.detector, statistic: end.statistic, threshold: end.threshold },
    });
  }
  return cleared;
}
