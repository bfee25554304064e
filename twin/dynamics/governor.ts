import { clamp, Lag, rampToward } from './lag.ts';

/**
 * Speed governor with permanent droop feeding a prime mover (Saadat, Power System Analysis, §12.2;
 * Kundur §11.1): governor lag τg acting on P_ref − Δf/(R·f0)·S, valve position limited to
 * [P_min, P_max], then a prime-mover lag τT with an optional ramp-rate limit on mechanical power.
 * Powers in MW on the unit's rating S; R is per unit (0.05 = 5 % droop).
 */
export interface GovernorParams {
  rating_mw: number;
  /** Permanent droop, pu frequency per pu power. */
  droop_pu: number;
  tauGovernor_s: number;
  tauTurbine_s: number;
  pmin_mw: number;
  pmax_mw: number;
  /** Maximum |dP_m/dt|, MW/s; Infinity when the prime mover is not rate-limited. */
  rampLimit_mw_s: number;
  /** Frequency deadband of the governor, Hz (symmetric). */
  deadband_hz: number;
}

export class DroopGovernor {
  /** Valve/fuel position expressed as power, MW. */
  valve_mw: number;
  /** Mechanical power delivered, MW. */
  mech_mw: number;
  /** Load reference (set by secondary/tertiary control), MW. */
  reference_mw: number;

  private readonly governorLag: Lag;
  private readonly turbineLag: Lag;

  constructor(
    readonly params: GovernorParams,
    initial_mw: number,
  ) {
    this.governorLag = new Lag(params.tauGovernor_s);
    this.turbineLag = new Lag(params.tauTurbine_s);
    this.valve_mw = initial_mw;
    this.mech_mw = initial_mw;
    this.reference_mw = initial_mw;
  }

  /** Power the governor asks for at frequency deviation `df_hz` (before the lags). */
  demand(df_hz: number, f0_hz: number): number {
    const p = this.params;
    let dev = df_hz;
    if (p.deadband_hz > 0) {
      if (dev > p.deadband_hz) dev -= p.deadband_hz;
      else if (dev < -p.deadband_hz) dev += p.deadband_hz;
      else dev = 0;
    }
    const droopTerm = p.droop_pu > 0 ? (dev / (f0_hz * p.droop_pu)) * p.rating_mw : 0;
    return clamp(this.reference_mw - droopTerm, p.pmin_mw, p.pmax_mw);
  }

  step(df_hz: number, f0_hz: number, dt_s: number): number {
    const p = this.params;
    if (p.rampLimit_mw_s === Number.POSITIVE_INFINITY) {
      this.valve_mw = this.governorLag.step(this.valve_mw, this.demand(df_hz, f0_hz), dt_s);
      this.mech_mw = this.turbineLag.step(this.mech_mw, this.valve_mw, dt_s);
      return this.mech_mw;
    }
    this.valve_mw = this.governorLag.step(this.valve_mw, this.demand(df_hz, f0_hz), dt_s);
    const target = this.turbineLag.step(this.mech_mw, this.valve_mw, dt_s);
    this.mech_mw = rampToward(this.mech_mw, target, p.rampLimit_mw_s, dt_s);
    return this.mech_mw;
  }

  reset(p_mw: number): void {
    this.valve_mw = p_mw;
    this.mech_mw = p_mw;
    this.reference_mw = p_mw;
  }
}
