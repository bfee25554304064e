/**
 * The digital twin: steps a grid with its DERs, FIDs, loads, protection and controls in fixed
 * steps, deterministically (no timers, no clock, seeded randomness).
 *
 * CONSTRUCTION
 *   const twin = await Twin.fromFiles({ grid: 'grids/demo-33bw-microgrids.yaml', seed: 1, dt_s: 0.001 });
 *   // or, with a Grid object already in hand:
 *   const twin = new Twin(grid, { seed, dt_s, config, hardware, channels });
 *
 *   options.hardware: devices that are real boards, each `{ id, bus, rating_mva?, fallback? }`
 *     (a grid file may also declare them under `twin.hardware`). Their DeviceInput p/q are
 *     injected at their bus through the command channels; `measurementFor(id)` gives their bus's
 *     V/θ/f/ROCOF through the measurement channels.
 *   options.channels: impairments per channel, keys `device.signal`, `device.*`, `*.signal`, `*`.
 *
 * EACH STEP (step(inputs) → TwinState, arrays reused):
 *   1. device inputs through command channels; due scheduled actions (scenarios) applied;
 *   2. topology from breaker states (islands rebuilt only when something switched);
 *   3. per island (sub-stepped at ≤ maxSubstep_s): units advance (governors, resources, IEEE 1547
 *      functions), FIDs, loads (ZIP + frequency); a grid-connected island follows the main grid,
 *      an islanded one integrates its aggregate swing equation M·df/dt = ΣP − P_load − P_loss;
 *      inertial units deliver P_m − M_i·df/dt;
 *   4. AC power flow per island with distributed slack (twin/powerflow) → V, θ, losses;
 *   5. protection (IEEE 1547 DER trips, UFLS, over-current, anti-islanding), secondary control,
 *      tertiary dispatch every N s, planned islanding and synchro-check reconnection;
 *   6. measurement channels for hardware devices.
 *
 * Model and validity range: docs/twin.md.
 */
import type {
  BusMeasurement,
  DeviceInput,
  IslandState,
  MicrogridState,
  TwinCommand,
  TwinEvent,
  TwinLike,
  TwinState,
} from './api.ts';
import { applyAttackCommand } from './attacks/live.ts';
import {
  buildChannel,
  type Channel,
  type ChannelSpec,
  COMMAND_SIGNALS,
  MEASUREMENT_SIGNALS,
  specFor,
} from './channels/channel.ts';
import { BatteryUnit } from './der/battery.ts';
import { createDerUnit, createGeneratorUnit } from './der/factory.ts';
import { SynchronousGenset } from './der/genset.ts';
import { HardwareDevice, type HardwareFallback } from './der/hardware.ts';
import { InverterSource } from './der/inverter.ts';
import { defaultLoadModel, LoadBank, type LoadModel } from './der/load.ts';
import type { DerTechnology } from './der/technologies.ts';
import type { DerUnit, UnitContext } from './der/unit.ts';
import {
  defaultEmsSettings,
  dispatch,
  type EmsMode,
  type EmsSettings,
  PccImportEstimator,
} from './dynamics/ems.ts';
import { lagStep } from './dynamics/lag.ts';
import { type GridDisturbance, type GridTrace, MainGrid } from './dynamics/main-grid.ts';
import { IslandFrequency, wrapAngle } from './dynamics/swing.ts';
import { defaultFidParams, type FidMode, FlexibleInterconnection } from './fid/fid.ts';
import type { Grid } from './grid/model.ts';
import { type Island, type PowerFlowResult, PowerFlowSolver, UnitControl } from './powerflow/index.ts';
import {
  assignSheddingStages,
  defaultUflsStages,
  OvercurrentRelays,
  type OvercurrentSetting,
  type UflsStage,
  UnderFrequencyShedding,
} from './protection/protection.ts';

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
  /** Under-frequency load-shedding stages (per island). @default defaultUflsStages(f0) */
  ufls?: { enabled?: boolean; stages?: UflsStage[] };
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

interface IslandRuntime {
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

interface PendingFault {
  bus: number;
  g_pu: number;
  b_pu: number;
  clearAt_s: number;
  open: string[];
}

interface ScheduledAction {
  t_s: number;
  action: TwinAction;
  seq: number;
}

interface Breaker {
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
interface PccMeter {
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

const NO_INDICES = new Int32Array(0);

const DEG = 180 / Math.PI;

export class Twin implements TwinLike {
  readonly dt_s: number;
  readonly seed: number;
  readonly grid: Grid;
  readonly f0_hz: number;
  readonly pf: PowerFlowSolver;
  readonly units: DerUnit[] = [];
  readonly unitById = new Map<string, DerUnit>();
  readonly hardware: HardwareDevice[] = [];
  readonly hardwareById = new Map<string, HardwareDevice>();
  readonly fids: FlexibleInterconnection[] = [];
  readonly loads: LoadBank;
  readonly mainGrid: MainGrid;
  readonly config: TwinConfig;
  readonly breakers = new Map<string, Breaker>();
  readonly overcurrent: OvercurrentRelays;
  readonly state: TwinState;

  private readonly unitNetIndex: Int32Array;
  private readonly unitNetInService: Uint8Array;
  /** Units compiled as voltage-regulating (PV / grid-forming) by the power flow. */
  private readonly unitRegulates: Uint8Array;
  private readonly fidBusA: Int32Array;
  private readonly fidBusB: Int32Array;
  private readonly busDfPu: Float64Array;
  /** Bus voltages the twin uses and publishes (the power flow's, sagged under current limiting). */
  private readonly vm: Float64Array;
  private readonly busInj: Float64Array;
  private readonly busIslandRuntime: Int32Array;
  private readonly ocBranch: Int32Array;
  private readonly ocCurrent: Float64Array;
  private readonly ocBaseKa: Float64Array;
  private readonly slackBus: Int32Array;
  private readonly emsRefs = new Float64Array(64);
  private readonly baseRef: Float64Array;
  private islands: IslandRuntime[] = [];
  private topologyDirty = true;
  /** A unit's service state changed (trip, enter service, standby): injections, maybe structure. */
  private unitServiceDirty = false;
  private readonly solverStats: TwinSolverStats = {
    networkSolves: 0,
    newtonIterations: 0,
    factorizations: 0,
    structureRebuilds: 0,
    rebuildsByCause: {},
    retriedIslands: 0,
    failedSolves: 0,
  };
  /** Why the solver's structure is stale (first cause wins), for the next rebuild's count. */
  private rebuildCause: string | null = 'initial';
  private seenTopologyBuilds = 0;
  private t = 0;
  private stepCount = 0;
  private readonly maxSubstep_s: number;
  private readonly networkEvery: number;
  private readonly ctx: UnitContext;
  private readonly events: TwinEvent[] = [];
  private schedule: ScheduledAction[] = [];
  /** Set by the emergency stop, for the rest of the run (see refuseWhileStopped). */
  private emergencyStopped = false;
  private scheduleSeq = 0;
  private faults: PendingFault[] = [];
  private readonly measureChannels = new Map<string, Channel[]>();
  private readonly commandChannels = new Map<string, Channel[]>();
  private readonly measurements = new Map<string, BusMeasurement>();
  private readonly hardwareBus = new Map<string, number>();
  private nextDispatch_s = 0;
  private resync: { microgrid: string; breaker: Breaker; deadline_s: number } | null = null;
  private planned: { microgrid: string; breaker: Breaker; deadline_s: number } | null = null;
  private readonly microgridPcc = new Map<string, Breaker>();
  private readonly microgridOfBus: (string | undefined)[];
  private readonly emsByMicrogrid = new Map<string, EmsSettings>();
  private readonly pccEstimatorByMicrogrid = new Map<string, PccImportEstimator>();
  private readonly pccMeters: PccMeter[] = [];
  private readonly flow = { pf_mw: 0, qf_mvar: 0, pt_mw: 0, qt_mvar: 0, lossP_mw: 0, lossQ_mvar: 0 };
  /** Number of DER trips so far, by cause. */
  readonly tripLog: { t_s: number; unit: string; cause: string }[] = [];

