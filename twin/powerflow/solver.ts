import type { Grid } from '../grid/model.ts';
import { IslandModel, NodeMode } from './island-model.ts';
import { type CompiledNetwork, compileNetwork, findIslands, type Island, UnitControl } from './network.ts';
import { NewtonSolver } from './newton.ts';
import { RadialSweepSolver } from './sweep.ts';

export type PowerFlowMethod = 'nr' | 'sweep' | 'auto';

export interface PowerFlowOptions {
  /**
   * 'auto' uses the radial sweep on islands that suit it (a tree with a single voltage source and
   * the whole imbalance on it), Newton–Raphson elsewhere. 'sweep' insists, and throws
   * PowerFlowOptionError for an island that does not suit it. @default 'auto'
   */
  method?: PowerFlowMethod;
  /** Largest acceptable P/Q mismatch, pu on baseMVA. @default 1e-8 */
  tolerance_pu?: number;
  /** Newton iterations per solve (per Q-limit pass). @default 20 */
  maxIterations?: number;
  /** Sweep iterations per solve. @default 200 */
  maxSweepIterations?: number;
  /**
   * Switch voltage-regulating units to fixed Q at their limits (PV→PQ), and back, by MATPOWER's
   * runpf rules (ENFORCE_Q_LIMS = 1): every violating node at once, the reference included; when
   * the reference turns PQ its active power stays at its last value and the first remaining PV node
   * (grid bus order) takes the imbalance, while angles stay referred to the original reference.
   * @default false
   */
  enforceQLimits?: boolean;
  /**
   * With enforceQLimits: also limit the reference (slack) bus, as MATPOWER does. false keeps the
   * reference regulating whatever reactive power it takes (gridloop before 2026-12). @default true
   */
  limitReferenceQ?: boolean;
  /** Start from 1 pu / reference angle instead of the voltages stored in the grid. @default false */
  flatStart?: boolean;
}

/**
 * Status of one island after a solve.
 * - converged: mismatch below tolerance.
 * - max-iterations / diverged / singular: not solved; voltages are those the solve started from.
 * - q-limits-infeasible: every remaining voltage-regulating node violates the same reactive limit
 *   (MATPOWER's "INFEASIBLE PROBLEM"), or none is left to take the slack; voltages are those of
 *   the last Q-limit pass.
 * - invalid-input: a scheduled injection or set-point is NaN or infinite; nothing was computed.
 * - de-energised: no source; voltages 0.
 * - no-reference: has generation but neither a slack bus nor a grid-forming unit; voltages 0.
 */
export type IslandStatus =
  | 'converged'
  | 'max-iterations'
  | 'diverged'
  | 'singular'
  | 'q-limits-infeasible'
  | 'invalid-input'
  | 'de-energised'
  | 'no-reference';

export interface IslandResult {
  readonly index: number;
  status: IslandStatus;
  method: 'nr' | 'sweep' | 'none';
  iterations: number;
  /**
   * Jacobian factorisations in this solve. Fewer than `iterations` when a warm re-solve reused the
   * previous factors (chord steps), which is what makes small per-step changes cheap.
   */
  factorizations: number;
  /** Largest P/Q mismatch at the end, pu (finite; Infinity only for invalid-input). */
  maxMismatch_pu: number;
  /** Power the slack units took on top of their schedule, MW (the island's imbalance). */
  slackP_mw: number;
  /** Q-limit passes that switched at least one node. */
  qLimitSwitches: number;
  /**
   * Where the last solve started: 'previous' (the file's voltages or the last solution), or, from
   * a flat profile (flatStart, resetVoltages(true)), the start that was used last: 'flat' (plain
   * Newton), 'dc-angles' (DC power-flow angles, after flat failed) or 'dc-angles+step-control'
   * (DC angles and Newton steps cut until the mismatch falls).
   */
  start: IslandStart;
  /**
   * Bus whose units took the imbalance at the end: the reference bus, or the PV bus that became
   * the slack when Q limits turned the reference into a PQ bus (-1 for islands not solved).
   */
  slackBus: number;
}

