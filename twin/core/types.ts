/** The twin's options and the runtime records its stages share. */
import type { IslandState, MicrogridState, TwinCommand } from '../api.ts';
import type { ChannelSpec } from '../channels/channel.ts';
import type { Controller } from '../control/contract.ts';
import type { HardwareDevice, HardwareFallback } from '../der/hardware.ts';
import type { LoadModel } from '../der/load.ts';
import type { DerTechnology } from '../der/technologies.ts';
import type { DerUnit } from '../der/unit.ts';
import type { EmsMode, EmsSettings, PccImportEstimator } from '../dynamics/ems.ts';
import type { GridDisturbance, GridTrace } from '../dynamics/main-grid.ts';
import type { IslandFrequency } from '../dynamics/swing.ts';
import type { FidMode } from '../fid/fid.ts';
import type {
  OvercurrentSetting,
  UflsRestore,
  UflsStage,
  UnderFrequencyShedding,
} from '../protection/protection.ts';

/** A device that is real hardware, placed at a bus. */
export interface HardwareSpec {
  id: string;
  bus: string;
  /** @default 1 */
  rating_mva?: number;
  /** What the twin injects while the link is down. @default 'hold' */
  fallback?: HardwareFallback;
}

/** Twin-specific settings a grid file carries under `twin:` (all optional). Documented in docs/twin.md. */
export interface TwinConfig {
  /** Hour of day at t = 0 (for PV, wind and load profiles). @default 12 */
  startHour?: number;
  /** Load model defaults and per-load overrides (ZIP, frequency dependence, profile, shedding). */
  loads?: {
    default?: Partial<LoadModel>;
    byId?: Record<string, Partial<LoadModel> & { critical?: boolean }>;
  };
  /**
   * Under-frequency load-shedding stages (per island) and the rule that restores shed load and
   * re-arms the stages. @default defaultUflsStages(f0), restore at f0 − 0.2 Hz after 60 s
   */
  ufls?: { enabled?: boolean; stages?: UflsStage[]; restore?: UflsRestore };
  /** Definite-time over-current relays on branches. */
  overcurrent?: OvercurrentSetting[];
  /** Anti-islanding: DERs with params.antiIslanding trip this long after unplanned islanding. @default 2 */
  antiIslandingDetection_s?: number;
  /** FID control settings by FID id. */
  fids?: Record<
    string,
    {
      mode?: FidMode;
      ramp_mw_s?: number;
      supportGain_mw_hz?: number;
      emergencyBelow_hz?: number;
      donorFloor_hz?: number;
      noLoadLoss_mw?: number;
    }
  >;
  /** EMS per microgrid id. */
  ems?: Record<string, Partial<EmsSettings>>;
  /** Secondary control gains. */
  secondary?: {
    enabled?: boolean;
    /** Integral gain on frequency, pu power per pu frequency per second (≈ 1/(R·T_restore)). @default 2.5 */
    ki_f?: number;
    /** Integral gain on voltage, pu/s per pu. @default 0.5 */
    ki_v?: number;
  };
  /** Synchro-check windows for reconnection. */
  synchroCheck?: {
    df_hz?: number;
    dv_pu?: number;
    dtheta_deg?: number;
    slip_hz?: number;
    timeout_s?: number;
  };
  /** Planned islanding: open the PCC once |P_pcc| is below this, MW (or after timeout_s). */
  plannedIslanding?: { threshold_mw?: number; timeout_s?: number };
  hardware?: HardwareSpec[];
  /** Main grid voltage set-point, pu. @default the slack unit's vset */
  mainGridVoltage_pu?: number;
}

/**
 * Network-solver work since the twin was built. The solver's structure (islands, Ybus, symbolic
 * analysis and ordering) is rebuilt only when the network really changed: a breaker or switch, a
 * fault's shunt, or a unit trip that takes away an island's reference (or energises a dead one).
 * Injection changes (unit trips elsewhere, start/stop, set-points) only refactorise numerically.
 */
export interface TwinSolverStats {
  /** Network solves (every island solved once, retries not counted separately). */
  networkSolves: number;
  /** Newton iterations and numeric LU factorisations summed over islands and solves. */
  newtonIterations: number;
  factorizations: number;
  /** Structure rebuilds, the first one ('initial') included, and their count by cause. */
  structureRebuilds: number;
  rebuildsByCause: Record<string, number>;
  /** Islands that did not converge from their warm start and were retried from a flat start. */
  retriedIslands: number;
  /** Network solves that left an island not converged after the retry. */
  failedSolves: number;
}

