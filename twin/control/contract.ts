/**
 * The controller contract: how anything that steers the twin (the built-in EMS, secondary and
 * tertiary control, a virtual power plant, a P2P market, an operator) attaches to it from outside.
 *
 * A controller is a small lifecycle over the twin's published state: every `period_s` of twin time
 * it receives the state and writes actions; it never touches the twin's internals. Who may drive
 * what is declared up front (`claims`) and checked when the run is built, so two controllers can
 * never fight over one actuator. The same controller runs deterministically inside `simulate`
 * (called between steps on the twin's clock) and on the real-time bench off the step path (state in,
 * actions out between steps): its speed can delay its own actions, never the loop.
 *
 * This file is types only: the twin implements them (twin/control/), the bench hosts them
 * (bench/runtime/), rooms such as vpp/ and market/ provide controllers.
 */
import type { TwinEvent, TwinState } from '../api.ts';

/** The kinds of thing a controller can drive. */
export type ActuatorKind = 'der' | 'fid' | 'breaker' | 'load';

/** One actuator: a DER (set-points), a FID (transfer set-point), a breaker, a controllable load. */
export interface ActuatorRef {
  kind: ActuatorKind;
  /** Id as in the grid file (DER, FID, switch/branch or load id). */
  id: string;
}

/** `kind:id`, e.g. `der:bess1`: the key under which ownership is recorded. */
export type ActuatorKey = `${ActuatorKind}:${string}`;

export function actuatorKey(ref: ActuatorRef): ActuatorKey {
  return `${ref.kind}:${ref.id}`;
}

/**
 * What a controller asks for. Powers in MW/Mvar, generator convention; a set-point outside the
 * actuator's limits is clamped by the twin and reported, never passed through; NaN is refused.
 */
export type ControllerAction =
  | { kind: 'der-setpoint'; id: string; p_mw?: number; q_mvar?: number }
  /**
   * `ramp_s`: reach `p_mw` linearly from the schedule now over that many seconds (a schedule ramp
   * between intervals, docs/twin.md "FIDs"); absent or 0 = at once (under the converter's ramp rate).
   */
  | { kind: 'fid-setpoint'; id: string; p_mw: number; ramp_s?: number }
  | { kind: 'breaker'; id: string; closed: boolean }
  /** Fraction of the load's demand shed, 0 (none) to 1 (all). */
  | { kind: 'load-curtail'; id: string; fraction: number };

/** The actuator an action drives (for the ownership check). */
export function actuatorOf(action: ControllerAction): ActuatorRef {
  switch (action.kind) {
    case 'der-setpoint':
      return { kind: 'der', id: action.id };
    case 'fid-setpoint':
      return { kind: 'fid', id: action.id };
    case 'breaker':
      return { kind: 'breaker', id: action.id };
    case 'load-curtail':
      return { kind: 'load', id: action.id };
  }
}

/** A DER as a controller sees it when it is attached (static facts; live values are in TwinState). */
export interface DerInfo {
  id: string;
  technology: string;
  bus: string;
  /** Microgrid id of its bus, when the bus belongs to one. */
  microgrid?: string;
  rating_mva: number;
  /** Capability at attach time, MW (live capability follows weather and state). */
  pmin_mw: number;
  pmax_mw: number;
  /** Storage energy capacity, MWh (batteries only). */
  capacity_mwh?: number;
  /** Marginal cost, currency/MWh. */
  cost_per_mwh: number;
  dispatchable: boolean;
  /**
   * Holds its island's frequency (a synchronous machine or a grid-forming converter): in an island it
   * takes up by droop whatever the schedules leave. Absent in catalogs from before it was published.
   */
  gridForming?: boolean;
  /** The hardware slot (a real board through the device link). */
  hardware: boolean;
}

export interface FidInfo {
  id: string;
  busA: string;
  busB: string;
  rating_mw: number;
}

