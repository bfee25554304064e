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
 * EACH STEP (step(inputs) → TwinState, arrays reused): `Twin` only orders the stages
 * (twin/stages/), functions over one state object, TwinCore (twin/core/state.ts):
 *   1. metering.applyInputs: device inputs through command channels; commands.runSchedule: due
 *      scheduled actions (scenarios); faults.updateFaults;
 *   2. topology: islands from breaker states (rebuilt only when something switched);
 *   3. dynamics.substep, per island (sub-stepped at ≤ maxSubstep_s): units advance (governors,
 *      resources, IEEE 1547 functions), FIDs, loads (ZIP + frequency); a grid-connected island
 *      follows the main grid, an islanded one integrates M·df/dt = ΣP − P_load − P_loss;
 *   4. network.solveNetwork: AC power flow per island with distributed slack → V, θ, losses;
 *   5. protection.protect (IEEE 1547 DER trips, anti-islanding, UFLS, over-current);
 *   6. control, the built-in controllers: ems.control (secondary control, tertiary dispatch every
 *      N s, demand response, standby) and islanding (planned islanding, synchro-check reconnection);
 *   7. publish (+ metering: PCC power, hardware measurement channels);
 *   8. attached controllers due this step decide on the published state (twin/control/runner.ts);
 *      their actions (stages/actuators.ts, through ownership) take effect in the next step.
 *
 * Commands: a handler per action kind (stages/commands.ts); add-ons register theirs
 * (`attack`: twin/attacks/live.ts enableLiveAttacks).
 *
 * Model and validity range: docs/twin.md.
 */

import type { ExtensionCommand, ExtensionCommandHandler, TwinAddOnHost } from './addons.ts';
import type { BusMeasurement, DeviceInput, TwinCommand, TwinEvent, TwinLike, TwinState } from './api.ts';
import type { Channel } from './channels/channel.ts';
import type {
  ControllableTwin,
  Controller,
  ControllerAction,
  RefusedAction,
  TwinCatalog,
} from './control/contract.ts';
import { OPERATOR } from './control/ownership.ts';
import { TwinCore } from './core/state.ts';
import {
  type IslandRuntime,
  SECONDARY,
  type TwinAction,
  type TwinConfig,
  type TwinOptions,
  type TwinSolverStats,
} from './core/types.ts';
import type { Grid } from './grid/model.ts';
import {
  actuatorExists,
  applyControllerAction,
  catalog,
  claimBuiltIns,
  isBuiltIn,
} from './stages/actuators.ts';
import { apply, runSchedule } from './stages/commands.ts';
import { initialiseBalance, substep } from './stages/dynamics.ts';
import { control } from './stages/ems.ts';
import { updateFaults } from './stages/faults.ts';
import { applyInputs, measurementFor } from './stages/metering.ts';
import { solveNetwork } from './stages/network.ts';
import { protect } from './stages/protection.ts';
import { publish } from './stages/publish.ts';
import { rebuildIslands, syncUnitService } from './stages/topology.ts';

export type { ExtensionCommand, ExtensionCommandHandler } from './addons.ts';
export type { HardwareSpec, TwinAction, TwinConfig, TwinOptions, TwinSolverStats } from './core/types.ts';

export class Twin extends TwinCore implements TwinLike, ControllableTwin, TwinAddOnHost {
  /** Runs a controller's action between steps (bound once: the step allocates nothing for it). */
  private readonly applyForController = (id: string, action: ControllerAction) =>
    applyControllerAction(this, id, action);

  constructor(grid: Grid, options: TwinOptions = {}) {
    super(grid, options);
    claimBuiltIns(this);
    rebuildIslands(this);
    for (let k = 0; k < this.fids.length; k++)
      this.fids[k].step(this.f0_hz, this.f0_hz, true, true, this.f0_hz, 0);
    // The first solve needs the loads: from zero load a large meshed grid diverges, and every warm
    // start after it begins from the diverged voltages (case_ACTIVSg10k).
    this.loads.evaluate(this.vm, this.busDfPu, this.ctx.hourOfDay);
    solveNetwork(this);
    initialiseBalance(this);
    solveNetwork(this);
    initialiseBalance(this);
    // First tertiary dispatch after one interval: the initial references are already balanced.
    let interval = Number.POSITIVE_INFINITY;
    for (const s of this.emsByMicrogrid.values()) interval = Math.min(interval, s.dispatchInterval_s);
    this.nextDispatch_s = Number.isFinite(interval) ? interval : 60;
    this.attachDeclared(options.controllers ?? []);
  }

