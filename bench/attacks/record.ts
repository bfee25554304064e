/**
 * Writes a security run's ground truth, detector samples, alarms and metrics into a run folder, in
 * the measurements docs/grafana.md and dashboards/schema.ts define for the Security dashboard:
 *   attack     one point per attack interval at its start: tags attack, kind; fields target, end_ms
 *   detector   one point per evaluation: tags detector; fields statistic, threshold, alarm
 *   detection  one point per (attack, detector) at the end: detected, time_to_detect_s,
 *              false_alarms_per_h, max_abs_df_hz, min_v_pu, energy_not_served_mwh, devices_tripped
 * plus events: `attack-start`/`attack-stop` (source scenario, data AttackEventData) and `alarm` /
 * `alarm-cleared` (source detector, data AlarmEventData), and a
 * `security-metrics` event whose data holds the whole metrics object.
 */
import type { SecurityHarness } from '../../twin/attacks/security.ts';
import type { SecurityMetrics } from '../../twin/detection/metrics.ts';
import type { RunRecorder } from '../recording/index.ts';
import { alarmClearedEventOf, alarmEventOf } from './live-detectors.ts';

/** Writes labels, detector samples and metrics when the run ends. */
export function recordSecurity(harness: SecurityHarness, metrics: SecurityMetrics, rec: RunRecorder): void {
  const t0 = rec.timeOf(0);
  const ns = (t_s: number) => t0 + BigInt(Math.round(t_s * 1e9));
  const ms = (t_s: number) => t0 / 1_000_000n + BigInt(Math.round(t_s * 1000));
  for (const a of metrics.attacks) {
    rec.point(
      'attack',
      { attack: a.id, kind: a.kind },
      { target: a.target, end_ms: ms(a.stop_s) },
      ns(a.start_s),
    );
    const data = { attack: a.id, kind: a.kind, channel: a.target, from_s: a.start_s };
    rec.event({
      kind: 'attack-start',
      source: 'scenario',
      message: `${a.kind} on ${a.target}`,
      target: a.id,
      t_s: a.start_s,
      data,
    });
    rec.event({
      kind: 'attack-stop',
      source: 'scenario',
      message: `${a.kind} on ${a.target}`,
      target: a.id,
      t_s: a.stop_s,
      data: { ...data, to_s: a.stop_s },
    });
  }
  for (const a of harness.log.alarms) rec.event({ ...alarmEventOf(a), source: 'detector' });
  for (const c of harness.log.cleared) rec.event({ ...alarmClearedEventOf(c), source: 'detector' });
  for (const s of harness.log.samples) {
    if (!Number.isFinite(s.statistic)) continue;
    rec.point(
      'detector',
      { detector: s.detector },
      { statistic: s.statistic, threshold: s.threshold, alarm: s.alarm },
      ns(s.t_s),
    );
  }
  const end = ns(metrics.duration_s);
  for (const a of metrics.attacks) {
    for (const d of metrics.detectors) {
      const ttd = a.detectedBy[d.detector];
      rec.point(
        'detection',
        { attack: a.id, detector: d.detector },
        {
          detected: ttd !== undefined,
          time_to_detect_s: ttd ?? Number.NaN,
          false_alarms_per_h: d.falseAlarmsPerHour,
          max_abs_df_hz: a.maxFrequencyDeviation_hz,
          min_v_pu: metrics.impact.minVoltage_pu,
          energy_not_served_mwh: metrics.impact.energyNotServed_mwh,
          devices_tripped: BigInt(metrics.impact.devicesTripped),
        },
        end,
      );
    }
  }
  rec.event({
    kind: 'security-metrics',
    source: 'recorder',
    message: metrics.attacks
      .map(
        (a) => `${a.id}: ${a.detected ? `detected after ${a.timeToDetect_s?.toFixed(3)} s` : 'not detected'}`,
      )
      .join('; '),
    t_s: metrics.duration_s,
    data: metrics as unknown as Record<string, unknown>,
  });
}
