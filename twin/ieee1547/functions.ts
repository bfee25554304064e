import { clamp, Lag } from '../dynamics/lag.ts';
import {
  DEFAULT_ENTER_SERVICE,
  DEFAULT_FREQUENCY_DROOP,
  DEFAULT_TRIP_SETTINGS,
  DEFAULT_VOLT_VAR,
  type EnterServiceSettings,
  type FrequencyDroopSettings,
  type PerformanceCategory,
  ROCOF_RIDE_THROUGH_HZ_S,
  scaleFrequency,
  TRIP_FUNCTIONS,
  type TripFunction,
  type TripTable,
  type VoltVarSettings,
} from './settings.ts';

/** Everything one inverter's IEEE 1547 functions need, resolved to the grid's nominal frequency. */
export interface Ieee1547Config {
  category: PerformanceCategory;
  trip: TripTable;
  frequencyDroop: FrequencyDroopSettings;
  voltVar: VoltVarSettings;
  enterService: EnterServiceSettings;
  /** Trip when |ROCOF| exceeds the category's ride-through level for this long (s); 0 disables. */
  rocofTripDelay_s: number;
  /** Cease to energise while V is below this (momentary cessation), pu; 0 disables. */
  cessationBelow_pu: number;
}

export function defaultIeee1547(category: PerformanceCategory = 'II'): Ieee1547Config {
  const trip = structuredClone(DEFAULT_TRIP_SETTINGS[category]);
  return {
    category,
    trip,
    frequencyDroop: { ...DEFAULT_FREQUENCY_DROOP },
    voltVar: structuredClone(DEFAULT_VOLT_VAR),
    enterService: { ...DEFAULT_ENTER_SERVICE },
    rocofTripDelay_s: 0.5,
    cessationBelow_pu: category === 'III' ? 0.5 : 0.3,
  };
}

const FUNCTION_INDEX: Record<TripFunction, number> = {
  OV2: 0,
  OV1: 1,
  UV1: 2,
  UV2: 3,
  OF2: 4,
  OF1: 5,
  UF1: 6,
  UF2: 7,
};

/**
 * Runtime state of an inverter's abnormal-condition protection: one timer per trip function
 * (time spent beyond its threshold), a ROCOF timer, and the enter-service timer after a trip.
 * Thresholds are resolved once to the grid's nominal frequency at construction.
 */
export class Ieee1547Protection {
  readonly thresholds = new Float64Array(8);
  readonly clearing_s = new Float64Array(8);
  private readonly timers = new Float64Array(8);
  private rocofTimer = 0;
  private serviceTimer = 0;
  readonly rocofLimit_hz_s: number;
  private readonly enterFmin: number;
  private readonly enterFmax: number;
  tripped = false;
  /** Function that tripped last, or '' (ROCOF trips report 'ROCOF'). */
  tripCause = '';
  /** 0..1 output multiplier while ramping back in after enter service. */
  serviceRamp = 1;

  constructor(
    readonly config: Ieee1547Config,
    readonly f0_hz: number,
  ) {
    for (const fn of TRIP_FUNCTIONS) {
      const i = FUNCTION_INDEX[fn];
      const s = config.trip[fn];
      this.thresholds[i] = fn.includes('F') ? scaleFrequency(s.threshold, f0_hz) : s.threshold;
      this.clearing_s[i] = s.clearingTime_s;
    }
    this.rocofLimit_hz_s = scaleFrequency(ROCOF_RIDE_THROUGH_HZ_S[config.category], f0_hz);
    this.enterFmin = scaleFrequency(config.enterService.fmin_hz, f0_hz);
    this.enterFmax = scaleFrequency(config.enterService.fmax_hz, f0_hz);
  }

  /**
   * Advances the timers by `dt_s` with the DER's terminal voltage, frequency and ROCOF. Returns the
   * name of the function that tripped this step, or null.
   */
  update(vm_pu: number, f_hz: number, rocof_hz_s: number, dt_s: number): string | null {
    const th = this.thresholds;
    const timers = this.timers;
    if (this.tripped) {
      const es = this.config.enterService;
      const ok =
        vm_pu >= es.vmin_pu && vm_pu <= es.vmax_pu && f_hz >= this.enterFmin && f_hz <= this.enterFmax;
      this.serviceTimer = ok ? this.serviceTimer + dt_s : 0;
      if (this.serviceTimer >= es.delay_s - 1e-9) {
        this.tripped = false;
        this.tripCause = '';
        this.serviceRamp = 0;
        timers.fill(0);
        this.rocofTimer = 0;
      }
      return null;
    }
    if (this.serviceRamp < 1) {
      const ramp = this.config.enterService.rampTime_s;
      this.serviceRamp = ramp > 0 ? Math.min(1, this.serviceRamp + dt_s / ramp) : 1;
    }
    timers[0] = vm_pu > th[0] ? timers[0] + dt_s : 0;
    timers[1] = vm_pu > th[1] ? timers[1] + dt_s : 0;
    timers[2] = vm_pu < th[2] ? timers[2] + dt_s : 0;
    timers[3] = vm_pu < th[3] ? timers[3] + dt_s : 0;
    timers[4] = f_hz > th[4] ? timers[4] + dt_s : 0;
    timers[5] = f_hz > th[5] ? timers[5] + dt_s : 0;
    timers[6] = f_hz < th[6] ? timers[6] + dt_s : 0;
    timers[7] = f_hz < th[7] ? timers[7] + dt_s : 0;
    for (let i = 0; i < 8; i++) {
      // Half a step of tolerance: the trip fires on the step whose end reaches the clearing time.
      if (timers[i] > 0 && timers[i] >= this.clearing_s[i] - dt_s * 0.5) {
        this.trip(TRIP_FUNCTIONS[i]);
        return this.tripCause;
      }
    }
    if (this.config.rocofTripDelay_s > 0) {
      this.rocofTimer = Math.abs(rocof_hz_s) > this.rocofLimit_hz_s ? this.rocofTimer + dt_s : 0;
      if (this.rocofTimer >= this.config.rocofTripDelay_s - dt_s * 0.5) {
        this.trip('ROCOF');
        return this.tripCause;
      }
    }
    return null;
  }

