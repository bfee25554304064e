/**
 * IEEE 1547-2018 checks on a recorded run, at system level: they look at the recorded island
 * frequencies, ROCOF and bus voltages, and at the devices' trip/online changes. Thresholds come
 * from twin/ieee1547/settings.ts (Tables 11–15 and 21, 60 Hz basis, scaled by f0/60).
 *
 * They are information, never the run's verdict (bench/recording/verdict.ts): the first three
 * describe the disturbance the run applied (a scripted fault or generator trip takes voltage,
 * frequency or ROCOF out of these ranges on purpose: the standard then allows a trip, it is no
 * failure), and the recording does not say which device sits in which island. A scenario that
 * wants IEEE 1547 behaviour judged asks for the `ieee1547-compliance` assertion.
 *
 * - continuous-operation ranges: frequency within UF1..OF1, voltage within 0.88..1.10 pu;
 * - ROCOF, as the mean over a window of at least 0.1 s (§6.5.2.5), within the category's
 *   ride-through capability (Table 21);
 * - mandatory trip: when an excursion beyond a trip threshold lasted longer than its clearing
 *   time, some device tripped or went offline by then (plus 100 ms of measurement latency);
 * - no trip inside the continuous-operation region: a device that tripped while every recorded
 *   frequency and voltage was inside it failed to ride through (trips within 2 s after an island
 *   lost the grid are anti-islanding, allowed).
 *
 * Trips the scenario or an operator commanded (`DeviceTransition.commanded`) count for neither of
 * the last two: they are the stimulus, not the device's protection.
 *
 * Which device sits in which island is not part of the recording; a run with several DERs in
 * different islands is judged with all of them together.
 */
import {
  DEFAULT_TRIP_SETTINGS,
  type PerformanceCategory,
  ROCOF_RIDE_THROUGH_HZ_S,
  scaleFrequency,
  type TripFunction,
} from '../../twin/ieee1547/settings.ts';
import type { RunData, Series } from './run-data.ts';

export interface ComplianceCheck {
  name: string;
  passed: boolean;
  /** One line: what was measured against what. */
  detail: string;
}

const CONTINUOUS_V_PU: [number, number] = [0.88, 1.1];
const TRIP_LATENCY_S = 0.1;
const ANTI_ISLANDING_GRACE_S = 2;
/** IEEE 1547-2018 §6.5.2.5: ROCOF is averaged over a window of at least 0.1 s. */
const ROCOF_WINDOW_S = 0.1;

/** Steepest mean slope over windows of at least `window_s` (the shortest the samples allow). */
function steepestMeanSlope(
  series: Series,
  window_s: number,
): { slope: number; from_s: number; to_s: number } {
  let best = { slope: 0, from_s: Number.NaN, to_s: Number.NaN };
  let j = 0;
  for (let i = 1; i < series.t_s.length; i++) {
    while (j + 1 < i && series.t_s[i] - series.t_s[j + 1] >= window_s - 1e-9) j++;
    const span = series.t_s[i] - series.t_s[j];
    if (span < window_s - 1e-9) continue;
    const slope = (series.values[i] - series.values[j]) / span;
    if (Number.isNaN(best.from_s) || Math.abs(slope) > Math.abs(best.slope))
      best = { slope, from_s: series.t_s[j], to_s: series.t_s[i] };
  }
  return best;
}

/** Longest stretch where `beyond(value)` holds (time from first to first-not-beyond sample). */
function longestExcursion(
  series: Series,
  beyond: (v: number) => boolean,
): { start_s: number; duration_s: number; worst: number } | undefined {
  let best: { start_s: number; duration_s: number; worst: number } | undefined;
  let start = -1;
  let worst = Number.NaN;
  const n = series.t_s.length;
  for (let i = 0; i <= n; i++) {
    const inside = i < n && beyond(series.values[i]);
    if (inside) {
      if (start < 0) {
        start = i;
        worst = series.values[i];
      } else if (Math.abs(series.values[i] - series.values[start]) > Math.abs(worst - series.values[start])) {
        worst = series.values[i];
      }
    } else if (start >= 0) {
      const end = i < n ? series.t_s[i] : series.t_s[n - 1];
      const duration = end - series.t_s[start];
      if (!best || duration > best.duration_s)
        best = { start_s: series.t_s[start], duration_s: duration, worst };
      start = -1;
    }
  }
  return best;
}

function valueAt(series: Series, t: number): number {
  let lo = 0;
  let hi = series.t_s.length - 1;
  if (hi < 0) return Number.NaN;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (series.t_s[mid] <= t) lo = mid;
    else hi = mid - 1;
  }
  return series.values[lo];
}