export type IslandStart = 'previous' | 'flat' | 'dc-angles' | 'dc-angles+step-control';

/** One branch's flows (PowerFlowSolver.branchFlow): into the branch at each end, and series losses. */
export interface BranchFlow {
  pf_mw: number;
  qf_mvar: number;
  pt_mw: number;
  qt_mvar: number;
  lossP_mw: number;
  lossQ_mvar: number;
}

export interface PowerFlowResult {
  /** True when every energised island converged. */
  converged: boolean;
  /** Largest iteration count over the islands. */
  iterations: number;
  /** Largest final mismatch over solved islands, pu. */
  maxMismatch_pu: number;
  islands: readonly IslandResult[];
}

class OptionError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'PowerFlowOptionError';
  }
}

export { OptionError as PowerFlowOptionError };

interface IslandRuntime {
  island: Island;
  model: IslandModel | undefined;
  newton: NewtonSolver | undefined;
  sweep: RadialSweepSolver | undefined;
  radial: boolean;
  /** The island starts from a flat profile (flatStart or resetVoltages(true)) at its next solve. */
  flatPending: boolean;
}

/**
 * AC power flow over every island of a grid, built once per topology and re-solved many times.
 * See index.ts for the usage contract.
 */
export class PowerFlowSolver {
  readonly net: CompiledNetwork;
  /** Per-bus voltage magnitude (pu) and angle (degrees), grid bus order. Reused between solves. */
  readonly vm_pu: Float64Array;
  readonly va_deg: Float64Array;
  /** Per-unit (generators then DERs) output after the last solve, MW / Mvar. */
  readonly unitPOut_mw: Float64Array;
  readonly unitQOut_mvar: Float64Array;
  /** Island of each bus (-1 for isolated buses), valid after the last topology build. */
  readonly busIsland: Int32Array;
  /**
   * Q-limit state of each bus after the last solve with enforceQLimits: +1 held at its units'
   * maximum, -1 at their minimum (switched to PQ), 0 otherwise.
   */
  readonly busQLimit: Int8Array;
  private options: Required<PowerFlowOptions>;
  private runtimes: IslandRuntime[] = [];
  private results: IslandResult[] = [];
  private readonly result: PowerFlowResult = {
    converged: false,
    iterations: 0,
    maxMismatch_pu: 0,
    islands: [],
  };
  private topologyDirty = true;
  private firstBuild = true;
  /** Topology builds so far (tests and benchmarks watch symbolic reuse with this). */
  topologyBuilds = 0;

  constructor(source: Grid | CompiledNetwork, options: PowerFlowOptions = {}) {
    this.net = 'buses' in source ? compileNetwork(source) : source;
    this.options = {
      method: options.method ?? 'auto',
      tolerance_pu: options.tolerance_pu ?? 1e-8,
      maxIterations: options.maxIterations ?? 20,
      maxSweepIterations: options.maxSweepIterations ?? 200,
      enforceQLimits: options.enforceQLimits ?? false,
      limitReferenceQ: options.limitReferenceQ ?? true,
      flatStart: options.flatStart ?? false,
    };
    if (!['nr', 'sweep', 'auto'].includes(this.options.method)) {
      throw new OptionError(`method must be 'nr', 'sweep' or 'auto', got '${this.options.method}'`);
    }
    if (!(this.options.tolerance_pu > 0)) throw new OptionError('tolerance_pu must be > 0');
    const nb = this.net.busIds.length;
    this.vm_pu = new Float64Array(nb);
    this.va_deg = new Float64Array(nb);
    this.busIsland = new Int32Array(nb).fill(-1);
    this.busQLimit = new Int8Array(nb);
    this.unitPOut_mw = new Float64Array(this.net.unitIds.length);
    this.unitQOut_mvar = new Float64Array(this.net.unitIds.length);
    this.rebuildTopology();
  }

  /** Islands of the current topology. */
  get islands(): readonly Island[] {
    if (this.topologyDirty) this.rebuildTopology();
    return this.runtimes.map((r) => r.island);
  }

