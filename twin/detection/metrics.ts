/**
 * Detection metrics against ground truth. An attack counts as detected by a detector when that
 * detector raises an alarm (rising edge) in [start, stop + grace); time to detect is from the
 * start to the first such alarm. Alarms outside every attack's [start, stop + grace) are false
 * alarms; per hour is over the attack-free time. An alarm that names its attack (a refused block or
 * meter reading, AlarmEvent.attack) counts for that attack only, from its start on, and is never false;
 * such detectors of artefacts (AlarmLog.decision) are clean on every honest artefact they judged, and
 * their false alarms are refusals of honest artefacts, whenever they happen. For detectors that evaluate periodically the
 * false-alarm fraction is the share of attack-free evaluations with the alarm on.
 */

import type { TwinAddOnHost as Twin } from '../addons.ts';
import type { TwinState } from '../api.ts';
import type { AttackInterval } from '../attacks/engine.ts';
import type { AlarmLog } from './alarms.ts';

export interface AttackMetrics extends AttackInterval {
  detected: boolean;
  /** Detectors that alarmed in the window, with their time to detect (s). */
  detectedBy: Record<string, number>;
  /** Earliest over all detectors, or null. */
  timeToDetect_s: number | null;
  /** Largest |f − f_nominal| of any energised island during the attack window. */
  maxFrequencyDeviation_hz: number;
  /** Largest (max f − min f) of one island during the attack window: what the attack stirred up. */
  frequencySwing_hz: number;
}

export interface DetectorMetrics {
  detector: string;
  evaluations: number;
  cleanEvaluations: number;
  /** Attack-free evaluations with the alarm on, as a fraction. */
  falseAlarmFraction: number;
  falseAlarms: number;
  falseAlarmsPerHour: number;
}

export interface Impact {
  maxFrequencyDeviation_hz: number;
  minVoltage_pu: number;
  /** Nominal demand (no daily profile) of loads disconnected by protection or shedding, integrated. */
  energyNotServed_mwh: number;
  devicesTripped: number;
}

export interface SecurityMetrics {
  duration_s: number;
  grace_s: number;
  attacks: AttackMetrics[];
  detectors: DetectorMetrics[];
  impact: Impact;
}

/** Tracks the physical impact of a run, step by step (no allocation per step). */
export class ImpactMeter {
  readonly impact: Impact = {
    maxFrequencyDeviation_hz: 0,
    minVoltage_pu: Number.POSITIVE_INFINITY,
    energyNotServed_mwh: 0,
    devicesTripped: 0,
  };
  /** Sample of |Δf| per step for per-attack windows: (t, |Δf|) pairs. */
  private readonly t: number[] = [];
  private readonly df: number[] = [];
  /** Per step, the frequency of each island by id (NaN while de-energised). */
  private readonly islandF = new Map<string, number[]>();

  constructor(private readonly twin: Twin) {}

  update(state: TwinState): void {
    const f0 = this.twin.grid.frequency_hz;
    let df = 0;
    for (const isl of state.islands) {
      if (isl.energised) df = Math.max(df, Math.abs(isl.f_hz - f0));
      let series = this.islandF.get(isl.id);
      if (!series) {
        series = new Array(this.t.length).fill(Number.NaN);
        this.islandF.set(isl.id, series);
      }
      series.push(isl.energised ? isl.f_hz : Number.NaN);
    }
    for (const series of this.islandF.values())
      if (series.length < this.t.length + 1) series.push(Number.NaN);
    const imp = this.impact;
    imp.maxFrequencyDeviation_hz = Math.max(imp.maxFrequencyDeviation_hz, df);
    this.t.push(state.t_s);
    this.df.push(df);
    for (let i = 0; i < state.vm_pu.length; i++) {
      // De-energised buses (0 pu) are counted by energy not served, not as a voltage minimum.
      if (state.vm_pu[i] > 0.05 && state.vm_pu[i] < imp.minVoltage_pu) imp.minVoltage_pu = state.vm_pu[i];
    }
    const loads = this.twin.loads;
    let shed = 0;
    for (let i = 0; i < loads.ids.length; i++)
      if (!loads.connected[i]) shed += loads.p0[i] * loads.scale[i] + loads.extraP[i];
    imp.energyNotServed_mwh += (shed * this.twin.dt_s) / 3600;
    for (const e of state.events) if (e.kind === 'der-trip') imp.devicesTripped++;
  }