/** Nominal frequency: what the manifest says, else 50 or 60 Hz whichever the data sits nearer. */
export function nominalFrequency(data: RunData, stated?: number): number {
  if (stated === 50 || stated === 60) return stated;
  const first = data.frequency[0]?.values[0];
  return first !== undefined && Math.abs(first - 60) < Math.abs(first - 50) ? 60 : 50;
}

export function ieee1547Checks(
  data: RunData,
  category: PerformanceCategory = 'II',
  f0_hz = 50,
): ComplianceCheck[] {
  const trips = DEFAULT_TRIP_SETTINGS[category];
  const hz = (fn: TripFunction) => scaleFrequency(trips[fn].threshold, f0_hz);
  const [fLow, fHigh] = [hz('UF1'), hz('OF1')];
  const checks: ComplianceCheck[] = [];
  const fmt = (x: number, d = 3) => x.toFixed(d);

  for (const f of data.frequency) {
    const ex = longestExcursion(f, (v) => v < fLow || v > fHigh);
    checks.push({
      name: `frequency within continuous operation (${fmt(fLow, 2)}..${fmt(fHigh, 2)} Hz), island ${f.name}`,
      passed: !ex,
      detail: ex
        ? `left the range for ${fmt(ex.duration_s)} s from t = ${fmt(ex.start_s)} s, reaching ${fmt(ex.worst)} Hz`
        : `min ${fmt(Math.min(...f.values))} Hz, max ${fmt(Math.max(...f.values))} Hz`,
    });
  }
  if (data.voltage.length > 0) {
    let worst: { bus: string; ex: NonNullable<ReturnType<typeof longestExcursion>> } | undefined;
    let vmin = Number.POSITIVE_INFINITY;
    let vmax = Number.NEGATIVE_INFINITY;
    for (const v of data.voltage) {
      for (const x of v.values) {
        if (x < vmin) vmin = x;
        if (x > vmax) vmax = x;
      }
      const ex = longestExcursion(v, (x) => x > 0.01 && (x < CONTINUOUS_V_PU[0] || x > CONTINUOUS_V_PU[1]));
      if (ex && (!worst || ex.duration_s > worst.ex.duration_s)) worst = { bus: v.name, ex };
    }
    checks.push({
      name: `voltage within continuous operation (${CONTINUOUS_V_PU[0]}..${CONTINUOUS_V_PU[1]} pu), all energised buses`,
      passed: !worst,
      detail: worst
        ? `bus ${worst.bus} left the range for ${fmt(worst.ex.duration_s)} s from t = ${fmt(worst.ex.start_s)} s, reaching ${fmt(worst.ex.worst)} pu`
        : `min ${fmt(vmin)} pu, max ${fmt(vmax)} pu`,
    });
  }
  const rocofLimit = scaleFrequency(ROCOF_RIDE_THROUGH_HZ_S[category], f0_hz);
  for (const f of data.frequency) {
    // The instantaneous figure (the twin's per-step df/dt) is shown beside the standard's mean.
    const r = data.rocof.find((x) => x.name === f.name);
    let peak = 0;
    let at = 0;
    for (let i = 0; r && i < r.values.length; i++) {
      if (Math.abs(r.values[i]) > Math.abs(peak)) {
        peak = r.values[i];
        at = r.t_s[i];
      }
    }
    const mean = steepestMeanSlope(f, ROCOF_WINDOW_S);
    checks.push({
      name: `ROCOF (${ROCOF_WINDOW_S} s mean) within category ${category} ride-through (${fmt(rocofLimit, 2)} Hz/s), island ${f.name}`,
      passed: Math.abs(mean.slope) <= rocofLimit,
      detail: `${
        Number.isNaN(mean.from_s)
          ? 'samples too few for a 0.1 s mean'
          : `steepest ${ROCOF_WINDOW_S} s mean ${fmt(mean.slope)} Hz/s over t = ${fmt(mean.from_s)}..${fmt(mean.to_s)} s`
      }${r ? `; instantaneous peak ${fmt(peak)} Hz/s at t = ${fmt(at)} s` : ''}`,
    });
  }

  // Mandatory trip: excursion longer than the clearing time → a device must have tripped by then.
  // A link going offline is a communication fault, not a protective trip: only `tripped` counts,
  // and only a trip the device's protection made (not one the scenario or an operator commanded).
  const protectionTrips = data.transitions.filter((d) => d.kind === 'tripped' && !d.commanded);
  const commandedTrips = data.transitions.filter((d) => d.kind === 'tripped' && d.commanded);
  const tripTimes = protectionTrips.map((d) => d.t_s);
  const mustTrip: { fn: TripFunction; series: Series[]; beyond: (v: number) => boolean; unit: string }[] = [
    { fn: 'OF2', series: data.frequency, beyond: (v) => v > hz('OF2'), unit: 'Hz' },
    { fn: 'UF2', series: data.frequency, beyond: (v) => v < hz('UF2'), unit: 'Hz' },
    { fn: 'OF1', series: data.frequency, beyond: (v) => v > hz('OF1'), unit: 'Hz' },
    { fn: 'UF1', series: data.frequency, beyond: (v) => v < hz('UF1'), unit: 'Hz' },
    { fn: 'OV2', series: data.voltage, beyond: (v) => v > trips.OV2.threshold, unit: 'pu' },
    { fn: 'OV1', series: data.voltage, beyond: (v) => v > trips.OV1.threshold, unit: 'pu' },
    { fn: 'UV2', series: data.voltage, beyond: (v) => v > 0.01 && v < trips.UV2.threshold, unit: 'pu' },
    { fn: 'UV1', series: data.voltage, beyond: (v) => v > 0.01 && v < trips.UV1.threshold, unit: 'pu' },
  ];
  for (const { fn, series, beyond, unit } of mustTrip) {
    const clearing = trips[fn].clearingTime_s;
    let required: { name: string; start_s: number; duration_s: number } | undefined;
    for (const s of series) {
      const ex = longestExcursion(s, beyond);
      if (ex && ex.duration_s > clearing && (!required || ex.start_s < required.start_s)) {
        required = { name: s.name, ...ex };
      }
    }
    const threshold = unit === 'Hz' ? hz(fn) : trips[fn].threshold;
    if (!required) {
      checks.push({
        name: `${fn} mandatory trip (${fmt(threshold, 2)} ${unit}, ${clearing} s)`,
        passed: true,
        detail: 'no excursion lasted longer than the clearing time',
      });
      continue;
    }
    const deadline = required.start_s + clearing + TRIP_LATENCY_S;
    const tripped = tripTimes.find((t) => t >= required!.start_s && t <= deadline);
    checks.push({
      name: `${fn} mandatory trip (${fmt(threshold, 2)} ${unit}, ${clearing} s)`,
      passed: tripped !== undefined,
      detail:
        tripped !== undefined
          ? `${required.name} beyond threshold from t = ${fmt(required.start_s)} s; a device tripped at ${fmt(tripped)} s`
          : `${required.name} beyond threshold for ${fmt(required.duration_s)} s from t = ${fmt(required.start_s)} s; no device tripped by ${fmt(deadline)} s`,
    });
  }

  // Trips where every recorded quantity was inside the continuous-operation region.
  const islandingTimes: number[] = [];
  for (const g of data.gridConnected) {
    for (let i = 1; i < g.values.length; i++)
      if (g.values[i - 1] === 1 && g.values[i] === 0) islandingTimes.push(g.t_s[i]);
  }
  const unjustified = protectionTrips.filter((tr) => {
    if (islandingTimes.some((t) => tr.t_s >= t && tr.t_s <= t + ANTI_ISLANDING_GRACE_S)) return false;
    const look = Math.max(0, tr.t_s - TRIP_LATENCY_S);
    const fOk = data.frequency.every((f) => {
      const v = valueAt(f, look);
      return Number.isNaN(v) || (v >= fLow && v <= fHigh);
    });
    const vOk = data.voltage.every((s) => {
      const v = valueAt(s, look);
      return Number.isNaN(v) || v <= 0.01 || (v >= CONTINUOUS_V_PU[0] && v <= CONTINUOUS_V_PU[1]);
    });
    return fOk && vOk;
  });
  checks.push({
    name: 'no trip while frequency and voltage were inside the continuous-operation region',
    passed: unjustified.length === 0,
    detail:
      unjustified.length === 0
        ? `${tripTimes.length} device trip(s) by protection, all justified`
        : unjustified.map((t) => `${t.device} ${t.kind} at ${fmt(t.t_s)} s`).join('; '),
  });
  if (commandedTrips.length > 0) {
    const last = checks[checks.length - 1];
    last.detail += `; commanded, not judged: ${commandedTrips.map((t) => `${t.device} at ${fmt(t.t_s)} s`).join(', ')}`;
  }
  return checks;
}