  constructor(grid: Grid, options: TwinOptions = {}) {
    this.grid = grid;
    this.seed = options.seed ?? 1;
    this.dt_s = options.dt_s ?? 0.001;
    if (!(this.dt_s > 0) || !Number.isFinite(this.dt_s))
      throw new TypeError(`dt_s must be > 0, got ${this.dt_s}`);
    this.config = options.config ?? {};
    this.f0_hz = grid.frequency_hz;
    this.maxSubstep_s = options.maxSubstep_s ?? 0.025;
    this.networkEvery = Math.max(1, Math.floor(options.networkEvery ?? 1));
    // Newton everywhere: the radial sweep does not converge with a low-impedance fault shunt.
    this.pf = new PowerFlowSolver(grid, { method: 'nr', tolerance_pu: 1e-5, maxIterations: 15 });
    const net = this.pf.net;
    const nb = net.busIds.length;
    this.busDfPu = new Float64Array(nb);
    this.vm = new Float64Array(nb).fill(1);
    this.busInj = new Float64Array(nb);
    this.busIslandRuntime = new Int32Array(nb).fill(-1);
    this.microgridOfBus = grid.buses.map((b) => b.microgrid);

    // Units: non-slack generators and every DER. Slack generators are the main grid.
    const slack: number[] = [];
    for (const g of grid.generators) {
      const bus = net.busIndexOf.get(g.bus)!;
      if (net.busIsSlack[bus]) {
        slack.push(bus);
        continue;
      }
      this.addUnit(createGeneratorUnit(g, { f0_hz: this.f0_hz, seed: this.seed }), g.bus);
    }
    for (let b = 0; b < nb; b++) if (net.busIsSlack[b] && !slack.includes(b)) slack.push(b);
    this.slackBus = Int32Array.from(slack);
    for (const der of grid.ders)
      this.addUnit(
        createDerUnit(der, { f0_hz: this.f0_hz, seed: this.seed, technologies: options.derTechnologies }),
        der.bus,
      );
    this.unitNetIndex = Int32Array.from(this.units, (u) => this.pf.unitIndex(u.id));
    this.unitNetInService = Uint8Array.from(this.unitNetIndex, (k) => net.unitInService[k]);
    this.unitRegulates = Uint8Array.from(this.unitNetIndex, (k) =>
      net.unitControl[k] === UnitControl.voltage ? 1 : 0,
    );
    this.baseRef = Float64Array.from(this.units, (u) => u.reference_mw);
    // Slack generators carry the main grid; give them no participation so they take all imbalance.
    for (let u = 0; u < net.unitIds.length; u++) net.unitParticipation[u] = 0;

    // Hardware devices.
    const hardwareSpecs = new Map<string, HardwareSpec>();
    for (const spec of [...(this.config.hardware ?? []), ...(options.hardware ?? [])])
      hardwareSpecs.set(spec.id, spec);
    for (const spec of hardwareSpecs.values()) {
      if (this.unitById.has(spec.id)) {
        throw new TypeError(`hardware device '${spec.id}': id already used`);
      }
      const bus = net.busIndexOf.get(spec.bus);
      if (bus === undefined) throw new TypeError(`hardware device '${spec.id}': unknown bus '${spec.bus}'`);
      const dev = new HardwareDevice(spec.id, spec.rating_mva ?? 1, spec.fallback ?? 'hold');
      dev.busIndex = bus;
      this.hardware.push(dev);
      this.hardwareById.set(spec.id, dev);
      this.hardwareBus.set(spec.id, bus);
    }

    // Loads.
    const loadCfg = this.config.loads ?? {};
    const models = grid.loads.map((l) => {
      const m: LoadModel = {
        ...defaultLoadModel(),
        ...(loadCfg.default ?? {}),
        ...(loadCfg.byId?.[l.id] ?? {}),
      };
      if (loadCfg.byId?.[l.id]?.critical) m.sheddingStage = -1;
      return m;
    });
    const uflsStages = this.config.ufls?.stages ?? defaultUflsStages(this.f0_hz);
    // Stages are assigned within each microgrid, so every islanded microgrid can shed its share.
    const groups = new Map<string, number[]>();
    grid.loads.forEach((l, i) => {
      const key = grid.buses[net.busIndexOf.get(l.bus)!].microgrid ?? '';
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key)!.push(i);
    });
    for (const members of groups.values()) {
      const stages = assignSheddingStages(
        members.map((i) => grid.loads[i].p_mw),
        members.map((i) => models[i].sheddingStage),
        this.config.ufls?.enabled === false ? [] : uflsStages,
      );
      members.forEach((i, k) => {
        models[i].sheddingStage = stages[k];
      });
    }
    this.loads = new LoadBank(
      grid.loads.map((l) => l.id),
      grid.loads.map((l) => net.busIndexOf.get(l.bus)!),
      grid.loads.map((l) => l.p_mw),
      grid.loads.map((l) => l.q_mvar),
      models,
    );
    for (let i = 0; i < grid.loads.length; i++) if (!grid.loads[i].inService) this.loads.connected[i] = 0;

    // FIDs: the twin injects their powers itself (sending side pays the losses).
    for (let k = 0; k < grid.fids.length; k++) {
      const f = grid.fids[k];
      const c = this.config.fids?.[f.id] ?? {};
      const fid = new FlexibleInterconnection(
        f.id,
        defaultFidParams({
          rating_mva: f.rating_mva,
          p_ab_mw: f.p_ab_mw,
          qA_mvar: f.qA_mvar,
          qB_mvar: f.qB_mvar,
          lossFraction: f.lossFraction,
          ...c,
        }),
      );
      fid.inService = f.inService;
      fid.params.emergencyBelow_hz = c.emergencyBelow_hz ?? this.f0_hz * 0.99;
      fid.params.donorFloor_hz = c.donorFloor_hz ?? this.f0_hz * 0.996;
      this.fids.push(fid);
      net.fidInService[k] = 0;
    }
    this.fidBusA = Int32Array.from(grid.fids, (f) => net.busIndexOf.get(f.busA)!);
    this.fidBusB = Int32Array.from(grid.fids, (f) => net.busIndexOf.get(f.busB)!);

    // Breakers: every switch and every branch, by id.
    grid.switches.forEach((s, i) => {
      this.breakers.set(s.id, {
        id: s.id,
        kind: 'switch',
        index: i,
        from: net.switchFrom[i],
        to: net.switchTo[i],
      });
    });
    grid.branches.forEach((b, i) => {
      if (!this.breakers.has(b.id)) {
        this.breakers.set(b.id, {
          id: b.id,
          kind: 'branch',
          index: i,
          from: net.branchFrom[i],
          to: net.branchTo[i],
        });
      }
    });
    for (const mg of grid.microgrids) {
      if (mg.pccSwitch && this.breakers.has(mg.pccSwitch))
        this.microgridPcc.set(mg.id, this.breakers.get(mg.pccSwitch)!);
      this.emsByMicrogrid.set(mg.id, defaultEmsSettings(this.config.ems?.[mg.id] ?? {}));
      this.pccEstimatorByMicrogrid.set(mg.id, new PccImportEstimator());
    }

    // Over-current relays.
    const oc = this.config.overcurrent ?? [];
    this.overcurrent = new OvercurrentRelays(oc);
    this.ocBranch = Int32Array.from(oc, (s) => {
      const i = net.branchIds.indexOf(s.branch);
      if (i < 0) throw new TypeError(`over-current relay: unknown branch '${s.branch}'`);
      return i;
    });
    this.ocCurrent = new Float64Array(oc.length);
    this.ocBaseKa = Float64Array.from(this.ocBranch, (k) => {
      const kv = grid.buses[net.branchFrom[k]].baseKV || 1;
      return grid.baseMVA / (Math.sqrt(3) * kv);
    });

    // Main grid.
    const slackUnit = grid.generators.find((g) => net.busIsSlack[net.busIndexOf.get(g.bus)!]);
    this.mainGrid = new MainGrid(
      this.f0_hz,
      this.config.mainGridVoltage_pu ?? slackUnit?.vset_pu ?? 1,
      options.gridTrace,
    );

    // Channels for hardware devices.
    for (const dev of this.hardware) {
      this.measureChannels.set(
        dev.id,
        MEASUREMENT_SIGNALS.map((s) =>
          buildChannel(`${dev.id}.${s}`, specFor(options.channels, dev.id, s), this.seed, this.dt_s),
        ),
      );
      this.commandChannels.set(
        dev.id,
        COMMAND_SIGNALS.map((s) =>
          buildChannel(`${dev.id}.${s}`, specFor(options.channels, dev.id, s), this.seed, this.dt_s),
        ),
      );
      this.measurements.set(dev.id, {
        vm_pu: 1,
        va_deg: 0,
        f_hz: this.f0_hz,
        rocof_hz_s: 0,
        t_s: 0,
        step: 0,
      });
    }

    this.ctx = {
      t_s: 0,
      hourOfDay: this.config.startHour ?? 12,
      f_hz: this.f0_hz,
      f0_hz: this.f0_hz,
      rocof_hz_s: 0,
      vm_pu: 1,
      gridConnected: false,
    };

    const devices: TwinState['devices'] = {};
    for (const u of this.units) devices[u.id] = { p_mw: 0, q_mvar: 0, online: true, tripped: false };
    for (const h of this.hardware) devices[h.id] = { p_mw: 0, q_mvar: 0, online: false };
    for (const f of this.fids) devices[f.id] = { p_mw: 0, q_mvar: 0, online: true };
    const microgrids: Record<string, MicrogridState> = {};
    for (const mg of grid.microgrids) {
      const state: MicrogridState = {
        pcc_p_mw: 0,
        pcc_q_mvar: 0,
        ems: this.emsByMicrogrid.get(mg.id)!.mode,
        islanded: true,
      };
      microgrids[mg.id] = state;
      const breaker = this.microgridPcc.get(mg.id);
      let side = -1;
      if (breaker) {
        // The microgrid's end; a PCC between two buses of the same microgrid feeds its `to` end.
        side =
          this.microgridOfBus[breaker.from] === mg.id && this.microgridOfBus[breaker.to] !== mg.id
            ? breaker.from
            : breaker.to;
      } else side = this.microgridOfBus.indexOf(mg.id);
      this.pccMeters.push({
        microgrid: mg.id,
        breaker,
        side,
        buses: NO_INDICES,
        loads: NO_INDICES,
        units: NO_INDICES,
        branches: NO_INDICES,
        branchEnds: new Uint8Array(0),
        measurable: true,
        state,
      });
    }
    const breakers: Record<string, boolean> = {};
    for (const id of this.breakers.keys()) breakers[id] = this.isBreakerClosed(id);
    this.state = {
      t_s: 0,
      step: 0,
      islands: [],
      busIds: net.busIds,
      vm_pu: this.vm,
      va_deg: new Float64Array(nb),
      devices,
      fids: Object.fromEntries(this.fids.map((f) => [f.id, { p_a_mw: 0, p_b_mw: 0, loss_mw: 0 }])),
      microgrids,
      breakers,
      events: this.events,
    };
    this.rebuildIslands();
    for (let k = 0; k < this.fids.length; k++)
      this.fids[k].step(this.f0_hz, this.f0_hz, true, true, this.f0_hz, 0);
    this.solveNetwork();
    this.initialiseBalance();
    this.solveNetwork();
    this.initialiseBalance();
    // First tertiary dispatch after one interval: the initial references are already balanced.
    let interval = Number.POSITIVE_INFINITY;
    for (const s of this.emsByMicrogrid.values()) interval = Math.min(interval, s.dispatchInterval_s);
    this.nextDispatch_s = Number.isFinite(interval) ? interval : 60;
  }

