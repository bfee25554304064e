import { clamp, lagStep, rampToward } from '../dynamics/lag.ts';
import { FrequencyWatt, VoltVar } from '../ieee1547/functions.ts';
import type { FrequencyDroopSettings, VoltVarSettings } from '../ieee1547/settings.ts';
import type { Random } from '../random.ts';
import { type InverterSourceDefaults, PV_DEFAULTS, WIND_DEFAULTS } from './defaults.ts';
import { DerUnit, type UnitContext } from './unit.ts';

/**
 * Grid-following inverter-based source: the resource model gives the available power each step;
 * the inverter applies the IEEE 1547 frequency-droop (frequency-watt) and volt-var functions,
 * momentary cessation at very low voltage, and the enter-service ramp after a trip.
 */
export abstract class InverterSource extends DerUnit {
  readonly frequencyWatt: FrequencyWatt;
  readonly voltVar: VoltVar;
  /** Dispatch set-point (curtailment) as MW; Infinity = deliver all that is available. */
  setpoint_mw = Number.POSITIVE_INFINITY;
  available_mw = 0;
  /** Scenario multiplier on the resource (irradiance drop, wind lull), 0..1+. */
  resourceScale = 1;
  /**
   * The weather changes slowly: the resource model advances every `resourcePeriod_s` (with the
   * accumulated time), not every millisecond step.
   */
  resourcePeriod_s = 0.05;
  private resourceAge_s = Number.POSITIVE_INFINITY;
  private resourceValue = 0;

  constructor(
    id: string,
    technology: string,
    rating_mva: number,
    readonly rating_mw: number,
    frequencyDroop: FrequencyDroopSettings,
    voltVar: VoltVarSettings,
    f0_hz: number,
  ) {
    super(id, technology, 'grid-following', rating_mva);
    this.frequencyWatt = new FrequencyWatt(frequencyDroop, f0_hz, 0);
    this.voltVar = new VoltVar(voltVar);
  }

  /** Starts the droop filter at the present available power (no start-up ramp at t = 0). */
  prime(): void {
    this.frequencyWatt.reset(Math.min(this.setpoint_mw, this.available_mw));
  }

  /** Resource power available now (before curtailment and droop), MW. */
  protected abstract resource(ctx: UnitContext, dt_s: number): number;

  get reference_mw(): number {
    return Math.min(this.setpoint_mw, this.available_mw);
  }

  setReference(p_mw: number): void {
    this.setpoint_mw = p_mw;
  }

  get pmax_mw(): number {
    return this.available_mw;
  }

  get pmin_mw(): number {
    return 0;
  }

  /** Resource power, refreshed every resourcePeriod_s. */
  protected sampledResource(ctx: UnitContext, dt_s: number): number {
    this.resourceAge_s += dt_s;
    if (this.resourceAge_s >= this.resourcePeriod_s - 1e-12 || dt_s === 0) {
      const elapsed = Number.isFinite(this.resourceAge_s) ? this.resourceAge_s : dt_s;
      this.resourceValue = this.resource(ctx, elapsed);
      this.resourceAge_s = 0;
    }
    return this.resourceValue;
  }

  advance(ctx: UnitContext, dt_s: number): void {
    this.available_mw = Math.max(
      0,
      Math.min(this.rating_mw, this.sampledResource(ctx, dt_s) * this.resourceScale),
    );
    if (!this.on) {
      this.pDrive_mw = 0;
      this.q_mvar = 0;
      this.frequencyWatt.reset(0);
      return;
    }
    const ramp = this.protection ? this.protection.serviceRamp : 1;
    const avail = this.available_mw * ramp;
    const pre = Math.min(this.setpoint_mw, avail);
    let p = this.frequencyWatt.step(avail, pre, this.rating_mw, ctx.f_hz, 0, dt_s);
    if (this.protection?.inCessation(ctx.vm_pu)) p = 0;
    this.pDrive_mw = p;
    const q = this.voltVar.step(ctx.vm_pu, this.rating_mva, dt_s);
    const qLimit = Math.sqrt(Math.max(0, this.rating_mva * this.rating_mva - p * p));
    this.q_mvar = this.protection?.inCessation(ctx.vm_pu) ? 0 : clamp(q, -qLimit, qLimit);
  }
}

export interface PvParams {
  rating_mw: number;
  rating_mva: number;
  peakIrradiance_w_m2: number;
  sunrise_h: number;
  sunset_h: number;
  cloudRate_per_h: number;
  cloudDepth: number;
  cloudDuration_s: number;
  cloudEdge_s: number;
  ambient_c: number;
  noct_c: number;
  tempCoeff_per_c: number;
  /** Optional 24 hourly irradiance values (W/m²) replacing the clear-sky shape. */
  irradianceProfile?: number[];
}