  busIndex(id: string): number {
    const index = this.net.busIndexOf.get(id);
    if (index === undefined) throw new RangeError(`unknown bus id '${id}'`);
    return index;
  }

  private indexIn(list: readonly string[], id: string, what: string): number {
    const index = list.indexOf(id);
    if (index < 0) throw new RangeError(`unknown ${what} id '${id}'`);
    return index;
  }
  unitIndex(id: string): number {
    return this.indexIn(this.net.unitIds, id, 'unit');
  }
  loadIndex(id: string): number {
    return this.indexIn(this.net.loadIds, id, 'load');
  }
  switchIndex(id: string): number {
    return this.indexIn(this.net.switchIds, id, 'switch');
  }
  branchIndex(id: string): number {
    return this.indexIn(this.net.branchIds, id, 'branch');
  }

  /** Opens or closes a switch; the next solve rebuilds islands and symbolic factorisations. */
  setSwitch(index: number, closed: boolean): void {
    if ((this.net.switchClosed[index] === 1) !== closed) {
      this.net.switchClosed[index] = closed ? 1 : 0;
      this.topologyDirty = true;
    }
  }
  setBranchInService(index: number, inService: boolean): void {
    if ((this.net.branchInService[index] === 1) !== inService) {
      this.net.branchInService[index] = inService ? 1 : 0;
      this.topologyDirty = true;
    }
  }
  /** Takes a unit in or out of service; may change island references, so topology is rebuilt. */
  setUnitInService(index: number, inService: boolean): void {
    if ((this.net.unitInService[index] === 1) !== inService) {
      this.net.unitInService[index] = inService ? 1 : 0;
      this.topologyDirty = true;
    }
  }
  /** True when the next solve rebuilds islands and symbolic factorisations. */
  get topologyStale(): boolean {
    return this.topologyDirty;
  }
  /** Marks the topology for rebuilding after direct edits of branch data (impedance, tap). */
  invalidateTopology(): void {
    this.topologyDirty = true;
  }
  /**
   * Forgets the warm start: voltages back to those stored in the grid (or 1 pu / reference angle
   * with `flat`), slack shares and Q-limit states cleared. The symbolic factorisations stay.
   */
  resetVoltages(flat = false): void {
    if (this.topologyDirty) this.rebuildTopology();
    const net = this.net;
    for (const { model, island } of this.runtimes) {
      if (!model) continue;
      for (let i = 0; i < model.m; i++) {
        const bus = island.nodeBus[i]!;
        model.vm[i] = flat || !(net.busVm0[bus]! > 0) ? 1 : net.busVm0[bus]!;
        model.va[i] = flat ? net.busVa0_rad[island.referenceBus]! : net.busVa0_rad[bus]!;
      }
      model.restoreSlack();
      model.deltaP = 0;
      model.qLimited.fill(0);
    }
    for (const runtime of this.runtimes) {
      runtime.newton?.forgetFactors();
      runtime.flatPending = flat;
    }
  }

  /**
   * Restarts one island from 1 pu at its reference angle at the next solve, keeping its symbolic
   * structure (a failed warm start is retried without a topology rebuild).
   */
  flatStartIsland(index: number): void {
    if (this.topologyDirty) this.rebuildTopology();
    const runtime = this.runtimes[index];
    const model = runtime?.model;
    if (!model) return;
    const angle = model.va[model.referenceNode]!;
    model.vm.fill(1);
    model.va.fill(angle);
    model.restoreSlack();
    model.deltaP = 0;
    model.qLimited.fill(0);
    runtime.newton?.forgetFactors();
  }

  /** Lets every Q-limited unit regulate voltage again at the next solve. */
  resetQLimits(): void {
    for (const r of this.runtimes) {
      r.model?.restoreSlack();
      r.model?.qLimited.fill(0);
    }
  }