  trip(cause: string): void {
    this.tripped = true;
    this.tripCause = cause;
    this.serviceTimer = 0;
    this.serviceRamp = 0;
  }

  /** True while the DER must cease to energise without tripping (momentary cessation). */
  inCessation(vm_pu: number): boolean {
    return vm_pu < this.config.cessationBelow_pu;
  }

  /** Whether (vm, f) lies inside the continuous-operation region where no trip may occur. */
  inNormalRegion(vm_pu: number, f_hz: number): boolean {
    const th = this.thresholds;
    return vm_pu <= th[1] && vm_pu >= th[2] && f_hz <= th[5] && f_hz >= th[6];
  }
}

/**
 * Frequency-droop (frequency-watt) per IEEE 1547-2018 §6.5.2.7: outside the deadband the active
 * power changes by (Δf − db)/(f0·k) of rated power; the response follows a first-order lag whose
 * 90 % time is the open-loop response time. `headroom_mw` limits the upward response (a PV without
 * curtailment has none). Returns the new filtered power set-point.
 */
export class FrequencyWatt {
  private filtered_mw: number;
  private readonly lag: Lag;
  private readonly deadband_hz: number;

  constructor(
    readonly settings: FrequencyDroopSettings,
    readonly f0_hz: number,
    initial_mw: number,
  ) {
    this.filtered_mw = initial_mw;
    // 90 % of a step in the response time: τ = T_OLRT / ln 10.
    this.lag = new Lag(settings.responseTime_s / Math.LN10);
    this.deadband_hz = scaleFrequency(settings.deadband_hz, f0_hz);
  }

  /** Target output before the response-time lag. */
  target(pAvailable_mw: number, pPre_mw: number, rating_mw: number, f_hz: number, pMin_mw: number): number {
    if (!this.settings.enabled) return pPre_mw;
    const df = f_hz - this.f0_hz;
    let delta = 0;
    if (df > this.deadband_hz)
      delta = -((df - this.deadband_hz) / (this.f0_hz * this.settings.droop_pu)) * rating_mw;
    else if (df < -this.deadband_hz)
      delta = -((df + this.deadband_hz) / (this.f0_hz * this.settings.droop_pu)) * rating_mw;
    return clamp(pPre_mw + delta, pMin_mw, pAvailable_mw);
  }

  step(
    pAvailable_mw: number,
    pPre_mw: number,
    rating_mw: number,
    f_hz: number,
    pMin_mw: number,
    dt_s: number,
  ): number {
    const target = this.target(pAvailable_mw, pPre_mw, rating_mw, f_hz, pMin_mw);
    this.filtered_mw = this.lag.step(this.filtered_mw, target, dt_s);
    // Resource limits act at once (a cloud does not wait for the droop filter).
    if (this.filtered_mw > pAvailable_mw) this.filtered_mw = pAvailable_mw;
    return this.filtered_mw;
  }

  reset(p_mw: number): void {
    this.filtered_mw = p_mw;
  }
}

/** Volt-var per IEEE 1547-2018 §5.3.3: piecewise-linear Q(V), lagged by the response time. */
export class VoltVar {
  private filtered_mvar = 0;
  private readonly lag: Lag;

  constructor(readonly settings: VoltVarSettings) {
    this.lag = new Lag(settings.responseTime_s / Math.LN10);
  }

  /** Q (fraction of rated S, injection positive) demanded at `vm_pu`. */
  curve(vm_pu: number): number {
    const v = this.settings.v_pu;
    const q = this.settings.q_pu;
    if (vm_pu <= v[0]) return q[0];
    if (vm_pu >= v[3]) return q[3];
    for (let i = 0; i < 3; i++) {
      if (vm_pu <= v[i + 1]) {
        const span = v[i + 1] - v[i];
        return span > 0 ? q[i] + ((q[i + 1] - q[i]) * (vm_pu - v[i])) / span : q[i + 1];
      }
    }
    return q[3];
  }

  step(vm_pu: number, rating_mva: number, dt_s: number): number {
    if (!this.settings.enabled) return 0;
    this.filtered_mvar = this.lag.step(this.filtered_mvar, this.curve(vm_pu) * rating_mva, dt_s);
    return this.filtered_mvar;
  }
}
