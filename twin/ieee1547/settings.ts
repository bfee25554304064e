/**
 * IEEE 1547-2018 settings: abnormal-voltage and abnormal-frequency trip tables (Tables 11–13 and
 * 15), frequency-droop (frequency-watt, §6.5.2.7 / Table 24), volt-var (§5.3.3, Table 8) and
 * ROCOF ride-through (§6.5.2.5, Table 21). The standard is written for 60 Hz; for other nominal
 * frequencies the frequency thresholds are scaled by f0/60 (documented in docs/twin.md) unless a
 * DER overrides them.
 */

export type PerformanceCategory = 'I' | 'II' | 'III';
export type TripFunction = 'OV2' | 'OV1' | 'UV1' | 'UV2' | 'OF2' | 'OF1' | 'UF1' | 'UF2';
export const TRIP_FUNCTIONS: readonly TripFunction[] = [
  'OV2',
  'OV1',
  'UV1',
  'UV2',
  'OF2',
  'OF1',
  'UF1',
  'UF2',
];

export interface TripSetting {
  /** Threshold: pu voltage for OV/UV, Hz (at 60 Hz nominal) for OF/UF. */
  threshold: number;
  clearingTime_s: number;
}

export interface AllowedRange {
  threshold: [number, number];
  clearingTime_s: [number, number];
}

export type TripTable = Record<TripFunction, TripSetting>;

const FREQUENCY_DEFAULTS: Pick<TripTable, 'OF2' | 'OF1' | 'UF1' | 'UF2'> = {
  OF2: { threshold: 62.0, clearingTime_s: 0.16 },
  OF1: { threshold: 61.2, clearingTime_s: 300 },
  UF1: { threshold: 58.5, clearingTime_s: 300 },
  UF2: { threshold: 56.5, clearingTime_s: 0.16 },
};

const FREQUENCY_RANGES: Pick<Record<TripFunction, AllowedRange>, 'OF2' | 'OF1' | 'UF1' | 'UF2'> = {
  OF2: { threshold: [61.8, 66.0], clearingTime_s: [0.16, 1000] },
  OF1: { threshold: [61.0, 66.0], clearingTime_s: [180, 1000] },
  UF1: { threshold: [50.0, 59.0], clearingTime_s: [180, 1000] },
  UF2: { threshold: [50.0, 57.0], clearingTime_s: [0.16, 1000] },
};

/** Default trip settings per category (IEEE 1547-2018 Tables 11, 12, 13 and 15), 60 Hz basis. */
export const DEFAULT_TRIP_SETTINGS: Record<PerformanceCategory, TripTable> = {
  I: {
    OV2: { threshold: 1.2, clearingTime_s: 0.16 },
    OV1: { threshold: 1.1, clearingTime_s: 2.0 },
    UV1: { threshold: 0.7, clearingTime_s: 2.0 },
    UV2: { threshold: 0.45, clearingTime_s: 0.16 },
    ...FREQUENCY_DEFAULTS,
  },
  II: {
    OV2: { threshold: 1.2, clearingTime_s: 0.16 },
    OV1: { threshold: 1.1, clearingTime_s: 2.0 },
    UV1: { threshold: 0.7, clearingTime_s: 10.0 },
    UV2: { threshold: 0.45, clearingTime_s: 0.16 },
    ...FREQUENCY_DEFAULTS,
  },
  III: {
    OV2: { threshold: 1.2, clearingTime_s: 0.16 },
    OV1: { threshold: 1.1, clearingTime_s: 13.0 },
    UV1: { threshold: 0.88, clearingTime_s: 21.0 },
    UV2: { threshold: 0.5, clearingTime_s: 2.0 },
    ...FREQUENCY_DEFAULTS,
  },
};