  /** Builds a twin from a grid file: `await Twin.fromFiles({ grid: 'grids/demo-33bw-microgrids.yaml', seed, dt_s })`. */
  static fromFiles(options: TwinFileOptions): Promise<Twin> {
    return twinFromFiles(options);
  }

  private addUnit(unit: DerUnit, bus: string): void {
    if (this.unitById.has(unit.id)) throw new TypeError(`duplicate unit id '${unit.id}'`);
    unit.busIndex = this.pf.net.busIndexOf.get(bus)!;
    this.units.push(unit);
    this.unitById.set(unit.id, unit);
  }

  /** Twin time, s. */
  get time_s(): number {
    return this.t;
  }

  get islandRuntimes(): readonly IslandRuntime[] {
    return this.islands;
  }

  /** Network-solver work so far (a copy). */
  get stats(): TwinSolverStats {
    this.countRebuilds();
    return { ...this.solverStats, rebuildsByCause: { ...this.solverStats.rebuildsByCause } };
  }

  private markStructure(cause: string): void {
    this.rebuildCause ??= cause;
    this.topologyDirty = true;
  }

  /** Books the solver's structure rebuilds since the last look under the pending cause. */
  private countRebuilds(): void {
    const builds = this.pf.topologyBuilds;
    if (builds === this.seenTopologyBuilds) return;
    const cause = this.rebuildCause ?? 'other';
    const stats = this.solverStats;
    stats.structureRebuilds += builds - this.seenTopologyBuilds;
    stats.rebuildsByCause[cause] = (stats.rebuildsByCause[cause] ?? 0) + builds - this.seenTopologyBuilds;
    this.seenTopologyBuilds = builds;
    this.rebuildCause = null;
  }

  /**
   * Writes the units' service state into the network. Returns true, and marks the solver's
   * structure stale, only when that moves or removes an island's reference or may energise a dead
   * island; any other trip or start changes injections only.
   */
  private syncUnitService(): boolean {
    const pf = this.pf;
    const net = pf.net;
    this.unitServiceDirty = false;
    const islands = pf.topologyStale ? null : pf.islands;
    let structural = false;
    for (let i = 0; i < this.units.length; i++) {
      const u = this.units[i];
      const want = u.inService && !u.tripped && u.running ? 1 : 0;
      const k = this.unitNetIndex[i];
      this.unitNetInService[i] = want;
      if (net.unitInService[k] === want) continue;
      if (islands && !structural && (this.unitRegulates[i] || net.unitGridForming[k]))
        structural = this.changesStructure(islands, k, want === 1);
      net.unitInService[k] = want;
    }
    if (structural) {
      pf.invalidateTopology();
      this.markStructure('unit-reference');
    }
    return structural;
  }

  private changesStructure(islands: readonly Island[], k: number, inService: boolean): boolean {
    const net = this.pf.net;
    const bus = net.unitBus[k];
    const index = this.pf.busIsland[bus];
    if (index < 0) return false;
    const island = islands[index];
    if (island.kind !== 'energised') return true;
    // A unit joining a live island leaves the reference where it is.
    if (inService || !net.unitGridForming[k] || bus !== island.referenceBus || net.busIsSlack[bus])
      return false;
    for (let u = 0; u < net.unitIds.length; u++)
      if (u !== k && net.unitBus[u] === bus && net.unitGridForming[u] && net.unitInService[u]) return false;
    return true;
  }

  // ---------------------------------------------------------------- topology

  private rebuildIslands(): void {
    const pf = this.pf;
    const net = pf.net;
    this.syncUnitService();
    const old = this.islands;
    const oldOfBus = Int32Array.from(this.busIslandRuntime);
    const islands = pf.islands;
    this.countRebuilds();
    const runtimes: IslandRuntime[] = [];
    this.busIslandRuntime.fill(-1);
    for (const island of islands) {
      const idx = runtimes.length;
      for (const b of island.buses) this.busIslandRuntime[b] = idx;
      const units: DerUnit[] = [];
      const unitNet: number[] = [];
      for (let i = 0; i < this.units.length; i++) {
        if (pf.busIsland[this.units[i].busIndex] === island.index) {
          units.push(this.units[i]);
          unitNet.push(i);
        }
      }
      const loads: number[] = [];
      for (let l = 0; l < this.loads.n; l++)
        if (pf.busIsland[this.loads.bus[l]] === island.index) loads.push(l);
      const hardware = this.hardware.filter((h) => pf.busIsland[h.busIndex] === island.index);
      let gridConnected = false;
      for (const b of this.slackBus) if (pf.busIsland[b] === island.index) gridConnected = true;
      const mgs: string[] = [];
      for (const b of island.buses) {
        const mg = this.microgridOfBus[b];
        if (mg && !mgs.includes(mg)) mgs.push(mg);
      }
      const id = mgs.length > 0 ? mgs.join('+') : `bus-${net.busIds[island.buses[0]]}`;
      // Inherit frequency from the old island that held most of this island's inertia.
      let f = this.f0_hz;
      let theta = 0;
      let rocof = 0;
      let best = -1;
      let bestWeight = -1;
      let secondary = 0;
      let vOffset = 0;
      let unplanned = -1;
      let ufls: UnderFrequencyShedding | undefined;
      let nadir = Number.POSITIVE_INFINITY;
      let zenith = Number.NEGATIVE_INFINITY;
      for (const b of island.buses) {
        const o = oldOfBus[b];
        if (o < 0 || !old[o]?.energised) continue;
        const w = old[o].inertia + (old[o].gridConnected ? 1e9 : 0);
        if (w > bestWeight) {
          bestWeight = w;
          best = o;
        }
      }
      if (best >= 0) {
        const o = old[best];
        f = o.freq.f_hz;
        theta = o.freq.theta_rad;
        rocof = o.freq.rocof_hz_s;
        secondary = o.secondaryOffset_mw;
        vOffset = o.voltageOffset_pu;
        unplanned = o.unplannedSince_s;
        ufls = o.ufls;
        nadir = o.nadir_hz;
        zenith = o.zenith_hz;
        if (o.gridConnected && !gridConnected && unplanned < 0) unplanned = this.planned ? -1 : this.t;
      }
      if (gridConnected) unplanned = -1;
      const freq = new IslandFrequency(this.f0_hz);
      freq.f_hz = f;
      freq.theta_rad = theta;
      freq.rocof_hz_s = rocof;
      const ems = mgs.length > 0 ? this.emsByMicrogrid.get(mgs[0]) : undefined;
      const energised = island.kind === 'energised';
      const rt: IslandRuntime = {
        index: idx,
        id,
        referenceBus: island.referenceBus,
        vScale: 1,
        state: {
          id,
          energised,
          gridConnected,
          f_hz: energised ? f : 0,
          rocof_hz_s: 0,
          buses: Array.from(island.buses, (b) => net.busIds[b]),
        },
        freq,
        buses: island.buses,
        units,
        unitNet: Int32Array.from(unitNet),
        loads: Int32Array.from(loads),
        hardware,
        energised,
        gridConnected,
        inertia: 0,
        losses_mw: best >= 0 ? 0 : 0,
        pccImport_mw: 0,
        secondaryOffset_mw: gridConnected ? 0 : secondary,
        voltageOffset_pu: gridConnected ? 0 : vOffset,
        rocofFiltered: 0,
        ufls:
          ufls ??
          new UnderFrequencyShedding(
            this.config.ufls?.enabled === false
              ? []
              : (this.config.ufls?.stages ?? defaultUflsStages(this.f0_hz)),
          ),
        microgrids: mgs,
        ems,
        pccEstimator: mgs.length > 0 ? this.pccEstimatorByMicrogrid.get(mgs[0]) : undefined,
        fTarget_hz: this.f0_hz,
        resyncing: false,
        nadir_hz: nadir,
        zenith_hz: zenith,
        unplannedSince_s: unplanned,
      };
      runtimes.push(rt);
    }
    this.islands = runtimes;
    this.state.islands = runtimes.map((r) => r.state);
    this.topologyDirty = false;
    const positions = this.state.breakers!;
    for (const id of this.breakers.keys()) positions[id] = this.isBreakerClosed(id);
    for (const meter of this.pccMeters) this.locatePccMeter(meter);
    // Standby gensets start when their island loses the grid; anti-islanding arms.
    for (const rt of runtimes) {
      if (!rt.gridConnected && rt.energised) {
        for (const u of rt.units)
          if (u instanceof SynchronousGenset && u.inService && !u.running && !u.tripped) u.start();
      }
    }
  }

  /** Sets unit P targets at t = 0 so islands start balanced (no artificial transient). */
  private initialiseBalance(): void {
    this.loads.evaluate(this.vm, this.busDfPu, this.ctx.hourOfDay);
    for (const rt of this.islands) {
      for (const u of rt.units) {
        if (!(u instanceof InverterSource)) continue;
        this.fillContext(rt, u.busIndex);
        u.advance(this.ctx, 0);
        u.prime();
        u.advance(this.ctx, 0);
      }
    }
    for (const rt of this.islands) {
      if (!rt.energised || rt.gridConnected) continue;
      // Advance resources once so available power is known.
      for (const u of rt.units) {
        this.fillContext(rt, u.busIndex);
        u.advance(this.ctx, 0);
      }
      let demand = rt.losses_mw;
      for (const l of rt.loads) demand += this.loads.p[l];
      for (let k = 0; k < this.fids.length; k++) {
        if (this.busIslandRuntime[this.fidBusA[k]] === rt.index) demand += this.fids[k].params.p_ab_mw;
        if (this.busIslandRuntime[this.fidBusB[k]] === rt.index) demand -= this.fids[k].params.p_ab_mw;
      }
      let flexible = 0;
      for (const u of rt.units) {
        if (!u.on) continue;
        if (u.kind === 'grid-following') demand -= u.pDrive_mw;
        else flexible += u.participation;
      }
      for (const h of rt.hardware) demand -= h.commanded_p_mw;
      if (flexible <= 0) continue;
      for (const u of rt.units) {
        if (!u.on || u.kind === 'grid-following') continue;
        const p = (demand * u.participation) / flexible;
        if (u instanceof SynchronousGenset) {
          u.governor.reset(p);
          u.governor.reference_mw = p;
        } else if (u instanceof BatteryUnit) {
          u.vsm.reset(p);
          u.setReference(p);
        }
        u.pDrive_mw = p;
        u.p_mw = p;
        this.baseRef[this.units.indexOf(u)] = p;
      }
    }
  }