  private rebuildTopology(): void {
    const net = this.net;
    const islands = findIslands(net);
    // Warm start: buses keep their present voltages across topology changes.
    const startVm = this.firstBuild ? net.busVm0 : this.vm_pu;
    const startVa = this.firstBuild ? null : this.va_deg;
    this.busIsland.fill(-1);
    this.runtimes = islands.map((island) => {
      for (const bus of island.buses) this.busIsland[bus] = island.index;
      if (island.kind !== 'energised') {
        return {
          island,
          model: undefined,
          newton: undefined,
          sweep: undefined,
          radial: false,
          flatPending: false,
        };
      }
      const model = new IslandModel(net, island);
      for (let i = 0; i < model.m; i++) {
        const bus = island.nodeBus[i]!;
        if (this.options.flatStart && this.firstBuild) {
          model.vm[i] = 1;
          model.va[i] = net.busVa0_rad[island.referenceBus]!;
        } else {
          model.vm[i] = startVm[bus]! > 0 ? startVm[bus]! : 1;
          const angle = startVa ? (startVa[bus]! * Math.PI) / 180 : net.busVa0_rad[bus]!;
          // A previously de-energised bus has no angle worth keeping: start at the reference's.
          model.va[i] = startVm[bus]! > 0 ? angle : net.busVa0_rad[island.referenceBus]!;
        }
      }
      const radial = RadialSweepSolver.isRadial(model);
      if (this.options.method === 'sweep' && !radial) {
        throw new OptionError(
          `the sweep method needs radial islands; island ${island.index} (reference bus '${net.busIds[island.referenceBus]}') has loops`,
        );
      }
      const flatPending = this.options.flatStart && this.firstBuild;
      return { island, model, newton: undefined, sweep: undefined, radial, flatPending };
    });
    this.results = islands.map((island) => ({
      index: island.index,
      status: island.kind === 'energised' ? 'max-iterations' : island.kind,
      method: 'none',
      iterations: 0,
      factorizations: 0,
      maxMismatch_pu: 0,
      slackP_mw: 0,
      qLimitSwitches: 0,
      slackBus: island.referenceBus,
      start: 'previous',
    }));
    this.result.islands = this.results;
    this.topologyDirty = false;
    this.firstBuild = false;
    this.topologyBuilds++;
  }

  /** Solves every island; returns a result object reused between calls. */
  solve(): PowerFlowResult {
    if (this.topologyDirty) this.rebuildTopology();
    const result = this.result;
    result.converged = true;
    result.iterations = 0;
    result.maxMismatch_pu = 0;
    for (let k = 0; k < this.runtimes.length; k++) {
      const r = this.solveIsland(k);
      if (r.status === 'de-energised') continue;
      if (r.status !== 'converged') result.converged = false;
      if (r.iterations > result.iterations) result.iterations = r.iterations;
      if (r.maxMismatch_pu > result.maxMismatch_pu) result.maxMismatch_pu = r.maxMismatch_pu;
    }
    return result;
  }

