import type { ExtensionCommandHandler } from '../addons.ts';
import type { BusMeasurement, MicrogridState, TwinEvent, TwinState } from '../api.ts';
import {
  buildChannel,
  type Channel,
  COMMAND_SIGNALS,
  MEASUREMENT_SIGNALS,
  specFor,
} from '../channels/channel.ts';
import type { TwinCatalog } from '../control/contract.ts';
import { Ownership } from '../control/ownership.ts';
import { ControllerRunner } from '../control/runner.ts';
import { createDerUnit, createGeneratorUnit } from '../der/factory.ts';
import { HardwareDevice } from '../der/hardware.ts';
import type { LoadBank } from '../der/load.ts';
import type { DerUnit, UnitContext } from '../der/unit.ts';
import { defaultEmsSettings, type EmsSettings, PccImportEstimator } from '../dynamics/ems.ts';
import { MainGrid } from '../dynamics/main-grid.ts';
import type { FlexibleInterconnection } from '../fid/fid.ts';
import type { Grid } from '../grid/model.ts';
import { PowerFlowSolver, UnitControl } from '../powerflow/index.ts';
import type { OvercurrentRelays } from '../protection/protection.ts';
import { buildBreakers, buildFids, buildLoadBank, buildOvercurrent } from './build.ts';
import {
  type Breaker,
  type HardwareSpec,
  type IslandRuntime,
  NO_INDICES,
  type PccMeter,
  type PendingFault,
  type ScheduledAction,
  type TwinConfig,
  type TwinOptions,
  type TwinSolverStats,
} from './types.ts';

/**
 * The twin's one explicit state object: everything the stages (twin/stages/) read and write, built
 * from the grid and options. Stages are functions over it; `Twin` (twin.ts) orders them. Fields
 * are public inside twin/ (the stages' working state); outside, read them as the Twin's API.
 */
export class TwinCore {
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
  readonly breakers: Map<string, Breaker>;
  readonly overcurrent: OvercurrentRelays;
  readonly state: TwinState;

  readonly unitNetIndex: Int32Array;
  readonly unitNetInService: Uint8Array;
  /** Units compiled as voltage-regulating (PV / grid-forming) by the power flow. */
  readonly unitRegulates: Uint8Array;
  readonly fidBusA: Int32Array;
  readonly fidBusB: Int32Array;
  readonly busDfPu: Float64Array;
  /** Bus voltages the twin uses and publishes (the power flow's, sagged under current limiting). */
  readonly vm: Float64Array;
  readonly busInj: Float64Array;
  readonly busIslandRuntime: Int32Array;
  readonly ocBranch: Int32Array;
  readonly ocCurrent: Float64Array;
  readonly ocBaseKa: Float64Array;
  readonly slackBus: Int32Array;
  readonly emsRefs = new Float64Array(64);
  readonly baseRef: Float64Array;
  islands: IslandRuntime[] = [];
  topologyDirty = true;
  /** A unit's service state changed (trip, enter service, standby): injections, maybe structure. */
  unitServiceDirty = false;
  readonly solverStats: TwinSolverStats = {
    networkSolves: 0,
    newtonIterations: 0,
    factorizations: 0,
    structureRebuilds: 0,
    rebuildsByCause: {},
    retriedIslands: 0,
    failedSolves: 0,
  };
  /** Why the solver's structure is stale (first cause wins), for the next rebuild's count. */
  rebuildCause: string | null = 'initial';
  seenTopologyBuilds = 0;
  t = 0;
  stepCount = 0;
  readonly maxSubstep_s: number;
  readonly networkEvery: number;
  readonly ctx: UnitContext;
  readonly events: TwinEvent[] = [];
  schedule: ScheduledAction[] = [];
  /** Set by the emergency stop, for the rest of the run (see refuseWhileStopped). */
  emergencyStopped = false;
  scheduleSeq = 0;
  faults: PendingFault[] = [];
  readonly measureChannels = new Map<string, Channel[]>();
  readonly commandChannels = new Map<string, Channel[]>();
  readonly measurements = new Map<string, BusMeasurement>();
  readonly hardwareBus = new Map<string, number>();
  nextDispatch_s = 0;
  resync: {
    microgrid: string;
    breaker: Breaker;
    deadline_s: number;
    /** The slip's sign the synchroniser holds (+1: island faster than the grid), set at its first step. */
    slipSign?: number;
    /** |Δθ| at the previous step, degrees: the phase match is where it stops falling. */
    lastPhase_deg?: number;
  } | null = null;
  /**
   * A planned islanding under way: `dispatched` once the island has been dispatched as an island,
   * `shedAfter_s` the earliest time it may shed controllable loads again (stages/islanding.ts).
   */
  planned: {
    microgrid: string;
    breaker: Breaker;
    deadline_s: number;
    dispatched: boolean;
    shedAfter_s: number;
  } | null = null;
  readonly microgridPcc = new Map<string, Breaker>();
  readonly microgridOfBus: (string | undefined)[];
  readonly emsByMicrogrid = new Map<string, EmsSettings>();
  readonly pccEstimatorByMicrogrid = new Map<string, PccImportEstimator>();
  readonly pccMeters: PccMeter[] = [];
  readonly flow = { pf_mw: 0, qf_mvar: 0, pt_mw: 0, qt_mvar: 0, lossP_mw: 0, lossQ_mvar: 0 };
  readonly ownership = new Ownership();
  readonly controllers: ControllerRunner;
  readonly unitIndexById = new Map<string, number>();
  /** 1 where the built-in EMS / secondary control drives the unit (or load): not taken by a controller. */
  builtInUnits: Uint8Array = new Uint8Array(0);
  builtInLoads: Uint8Array = new Uint8Array(0);
  catalogCache: TwinCatalog | undefined;
  /** Handlers of commands that add-ons bring (`attack`: twin/attacks/live.ts), registered from outside. */
  readonly extensionCommands = new Map<string, ExtensionCommandHandler>();
  /** Events of actions applied between steps (applyActions), for the next step's state. */
  readonly eventsBetweenSteps: TwinEvent[] = [];
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
    this.controllers = new ControllerRunner(this.dt_s, this.ownership);
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