export interface LoadInfo {
  id: string;
  bus: string;
  microgrid?: string;
  /** Whether demand response may curtail it. */
  controllable: boolean;
}

/** A bus of the network model (TwinCatalog.network). */
export interface NetworkBus {
  id: string;
  /** Operating limits of the voltage magnitude, pu (the grid file's vmin/vmax). */
  vmin_pu: number;
  vmax_pu: number;
  /** Fixed shunt admittance, pu on baseMVA (G + jB, B capacitive positive). */
  shuntG_pu: number;
  shuntB_pu: number;
}

/**
 * A line or transformer of the network model: π model on the system base, the MATPOWER
 * convention (series r + jx, total charging b, off-nominal tap and phase shift at the from side).
 * Its breaker position is `TwinState.breakers[id]`.
 */
export interface NetworkBranch {
  id: string;
  kind: 'line' | 'transformer';
  from: string;
  to: string;
  r_pu: number;
  x_pu: number;
  b_pu: number;
  tap: number;
  shift_deg: number;
  /** Thermal rating (apparent power at either end), MVA; 0 = unrated. */
  rating_mva: number;
}

/**
 * The network as a controller needs it to linearise the power flow around the published state
 * (`TwinState.vm_pu`/`va_deg`): buses with their voltage limits, branches with impedances and
 * ratings, zero-impedance switches. Static; positions are in `TwinState.breakers`.
 */
export interface NetworkModel {
  baseMVA: number;
  buses: readonly NetworkBus[];
  branches: readonly NetworkBranch[];
  /** Zero-impedance switching devices (their two buses are one node while closed). */
  switches: readonly { id: string; from: string; to: string }[];
}

/** What the twin tells a controller once, when it is attached: the actuators that exist. */
export interface TwinCatalog {
  f0_hz: number;
  dt_s: number;
  busIds: readonly string[];
  microgrids: readonly { id: string; buses: readonly string[] }[];
  ders: readonly DerInfo[];
  fids: readonly FidInfo[];
  loads: readonly LoadInfo[];
  /** Switch and branch ids usable as breakers. */
  breakers: readonly string[];
  /** The network model (for network-aware controllers such as the TVPP). */
  network?: NetworkModel;
}

/** Why an action was not applied (reported back to the controller and into the run's events). */
export interface RefusedAction {
  action: ControllerAction;
  reason: 'not-owner' | 'latched' | 'unknown-actuator' | 'invalid-value';
  message: string;
}

/** A controller: period, what it may drive, and one decision per period. */
export interface Controller {
  /** Unique within the run, e.g. `ems:mg1`, `vpp`, `market`. */
  readonly id: string;
  /** Twin time between decisions, s (≥ the twin's dt_s; rounded up to whole steps). */
  readonly period_s: number;
  /** Actuators it will drive; checked against every other controller's when the run is built. */
  readonly claims: readonly ActuatorRef[];
  /** Called once before the first step with the twin's catalog. */
  attach?(catalog: TwinCatalog): void;
  /**
   * One decision. `state` is the twin's state at the end of the last step (read-only; copy what you
   * keep). Push actions into `actions` (reused between calls). On the bench this may run on another
   * thread: the state is then a snapshot, and the actions apply between two later steps.
   */
  decide(state: Readonly<TwinState>, actions: ControllerAction[]): void;
  /** Actions the twin refused since the last call, and events it raised about this controller. */
  feedback?(refused: readonly RefusedAction[], events: readonly TwinEvent[]): void;
  /** Called once when the run ends or the controller is detached. */
  detach?(): void;
  /**
   * What the controller reports about its last decision (recorded and shown live by the bench),
   * read right after each `decide`. Plain JSON-like data; `kind` says how to read it (e.g. `vpp`).
   */
  telemetry?(): ControllerTelemetry | undefined;
  /**
   * A message from outside the twin between decisions (e.g. a prosumer's preferences), JSON-like.
   * A controller ignores kinds it does not know; throws a TypeError naming the field for a bad one.
   */
  input?(message: Readonly<ControllerInput>): void;
  /**
   * The communication network its agents talk over, when it has one (a distributed VPP, a P2P
   * market): where the attack engine's comms attacks (target `comms:<controller id>`) act.
   */
  readonly comms?: DisturbableComms;
}