  /** Solves one island (index into `islands`), e.g. when only its injections changed. */
  solveIsland(index: number): IslandResult {
    if (this.topologyDirty) this.rebuildTopology();
    const runtime = this.runtimes[index]!;
    const result = this.results[index]!;
    const model = runtime.model;
    result.iterations = 0;
    result.factorizations = 0;
    result.qLimitSwitches = 0;
    result.slackP_mw = 0;
    if (!runtime.flatPending) result.start = 'previous';
    result.maxMismatch_pu = 0;
    const { tolerance_pu, enforceQLimits } = this.options;
    if (!model) {
      this.writeDeadIsland(runtime.island);
      return result;
    }
    // A slack role moved by the last solve's Q limits goes back to the reference first.
    model.restoreSlack();
    model.assembleInjections();
    if (enforceQLimits && this.releaseReactiveLimits(model)) model.assembleInjections();
    if (!this.injectionsFinite(model)) {
      result.status = 'invalid-input';
      result.method = 'none';
      result.maxMismatch_pu = Number.POSITIVE_INFINITY;
      this.writeIsland(runtime);
      return result;
    }
    for (let pass = 0; ; pass++) {
      const useSweep =
        this.options.method !== 'nr' && runtime.radial && RadialSweepSolver.suits(model) && pass === 0;
      let outcome: string;
      if (useSweep) {
        runtime.sweep ??= new RadialSweepSolver(model);
        outcome = runtime.sweep.run(tolerance_pu, this.options.maxSweepIterations);
        result.method = 'sweep';
        if (runtime.flatPending) result.start = 'flat';
        result.iterations += runtime.sweep.iterations;
        result.maxMismatch_pu = runtime.sweep.maxMismatch;
      } else {
        if (this.options.method === 'sweep') {
          throw new OptionError(
            `the sweep method needs a single voltage source per island; island ${index} has voltage-regulating units or distributed slack`,
          );
        }
        runtime.newton ??= new NewtonSolver(model);
        result.method = 'nr';
        outcome = runtime.flatPending
          ? this.robustStart(runtime.newton, model, result)
          : this.newtonRun(runtime.newton, result, this.options.maxIterations);
      }
      runtime.flatPending = false;
      result.status = outcome as IslandStatus;
      if (outcome !== 'converged' || !enforceQLimits || pass >= 2 * model.m) break;
      const limited = this.limitReactivePower(model);
      if (limited === 'none') break;
      if (limited === 'infeasible') {
        result.status = 'q-limits-infeasible';
        break;
      }
      result.qLimitSwitches++;
      model.assembleInjections();
    }
    result.slackP_mw = model.deltaP * this.net.baseMVA;
    result.slackBus = runtime.island.nodeBus[model.slackNode]!;
    this.writeIsland(runtime);
    return result;
  }

  private newtonRun(newton: NewtonSolver, result: IslandResult, maxIterations: number): string {
    const outcome = newton.run(this.options.tolerance_pu, maxIterations);
    result.iterations += newton.iterations;
    result.factorizations += newton.iterations - newton.chordSteps;
    result.maxMismatch_pu = newton.maxMismatch;
    return outcome;
  }

  /**
   * From a flat profile: plain Newton first (what MATPOWER does); if it fails, Newton from the DC
   * power-flow angles; if that fails too, from the DC angles with step-size control.
   * result.start names the start that was used last (each start gets maxIterations).
   */
  private robustStart(newton: NewtonSolver, model: IslandModel, result: IslandResult): string {
    const flatVm = Float64Array.from(model.vm);
    const flatVa = Float64Array.from(model.va);
    const { maxIterations } = this.options;
    const restart = () => {
      model.vm.set(flatVm);
      model.va.set(flatVa);
      model.deltaP = 0;
      newton.forgetFactors();
    };
    result.start = 'flat';
    let outcome = this.newtonRun(newton, result, maxIterations);
    if (outcome === 'converged') return outcome;
    restart();
    if (!newton.setDcAngles()) return outcome;
    const dcVa = Float64Array.from(model.va);
    result.start = 'dc-angles';
    outcome = this.newtonRun(newton, result, maxIterations);
    if (outcome === 'converged') return outcome;
    restart();
    model.va.set(dcVa);
    result.start = 'dc-angles+step-control';
    newton.stepControl = true;
    outcome = this.newtonRun(newton, result, maxIterations);
    newton.stepControl = false;
    return outcome;
  }

  private injectionsFinite(model: IslandModel): boolean {
    for (let i = 0; i < model.m; i++) {
      if (!Number.isFinite(model.pSched[i]!) || !Number.isFinite(model.qSched[i]!)) return false;
      if (!Number.isFinite(model.vset[i]!) || !Number.isFinite(model.alpha[i]!)) return false;
      if (model.mode[i] !== NodeMode.pq && !(model.vset[i]! > 0)) return false;
    }
    return true;
  }

