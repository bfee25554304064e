import type { Ieee1547Protection } from '../ieee1547/functions.ts';

/** How a unit interacts with island frequency. */
export type UnitKind = 'synchronous' | 'grid-forming' | 'grid-following';

/** What a unit sees of its island and bus at the start of a (sub)step. */
export interface UnitContext {
  t_s: number;
  /** Hour of day (0–24) at this step, for daily profiles. */
  hourOfDay: number;
  f_hz: number;
  f0_hz: number;
  rocof_hz_s: number;
  vm_pu: number;
  /** Island frequency is imposed by the main grid. */
  gridConnected: boolean;
}

/**
 * A unit's per-step numbers, one object shape for every technology. The step loops run over units
 * of five or more classes: `u.p_mw` there is a megamorphic load, and V8 boxes a double read or
 * written that way (a heap allocation per access, per unit, per step); `u.io.p_mw` loads a
 * pointer megamorphically and the double from one map, unboxed.
 */
export class UnitIo {
  p_mw = 0;
  q_mvar = 0;
  pDrive_mw = 0;
  inertia_mws_hz = 0;
}

/**
 * One generating or storage unit. Subclasses model the prime mover / resource and controls; the
 * twin aggregates inertia and power per island. Inertial units (synchronous machines, virtual
 * synchronous machines) deliver P_e = P_m − M·df/dt; grid-following units deliver their command.
 */
export abstract class DerUnit {
  /** Bus index in the twin's bus order (set by the twin). */
  busIndex = -1;
  /** The step's numbers (see UnitIo); the step loops read `io`, everything else the accessors. */
  readonly io = new UnitIo();
  /** Electrical output, MW / Mvar (generator convention). */
  get p_mw(): number {
    return this.io.p_mw;
  }
  set p_mw(v: number) {
    this.io.p_mw = v;
  }
  get q_mvar(): number {
    return this.io.q_mvar;
  }
  set q_mvar(v: number) {
    this.io.q_mvar = v;
  }
  /** Mechanical (inertial units) or commanded (grid-following) active power, MW. */
  get pDrive_mw(): number {
    return this.io.pDrive_mw;
  }
  set pDrive_mw(v: number) {
    this.io.pDrive_mw = v;
  }
  /** 2·H·S/f0 while running, MW·s/Hz. */
  get inertia_mws_hz(): number {
    return this.io.inertia_mws_hz;
  }
  set inertia_mws_hz(v: number) {
    this.io.inertia_mws_hz = v;
  }
  inService = true;
  protection: Ieee1547Protection | null = null;
  /** Share of secondary-control corrections this unit takes (0 = none). */
  participation = 0;
  /** Marginal cost for economic dispatch, currency/MWh. */
  cost_per_mwh = 0;
  /** Whether the EMS may set this unit's reference. */
  dispatchable = false;

  constructor(
    readonly id: string,
    readonly technology: string,
    readonly kind: UnitKind,
    readonly rating_mva: number,
  ) {}

  get tripped(): boolean {
    return this.protection?.tripped ?? false;
  }

  /** Producing (in service, not tripped, running). */
  get active(): boolean {
    return this.inService && !this.tripped && this.running;
  }

  /** `active`, cached once per step by the twin (the getter chain is too slow for inner loops). */
  on = true;

  refresh(): void {
    this.on = this.inService && !this.tripped && this.running;
  }

  /** Prime mover running (gensets may be stopped by the EMS). */
  get running(): boolean {
    return true;
  }

  /** Reference (set-point) active power the controls aim for at nominal frequency, MW. */
  abstract get reference_mw(): number;
  abstract setReference(p_mw: number): void;
  /** Upper / lower active-power capability now, MW. */
  abstract get pmax_mw(): number;
  abstract get pmin_mw(): number;

  /** Advances the unit's own dynamics by dt_s; sets pDrive_mw and q_mvar. */
  abstract advance(ctx: UnitContext, dt_s: number): void;

  /** After the island's swing step: electrical output including the inertial response. */
  settle(rocof_hz_s: number): void {
    const io = this.io;
    if (!this.on) {
      io.p_mw = 0;
      io.q_mvar = 0;
      return;
    }
    io.p_mw = io.pDrive_mw - io.inertia_mws_hz * rocof_hz_s;
  }

  /** Called when the unit trips: drop output and reset dynamic states to zero output. */
  onTrip(): void {
    this.on = false;
    this.p_mw = 0;
    this.q_mvar = 0;
    this.pDrive_mw = 0;
  }

  /** Integrates energy bookkeeping after the network solve (storage SoC, fuel). */
  account(_dt_s: number): void {}
}