  // ---------------------------------------------------------------- stepping

  private fillContext(rt: IslandRuntime, bus: number): void {
    const c = this.ctx;
    c.f_hz = rt.gridConnected ? this.mainGrid.f_hz : rt.freq.f_hz;
    c.rocof_hz_s = rt.gridConnected ? this.mainGrid.rocof_hz_s : rt.freq.rocof_hz_s;
    c.vm_pu = rt.energised ? this.vm[bus] : 0;
    c.gridConnected = rt.gridConnected;
  }

  step(inputs: readonly DeviceInput[]): TwinState {
    const dt = this.dt_s;
    this.events.length = 0;
    for (let i = 0; i < this.units.length; i++) this.units[i].refresh();
    this.applyInputs(inputs);
    this.runSchedule();
    this.updateFaults();
    if (this.topologyDirty) this.rebuildIslands();
    else if (this.unitServiceDirty && this.syncUnitService()) this.rebuildIslands();

    const n = dt > this.maxSubstep_s ? Math.ceil(dt / this.maxSubstep_s - 1e-9) : 1;
    const h = dt / n;
    for (let s = 0; s < n; s++) this.substep(this.t + (s + 1) * h, h);
    this.t = (this.stepCount + 1) * dt;
    this.stepCount++;

    if (this.stepCount % this.networkEvery === 0 || this.faults.length > 0) this.solveNetwork();
    this.protect(dt);
    this.control(dt);
    if (this.topologyDirty) {
      this.rebuildIslands();
      this.solveNetwork();
    } else if (this.unitServiceDirty) {
      // A trip or start shows in this step's voltages; the structure is kept unless it moved a reference.
      if (this.syncUnitService()) this.rebuildIslands();
      this.solveNetwork();
    }
    this.publish();
    return this.state;
  }

  /** Advances the dynamics from tSub − h to tSub. */
  private substep(tSub: number, h: number): void {
    this.mainGrid.advance(tSub, h);
    const ctx = this.ctx;
    ctx.t_s = tSub;
    ctx.hourOfDay = (this.config.startHour ?? 12) + tSub / 3600;
    // Units.
    for (let r = 0; r < this.islands.length; r++) {
      const rt = this.islands[r];
      const units = rt.units;
      for (let i = 0; i < units.length; i++) {
        const u = units[i];
        this.fillContext(rt, u.busIndex);
        if (!rt.energised && u.kind === 'grid-following') ctx.vm_pu = 0;
        u.advance(ctx, h);
      }
    }
    for (let i = 0; i < this.hardware.length; i++) this.hardware[i].advance(ctx, h);
    // FIDs.
    for (let k = 0; k < this.fids.length; k++) {
      const a = this.islands[this.busIslandRuntime[this.fidBusA[k]]];
      const b = this.islands[this.busIslandRuntime[this.fidBusB[k]]];
      const fa = a ? (a.gridConnected ? this.mainGrid.f_hz : a.freq.f_hz) : 0;
      const fb = b ? (b.gridConnected ? this.mainGrid.f_hz : b.freq.f_hz) : 0;
      this.fids[k].step(fa, fb, !!a?.energised, !!b?.energised, this.f0_hz, h);
    }
    // Loads at last solved voltages and present frequency.
    this.loads.evaluate(this.vm, this.busDfPu, ctx.hourOfDay);
    // Swing per island.
    for (let r = 0; r < this.islands.length; r++) {
      const rt = this.islands[r];
      if (!rt.energised) continue;
      let pAcc = -rt.losses_mw;
      let m = 0;
      for (let i = 0; i < rt.units.length; i++) {
        const u = rt.units[i];
        if (!u.on) continue;
        pAcc += u.pDrive_mw;
        m += u.inertia_mws_hz;
      }
      for (let i = 0; i < rt.hardware.length; i++) pAcc += rt.hardware[i].pDrive_mw;
      for (let i = 0; i < rt.loads.length; i++) pAcc -= this.loads.p[rt.loads[i]];
      for (let k = 0; k < this.fids.length; k++) {
        if (this.busIslandRuntime[this.fidBusA[k]] === r) pAcc += this.fids[k].pA_mw;
        if (this.busIslandRuntime[this.fidBusB[k]] === r) pAcc += this.fids[k].pB_mw;
      }
      rt.inertia = m;
      let rocof: number;
      if (rt.gridConnected) {
        rt.freq.follow(this.mainGrid.f_hz, this.mainGrid.theta_rad, h);
        rocof = this.mainGrid.rocof_hz_s;
        rt.freq.rocof_hz_s = rocof;
        // The grid absorbs the imbalance, inertial responses included.
        let inertial = 0;
        for (let i = 0; i < rt.units.length; i++)
          if (rt.units[i].on) inertial += rt.units[i].inertia_mws_hz * rocof;
        rt.pccImport_mw = -(pAcc - inertial);
      } else if (m > 0) {
        rocof = rt.freq.advance(pAcc, m, h);
      } else {
        rocof = 0;
      }
      rt.rocofFiltered = lagStep(rt.rocofFiltered, rocof, 0.05, h);
      const df = (rt.gridConnected ? this.mainGrid.f_hz : rt.freq.f_hz) / this.f0_hz - 1;
      for (let i = 0; i < rt.buses.length; i++) this.busDfPu[rt.buses[i]] = df;
      for (let i = 0; i < rt.units.length; i++) {
        const u = rt.units[i];
        u.settle(rocof);
        u.account(h);
      }
    }
  }

  /** Writes injections into the power flow and solves every island. */
  private solveNetwork(): void {
    const pf = this.pf;
    const net = pf.net;
    for (let l = 0; l < this.loads.n; l++) {
      net.loadP_mw[l] = this.loads.p[l];
      net.loadQ_mvar[l] = this.loads.q[l];
    }
    net.busExtraP_mw.fill(0);
    net.busExtraQ_mvar.fill(0);
    for (let k = 0; k < this.fids.length; k++) {
      const f = this.fids[k];
      net.busExtraP_mw[this.fidBusA[k]] += f.pA_mw;
      net.busExtraQ_mvar[this.fidBusA[k]] += f.qA_mvar;
      net.busExtraP_mw[this.fidBusB[k]] += f.pB_mw;
      net.busExtraQ_mvar[this.fidBusB[k]] += f.qB_mvar;
    }
    for (let i = 0; i < this.hardware.length; i++) {
      const d = this.hardware[i];
      net.busExtraP_mw[d.busIndex] += d.pDrive_mw;
      net.busExtraQ_mvar[d.busIndex] += d.q_mvar;
    }
    for (let r = 0; r < this.islands.length; r++) {
      const rt = this.islands[r];
      for (let i = 0; i < rt.units.length; i++) {
        const u = rt.units[i];
        const k = this.unitNetIndex[rt.unitNet[i]];
        net.unitP_mw[k] = u.on ? u.p_mw : 0;
        net.unitQ_mvar[k] = u.on ? u.q_mvar : 0;
        net.unitParticipation[k] = !rt.gridConnected && u.on ? u.inertia_mws_hz : 0;
        // Only the island's reference holds its voltage; other formers follow their Q–V droop.
        // Transmission generators (a grid file's generators) keep their AVR set-point, as in the
        // power flow: as PQ units a meshed transmission grid has no voltage support and diverges.
        if (this.unitRegulates[rt.unitNet[i]]) {
          const holds = u.busIndex === rt.referenceBus || u.technology === 'generator';
          net.unitControl[k] = holds ? UnitControl.voltage : UnitControl.pq;
          if (holds) net.unitVset_pu[k] = this.unitVset(u) + rt.voltageOffset_pu;
        }
      }
    }
    const v = this.mainGrid.v_pu;
    for (let u = 0; u < net.unitIds.length; u++) {
      if (net.busIsSlack[net.unitBus[u]]) net.unitVset_pu[u] = v;
    }
    const stats = this.solverStats;
    const result = pf.solve();
    this.countRebuilds();
    stats.networkSolves++;
    this.countWork(result);
    if (!result.converged) {
      // Retry islands that failed from a flat start (a warm start from a faulted state can lie
      // outside Newton's basin once the fault is gone), keeping their structure.
      for (const r of result.islands) {
        if (r.status === 'converged' || r.status === 'de-energised' || r.status === 'no-reference') continue;
        pf.flatStartIsland(r.index);
        stats.retriedIslands++;
        const again = pf.solveIsland(r.index);
        stats.newtonIterations += again.iterations;
        stats.factorizations += again.factorizations;
      }
      result.converged = result.islands.every(
        (r) => r.status === 'converged' || r.status === 'de-energised' || r.status === 'no-reference',
      );
      if (!result.converged) stats.failedSolves++;
    }
    this.vm.set(pf.vm_pu);
    // Losses per island: sum of all injections.
    const inj = this.busInj;
    inj.set(net.busExtraP_mw);
    for (let l = 0; l < this.loads.n; l++) inj[this.loads.bus[l]] -= this.loads.p[l];
    for (let u = 0; u < net.unitIds.length; u++)
      if (net.unitInService[u]) inj[net.unitBus[u]] += pf.unitPOut_mw[u];
    for (let r = 0; r < this.islands.length; r++) {
      const rt = this.islands[r];
      if (!rt.energised) {
        rt.losses_mw = 0;
        continue;
      }
      // A failed solve keeps the last good losses and unit outputs.
      if (result.islands[pf.busIsland[rt.buses[0]]].status !== 'converged') continue;
      let sum = 0;
      for (let i = 0; i < rt.buses.length; i++) sum += inj[rt.buses[i]];
      // Grid-connected: the slack output is the import, so the sum is the losses either way.
      rt.losses_mw = Math.max(0, sum);
      // Current limiting of an islanded microgrid's sources: when its formers would have to
      // deliver more current than they can (a fault), every voltage of the island sags by the same
      // factor (the network and, below 0.7 pu, the loads are impedances), powers by its square.
      rt.vScale = rt.gridConnected ? 1 : this.currentLimitScale(rt);
      const s2 = rt.vScale * rt.vScale;
      if (rt.vScale < 1) {
        for (let i = 0; i < rt.buses.length; i++) this.vm[rt.buses[i]] *= rt.vScale;
        rt.losses_mw *= s2;
      }
      for (let i = 0; i < rt.units.length; i++) {
        const u = rt.units[i];
        const k = this.unitNetIndex[rt.unitNet[i]];
        if (!u.on) continue;
        if (net.unitControl[k] === UnitControl.voltage) u.q_mvar = pf.unitQOut_mvar[k] * s2;
        if (net.unitParticipation[k] > 0 || net.unitControl[k] === UnitControl.voltage)
          u.p_mw = pf.unitPOut_mw[k] * s2;
      }
    }
  }

