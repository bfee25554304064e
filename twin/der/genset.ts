import { DroopGovernor } from '../dynamics/governor.ts';
import { clamp, lagStep } from '../dynamics/lag.ts';
import { inertiaOf } from '../dynamics/swing.ts';
import type { GensetDefaults } from './defaults.ts';
import { DerUnit, type UnitContext } from './unit.ts';

export interface GensetParams extends GensetDefaults {
  rating_mw: number;
  rating_mva: number;
  initial_mw: number;
  /** Voltage set-point of the AVR, pu; Q follows a 5 % voltage droop around it. */
  vset_pu: number;
  /** Running at start (false = stopped, e.g. standby). */
  running: boolean;
}

/**
 * Synchronous genset (diesel, natural gas, dual fuel, combustion turbine, CHP): a rotating mass
 * contributing inertia 2HS/f0, a droop governor with prime-mover lag and ramp limit, a start delay
 * when the EMS starts it, and an AVR modelled as a reactive-power voltage droop.
 */
export class SynchronousGenset extends DerUnit {
  readonly governor: DroopGovernor;
  private isRunning: boolean;
  private startTimer = -1;
  private readonly inertiaRunning: number;

  constructor(
    id: string,
    technology: string,
    readonly params: GensetParams,
    f0_hz: number,
  ) {
    super(id, technology, 'synchronous', params.rating_mva);
    this.governor = new DroopGovernor(
      {
        rating_mw: params.rating_mw,
        droop_pu: params.droop_pu,
        tauGovernor_s: params.tauGovernor_s,
        tauTurbine_s: params.tauTurbine_s,
        pmin_mw: params.pmin_pu * params.rating_mw,
        pmax_mw: params.rating_mw,
        rampLimit_mw_s: params.ramp_pu_s * params.rating_mw,
        deadband_hz: 0,
      },
      params.running ? clamp(params.initial_mw, params.pmin_pu * params.rating_mw, params.rating_mw) : 0,
    );
    this.isRunning = params.running;
    this.inertiaRunning = inertiaOf(params.h_s, params.rating_mva, f0_hz);
    this.inertia_mws_hz = this.isRunning ? this.inertiaRunning : 0;
    this.pDrive_mw = this.governor.mech_mw;
    this.p_mw = this.pDrive_mw;
    this.cost_per_mwh = params.cost_per_mwh;
    this.dispatchable = true;
    this.participation = params.rating_mw;
  }

  override get running(): boolean {
    return this.isRunning;
  }

  get reference_mw(): number {
    return this.governor.reference_mw;
  }

  setReference(p_mw: number): void {
    this.governor.reference_mw = clamp(p_mw, this.pmin_mw, this.pmax_mw);
  }

  get pmax_mw(): number {
    return this.isRunning ? this.params.rating_mw : 0;
  }

  get pmin_mw(): number {
    return this.isRunning ? this.params.pmin_pu * this.params.rating_mw : 0;
  }

  /** Starts the prime mover; it synchronises after its start delay. */
  start(): void {
    if (!this.isRunning && this.startTimer < 0) this.startTimer = 0;
  }

  stop(): void {
    this.on = false;
    this.isRunning = false;
    this.startTimer = -1;
    this.inertia_mws_hz = 0;
    this.governor.reset(0);
    this.pDrive_mw = 0;
  }

  get starting(): boolean {
    return this.startTimer >= 0;
  }

  advance(ctx: UnitContext, dt_s: number): void {
    if (this.startTimer >= 0) {
      this.startTimer += dt_s;
      if (this.startTimer >= this.params.startDelay_s) {
        this.startTimer = -1;
        this.isRunning = true;
        this.governor.reset(0);
        this.governor.reference_mw = this.pmin_mw;
      }
    }
    if (!this.on) {
      this.inertia_mws_hz = 0;
      this.pDrive_mw = 0;
      this.q_mvar = 0;
      return;
    }
    this.inertia_mws_hz = this.inertiaRunning;
    this.pDrive_mw = this.governor.step(ctx.f_hz - ctx.f0_hz, ctx.f0_hz, dt_s);
    const qmax = this.params.rating_mva * Math.sqrt(Math.max(0, 1 - this.params.pf * this.params.pf));
    const qTarget = clamp(((this.params.vset_pu - ctx.vm_pu) / 0.05) * qmax, -qmax, qmax);
    this.q_mvar = lagStep(this.q_mvar, qTarget, 0.5, dt_s);
  }

  override onTrip(): void {
    super.onTrip();
    this.inertia_mws_hz = 0;
    this.governor.reset(0);
    this.isRunning = false;
  }
}