    this.slackBus = this.buildUnits(options.derTechnologies);
    this.unitNetIndex = Int32Array.from(this.units, (u) => this.pf.unitIndex(u.id));
    this.unitNetInService = Uint8Array.from(this.unitNetIndex, (k) => net.unitInService[k]);
    this.unitRegulates = Uint8Array.from(this.unitNetIndex, (k) =>
      net.unitControl[k] === UnitControl.voltage ? 1 : 0,
    );
    this.baseRef = Float64Array.from(this.units, (u) => u.reference_mw);
    // Slack generators carry the main grid; give them no participation so they take all imbalance.
    for (let u = 0; u < net.unitIds.length; u++) net.unitParticipation[u] = 0;
    this.buildHardware([...(this.config.hardware ?? []), ...(options.hardware ?? [])]);
    this.loads = buildLoadBank(grid, this.config, net);
    this.fids.push(...buildFids(grid, this.config, net));
    this.fidBusA = Int32Array.from(grid.fids, (f) => net.busIndexOf.get(f.busA)!);
    this.fidBusB = Int32Array.from(grid.fids, (f) => net.busIndexOf.get(f.busB)!);
    this.breakers = buildBreakers(grid, net);
    for (const mg of grid.microgrids) {
      if (mg.pccSwitch && this.breakers.has(mg.pccSwitch))
        this.microgridPcc.set(mg.id, this.breakers.get(mg.pccSwitch)!);
      this.emsByMicrogrid.set(mg.id, defaultEmsSettings(this.config.ems?.[mg.id] ?? {}));
      this.pccEstimatorByMicrogrid.set(mg.id, new PccImportEstimator());
    }
    const relays = buildOvercurrent(grid, this.config.overcurrent ?? [], net);
    this.overcurrent = relays.relays;
    this.ocBranch = relays.branch;
    this.ocCurrent = relays.current_a;
    this.ocBaseKa = relays.baseKa;
    // Main grid.
    const slackUnit = grid.generators.find((g) => net.busIsSlack[net.busIndexOf.get(g.bus)!]);
    this.mainGrid = new MainGrid(
      this.f0_hz,
      this.config.mainGridVoltage_pu ?? slackUnit?.vset_pu ?? 1,
      options.gridTrace,
    );

    this.buildChannels(options.channels);
    this.ctx = {
      t_s: 0,
      hourOfDay: this.config.startHour ?? 12,
      f_hz: this.f0_hz,
      f0_hz: this.f0_hz,
      rocof_hz_s: 0,
      vm_pu: 1,
      gridConnected: false,
    };