  private countWork(result: PowerFlowResult): void {
    for (const r of result.islands) {
      this.solverStats.newtonIterations += r.iterations;
      this.solverStats.factorizations += r.factorizations;
    }
  }

  /** Voltage scale (≤ 1) that keeps the island's forming units within their current limits. */
  private currentLimitScale(rt: IslandRuntime): number {
    const pf = this.pf;
    let limit = 0;
    let apparent = 0;
    for (let i = 0; i < rt.units.length; i++) {
      const u = rt.units[i];
      if (!u.on || u.kind === 'grid-following') continue;
      // Sustained fault current: ~3 pu for a synchronous machine, ~1.5 pu for an inverter.
      limit += u.rating_mva * (u.kind === 'synchronous' ? 3 : 1.5);
      const k = this.unitNetIndex[rt.unitNet[i]];
      apparent += Math.hypot(pf.unitPOut_mw[k], pf.unitQOut_mvar[k]);
    }
    const v = rt.referenceBus >= 0 ? pf.vm_pu[rt.referenceBus] : 1;
    if (!(limit > 0) || !(v > 0)) return 1;
    const current = apparent / v;
    return current > limit ? limit / current : 1;
  }

  private unitVset(u: DerUnit): number {
    if (u instanceof SynchronousGenset) return u.params.vset_pu;
    if (u instanceof BatteryUnit) return u.params.vset_pu;
    return 1;
  }

  // ---------------------------------------------------------------- protection

  private protect(dt: number): void {
    const vm = this.vm;
    for (let r = 0; r < this.islands.length; r++) {
      const rt = this.islands[r];
      const f = rt.energised ? (rt.gridConnected ? this.mainGrid.f_hz : rt.freq.f_hz) : 0;
      if (rt.energised) {
        if (f < rt.nadir_hz) rt.nadir_hz = f;
        if (f > rt.zenith_hz) rt.zenith_hz = f;
      }
      for (let i = 0; i < rt.units.length; i++) {
        const u = rt.units[i];
        const p = u.protection;
        if (!p || !u.inService || !u.running) continue;
        const v = rt.energised ? vm[u.busIndex] : 0;
        const wasTripped = p.tripped;
        const cause = p.update(v, rt.energised ? f : 0, rt.rocofFiltered, dt);
        if (cause) this.onUnitTrip(u, `IEEE 1547 ${cause}`);
        else if (wasTripped && !p.tripped) {
          this.emit('der-enter-service', `${u.id} enters service`, u.id);
          this.unitServiceDirty = true;
        }
      }
      // Anti-islanding: DERs flagged for it trip after the detection time on unplanned islanding.
      if (
        rt.unplannedSince_s >= 0 &&
        this.t - rt.unplannedSince_s >= (this.config.antiIslandingDetection_s ?? 2) - dt * 0.5
      ) {
        for (const u of rt.units) {
          if (u.on && this.derParams(u.id)?.antiIslanding === true) {
            u.protection?.trip('anti-islanding');
            this.onUnitTrip(u, 'anti-islanding');
          }
        }
        rt.unplannedSince_s = Number.POSITIVE_INFINITY;
      }
      if (rt.energised && !rt.gridConnected) {
        const stage = rt.ufls.update(f, dt);
        if (stage > 0) {
          let shed = 0;
          for (const l of rt.loads) {
            if (this.loads.stage[l] === stage && this.loads.connected[l]) {
              this.loads.connected[l] = 0;
              shed += this.loads.p[l];
            }
          }
          this.emit(
            'ufls',
            `UFLS stage ${stage} in ${rt.id} at ${f.toFixed(3)} Hz shed ${shed.toFixed(3)} MW`,
            rt.id,
          );
        }
      }
    }
    if (this.ocBranch.length > 0) {
      const net = this.pf.net;
      for (let i = 0; i < this.ocBranch.length; i++) {
        const k = this.ocBranch[i];
        if (!net.branchInService[k]) {
          this.ocCurrent[i] = 0;
          continue;
        }
        const f = net.branchFrom[k];
        const t = net.branchTo[k];
        const af = this.pf.va_deg[f] / DEG;
        const at = this.pf.va_deg[t] / DEG;
        const dr = vm[f] * Math.cos(af) - vm[t] * Math.cos(at);
        const di = vm[f] * Math.sin(af) - vm[t] * Math.sin(at);
        const z = Math.hypot(net.branchR[k], net.branchX[k]);
        this.ocCurrent[i] = (Math.hypot(dr, di) / z) * this.ocBaseKa[i] * 1000;
      }
      const tripped = this.overcurrent.update(this.ocCurrent, dt);
      if (tripped >= 0) {
        const s = this.overcurrent.settings[tripped];
        this.setBreaker(s.branch, false);
        this.emit(
          'overcurrent-trip',
          `over-current relay opened ${s.branch} at ${this.ocCurrent[tripped].toFixed(0)} A`,
          s.branch,
        );
      }
    }
  }

  private derParams(id: string): Record<string, unknown> | undefined {
    return this.grid.ders.find((d) => d.id === id)?.params;
  }

  private onUnitTrip(u: DerUnit, cause: string): void {
    u.onTrip();
    this.tripLog.push({ t_s: this.t, unit: u.id, cause });
    this.emit('der-trip', `${u.id} tripped: ${cause}`, u.id).data = { cause };
    this.unitServiceDirty = true;
  }

  // ---------------------------------------------------------------- control

  private control(dt: number): void {
    const sec = this.config.secondary ?? {};
    const kiF = sec.ki_f ?? 2.5;
    const kiV = sec.ki_v ?? 0.5;
    for (let r = 0; r < this.islands.length; r++) {
      const rt = this.islands[r];
      if (rt.energised && rt.gridConnected && rt.pccEstimator) {
        let base = rt.pccImport_mw;
        for (let i = 0; i < rt.units.length; i++)
          if (rt.units[i].on && rt.units[i].dispatchable) base += rt.units[i].p_mw;
        rt.pccEstimator.update(base, this.t, dt);
      }
      if (!rt.energised || rt.gridConnected || sec.enabled === false) continue;
      // Secondary frequency restoration: integral of the frequency error, shared by participation.
      let cap = 0;
      for (const u of rt.units)
        if (u.on && u.dispatchable && u.kind !== 'grid-following') cap += u.participation;
      if (cap <= 0) continue;
      const err = (rt.fTarget_hz - rt.freq.f_hz) / this.f0_hz;
      // While resynchronising, secondary control works 4× faster to follow the synchroniser.
      rt.secondaryOffset_mw += (rt.resyncing ? 4 : 1) * kiF * err * cap * dt;
      for (let i = 0; i < rt.units.length; i++) {
        const u = rt.units[i];
        if (!u.on || !u.dispatchable || u.kind === 'grid-following') continue;
        u.setReference(this.baseRef[rt.unitNet[i]] + (rt.secondaryOffset_mw * u.participation) / cap);
      }
      // Secondary voltage restoration: mean bus voltage back to 1 pu through the formers' set-points.
      let vs = 0;
      for (let i = 0; i < rt.buses.length; i++) vs += this.vm[rt.buses[i]];
      const meanV = vs / rt.buses.length;
      // Hold the voltage integrator while the sources are current-limited (a fault).
      if (rt.vScale < 1) continue;
      rt.voltageOffset_pu = Math.max(-0.05, Math.min(0.08, rt.voltageOffset_pu + kiV * (1 - meanV) * dt));
    }
    // Tertiary dispatch.
    if (this.t + 1e-9 >= this.nextDispatch_s) {
      this.tertiary();
      let interval = Number.POSITIVE_INFINITY;
      for (const s of this.emsByMicrogrid.values()) interval = Math.min(interval, s.dispatchInterval_s);
      this.nextDispatch_s = this.t + (Number.isFinite(interval) ? interval : 60);
    }
    this.runPlannedIslanding();
    this.runResync();
  }