/** A controller's report after a decision: `kind` names the record's shape. */
export interface ControllerTelemetry {
  readonly kind: string;
  readonly [field: string]: unknown;
}

/** A message to the controllers from outside the twin: `type` names its shape. */
export interface ControllerInput {
  readonly type: string;
  readonly [field: string]: unknown;
}

/**
 * A disturbance of a controller's communication network, active in twin time [start_s, stop_s):
 * messages lost with a probability, delayed, a link down, or one agent lying (its broadcast value
 * plus `bias`). `stop_s` may be moved earlier while it runs (an operator ends the attack).
 */
export type CommsDisturbance = { id: string; start_s: number; stop_s: number } & (
  | { kind: 'loss'; probability: number }
  | { kind: 'delay'; delay_ms: number; jitter_ms: number }
  | { kind: 'link-failure'; link: readonly [string, string] }
  | { kind: 'byzantine'; agent: string; bias: number }
);

/** A controller's simulated communication network, as attacks see it. */
export interface DisturbableComms {
  /** Agent ids a disturbance may name (e.g. VPP member ids, `aggregator`). */
  readonly agents: readonly string[];
  /** Installs a disturbance; throws a TypeError naming what is wrong (unknown agent, not a link). */
  disturb(d: CommsDisturbance): void;
}

/**
 * Who owns each actuator. A conflicting claim is refused when the run is built; hand-over is
 * explicit; an emergency stop latches every controller (all their actions are refused) until the
 * operator releases it.
 */
export interface ActuatorOwnership {
  /** Claims every actuator for `controllerId`; throws `OwnershipConflict` if another holds one. */
  claim(controllerId: string, actuators: readonly ActuatorRef[]): void;
  /** Moves one actuator from one controller to another (both named: no implicit take-over). */
  handOver(actuator: ActuatorRef, from: string, to: string): void;
  /** Gives up the controller's claims (detach). */
  release(controllerId: string): void;
  ownerOf(actuator: ActuatorRef): string | undefined;
  /** Latches every controller (emergency stop); `unlatch` is the operator's explicit release. */
  latch(reason: string): void;
  unlatch(): void;
  readonly latched: boolean;
  /** Undefined when `controllerId` may apply `action` now, else why not. */
  check(controllerId: string, action: ControllerAction): RefusedAction | undefined;
}

/** Thrown when the run is built with two controllers claiming one actuator. */
export class OwnershipConflict extends Error {
  constructor(
    readonly actuator: ActuatorKey,
    readonly holder: string,
    readonly claimant: string,
  ) {
    super(`${claimant} cannot claim ${actuator}: it is driven by ${holder} (hand it over explicitly)`);
    this.name = 'OwnershipConflict';
  }
}

/**
 * The twin's side of the contract. In-line controllers (`attach`) run on the twin's clock inside
 * `step()` — deterministic, what `simulate` uses. A host off the step path (the bench's) calls
 * `catalog()` once, decides elsewhere, and hands the actions over with `applyActions` between steps.
 */
export interface ControllableTwin {
  catalog(): TwinCatalog;
  readonly ownership: ActuatorOwnership;
  /** Claims the controller's actuators (throws `OwnershipConflict`) and runs it every period. */
  attach(controller: Controller): void;
  /** Stops running it and releases its claims. */
  detach(controllerId: string): void;
  /** Applies actions decided off the step path, before the next step; returns what was refused. */
  applyActions(controllerId: string, actions: readonly ControllerAction[]): RefusedAction[];
}