  swingBetween(from_s: number, to_s: number): number {
    let swing = 0;
    for (const series of this.islandF.values()) {
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      for (let i = 0; i < this.t.length; i++) {
        if (this.t[i] < from_s || this.t[i] >= to_s || Number.isNaN(series[i])) continue;
        lo = Math.min(lo, series[i]);
        hi = Math.max(hi, series[i]);
      }
      if (hi >= lo) swing = Math.max(swing, hi - lo);
    }
    return swing;
  }

  maxDeviationBetween(from_s: number, to_s: number): number {
    let m = 0;
    for (let i = 0; i < this.t.length; i++)
      if (this.t[i] >= from_s && this.t[i] < to_s) m = Math.max(m, this.df[i]);
    return m;
  }
}

export function computeMetrics(
  intervals: readonly AttackInterval[],
  log: AlarmLog,
  duration_s: number,
  impact: ImpactMeter,
  grace_s = 1,
): SecurityMetrics {
  const windows = intervals.map((a) => [a.start_s, Math.min(duration_s, a.stop_s) + grace_s] as const);
  const underAttack = (t: number) => windows.some(([s, e]) => t >= s && t < e);
  const attacks: AttackMetrics[] = intervals.map((a, k) => {
    const [s, e] = windows[k];
    const detectedBy: Record<string, number> = {};
    for (const al of log.alarms) {
      // A detector of artefacts names the attack whose artefact it refused (an honest one: none).
      const mine = log.artefactDetectors.has(al.detector) ? al.attack === a.id : al.t_s < e;
      if (mine && al.t_s >= s && detectedBy[al.detector] === undefined) detectedBy[al.detector] = al.t_s - s;
    }
    const times = Object.values(detectedBy);
    return {
      ...a,
      stop_s: Math.min(duration_s, a.stop_s),
      detected: times.length > 0,
      detectedBy,
      timeToDetect_s: times.length ? Math.min(...times) : null,
      maxFrequencyDeviation_hz: impact.maxDeviationBetween(s, e),
      frequencySwing_hz: impact.swingBetween(s, e),
    };
  });
  // Attack-free time: the run minus the union of the windows.
  const sorted = windows
    .map(([s, e]) => [Math.max(0, s), Math.min(duration_s, e)])
    .sort((x, y) => x[0] - y[0]);
  let covered = 0;
  let reach = 0;
  for (const [s, e] of sorted) {
    const from = Math.max(s, reach);
    if (e > from) covered += e - from;
    reach = Math.max(reach, e);
  }
  const cleanHours = Math.max(1e-9, (duration_s - covered) / 3600);
  const names = [...new Set(log.samples.map((x) => x.detector))];
  const detectors = names.map((detector): DetectorMetrics => {
    const samples = log.samples.filter((x) => x.detector === detector);
    // A detector of artefacts (a block, a reading) is clean on every honest artefact it judged.
    const honest = log.artefactDetectors.has(detector)
      ? (x: { t_s: number; attack?: string }) => x.attack === undefined
      : (x: { t_s: number }) => !underAttack(x.t_s);
    const clean = samples.filter(honest);
    const falseAlarms = log.alarms.filter(
      (x) => x.detector === detector && x.attack === undefined && honest(x),
    ).length;
    return {
      detector,
      evaluations: samples.length,
      cleanEvaluations: clean.length,
      falseAlarmFraction: clean.length ? clean.filter((x) => x.alarm).length / clean.length : 0,
      falseAlarms,
      falseAlarmsPerHour: falseAlarms / cleanHours,
    };
  });
  return { duration_s, grace_s, attacks, detectors, impact: { ...impact.impact } };
}