export function pvParams(rating_mw: number, rating_mva: number, over: Record<string, unknown>): PvParams {
  return { ...PV_DEFAULTS, rating_mw, rating_mva, ...(over as Partial<PvParams>) };
}

/** Interpolates a 24-value hourly profile at `hour` (wraps at midnight). */
export function hourlyProfile(profile: readonly number[], hour: number): number {
  const n = profile.length;
  const h = ((hour % 24) + 24) % 24;
  const pos = (h / 24) * n;
  const i = Math.floor(pos);
  const frac = pos - i;
  return profile[i % n] * (1 - frac) + profile[(i + 1) % n] * frac;
}

/**
 * Photovoltaic array: clear-sky irradiance (half-sine between sunrise and sunset, or an hourly
 * profile) times seeded cloud transients (Poisson arrivals, exponential durations, first-order
 * edges), cell temperature from the NOCT model and a linear power temperature coefficient.
 */
export class PhotovoltaicUnit extends InverterSource {
  irradiance_w_m2 = 0;
  private cloudFactor = 1;
  private cloudRemaining_s = 0;
  private cloudTarget = 1;

  constructor(
    id: string,
    readonly params: PvParams,
    frequencyDroop: FrequencyDroopSettings,
    voltVar: VoltVarSettings,
    f0_hz: number,
    private readonly random: Random,
  ) {
    super(id, 'pv', params.rating_mva, params.rating_mw, frequencyDroop, voltVar, f0_hz);
    this.cost_per_mwh = PV_DEFAULTS.cost_per_mwh;
  }

  clearSky(hour: number): number {
    const p = this.params;
    if (p.irradianceProfile) return hourlyProfile(p.irradianceProfile, hour);
    const h = ((hour % 24) + 24) % 24;
    if (h <= p.sunrise_h || h >= p.sunset_h) return 0;
    return p.peakIrradiance_w_m2 * Math.sin((Math.PI * (h - p.sunrise_h)) / (p.sunset_h - p.sunrise_h));
  }

  protected resource(ctx: UnitContext, dt_s: number): number {
    const p = this.params;
    if (this.cloudRemaining_s > 0) {
      this.cloudRemaining_s -= dt_s;
      if (this.cloudRemaining_s <= 0) this.cloudTarget = 1;
    } else if (p.cloudRate_per_h > 0 && this.random.next() < (p.cloudRate_per_h / 3600) * dt_s) {
      this.cloudRemaining_s = this.random.exponential(p.cloudDuration_s);
      this.cloudTarget = 1 - clamp(p.cloudDepth * (0.5 + this.random.next()), 0, 0.95);
    }
    this.cloudFactor = lagStep(this.cloudFactor, this.cloudTarget, p.cloudEdge_s, dt_s);
    const g = this.clearSky(ctx.hourOfDay) * this.cloudFactor;
    this.irradiance_w_m2 = g;
    const tCell = p.ambient_c + ((p.noct_c - 20) / 800) * g;
    return p.rating_mw * (g / 1000) * (1 + p.tempCoeff_per_c * (tCell - 25));
  }
}

export interface WindParams {
  rating_mw: number;
  rating_mva: number;
  meanSpeed_m_s: number;
  turbulenceIntensity: number;
  turbulenceTime_s: number;
  cutIn_m_s: number;
  rated_m_s: number;
  cutOut_m_s: number;
  restart_m_s: number;
  /** Optional 24 hourly mean wind speeds, m/s. */
  speedProfile?: number[];
}

export function windParams(rating_mw: number, rating_mva: number, over: Record<string, unknown>): WindParams {
  return { ...WIND_DEFAULTS, rating_mw, rating_mva, ...(over as Partial<WindParams>) };
}

/** Power curve of a pitch-regulated turbine: cubic from cut-in to rated, flat to cut-out. */
export function windPowerCurve(p: WindParams, v: number): number {
  if (v < p.cutIn_m_s || v >= p.cutOut_m_s) return 0;
  if (v >= p.rated_m_s) return p.rating_mw;
  const ci3 = p.cutIn_m_s * p.cutIn_m_s * p.cutIn_m_s;
  return (p.rating_mw * (v * v * v - ci3)) / (p.rated_m_s * p.rated_m_s * p.rated_m_s - ci3);
}

/**
 * Wind turbine (full-converter): mean speed (constant or hourly profile) plus seeded
 * Ornstein–Uhlenbeck turbulence, the power curve, and cut-out with restart hysteresis.
 */
