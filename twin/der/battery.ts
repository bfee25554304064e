import { DroopGovernor } from '../dynamics/governor.ts';
import { clamp, lagStep } from '../dynamics/lag.ts';
import { inertiaOf } from '../dynamics/swing.ts';
import { FrequencyWatt, VoltVar } from '../ieee1547/functions.ts';
import type { FrequencyDroopSettings, VoltVarSettings } from '../ieee1547/settings.ts';
import { DerUnit, type UnitContext } from './unit.ts';

export interface BatteryParams {
  rating_mw: number;
  rating_mva: number;
  energy_mwh: number;
  soc0: number;
  socMin: number;
  socMax: number;
  etaCharge: number;
  etaDischarge: number;
  /** 'grid-forming': virtual synchronous machine with droop; 'grid-following': P set-point. */
  mode: 'grid-forming' | 'grid-following';
  virtualInertia_s: number;
  droop_pu: number;
  tau_s: number;
  initial_mw: number;
  vset_pu: number;
}

/**
 * Battery energy storage. State of charge integrates the delivered power with separate charge and
 * discharge efficiencies (charging stores η_c·P_in, discharging draws P_out/η_d from the cells).
 * Power is limited by the rating and by the SoC window. Grid-forming: a virtual synchronous
 * machine (virtual inertia H_v, droop R, power-loop lag τ) that the island's swing equation
 * aggregates like a machine. Grid-following: a set-point plus IEEE 1547 frequency-watt in both
 * directions.
 */
export class BatteryUnit extends DerUnit {
  soc: number;
  /** Energy delivered to the grid / drawn from it since start, MWh (for balance checks). */
  energyOut_mwh = 0;
  energyIn_mwh = 0;
  readonly vsm: DroopGovernor;
  readonly frequencyWatt: FrequencyWatt;
  readonly voltVar: VoltVar;
  private readonly vsmInertia: number;
  private setpoint_mw: number;

  constructor(
    id: string,
    readonly params: BatteryParams,
    frequencyDroop: FrequencyDroopSettings,
    voltVar: VoltVarSettings,
    f0_hz: number,
  ) {
    super(
      id,
      'battery',
      params.mode === 'grid-forming' ? 'grid-forming' : 'grid-following',
      params.rating_mva,
    );
    this.soc = params.soc0;
    this.setpoint_mw = params.initial_mw;
    this.vsm = new DroopGovernor(
      {
        rating_mw: params.rating_mw,
        droop_pu: params.droop_pu,
        tauGovernor_s: params.tau_s,
        tauTurbine_s: 0,
        pmin_mw: -params.rating_mw,
        pmax_mw: params.rating_mw,
        rampLimit_mw_s: Number.POSITIVE_INFINITY,
        deadband_hz: 0,
      },
      params.initial_mw,
    );
    this.frequencyWatt = new FrequencyWatt(frequencyDroop, f0_hz, params.initial_mw);
    this.voltVar = new VoltVar(voltVar);
    this.vsmInertia =
      params.mode === 'grid-forming' ? inertiaOf(params.virtualInertia_s, params.rating_mva, f0_hz) : 0;
    this.inertia_mws_hz = this.vsmInertia;
    this.pDrive_mw = params.initial_mw;
    this.p_mw = params.initial_mw;
    this.dispatchable = true;
    this.participation = params.rating_mw;
  }

  get reference_mw(): number {
    return this.params.mode === 'grid-forming' ? this.vsm.reference_mw : this.setpoint_mw;
  }

  setReference(p_mw: number): void {
    const p = clamp(p_mw, -this.params.rating_mw, this.params.rating_mw);
    this.setpoint_mw = p;
    this.vsm.reference_mw = p;
  }

  /** Discharge capability now (0 at or below the minimum SoC), MW. */
  get pmax_mw(): number {
    return this.soc > this.params.socMin ? this.params.rating_mw : 0;
  }

  /** Charge capability now (negative; 0 at or above the maximum SoC), MW. */
  get pmin_mw(): number {
    return this.soc < this.params.socMax ? -this.params.rating_mw : 0;
  }

  advance(ctx: UnitContext, dt_s: number): void {
    if (!this.on) {
      this.pDrive_mw = 0;
      this.q_mvar = 0;
      this.inertia_mws_hz = 0;
      return;
    }
    const pmax = this.pmax_mw;
    const pmin = this.pmin_mw;
    if (this.params.mode === 'grid-forming') {
      this.inertia_mws_hz = this.vsmInertia;
      this.vsm.params.pmax_mw = pmax;
      this.vsm.params.pmin_mw = pmin;
      this.pDrive_mw = clamp(this.vsm.step(ctx.f_hz - ctx.f0_hz, ctx.f0_hz, dt_s), pmin, pmax);
      // Q–V droop (5 %) when not the island's voltage reference (the power flow then overrides Q).
      const qmax = Math.sqrt(Math.max(0, this.rating_mva ** 2 - this.pDrive_mw ** 2));
      this.q_mvar = lagStep(
        this.q_mvar,
        clamp(((this.params.vset_pu - ctx.vm_pu) / 0.05) * qmax, -qmax, qmax),
        0.1,
        dt_s,
      );
    } else {
      const ramp = this.protection ? this.protection.serviceRamp : 1;
      const pre = clamp(this.setpoint_mw, pmin, pmax);
      this.pDrive_mw = this.frequencyWatt.step(
        pmax * ramp,
        pre,
        this.params.rating_mw,
        ctx.f_hz,
        pmin * ramp,
        dt_s,
      );
      const q = this.voltVar.step(ctx.vm_pu, this.rating_mva, dt_s);
      const qLimit = Math.sqrt(Math.max(0, this.rating_mva ** 2 - this.pDrive_mw ** 2));
      this.q_mvar = clamp(q, -qLimit, qLimit);
    }
  }

  override settle(rocof_hz_s: number): void {
    super.settle(rocof_hz_s);
    // The converter cannot exceed its rating even for the inertial response.
    this.p_mw = clamp(this.p_mw, -this.params.rating_mw, this.params.rating_mw);
  }

  override account(dt_s: number): void {
    const p = this.p_mw;
    const e = this.params.energy_mwh;
    const dt_h = dt_s / 3600;
    if (p >= 0) {
      this.energyOut_mwh += p * dt_h;
      this.soc -= (p * dt_h) / this.params.etaDischarge / e;
    } else {
      this.energyIn_mwh += -p * dt_h;
      this.soc += (-p * dt_h * this.params.etaCharge) / e;
    }
  }
}