  private tertiary(): void {
    for (let r = 0; r < this.islands.length; r++) {
      const rt = this.islands[r];
      if (!rt.energised || !rt.ems) continue;
      const units = rt.units;
      if (this.emsRefs.length < units.length) continue;
      let demand = rt.losses_mw;
      for (const l of rt.loads) demand += this.loads.p[l];
      for (const u of units) if (u.on && !u.dispatchable) demand -= u.p_mw;
      for (const h of rt.hardware) demand -= h.p_mw;
      for (let k = 0; k < this.fids.length; k++) {
        if (this.busIslandRuntime[this.fidBusA[k]] === r) demand -= this.fids[k].pA_mw;
        if (this.busIslandRuntime[this.fidBusB[k]] === r) demand -= this.fids[k].pB_mw;
      }
      const refs = this.emsRefs.subarray(0, units.length);
      dispatch(
        rt.ems,
        {
          units,
          netDemand_mw: demand,
          gridConnected: rt.gridConnected,
          pcc: rt.gridConnected ? rt.pccEstimator?.estimate : undefined,
        },
        refs,
      );
      for (let i = 0; i < units.length; i++) {
        const ref = refs[i];
        if (Number.isNaN(ref)) continue;
        this.baseRef[rt.unitNet[i]] = ref;
        units[i].setReference(ref);
        // Standby power: gensets stop while the grid is there.
        const u = units[i];
        if (
          u instanceof SynchronousGenset &&
          rt.gridConnected &&
          rt.ems.mode === 'standby-power' &&
          u.running
        ) {
          u.stop();
          this.emit('unit-standby', `${u.id} to standby`, u.id);
          this.unitServiceDirty = true;
        }
      }
      rt.secondaryOffset_mw = 0;
      if (!rt.gridConnected) this.demandResponse(rt, demand, units);
    }
  }

  /**
   * Demand response of an islanded microgrid: when the net demand exceeds what its dispatchable
   * units can deliver, controllable loads are curtailed (equal fraction) by the shortfall; they are
   * restored as soon as capacity returns.
   */
  private demandResponse(rt: IslandRuntime, demand: number, units: readonly DerUnit[]): void {
    let capacity = 0;
    for (const u of units) if (u.on && u.dispatchable) capacity += u.pmax_mw;
    // Work with the uncurtailed demand, so the curtailment converges instead of oscillating.
    let controllable = 0;
    let curtailed = 0;
    for (const l of rt.loads) {
      if (!this.loads.controllable[l] || !this.loads.connected[l]) continue;
      const full = this.loads.nominal(l, this.ctx.hourOfDay);
      controllable += full;
      curtailed += full * (1 - this.loads.curtail[l]);
    }
    if (controllable <= 0) return;
    const shortfall = demand + curtailed - capacity;
    const fraction = shortfall > 0 ? Math.min(1, shortfall / controllable) : 0;
    let changed = false;
    for (const l of rt.loads) {
      if (!this.loads.controllable[l]) continue;
      const c = 1 - fraction;
      if (Math.abs(this.loads.curtail[l] - c) > 1e-9) changed = true;
      this.loads.curtail[l] = c;
    }
    if (changed) {
      this.emit(
        'demand-response',
        `${rt.id}: controllable loads curtailed by ${(fraction * 100).toFixed(1)} %`,
        rt.id,
      );
    }
  }

  private runPlannedIslanding(): void {
    const p = this.planned;
    if (!p) return;
    const rt =
      this.islands[this.busIslandRuntime[p.breaker.to]] ??
      this.islands[this.busIslandRuntime[p.breaker.from]];
    const threshold = this.config.plannedIslanding?.threshold_mw ?? 0.05;
    if (rt) {
      // Bring the exchange to zero: raise (or lower) dispatchable references by the import.
      const units = rt.units.filter((u) => u.on && u.dispatchable && u.kind !== 'grid-following');
      const cap = units.reduce((a, u) => a + u.participation, 0);
      if (cap > 0 && Math.abs(rt.pccImport_mw) > threshold * 0.5) {
        const gain = Math.min(1, this.dt_s * 2);
        for (const u of units) {
          const i = this.units.indexOf(u);
          this.baseRef[i] += (rt.pccImport_mw * gain * u.participation) / cap;
          u.setReference(this.baseRef[i]);
        }
      }
    }
    if ((rt && Math.abs(rt.pccImport_mw) <= threshold) || this.t >= p.deadline_s) {
      this.planned = null;
      this.setBreaker(p.breaker.id, false);
      this.emit(
        'islanded',
        `${p.microgrid} islanded (planned), PCC exchange ${rt ? rt.pccImport_mw.toFixed(3) : '?'} MW`,
        p.microgrid,
      );
      this.rebuildIslands();
      for (const r of this.islands) if (r.microgrids.includes(p.microgrid)) r.unplannedSince_s = -1;
    }
  }

  private runResync(): void {
    const s = this.resync;
    if (!s) return;
    const sc = this.config.synchroCheck ?? {};
    const ra = this.islands[this.busIslandRuntime[s.breaker.from]];
    const rb = this.islands[this.busIslandRuntime[s.breaker.to]];
    if (!ra || !rb || ra === rb) {
      this.resync = null;
      return;
    }
    const grid = ra.gridConnected ? ra : rb;
    const isl = ra.gridConnected ? rb : ra;
    const fg = grid.gridConnected ? this.mainGrid.f_hz : grid.freq.f_hz;
    const busG = grid === ra ? s.breaker.from : s.breaker.to;
    const busI = grid === ra ? s.breaker.to : s.breaker.from;
    const df = Math.abs(isl.freq.f_hz - fg);
    const dv = Math.abs(this.vm[busI] - this.vm[busG]);
    const thG =
      (grid.gridConnected ? this.mainGrid.theta_rad : grid.freq.theta_rad) + this.pf.va_deg[busG] / DEG;
    const thI = isl.freq.theta_rad + this.pf.va_deg[busI] / DEG;
    const phase = wrapAngle(thI - thG);
    const dth = Math.abs(phase) * DEG;
    // Auto-synchroniser: slip toward the grid's phase (an island ahead runs slower), at most
    // slip_hz, so the phase error closes instead of cycling through the window.
    const slip = sc.slip_hz ?? 0.05;
    isl.fTarget_hz = fg + Math.max(-slip, Math.min(slip, (-slip * phase) / (Math.PI / 4)));
    isl.resyncing = true;
    if (
      isl.energised &&
      df <= (sc.df_hz ?? 0.1) &&
      dv <= (sc.dv_pu ?? 0.05) &&
      dth <= (sc.dtheta_deg ?? 10)
    ) {
      this.resync = null;
      isl.fTarget_hz = this.f0_hz;
      isl.resyncing = false;
      this.setBreaker(s.breaker.id, true);
      this.emit(
        'reconnected',
        `${s.microgrid} reconnected: Δf ${df.toFixed(3)} Hz, ΔV ${dv.toFixed(3)} pu, Δθ ${dth.toFixed(1)}°`,
        s.microgrid,
      );
    } else if (this.t >= s.deadline_s) {
      this.resync = null;
      isl.fTarget_hz = this.f0_hz;
      isl.resyncing = false;
      this.emit('resync-failed', `${s.microgrid}: synchro-check not satisfied before timeout`, s.microgrid);
    }
  }

  // ---------------------------------------------------------------- outputs

  private publish(): void {
    const st = this.state;
    st.t_s = this.t;
    st.step = this.stepCount;
    const va = st.va_deg;
    for (let r = 0; r < this.islands.length; r++) {
      const rt = this.islands[r];
      const s = rt.state;
      s.energised = rt.energised;
      s.gridConnected = rt.gridConnected;
      s.f_hz = rt.energised ? (rt.gridConnected ? this.mainGrid.f_hz : rt.freq.f_hz) : 0;
      s.rocof_hz_s = rt.energised ? rt.freq.rocof_hz_s : 0;
      const theta = (rt.gridConnected ? this.mainGrid.theta_rad : rt.freq.theta_rad) * DEG;
      for (let i = 0; i < rt.buses.length; i++) {
        const b = rt.buses[i];
        va[b] = rt.energised ? this.pf.va_deg[b] + theta : 0;
      }
    }
    const devices = st.devices;
    for (let i = 0; i < this.units.length; i++) {
      const u = this.units[i];
      const d = devices[u.id];
      d.p_mw = u.on ? u.p_mw : 0;
      d.q_mvar = u.on ? u.q_mvar : 0;
      d.online = u.on;
      d.tripped = u.tripped;
      if (u instanceof BatteryUnit) d.soc = u.soc;
    }
    for (let i = 0; i < this.hardware.length; i++) {
      const h = this.hardware[i];
      const d = devices[h.id];
      d.p_mw = h.pDrive_mw;
      d.q_mvar = h.q_mvar;
      d.online = h.online;
      if (h.soc !== undefined) d.soc = h.soc;
      this.measureHardware(h);
    }
    const fidStates = this.state.fids;
    for (let k = 0; k < this.fids.length; k++) {
      const f = this.fids[k];
      const d = devices[f.id];
      d.p_mw = f.transfer_mw;
      d.q_mvar = f.qB_mvar;
      d.online = f.inService;
      if (fidStates) {
        const s = fidStates[f.id];
        s.p_a_mw = f.pA_mw;
        s.p_b_mw = f.pB_mw;
        s.loss_mw = f.losses_mw;
      }
    }
    for (let m = 0; m < this.pccMeters.length; m++) this.measurePcc(this.pccMeters[m]);
  }

  /** Finds the buses, loads, units and branches a PCC switch feeds (on a topology change). */
  private locatePccMeter(meter: PccMeter): void {
    const b = meter.breaker;
    meter.measurable = true;
    if (b?.kind !== 'switch' || meter.side < 0) {
      meter.buses = meter.loads = meter.units = meter.branches = NO_INDICES;
      return;
    }
    const net = this.pf.net;
    const group = [meter.side];
    const other = meter.side === b.to ? b.from : b.to;
    for (let g = 0; g < group.length; g++) {
      for (let k = 0; k < net.switchIds.length; k++) {
        if (k === b.index || !net.switchClosed[k]) continue;
        const next =
          net.switchFrom[k] === group[g]
            ? net.switchTo[k]
            : net.switchTo[k] === group[g]
              ? net.switchFrom[k]
              : -1;
        if (next >= 0 && !group.includes(next)) group.push(next);
      }
    }
    if (group.includes(other)) meter.measurable = false;
    const inGroup = new Set(group);
    const branches: number[] = [];
    const ends: number[] = [];
    for (let k = 0; k < net.branchIds.length; k++) {
      const f = inGroup.has(net.branchFrom[k]);
      const t = inGroup.has(net.branchTo[k]);
      if (!f && !t) continue;
      branches.push(k);
      ends.push(f && t ? 2 : f ? 1 : 0);
    }
    const loads: number[] = [];
    for (let l = 0; l < net.loadIds.length; l++) if (inGroup.has(net.loadBus[l])) loads.push(l);
    const units: number[] = [];
    for (let u = 0; u < net.unitIds.length; u++) if (inGroup.has(net.unitBus[u])) units.push(u);
    meter.buses = Int32Array.from(group);
    meter.loads = Int32Array.from(loads);
    meter.units = Int32Array.from(units);
    meter.branches = Int32Array.from(branches);
    meter.branchEnds = Uint8Array.from(ends);
  }