  /** Builds a twin from a grid file: `await Twin.fromFiles({ grid: 'grids/demo-33bw-microgrids.yaml', seed, dt_s })`. */
  static fromFiles(options: TwinFileOptions): Promise<Twin> {
    return twinFromFiles(options);
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

  step(inputs: readonly DeviceInput[]): TwinState {
    const dt = this.dt_s;
    this.events.length = 0;
    if (this.eventsBetweenSteps.length > 0) {
      for (const e of this.eventsBetweenSteps) this.events.push(e);
      this.eventsBetweenSteps.length = 0;
    }
    for (let i = 0; i < this.units.length; i++) this.units[i].refresh();
    applyInputs(this, inputs);
    runSchedule(this);
    updateFaults(this);
    if (this.topologyDirty) rebuildIslands(this);
    else if (this.unitServiceDirty && syncUnitService(this)) rebuildIslands(this);

    const n = dt > this.maxSubstep_s ? Math.ceil(dt / this.maxSubstep_s - 1e-9) : 1;
    const h = dt / n;
    for (let s = 0; s < n; s++) substep(this, this.t + (s + 1) * h, h);
    this.t = (this.stepCount + 1) * dt;
    this.stepCount++;

    if (this.stepCount % this.networkEvery === 0 || this.faults.length > 0) solveNetwork(this);
    protect(this, dt);
    control(this, dt);
    if (this.topologyDirty) {
      rebuildIslands(this);
      solveNetwork(this);
    } else if (this.unitServiceDirty) {
      // A trip or start shows in this step's voltages; the structure is kept unless it moved a reference.
      if (syncUnitService(this)) rebuildIslands(this);
      solveNetwork(this);
    }
    publish(this);
    this.controllers.runDue(this.stepCount, this.state, this.applyForController, this.events);
    return this.state;
  }

  /** The measurement and command channels of a hardware device (for attacks and tests). */
  channelsOf(deviceId: string): { measurement: Channel[]; command: Channel[] } | undefined {
    const measurement = this.measureChannels.get(deviceId);
    const command = this.commandChannels.get(deviceId);
    return measurement && command ? { measurement, command } : undefined;
  }

  command(command: TwinCommand): TwinEvent {
    return apply(this, command);
  }

  /**
   * Registers the handler of a command an add-on brings (the twin itself knows nothing of it):
   * `enableLiveAttacks(twin)` registers `attack`. One handler per kind.
   */
  handleCommand(kind: ExtensionCommand['kind'], handler: ExtensionCommandHandler): void {
    if (this.extensionCommands.has(kind))
      throw new TypeError(`a '${kind}' command handler is already registered`);
    this.extensionCommands.set(kind, handler);
  }

  /** The handler registered for `kind`, if any. */
  commandHandler(kind: ExtensionCommand['kind']): ExtensionCommandHandler | undefined {
    return this.extensionCommands.get(kind);
  }

  /** Queues an action at twin time `t_s` (applied at the start of the first step ending after it). */
  scheduleAt(t_s: number, action: TwinAction): void {
    this.schedule.push({ t_s, action, seq: this.scheduleSeq++ });
    this.schedule.sort((a, b) => a.t_s - b.t_s || a.seq - b.seq);
  }

  /** Declared controllers take what they claim from the built-ins, then attach (see TwinOptions). */
  private attachDeclared(controllers: readonly Controller[]): void {
    for (const c of controllers) {
      for (const ref of c.claims) {
        const holder = this.ownership.ownerOf(ref);
        if (holder === SECONDARY || holder?.startsWith('ems:')) {
          this.ownership.handOver(ref, holder, c.id);
          const e = this.emit(
            'hand-over',
            `${ref.kind}:${ref.id} handed over from ${holder} to ${c.id}`,
            ref.id,
          );
          e.data = { from: holder, to: c.id };
          // Raised while the run is built: reported again with the first step, so recorders see it.
          this.eventsBetweenSteps.push(e);
        }
      }
      this.attach(c);
    }
  }

  /** Runs `controller` every period from the next step (throws OwnershipConflict on a taken actuator). */
  attach(controller: Controller): void {
    if (controller.id === OPERATOR || isBuiltIn(controller.id))
      throw new TypeError(`controller id '${controller.id}' is reserved`);
    for (const ref of controller.claims) {
      if (!actuatorExists(this, ref))
        throw new TypeError(
          `controller '${controller.id}' claims ${ref.kind}:${ref.id}, which does not exist`,
        );
    }
    this.controllers.add(controller, catalog(this), this.stepCount);
  }

  detach(controllerId: string): void {
    if (!this.controllers.remove(controllerId))
      throw new TypeError(`detach: no controller '${controllerId}' attached`);
  }

  attachedController(id: string): Controller | undefined {
    return this.controllers.get(id);
  }

  /** Ids of the attached controllers, in the order they run. */
  get controllerIds(): string[] {
    return this.controllers.ids;
  }

  applyActions(controllerId: string, actions: readonly ControllerAction[]): RefusedAction[] {
    const refused: RefusedAction[] = [];
    const first = this.events.length;
    for (const a of actions) {
      const r = applyControllerAction(this, controllerId, a);
      if (r) refused.push(r);
    }
    // Their refusals and clamps show in the next step's events.
    for (let i = first; i < this.events.length; i++) this.eventsBetweenSteps.push(this.events[i]);
    this.events.length = first;
    return refused;
  }

  measurementFor(deviceId: string): BusMeasurement {
    return measurementFor(this, deviceId);
  }

  /** Applies an action now. Throws TypeError naming what is wrong. */
  apply(action: TwinAction): TwinEvent {
    return apply(this, action);
  }

  /** The actuators that exist, for controllers (computed once). */
  catalog(): TwinCatalog {
    return catalog(this);
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