export interface TwinOptions {
  /** @default 1 */
  seed?: number;
  /** Fixed step, s. @default 0.001 */
  dt_s?: number;
  config?: TwinConfig;
  hardware?: HardwareSpec[];
  channels?: Record<string, ChannelSpec>;
  /** Longest internal step of the dynamics; longer steps are subdivided. @default 0.025 */
  maxSubstep_s?: number;
  /** Solve the network every N steps (frequency dynamics run every step). @default 1 */
  networkEvery?: number;
  /** Main-grid frequency/voltage trace to replay instead of the nominal source. */
  gridTrace?: GridTrace;
  /**
   * Controllers declared with the run (docs/twin.md, "Controllers"): attached when the twin is
   * built. What they claim is handed over from the built-in EMS and secondary control (which then
   * leave it alone); two declared controllers claiming one actuator is an OwnershipConflict.
   */
  controllers?: readonly Controller[];
  /** The DER technologies the grid's DERs are built from. @default DER_TECHNOLOGIES */
  derTechnologies?: readonly DerTechnology[];
}

/** Actions scenarios schedule (superset of the operator's TwinCommand). */
export type TwinAction =
  | TwinCommand
  | { kind: 'load-step'; load?: string; bus?: string; delta_mw?: number; delta_mvar?: number; scale?: number }
  | { kind: 'generator-trip'; unit: string }
  | { kind: 'unit-start'; unit: string }
  | { kind: 'irradiance'; unit?: string; scale: number }
  | { kind: 'wind'; unit?: string; scale: number }
  | {
      kind: 'fault';
      bus: string;
      r_ohm?: number;
      x_ohm?: number;
      r_pu?: number;
      x_pu?: number;
      duration_s: number;
      clearBy?: string[];
    }
  | { kind: 'fault-clear'; bus: string; open?: string[] }
  | ({ kind: 'grid-disturbance' } & Partial<GridDisturbance> & Pick<GridDisturbance, 'quantity' | 'delta'>)
  | { kind: 'ems-mode'; microgrid: string; mode: EmsMode }
  | { kind: 'fid-mode'; fidId: string; mode: FidMode }
  | { kind: 'load-curtail'; load: string; fraction: number }
  /** A scenario's initial state: a battery's state of charge, and every load's scale. */
  | { kind: 'soc'; unit: string; soc: number }
  | { kind: 'load-scale'; scale: number };

export interface IslandRuntime {
  index: number;
  id: string;
  state: IslandState;
  /** Bus holding the island's voltage and angle reference (−1 when not energised). */
  referenceBus: number;
  /** Voltage scale of the reference under current limiting (1 = not limiting). */
  vScale: number;
  freq: IslandFrequency;
  buses: Int32Array;
  units: DerUnit[];
  unitNet: Int32Array;
  /** The units the built-in EMS and secondary control drive (`units` unless a controller took some). */
  emsUnits: DerUnit[];
  emsUnitNet: Int32Array;
  loads: Int32Array;
  hardware: HardwareDevice[];
  energised: boolean;
  gridConnected: boolean;
  /** Total inertia of active units, MW·s/Hz. */
  inertia: number;
  losses_mw: number;
  pccImport_mw: number;
  secondaryOffset_mw: number;
  voltageOffset_pu: number;
  rocofFiltered: number;
  ufls: UnderFrequencyShedding;
  microgrids: string[];
  ems: EmsSettings | undefined;
  /** The EMS's estimate of the import without its own units (grid-connected microgrids). */
  pccEstimator: PccImportEstimator | undefined;
  /** Frequency target of secondary control (f0, or grid f + slip while resynchronising). */
  fTarget_hz: number;
  resyncing: boolean;
  nadir_hz: number;
  zenith_hz: number;
  /** Simulation time at which the island lost the grid unintentionally (anti-islanding), or −1. */
  unplannedSince_s: number;
}

export interface PendingFault {
  bus: number;
  g_pu: number;
  b_pu: number;
  clearAt_s: number;
  open: string[];
}

export interface ScheduledAction {
  t_s: number;
  action: TwinAction;
  seq: number;
}

export interface Breaker {
  id: string;
  kind: 'switch' | 'branch';
  index: number;
  from: number;
  to: number;
}

/**
 * Where a microgrid's PCC power is measured: the microgrid's end of its PCC breaker. A switch has
 * no impedance (the power flow merges its ends into one node), so its flow comes from Kirchhoff's
 * law over the buses the switch feeds: what they consume minus what they generate plus what leaves
 * them through branches. Those buses (the microgrid end and whatever other closed switches join to
 * it) are found again whenever the topology changes.
 */
export interface PccMeter {
  microgrid: string;
  /** The PCC breaker, when the microgrid has one. */
  breaker: Breaker | undefined;
  /** Bus at the microgrid's end of the PCC (first bus of the microgrid without one), or −1. */
  side: number;
  /** Switch PCC: buses fed through it, their loads and units, and the branches leaving them. */
  buses: Int32Array;
  loads: Int32Array;
  units: Int32Array;
  branches: Int32Array;
  /** 1 when the branch's from end is in `buses`, 0 for its to end, 2 for both (internal). */
  branchEnds: Uint8Array;
  /** False when the PCC switch is bypassed by other closed switches (its own flow is undefined). */
  measurable: boolean;
  state: MicrogridState;
}

export const NO_INDICES = new Int32Array(0);

export const DEG = 180 / Math.PI;

/** Built-in controller of units outside every microgrid (secondary control only). */
export const SECONDARY = 'secondary';