  /**
   * PCC power into the microgrid from the solved power flow (import positive), its EMS mode and
   * whether it is islanded. Keeps the last values while the island's solve has failed.
   */
  private measurePcc(meter: PccMeter): void {
    const st = meter.state;
    st.ems = this.emsByMicrogrid.get(meter.microgrid)!.mode;
    const rt = meter.side >= 0 ? this.islands[this.busIslandRuntime[meter.side]] : undefined;
    st.islanded = !rt?.gridConnected;
    const b = meter.breaker;
    if (!b || !rt?.energised || !this.isBreakerClosed(b.id) || !meter.measurable) {
      st.pcc_p_mw = 0;
      st.pcc_q_mvar = 0;
      return;
    }
    const pf = this.pf;
    const net = pf.net;
    const flow = this.flow;
    let p = 0;
    let q = 0;
    if (b.kind === 'branch') {
      // Into the microgrid = out of the branch at the microgrid's end.
      if (!pf.branchFlow(b.index, flow)) return;
      const atFrom = meter.side === b.from;
      p = -(atFrom ? flow.pf_mw : flow.pt_mw);
      q = -(atFrom ? flow.qf_mvar : flow.qt_mvar);
    } else {
      for (let i = 0; i < meter.branches.length; i++) {
        const k = meter.branches[i];
        if (!net.branchInService[k]) continue;
        if (!pf.branchFlow(k, flow)) return;
        const end = meter.branchEnds[i];
        if (end !== 0) {
          p += flow.pf_mw;
          q += flow.qf_mvar;
        }
        if (end !== 1) {
          p += flow.pt_mw;
          q += flow.qt_mvar;
        }
      }
      const base = net.baseMVA;
      for (let i = 0; i < meter.buses.length; i++) {
        const bus = meter.buses[i];
        const v2 = pf.vm_pu[bus] * pf.vm_pu[bus];
        p += net.busShuntG[bus] * v2 * base - net.busExtraP_mw[bus];
        q -= net.busShuntB[bus] * v2 * base + net.busExtraQ_mvar[bus];
      }
      for (let i = 0; i < meter.loads.length; i++) {
        const l = meter.loads[i];
        if (!net.loadInService[l]) continue;
        p += net.loadP_mw[l];
        q += net.loadQ_mvar[l];
      }
      for (let i = 0; i < meter.units.length; i++) {
        const u = meter.units[i];
        if (!net.unitInService[u]) continue;
        p -= pf.unitPOut_mw[u];
        q -= pf.unitQOut_mvar[u];
      }
    }
    // Under current limiting every power of the island scales with the voltage squared.
    const s2 = rt.vScale * rt.vScale;
    st.pcc_p_mw = p * s2;
    st.pcc_q_mvar = q * s2;
  }

  private measureHardware(h: HardwareDevice): void {
    const rt = this.islands[this.busIslandRuntime[h.busIndex]];
    const m = this.measurements.get(h.id)!;
    const ch = this.measureChannels.get(h.id)!;
    const energised = !!rt?.energised;
    const f = energised ? (rt.gridConnected ? this.mainGrid.f_hz : rt.freq.f_hz) : 0;
    m.vm_pu = ch[0].process(energised ? this.vm[h.busIndex] : 0, this.t);
    m.va_deg = ch[1].process(this.state.va_deg[h.busIndex], this.t);
    m.f_hz = ch[2].process(f, this.t);
    m.rocof_hz_s = ch[3].process(energised ? rt.freq.rocof_hz_s : 0, this.t);
    m.t_s = this.t;
    m.step = this.stepCount;
  }

  measurementFor(deviceId: string): BusMeasurement {
    const m = this.measurements.get(deviceId);
    if (m) return m;
    const unit = this.unitById.get(deviceId);
    if (!unit) throw new TypeError(`measurementFor: unknown device '${deviceId}'`);
    const rt = this.islands[this.busIslandRuntime[unit.busIndex]];
    const energised = !!rt?.energised;
    return {
      vm_pu: energised ? this.vm[unit.busIndex] : 0,
      va_deg: this.state.va_deg[unit.busIndex],
      f_hz: energised ? (rt.gridConnected ? this.mainGrid.f_hz : rt.freq.f_hz) : 0,
      rocof_hz_s: energised ? rt.freq.rocof_hz_s : 0,
      t_s: this.t,
      step: this.stepCount,
    };
  }

  /** The measurement and command channels of a hardware device (for attacks and tests). */
  channelsOf(deviceId: string): { measurement: Channel[]; command: Channel[] } | undefined {
    const measurement = this.measureChannels.get(deviceId);
    const command = this.commandChannels.get(deviceId);
    return measurement && command ? { measurement, command } : undefined;
  }

  private applyInputs(inputs: readonly DeviceInput[]): void {
    for (let i = 0; i < inputs.length; i++) {
      const input = inputs[i];
      const dev = this.hardwareById.get(input.deviceId);
      if (!dev) continue;
      const ch = this.commandChannels.get(input.deviceId)!;
      const p = Number.isFinite(input.p_mw) ? ch[0].process(input.p_mw, this.t) : dev.commanded_p_mw;
      const q = Number.isFinite(input.q_mvar) ? ch[1].process(input.q_mvar, this.t) : dev.commanded_q_mvar;
      dev.receive(p, q, input.online, input.soc);
    }
  }

  // ---------------------------------------------------------------- commands and actions

  private emit(kind: string, message: string, target?: string): TwinEvent {
    const e: TwinEvent = { t_s: this.t, kind, message, target };
    this.events.push(e);
    return e;
  }

  private setBreaker(id: string, closed: boolean): void {
    const b = this.breakers.get(id);
    if (!b) throw new TypeError(`unknown breaker '${id}' (not a switch or branch id)`);
    if (b.kind === 'switch') this.pf.setSwitch(b.index, closed);
    else this.pf.setBranchInService(b.index, closed);
    if (closed) {
      for (let i = 0; i < this.ocBranch.length; i++)
        if (this.overcurrent.settings[i].branch === id) this.overcurrent.rearm(i);
    }
    this.markStructure('breaker');
  }

  isBreakerClosed(id: string): boolean {
    const b = this.breakers.get(id);
    if (!b) throw new TypeError(`unknown breaker '${id}'`);
    return b.kind === 'switch'
      ? this.pf.net.switchClosed[b.index] === 1
      : this.pf.net.branchInService[b.index] === 1;
  }

  command(command: TwinCommand): TwinEvent {
    return this.apply(command);
  }

  /**
   * After an emergency stop every unit and FID stays out of service for the rest of the run: a
   * set-point is refused (as a hardware device's latched stop refuses it) rather than accepted
   * and ignored.
   */
  private refuseWhileStopped(): void {
    if (this.emergencyStopped) throw new TypeError('set-point refused: emergency stop is latched');
  }

  /** Queues an action at twin time `t_s` (applied at the start of the first step ending after it). */
  scheduleAt(t_s: number, action: TwinAction): void {
    this.schedule.push({ t_s, action, seq: this.scheduleSeq++ });
    this.schedule.sort((a, b) => a.t_s - b.t_s || a.seq - b.seq);
  }

  private runSchedule(): void {
    const tNext = this.t + this.dt_s;
    while (this.schedule.length > 0 && this.schedule[0].t_s < tNext - 1e-9) {
      const item = this.schedule.shift()!;
      try {
        this.apply(item.action);
      } catch (err) {
        // A scheduled action the twin refuses now (a set-point after the emergency stop) is an
        // event on the timeline: the step goes on.
        if (!(err instanceof TypeError)) throw err;
        this.emit('action-refused', `${item.action.kind}: ${err.message}`);
      }
    }
  }