    this.state = this.buildPublishedState();
  }

  /** Units: non-slack generators and every DER (slack generators are the main grid). Returns the slack buses. */
  private buildUnits(technologies: TwinOptions['derTechnologies']): Int32Array {
    const grid = this.grid;
    const net = this.pf.net;
    const nb = net.busIds.length;
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
    for (const der of grid.ders)
      this.addUnit(createDerUnit(der, { f0_hz: this.f0_hz, seed: this.seed, technologies }), der.bus);
    return Int32Array.from(slack);
  }

  /** Devices that are real boards, at their buses (a later spec of one id wins). */
  private buildHardware(specs: readonly HardwareSpec[]): void {
    const net = this.pf.net;
    const hardwareSpecs = new Map<string, HardwareSpec>();
    for (const spec of specs) hardwareSpecs.set(spec.id, spec);
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
  }

  /** Measurement and command channels of every hardware device. */
  private buildChannels(channels: TwinOptions['channels']): void {
    for (const dev of this.hardware) {
      this.measureChannels.set(
        dev.id,
        MEASUREMENT_SIGNALS.map((s) =>
          buildChannel(`${dev.id}.${s}`, specFor(channels, dev.id, s), this.seed, this.dt_s),
        ),
      );
      this.commandChannels.set(
        dev.id,
        COMMAND_SIGNALS.map((s) =>
          buildChannel(`${dev.id}.${s}`, specFor(channels, dev.id, s), this.seed, this.dt_s),
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
  }

  /** The published state (updated in place every step) and the PCC meters that fill it. */
  private buildPublishedState(): TwinState {
    const grid = this.grid;
    const net = this.pf.net;
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
    return {
      t_s: 0,
      step: 0,
      islands: [],
      busIds: net.busIds,
      vm_pu: this.vm,
      va_deg: new Float64Array(net.busIds.length),
      devices,
      fids: Object.fromEntries(this.fids.map((f) => [f.id, { p_a_mw: 0, p_b_mw: 0, loss_mw: 0 }])),
      microgrids,
      breakers,
      events: this.events,
    };
  }

  addUnit(unit: DerUnit, bus: string): void {
    if (this.unitById.has(unit.id)) throw new TypeError(`duplicate unit id '${unit.id}'`);
    unit.busIndex = this.pf.net.busIndexOf.get(bus)!;
    this.unitIndexById.set(unit.id, this.units.length);
    this.units.push(unit);
    this.unitById.set(unit.id, unit);
  }

  markStructure(cause: string): void {
    this.rebuildCause ??= cause;
    this.topologyDirty = true;
  }

  /** Books the solver's structure rebuilds since the last look under the pending cause. */
  countRebuilds(): void {
    const builds = this.pf.topologyBuilds;
    if (builds === this.seenTopologyBuilds) return;
    const cause = this.rebuildCause ?? 'other';
    const stats = this.solverStats;
    stats.structureRebuilds += builds - this.seenTopologyBuilds;
    stats.rebuildsByCause[cause] = (stats.rebuildsByCause[cause] ?? 0) + builds - this.seenTopologyBuilds;
    this.seenTopologyBuilds = builds;
    this.rebuildCause = null;
  }

  fillContext(rt: IslandRuntime, bus: number): void {
    const c = this.ctx;
    c.f_hz = rt.gridConnected ? this.mainGrid.f_hz : rt.freq.f_hz;
    c.rocof_hz_s = rt.gridConnected ? this.mainGrid.rocof_hz_s : rt.freq.rocof_hz_s;
    c.vm_pu = rt.energised ? this.vm[bus] : 0;
    c.gridConnected = rt.gridConnected;
  }

  derParams(id: string): Record<string, unknown> | undefined {
    return this.grid.ders.find((d) => d.id === id)?.params;
  }

  emit(kind: string, message: string, target?: string, data?: Record<string, unknown>): TwinEvent {
    const e: TwinEvent = { t_s: this.t, kind, message, target };
    if (data) e.data = data;
    this.events.push(e);
    return e;
  }

  setBreaker(id: string, closed: boolean): void {
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

  onUnitTrip(u: DerUnit, cause: string): void {
    u.onTrip();
    this.tripLog.push({ t_s: this.t, unit: u.id, cause });
    this.emit('der-trip', `${u.id} tripped: ${cause}`, u.id).data = { cause };
    this.unitServiceDirty = true;
  }
}