  /**
   * PV→PQ for every regulating node whose units' reactive output is beyond their limits, all at
   * once, as MATPOWER's runpf with ENFORCE_Q_LIMS = 1 (same violation tolerance, 5e-6 Mvar;
   * unless limitReferenceQ is false, the reference too). Within one solve a node never switches
   * back, so the passes cannot oscillate. When the slack node turns PQ it keeps the active power it
   * has now and the first remaining PV node takes the imbalance (MATPOWER's bustypes choice).
   * 'infeasible' as runpf: every remaining regulating node violates, all on the same side.
   */
  private limitReactivePower(model: IslandModel): 'none' | 'switched' | 'infeasible' {
    const margin = 5e-6 / this.net.baseMVA;
    const skipReference = !this.options.limitReferenceQ;
    let remaining = 0;
    let above = 0;
    let below = 0;
    for (let i = 0; i < model.m; i++) {
      if (!model.hasVoltageControl[i] || model.qLimited[i] !== 0) continue;
      if (skipReference && i === model.referenceNode) continue;
      remaining++;
      const qUnits = model.qCalc[i]! - model.qFixed[i]!;
      if (qUnits > model.vcQmax[i]! + margin) above++;
      else if (qUnits < model.vcQmin[i]! - margin) below++;
    }
    if (above + below === 0) return 'none';
    if (above + below === remaining && (above === 0 || below === 0)) return 'infeasible';
    for (let i = 0; i < model.m; i++) {
      if (!model.hasVoltageControl[i] || model.qLimited[i] !== 0) continue;
      if (skipReference && i === model.referenceNode) continue;
      const qUnits = model.qCalc[i]! - model.qFixed[i]!;
      if (qUnits > model.vcQmax[i]! + margin) model.qLimited[i] = 1;
      else if (qUnits < model.vcQmin[i]! - margin) model.qLimited[i] = -1;
    }
    const slack = model.slackNode;
    if (model.participationTotal === 0 && model.qLimited[slack] !== 0) {
      let next = -1;
      for (let i = 0; i < model.m && next < 0; i++) {
        if (model.hasVoltageControl[i] && model.qLimited[i] === 0 && i !== model.referenceNode) next = i;
      }
      if (next < 0) return 'infeasible';
      model.heldP[slack]! += model.deltaP;
      model.deltaP = 0;
      model.slackNode = next;
    }
    return 'switched';
  }

  /**
   * Between solves (the operating point moves step by step), a node held at its Q maximum whose
   * voltage is above the set-point (or at its minimum and below) can regulate again.
   */
  private releaseReactiveLimits(model: IslandModel): boolean {
    let changed = false;
    for (let i = 0; i < model.m; i++) {
      const limited = model.qLimited[i]!;
      if (limited === 0) continue;
      if (
        (limited > 0 && model.vm[i]! > model.vset[i]! + 1e-9) ||
        (limited < 0 && model.vm[i]! < model.vset[i]! - 1e-9)
      ) {
        model.qLimited[i] = 0;
        changed = true;
      }
    }
    return changed;
  }

  private writeDeadIsland(island: Island): void {
    for (const bus of island.buses) {
      this.vm_pu[bus] = 0;
      this.va_deg[bus] = 0;
    }
    const net = this.net;
    for (let u = 0; u < net.unitIds.length; u++) {
      if (this.busIsland[net.unitBus[u]!] === island.index) {
        this.unitPOut_mw[u] = 0;
        this.unitQOut_mvar[u] = 0;
      }
    }
  }