  /** Applies an action now. Throws TypeError naming what is wrong. */
  apply(action: TwinAction): TwinEvent {
    switch (action.kind) {
      case 'breaker':
        this.setBreaker(action.id, action.closed);
        return this.emit('breaker', `${action.id} ${action.closed ? 'closed' : 'opened'}`, action.id);
      case 'setpoint': {
        this.refuseWhileStopped();
        const u = this.unitById.get(action.deviceId);
        if (u) {
          if (action.p_mw !== undefined) {
            if (!Number.isFinite(action.p_mw)) throw new TypeError(`setpoint: p_mw must be finite`);
            this.baseRef[this.units.indexOf(u)] = action.p_mw;
            u.setReference(action.p_mw);
          }
          return this.emit('setpoint', `${u.id} P reference ${action.p_mw ?? '-'} MW`, u.id);
        }
        if (this.hardwareById.has(action.deviceId)) {
          return this.emit(
            'setpoint',
            `${action.deviceId}: set-point forwarded to hardware`,
            action.deviceId,
          );
        }
        throw new TypeError(`setpoint: unknown device '${action.deviceId}'`);
      }
      case 'fid-setpoint': {
        this.refuseWhileStopped();
        const fid = this.fids.find((f) => f.id === action.fidId);
        if (!fid) throw new TypeError(`fid-setpoint: unknown FID '${action.fidId}'`);
        if (!Number.isFinite(action.p_mw) || Math.abs(action.p_mw) > fid.params.rating_mva) {
          throw new TypeError(`fid-setpoint: p_mw must be within ±${fid.params.rating_mva} MW`);
        }
        fid.setTransfer(action.p_mw);
        return this.emit('fid-setpoint', `${fid.id} transfer set-point ${action.p_mw} MW`, fid.id);
      }
      case 'fid-mode': {
        const fid = this.fids.find((f) => f.id === action.fidId);
        if (!fid) throw new TypeError(`fid-mode: unknown FID '${action.fidId}'`);
        fid.params.mode = action.mode;
        return this.emit('fid-mode', `${fid.id} mode ${action.mode}`, fid.id);
      }
      case 'island': {
        const mgId = action.microgrid ?? [...this.microgridPcc.keys()][0];
        const breaker = mgId ? this.microgridPcc.get(mgId) : undefined;
        if (!mgId || !breaker)
          throw new TypeError(`island: microgrid '${action.microgrid ?? ''}' has no PCC breaker`);
        if (action.islanded) {
          this.planned = {
            microgrid: mgId,
            breaker,
            deadline_s: this.t + (this.config.plannedIslanding?.timeout_s ?? 30),
          };
          return this.emit('islanding-requested', `${mgId}: planned islanding started`, mgId);
        }
        this.resync = {
          microgrid: mgId,
          breaker,
          deadline_s: this.t + (this.config.synchroCheck?.timeout_s ?? 120),
        };
        return this.emit('reconnect-requested', `${mgId}: resynchronising`, mgId);
      }
      case 'attack': {
        const e = applyAttackCommand(this, action);
        return this.emit(e.kind, e.message, e.target);
      }
      case 'emergency-stop': {
        for (const u of this.units) {
          if (u.on) {
            u.protection?.trip('emergency-stop');
            u.inService = false;
            u.onTrip();
          }
        }
        for (const f of this.fids) f.inService = false;
        this.emergencyStopped = true;
        this.topologyDirty = true;
        return this.emit('emergency-stop', 'emergency stop: all simulated units and FIDs out of service');
      }
      case 'load-step': {
        const idx: number[] = [];
        if (action.load) {
          const i = this.loads.ids.indexOf(action.load);
          if (i < 0) throw new TypeError(`load-step: unknown load '${action.load}'`);
          idx.push(i);
        } else if (action.bus) {
          const b = this.pf.net.busIndexOf.get(action.bus);
          if (b === undefined) throw new TypeError(`load-step: unknown bus '${action.bus}'`);
          for (let l = 0; l < this.loads.n; l++) if (this.loads.bus[l] === b) idx.push(l);
          if (idx.length === 0) throw new TypeError(`load-step: bus '${action.bus}' has no load`);
        } else throw new TypeError('load-step: give load or bus');
        for (const i of idx) {
          if (action.scale !== undefined) this.loads.scale[i] *= action.scale;
          this.loads.extraP[i] += (action.delta_mw ?? 0) / idx.length;
          this.loads.extraQ[i] += (action.delta_mvar ?? 0) / idx.length;
        }
        return this.emit(
          'load-step',
          `load step at ${action.load ?? `bus ${action.bus}`}: ${action.delta_mw ?? 0} MW, ×${action.scale ?? 1}`,
          action.load ?? action.bus,
        );
      }
      case 'generator-trip': {
        const u = this.unitById.get(action.unit);
        if (!u) throw new TypeError(`generator-trip: unknown unit '${action.unit}'`);
        u.protection?.trip('manual');
        if (!u.protection) u.inService = false;
        this.onUnitTrip(u, 'manual trip');
        return this.events[this.events.length - 1];
      }
      case 'unit-start': {
        const u = this.unitById.get(action.unit);
        if (!(u instanceof SynchronousGenset))
          throw new TypeError(`unit-start: '${action.unit}' is not a genset`);
        u.start();
        return this.emit('unit-start', `${u.id} starting`, u.id);
      }
      case 'irradiance':
      case 'wind': {
        const tech = action.kind === 'irradiance' ? 'pv' : 'wind';
        const targets = this.units.filter(
          (u): u is InverterSource =>
            u instanceof InverterSource && u.technology === tech && (!action.unit || u.id === action.unit),
        );
        if (targets.length === 0)
          throw new TypeError(`${action.kind}: no ${tech} unit${action.unit ? ` '${action.unit}'` : ''}`);
        for (const u of targets) u.resourceScale = action.scale;
        return this.emit(
          action.kind,
          `${tech} resource ×${action.scale}${action.unit ? ` at ${action.unit}` : ''}`,
          action.unit,
        );
      }
      case 'fault': {
        const bus = this.pf.net.busIndexOf.get(action.bus);
        if (bus === undefined) throw new TypeError(`fault: unknown bus '${action.bus}'`);
        let r = action.r_pu;
        let x = action.x_pu;
        if (r === undefined && x === undefined) {
          const kv = this.grid.buses[bus].baseKV || 1;
          const zBase = (kv * kv) / this.grid.baseMVA;
          r = (action.r_ohm ?? 0) / zBase;
          x = (action.x_ohm ?? 0) / zBase;
        }
        const den = (r ?? 0) ** 2 + (x ?? 0) ** 2;
        if (!(den > 0)) throw new TypeError('fault: impedance must be non-zero');
        const g = (r ?? 0) / den;
        const b = -(x ?? 0) / den;
        this.pf.net.busShuntG[bus] += g;
        this.pf.net.busShuntB[bus] += b;
        this.pf.invalidateTopology();
        this.markStructure('fault');
        this.faults.push({
          bus,
          g_pu: g,
          b_pu: b,
          clearAt_s: this.t + action.duration_s,
          open: action.clearBy ?? [],
        });
        return this.emit(
          'fault',
          `fault at bus ${action.bus} (z = ${r?.toFixed(4)} + j${x?.toFixed(4)} pu) for ${action.duration_s} s`,
          action.bus,
        );
      }
      case 'fault-clear': {
        const bus = this.pf.net.busIndexOf.get(action.bus);
        const i = this.faults.findIndex((f) => f.bus === bus);
        if (i < 0) throw new TypeError(`fault-clear: no fault at bus '${action.bus}'`);
        this.clearFault(i, action.open ?? this.faults[i].open);
        return this.events[this.events.length - 1];
      }
      case 'grid-disturbance': {
        const d: GridDisturbance = {
          quantity: action.quantity,
          shape: action.shape ?? 'step',
          start_s: action.start_s ?? this.t,
          delta: action.delta,
          duration_s: action.duration_s ?? Number.POSITIVE_INFINITY,
          period_s: action.period_s ?? 1,
          rampTime_s: action.rampTime_s ?? 0,
        };
        this.mainGrid.disturbances.push(d);
        return this.emit('grid-disturbance', `main grid ${d.quantity} ${d.shape} ${d.delta}`, 'main-grid');
      }
      case 'load-curtail': {
        const i = this.loads.ids.indexOf(action.load);
        if (i < 0) throw new TypeError(`load-curtail: unknown load '${action.load}'`);
        if (!this.loads.controllable[i])
          throw new TypeError(`load-curtail: load '${action.load}' is not controllable`);
        if (!(action.fraction >= 0 && action.fraction <= 1))
          throw new TypeError('load-curtail: fraction must be in [0, 1]');
        this.loads.curtail[i] = 1 - action.fraction;
        return this.emit(
          'load-curtail',
          `${action.load} curtailed by ${(action.fraction * 100).toFixed(1)} %`,
          action.load,
        );
      }
      case 'soc': {
        const u = this.unitById.get(action.unit);
        if (!(u instanceof BatteryUnit)) throw new TypeError(`soc: '${action.unit}' is not a battery`);
        if (!(action.soc >= 0 && action.soc <= 1)) throw new TypeError('soc: must be in [0, 1]');
        u.soc = action.soc;
        return this.emit('soc', `${action.unit} state of charge set to ${action.soc}`, action.unit);
      }
      case 'load-scale': {
        if (!(action.scale >= 0) || !Number.isFinite(action.scale))
          throw new TypeError('load-scale: scale must be a finite number ≥ 0');
        this.loads.scale.fill(action.scale);
        return this.emit('load-scale', `every load scaled to ${action.scale}`);
      }
      case 'ems-mode': {
        const s = this.emsByMicrogrid.get(action.microgrid);
        if (!s) throw new TypeError(`ems-mode: unknown microgrid '${action.microgrid}'`);
        s.mode = action.mode;
        this.nextDispatch_s = this.t;
        return this.emit('ems-mode', `${action.microgrid} EMS mode ${action.mode}`, action.microgrid);
      }
    }
  }

  private updateFaults(): void {
    for (let i = this.faults.length - 1; i >= 0; i--) {
      if (this.t + 1e-9 >= this.faults[i].clearAt_s) this.clearFault(i, this.faults[i].open);
    }
  }

  private clearFault(i: number, open: string[]): void {
    const f = this.faults[i];
    this.pf.net.busShuntG[f.bus] -= f.g_pu;
    this.pf.net.busShuntB[f.bus] -= f.b_pu;
    this.pf.invalidateTopology();
    this.markStructure('fault-cleared');
    this.faults.splice(i, 1);
    for (const id of open) this.setBreaker(id, false);
    this.emit(
      'fault-cleared',
      `fault at bus ${this.pf.net.busIds[f.bus]} cleared${open.length ? `, opened ${open.join(', ')}` : ''}`,
      this.pf.net.busIds[f.bus],
    );
  }
}

export interface TwinFileOptions extends Omit<TwinOptions, 'config'> {
  /** Grid file: MATPOWER .m or YAML (with an optional `twin:` section). */
  grid: string;
  /** Extra settings merged over the grid file's `twin:` section. */
  config?: TwinConfig;
}

/** Builds a twin from a grid file (see the top of this file). */
export async function twinFromFiles(options: TwinFileOptions): Promise<Twin> {
  const { loadGridFile } = await import('./files.ts');
  const loaded = await loadGridFile(options.grid);
  return new Twin(loaded.grid, { ...options, config: { ...loaded.config, ...(options.config ?? {}) } });
}