export class WindUnit extends InverterSource {
  speed_m_s: number;
  private turbulence = 0;
  private cutOut = false;

  constructor(
    id: string,
    readonly params: WindParams,
    frequencyDroop: FrequencyDroopSettings,
    voltVar: VoltVarSettings,
    f0_hz: number,
    private readonly random: Random,
  ) {
    super(id, 'wind', params.rating_mva, params.rating_mw, frequencyDroop, voltVar, f0_hz);
    this.speed_m_s = params.meanSpeed_m_s;
    this.cost_per_mwh = WIND_DEFAULTS.cost_per_mwh;
  }

  protected resource(ctx: UnitContext, dt_s: number): number {
    const p = this.params;
    const mean = p.speedProfile ? hourlyProfile(p.speedProfile, ctx.hourOfDay) : p.meanSpeed_m_s;
    const sigma = p.turbulenceIntensity * mean;
    const a = Math.exp(-dt_s / p.turbulenceTime_s);
    this.turbulence = a * this.turbulence + sigma * Math.sqrt(1 - a * a) * this.random.normal();
    const v = Math.max(0, (mean + this.turbulence) * this.resourceScale);
    this.speed_m_s = v;
    if (this.cutOut) {
      if (v < p.restart_m_s) this.cutOut = false;
    } else if (v >= p.cutOut_m_s) this.cutOut = true;
    // resourceScale already acted on the wind speed; undo its effect on the power.
    return this.cutOut ? 0 : windPowerCurve(p, v) / (this.resourceScale || 1);
  }
}

export interface DispatchableInverterParams {
  rating_mw: number;
  rating_mva: number;
  tau_s: number;
  ramp_pu_s: number;
  initial_mw: number;
  cost_per_mwh: number;
}

/**
 * Inverter-interfaced dispatchable source with a slow prime mover and a ramp limit: fuel cell
 * (stack/reformer lag) and micro-turbine (high-speed alternator behind a converter).
 */
export class DispatchableInverter extends InverterSource {
  private output_mw: number;

  constructor(
    id: string,
    technology: 'fuel-cell' | 'micro-turbine',
    readonly params: DispatchableInverterParams,
    frequencyDroop: FrequencyDroopSettings,
    voltVar: VoltVarSettings,
    f0_hz: number,
  ) {
    super(id, technology, params.rating_mva, params.rating_mw, frequencyDroop, voltVar, f0_hz);
    this.output_mw = params.initial_mw;
    this.setpoint_mw = params.initial_mw;
    this.frequencyWatt.reset(params.initial_mw);
    this.cost_per_mwh = params.cost_per_mwh;
    this.dispatchable = true;
    this.participation = params.rating_mw;
  }

  override setReference(p_mw: number): void {
    this.setpoint_mw = clamp(p_mw, 0, this.params.rating_mw);
  }

  override get reference_mw(): number {
    return this.setpoint_mw;
  }

  /** Unused: the prime mover's output is tracked in advance(), which this class overrides. */
  protected resource(): number {
    return this.output_mw;
  }

  override advance(ctx: UnitContext, dt_s: number): void {
    // Available power is what the prime mover can deliver right now: it ramps toward the demanded
    // output, so track the demand (set-point + droop) rather than full rating.
    const demand = this.frequencyWatt.target(
      this.params.rating_mw,
      this.setpoint_mw,
      this.rating_mw,
      ctx.f_hz,
      0,
    );
    const lagged = lagStep(this.output_mw, demand, this.params.tau_s, dt_s);
    this.output_mw = rampToward(this.output_mw, lagged, this.params.ramp_pu_s * this.params.rating_mw, dt_s);
    this.available_mw = this.params.rating_mw;
    if (!this.on) {
      this.pDrive_mw = 0;
      this.q_mvar = 0;
      this.output_mw = 0;
      return;
    }
    const ramp = this.protection ? this.protection.serviceRamp : 1;
    let p = this.output_mw * ramp;
    if (this.protection?.inCessation(ctx.vm_pu)) p = 0;
    this.pDrive_mw = p;
    const q = this.voltVar.step(ctx.vm_pu, this.rating_mva, dt_s);
    const qLimit = Math.sqrt(Math.max(0, this.rating_mva * this.rating_mva - p * p));
    this.q_mvar = clamp(q, -qLimit, qLimit);
  }
}

export function dispatchableParams(
  defaults: InverterSourceDefaults,
  rating_mw: number,
  rating_mva: number,
  initial_mw: number,
  over: Record<string, unknown>,
): DispatchableInverterParams {
  return { ...defaults, rating_mw, rating_mva, initial_mw, ...(over as Partial<DispatchableInverterParams>) };
}