  /** Copies node voltages to buses and shares slack P and regulating Q among the units. */
  private writeIsland(runtime: IslandRuntime): void {
    const model = runtime.model!;
    const { island } = runtime;
    const toDeg = 180 / Math.PI;
    for (let k = 0; k < island.buses.length; k++) {
      const node = island.busNode[k]!;
      this.vm_pu[island.buses[k]!] = model.vm[node]!;
      this.va_deg[island.buses[k]!] = model.va[node]! * toDeg;
    }
    const net = this.net;
    const base = net.baseMVA;
    const { units, unitNode, unitCount, heldP } = model;
    for (let k = 0; k < island.buses.length; k++) {
      this.busQLimit[island.buses[k]!] = model.qLimited[island.busNode[k]!]!;
    }
    const slackNode = model.slackNode;
    const { qNeeded, qRangeMin, qRangeMax } = this.unitQShares(model);
    for (let k = 0; k < units.length; k++) {
      const u = units[k]!;
      if (!net.unitInService[u]) {
        this.unitPOut_mw[u] = 0;
        this.unitQOut_mvar[u] = 0;
        continue;
      }
      const node = unitNode[k]!;
      let share = 0;
      if (model.participationTotal > 0) share = net.unitParticipation[u]! / model.participationTotal;
      else if (node === slackNode) share = 1 / unitCount[node]!;
      this.unitPOut_mw[u] =
        net.unitP_mw[u]! + share * model.deltaP * base + (heldP[node]! * base) / unitCount[node]!;
      if (net.unitControl[u] !== UnitControl.voltage) {
        this.unitQOut_mvar[u] = net.unitQ_mvar[u]!;
        continue;
      }
      // Regulating units at a node share its reactive output in proportion to their Q ranges
      // (MATPOWER's pfsoln, with its finite stand-in for an infinite limit).
      const range = qRangeMax[node]! - qRangeMin[node]!;
      const unitMin = this.finiteLimit(net.unitQmin_mvar[u]!, model.qProxy[node]!);
      const unitMax = this.finiteLimit(net.unitQmax_mvar[u]!, model.qProxy[node]!);
      this.unitQOut_mvar[u] =
        Math.abs(range) > 1e-9
          ? unitMin + ((qNeeded[node]! - qRangeMin[node]!) * (unitMax - unitMin)) / range
          : qNeeded[node]! / model.vcCount[node]!;
    }
  }

  /** An infinite reactive limit replaced by ±M, MATPOWER's proxy for proportional sharing. */
  private finiteLimit(limit: number, proxy: number): number {
    return limit === Number.POSITIVE_INFINITY ? proxy : limit === Number.NEGATIVE_INFINITY ? -proxy : limit;
  }

  /**
   * Per node: the reactive power its regulating units give (Mvar), MATPOWER's proxy M for their
   * infinite limits (Σ over the node's units of |equal share| + |finite limits|), and the sums of
   * their (proxied) limits.
   */
  private unitQShares(model: IslandModel) {
    const net = this.net;
    const base = net.baseMVA;
    const { units, unitNode, qCalc, qFixed, vcCount } = model;
    const qNeeded = model.qShareNeeded;
    const qRangeMin = model.qShareMin;
    const qRangeMax = model.qShareMax;
    const proxy = model.qProxy;
    for (let i = 0; i < model.m; i++) qNeeded[i] = (qCalc[i]! - qFixed[i]!) * base;
    proxy.fill(0);
    qRangeMin.fill(0);
    qRangeMax.fill(0);
    for (let k = 0; k < units.length; k++) {
      const u = units[k]!;
      if (!net.unitInService[u] || net.unitControl[u] !== UnitControl.voltage) continue;
      const node = unitNode[k]!;
      const qmin = net.unitQmin_mvar[u]!;
      const qmax = net.unitQmax_mvar[u]!;
      proxy[node]! +=
        Math.abs(qNeeded[node]! / vcCount[node]!) +
        (Number.isFinite(qmax) ? Math.abs(qmax) : 0) +
        (Number.isFinite(qmin) ? Math.abs(qmin) : 0);
    }
    for (let k = 0; k < units.length; k++) {
      const u = units[k]!;
      if (!net.unitInService[u] || net.unitControl[u] !== UnitControl.voltage) continue;
      const node = unitNode[k]!;
      qRangeMin[node]! += this.finiteLimit(net.unitQmin_mvar[u]!, proxy[node]!);
      qRangeMax[node]! += this.finiteLimit(net.unitQmax_mvar[u]!, proxy[node]!);
    }
    return { qNeeded, qRangeMin, qRangeMax };
  }