/** Ranges of allowable settings per category (same tables). */
export const ALLOWED_TRIP_RANGES: Record<PerformanceCategory, Record<TripFunction, AllowedRange>> = {
  I: {
    OV2: { threshold: [1.2, 1.2], clearingTime_s: [0.16, 0.16] },
    OV1: { threshold: [1.1, 1.2], clearingTime_s: [1.0, 13.0] },
    UV1: { threshold: [0.0, 0.88], clearingTime_s: [2.0, 21.0] },
    UV2: { threshold: [0.0, 0.5], clearingTime_s: [0.16, 2.0] },
    ...FREQUENCY_RANGES,
  },
  II: {
    OV2: { threshold: [1.2, 1.2], clearingTime_s: [0.16, 0.16] },
    OV1: { threshold: [1.1, 1.2], clearingTime_s: [1.0, 13.0] },
    UV1: { threshold: [0.0, 0.88], clearingTime_s: [2.0, 21.0] },
    UV2: { threshold: [0.0, 0.5], clearingTime_s: [0.16, 2.0] },
    ...FREQUENCY_RANGES,
  },
  III: {
    OV2: { threshold: [1.2, 1.2], clearingTime_s: [0.16, 0.16] },
    OV1: { threshold: [1.1, 1.2], clearingTime_s: [1.0, 13.0] },
    UV1: { threshold: [0.0, 0.88], clearingTime_s: [21.0, 50.0] },
    UV2: { threshold: [0.0, 0.5], clearingTime_s: [2.0, 21.0] },
    ...FREQUENCY_RANGES,
  },
};

/** ROCOF the DER must ride through, Hz/s (Table 21; 60 Hz basis, scaled like frequencies). */
export const ROCOF_RIDE_THROUGH_HZ_S: Record<PerformanceCategory, number> = { I: 0.5, II: 2.0, III: 3.0 };

/** Frequency-droop (frequency-watt) parameters; defaults of Table 24. */
export interface FrequencyDroopSettings {
  /** Deadband, Hz (60 Hz basis). */
  deadband_hz: number;
  /** Per-unit droop (0.05 = 5 %). */
  droop_pu: number;
  /** Open-loop response time (time to 90 % of a step change), s. */
  responseTime_s: number;
  enabled: boolean;
}

export const DEFAULT_FREQUENCY_DROOP: FrequencyDroopSettings = {
  deadband_hz: 0.036,
  droop_pu: 0.05,
  responseTime_s: 5,
  enabled: true,
};

/** Volt-var curve: four points (V pu, Q as a fraction of rated apparent power, injection positive). */
export interface VoltVarSettings {
  v_pu: [number, number, number, number];
  q_pu: [number, number, number, number];
  responseTime_s: number;
  enabled: boolean;
}

/** Category B default volt-var curve (Table 8), V_ref = 1 pu. */
export const DEFAULT_VOLT_VAR: VoltVarSettings = {
  v_pu: [0.92, 0.98, 1.02, 1.08],
  q_pu: [0.44, 0, 0, -0.44],
  responseTime_s: 5,
  enabled: true,
};

/** Enter-service criteria after a trip (§4.10.3, defaults). */
export interface EnterServiceSettings {
  vmin_pu: number;
  vmax_pu: number;
  /** Frequency window, Hz at 60 Hz basis. */
  fmin_hz: number;
  fmax_hz: number;
  delay_s: number;
  /** Ramp time back to full output, s. */
  rampTime_s: number;
}

export const DEFAULT_ENTER_SERVICE: EnterServiceSettings = {
  vmin_pu: 0.917,
  vmax_pu: 1.05,
  fmin_hz: 59.5,
  fmax_hz: 60.1,
  delay_s: 300,
  rampTime_s: 300,
};

/** Converts a 60 Hz-basis frequency threshold to the grid's nominal frequency. */
export function scaleFrequency(hz60: number, f0_hz: number): number {
  return (hz60 * f0_hz) / 60;
}

/** Checks settings against the allowed ranges; returns one message per violation. */
export function validateTripTable(category: PerformanceCategory, table: TripTable): string[] {
  const problems: string[] = [];
  const ranges = ALLOWED_TRIP_RANGES[category];
  for (const fn of TRIP_FUNCTIONS) {
    const s = table[fn];
    const r = ranges[fn];
    if (s.threshold < r.threshold[0] - 1e-9 || s.threshold > r.threshold[1] + 1e-9) {
      problems.push(`${fn} threshold ${s.threshold} outside [${r.threshold[0]}, ${r.threshold[1]}]`);
    }
    if (s.clearingTime_s < r.clearingTime_s[0] - 1e-9 || s.clearingTime_s > r.clearingTime_s[1] + 1e-9) {
      problems.push(
        `${fn} clearing time ${s.clearingTime_s} s outside [${r.clearingTime_s[0]}, ${r.clearingTime_s[1]}]`,
      );
    }
  }
  return problems;
}