  /**
   * Branch flows (MW/Mvar at each end, into the branch) for in-service branches of solved
   * islands, and the total series losses. Arrays are caller-provided (length = branches).
   */
  branchFlows(out: { pf: Float64Array; qf: Float64Array; pt: Float64Array; qt: Float64Array }): {
    p_mw: number;
    q_mvar: number;
  } {
    const flow = this.flowScratch;
    let lossP = 0;
    let lossQ = 0;
    for (let k = 0; k < this.net.branchIds.length; k++) {
      this.branchFlow(k, flow);
      out.pf[k] = flow.pf_mw;
      out.qf[k] = flow.qf_mvar;
      out.pt[k] = flow.pt_mw;
      out.qt[k] = flow.qt_mvar;
      lossP += flow.lossP_mw;
      lossQ += flow.lossQ_mvar;
    }
    return { p_mw: lossP, q_mvar: lossQ };
  }

  private readonly flowScratch: BranchFlow = {
    pf_mw: 0,
    qf_mvar: 0,
    pt_mw: 0,
    qt_mvar: 0,
    lossP_mw: 0,
    lossQ_mvar: 0,
  };

  /**
   * One branch's flows from the last solve, written into `out` (allocation-free): powers into the
   * branch at each end and its series losses. Returns false, with zeros, for a branch out of
   * service or in an island that is not solved.
   */
  branchFlow(k: number, out: BranchFlow): boolean {
    const net = this.net;
    const base = net.baseMVA;
    const toRad = Math.PI / 180;
    const f = net.branchFrom[k]!;
    const t = net.branchTo[k]!;
    const island = this.busIsland[f]!;
    const solved =
      net.branchInService[k] === 1 &&
      island >= 0 &&
      this.runtimes[island]?.model !== undefined &&
      this.results[island]?.status === 'converged';
    if (!solved) {
      out.pf_mw = out.qf_mvar = out.pt_mw = out.qt_mvar = out.lossP_mw = out.lossQ_mvar = 0;
      return false;
    }
    const vf = this.vm_pu[f]!;
    const vt = this.vm_pu[t]!;
    const af = this.va_deg[f]! * toRad;
    const at = this.va_deg[t]! * toRad;
    const ef = vf * Math.cos(af);
    const ff = vf * Math.sin(af);
    const et = vt * Math.cos(at);
    const ft = vt * Math.sin(at);
    const r = net.branchR[k]!;
    const x = net.branchX[k]!;
    const den = r * r + x * x;
    const gs = r / den;
    const bs = -x / den;
    const tap = net.branchTap[k]!;
    const sh = net.branchShift_rad[k]!;
    // Series current: ys (Vf / t - Vt), with t = tap e^{j shift}.
    const vfr = (ef * Math.cos(-sh) - ff * Math.sin(-sh)) / tap;
    const vfi = (ef * Math.sin(-sh) + ff * Math.cos(-sh)) / tap;
    const dr = vfr - et;
    const di = vfi - ft;
    const ir = gs * dr - bs * di;
    const ii = gs * di + bs * dr;
    const i2 = ir * ir + ii * ii;
    out.lossP_mw = i2 * r * base;
    out.lossQ_mvar = i2 * x * base;
    // End powers from the two-port model.
    const halfB = net.branchB[k]! / 2;
    // From end: S = Vf conj(If); If = (ys (Vf/t - Vt) + j b/2 Vf/t) / conj(t)
    const ifr0 = ir - halfB * vfi;
    const ifi0 = ii + halfB * vfr;
    const ct = Math.cos(sh);
    const st = Math.sin(sh);
    // Divide by conj(t) = tap e^{-j shift}: multiply by e^{j shift}/tap
    const ifr = (ifr0 * ct - ifi0 * st) / tap;
    const ifi = (ifr0 * st + ifi0 * ct) / tap;
    out.pf_mw = (ef * ifr + ff * ifi) * base;
    out.qf_mvar = (ff * ifr - ef * ifi) * base;
    // To end: It = -ys (Vf/t - Vt) + j b/2 Vt
    const itr = -ir - halfB * ft;
    const iti = -ii + halfB * et;
    out.pt_mw = (et * itr + ft * iti) * base;
    out.qt_mvar = (ft * itr - et * iti) * base;
    return true;
  }
}
