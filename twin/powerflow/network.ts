/**
 * Index-based, mutable view of a Grid for the solver: typed arrays the caller edits in place
 * between solves (loads, unit set-points, switch states), plus topology analysis (islands).
 */
import type { Grid } from '../grid/model.ts';

/** How a generating unit behaves in the power flow. */
export const UnitControl = { pq: 0, voltage: 1 } as const;

export interface CompiledNetwork {
  baseMVA: number;
  busIds: readonly string[];
  busIndexOf: ReadonlyMap<string, number>;
  /** Initial voltage from the file (stored solution or start values). */
  busVm0: Float64Array;
  busVa0_rad: Float64Array;
  /** 1 when the bus is of kind 'slack' in the file. */
  busIsSlack: Uint8Array;
  /** 1 when the bus is 'isolated' (MATPOWER type 4): excluded from every island. */
  busIsolated: Uint8Array;
  /** Fixed shunt admittance per bus, pu on baseMVA (G + jB). */
  busShuntG: Float64Array;
  busShuntB: Float64Array;

  branchIds: readonly string[];
  branchFrom: Int32Array;
  branchTo: Int32Array;
  branchR: Float64Array;
  branchX: Float64Array;
  branchB: Float64Array;
  branchTap: Float64Array;
  branchShift_rad: Float64Array;
  branchInService: Uint8Array;

  switchIds: readonly string[];
  switchFrom: Int32Array;
  switchTo: Int32Array;
  switchClosed: Uint8Array;

  loadIds: readonly string[];
  loadBus: Int32Array;
  loadP_mw: Float64Array;
  loadQ_mvar: Float64Array;
  loadInService: Uint8Array;

  /** Generating units: the grid's generators followed by its DERs. */
  unitIds: readonly string[];
  unitBus: Int32Array;
  unitP_mw: Float64Array;
  unitQ_mvar: Float64Array;
  unitQmin_mvar: Float64Array;
  unitQmax_mvar: Float64Array;
  unitVset_pu: Float64Array;
  unitParticipation: Float64Array;
  /** UnitControl.voltage: regulates its bus voltage (PV); UnitControl.pq: fixed P and Q. */
  unitControl: Uint8Array;
  unitGridForming: Uint8Array;
  unitInService: Uint8Array;

  fidIds: readonly string[];
  fidBusA: Int32Array;
  fidBusB: Int32Array;
  /** Transfer from A to B, MW; the loss fraction is taken from the transfer at B. */
  fidP_mw: Float64Array;
  fidQA_mvar: Float64Array;
  fidQB_mvar: Float64Array;
  fidLossFraction: Float64Array;
  fidInService: Uint8Array;

  /** Extra injections per bus (MW, Mvar, generator convention) for anything not modelled above. */
  busExtraP_mw: Float64Array;
  busExtraQ_mvar: Float64Array;
}

const DEG = Math.PI / 180;

// Typed columns from element lists with a plain loop: TypedArray.from(list, map) goes through the
// iterator protocol and costs several times more on grids of thousands of elements.
function floats<T>(list: readonly T[], value: (element: T) => number): Float64Array {
  const out = new Float64Array(list.length);
  for (let i = 0; i < list.length; i++) out[i] = value(list[i]!);
  return out;
}
function ints<T>(list: readonly T[], value: (element: T) => number): Int32Array {
  const out = new Int32Array(list.length);
  for (let i = 0; i < list.length; i++) out[i] = value(list[i]!);
  return out;
}
function flags<T>(list: readonly T[], value: (element: T) => number): Uint8Array {
  const out = new Uint8Array(list.length);
  for (let i = 0; i < list.length; i++) out[i] = value(list[i]!);
  return out;
}

/** Compiles a validated grid. Indices follow the grid's element order. */
export function compileNetwork(grid: Grid): CompiledNetwork {
  const nb = grid.buses.length;
  const busIndexOf = new Map<string, number>();
  for (const [i, b] of grid.buses.entries()) busIndexOf.set(b.id, i);
  const busOf = (id: string) => {
    const index = busIndexOf.get(id);
    if (index === undefined) throw new RangeError(`unknown bus id '${id}'`);
    return index;
  };
  const busShuntG = new Float64Array(nb);
  const busShuntB = new Float64Array(nb);
  for (const s of grid.shunts) {
    if (!s.inService) continue;
    busShuntG[busOf(s.bus)]! += s.g_mw / grid.baseMVA;
    busShuntB[busOf(s.bus)]! += s.b_mvar / grid.baseMVA;
  }
  const busKindOf = (id: string) => grid.buses[busOf(id)]!.kind;
  const units = [
    ...grid.generators.map((g) => ({
      id: g.id,
      bus: g.bus,
      p: g.p_mw,
      q: g.q_mvar,
      qmin: g.qmin_mvar,
      qmax: g.qmax_mvar,
      vset: g.vset_pu,
      participation: g.participation,
      // MATPOWER semantics: a generator regulates voltage only at a PV or slack bus.
      control:
        busKindOf(g.bus) === 'pv' || busKindOf(g.bus) === 'slack' || g.gridForming
          ? UnitControl.voltage
          : UnitControl.pq,
      gridForming: g.gridForming,
      inService: g.inService,
    })),
    ...grid.ders.map((d) => ({
      id: d.id,
      bus: d.bus,
      p: d.p_mw,
      q: d.q_mvar,
      qmin: d.qmin_mvar,
      qmax: d.qmax_mvar,
      vset: d.vset_pu,
      participation: d.participation,
      control: d.control === 'pq' ? UnitControl.pq : UnitControl.voltage,
      gridForming: d.control === 'grid-forming',
      inService: d.inService,
    })),
  ];
  return {
    baseMVA: grid.baseMVA,
    busIds: grid.buses.map((b) => b.id),
    busIndexOf,
    busVm0: floats(grid.buses, (b) => b.vm_pu),
    busVa0_rad: floats(grid.buses, (b) => b.va_deg * DEG),
    busIsSlack: flags(grid.buses, (b) => (b.kind === 'slack' ? 1 : 0)),
    busIsolated: flags(grid.buses, (b) => (b.kind === 'isolated' ? 1 : 0)),
    busShuntG,
    busShuntB,
    branchIds: grid.branches.map((b) => b.id),
    branchFrom: ints(grid.branches, (b) => busOf(b.from)),
    branchTo: ints(grid.branches, (b) => busOf(b.to)),
    branchR: floats(grid.branches, (b) => b.r_pu),
    branchX: floats(grid.branches, (b) => b.x_pu),
    branchB: floats(grid.branches, (b) => b.b_pu),
    branchTap: floats(grid.branches, (b) => b.tap),
    branchShift_rad: floats(grid.branches, (b) => b.shift_deg * DEG),
    branchInService: flags(grid.branches, (b) => (b.inService ? 1 : 0)),
    switchIds: grid.switches.map((s) => s.id),
    switchFrom: ints(grid.switches, (s) => busOf(s.from)),
    switchTo: ints(grid.switches, (s) => busOf(s.to)),
    switchClosed: flags(grid.switches, (s) => (s.closed ? 1 : 0)),
    loadIds: grid.loads.map((l) => l.id),
    loadBus: ints(grid.loads, (l) => busOf(l.bus)),
    loadP_mw: floats(grid.loads, (l) => l.p_mw),
    loadQ_mvar: floats(grid.loads, (l) => l.q_mvar),
    loadInService: flags(grid.loads, (l) => (l.inService ? 1 : 0)),
    unitIds: units.map((u) => u.id),
    unitBus: ints(units, (u) => busOf(u.bus)),
    unitP_mw: floats(units, (u) => u.p),
    unitQ_mvar: floats(units, (u) => u.q),
    unitQmin_mvar: floats(units, (u) => u.qmin),
    unitQmax_mvar: floats(units, (u) => u.qmax),
    unitVset_pu: floats(units, (u) => u.vset),
    unitParticipation: floats(units, (u) => u.participation),
    unitControl: flags(units, (u) => u.control),
    unitGridForming: flags(units, (u) => (u.gridForming ? 1 : 0)),
    unitInService: flags(units, (u) => (u.inService ? 1 : 0)),
    fidIds: grid.fids.map((f) => f.id),
    fidBusA: ints(grid.fids, (f) => busOf(f.busA)),
    fidBusB: ints(grid.fids, (f) => busOf(f.busB)),
    fidP_mw: floats(grid.fids, (f) => f.p_ab_mw),
    fidQA_mvar: floats(grid.fids, (f) => f.qA_mvar),
    fidQB_mvar: floats(grid.fids, (f) => f.qB_mvar),
    fidLossFraction: floats(grid.fids, (f) => f.lossFraction),
    fidInService: flags(grid.fids, (f) => (f.inService ? 1 : 0)),
    busExtraP_mw: new Float64Array(nb),
    busExtraQ_mvar: new Float64Array(nb),
  };
}

/** Why an island is or is not solved. */
export type IslandKind = 'energised' | 'de-energised' | 'no-reference';

export interface Island {
  /** Position in the island list (islands ordered by their lowest bus index). */
  index: number;
  kind: IslandKind;
  /** Buses in this island, ascending. */
  buses: Int32Array;
  /**
   * Electrical nodes: buses joined by closed switches form one node. nodeOfBus maps each bus of
   * this island to its local node index.
   */
  nodeCount: number;
  /** Local node of each bus in `buses` (same positions). */
  busNode: Int32Array;
  /** Representative (lowest) bus of each node. */
  nodeBus: Int32Array;
  /** Local node that holds the angle reference, -1 unless energised. */
  referenceNode: number;
  /** Bus index of the reference, -1 unless energised. */
  referenceBus: number;
  /** Branches inside this island that are in service. */
  branches: Int32Array;
}

class UnionFind {
  readonly parent: Int32Array;
  constructor(n: number) {
    this.parent = Int32Array.from({ length: n }, (_, i) => i);
  }
  find(i: number): number {
    const p = this.parent;
    while (p[i] !== i) {
      p[i] = p[p[i]!]!;
      i = p[i]!;
    }
    return i;
  }
  union(a: number, b: number): void {
    const ra = this.find(a);
    const rb = this.find(b);
    if (ra === rb) return;
    if (ra < rb) this.parent[rb] = ra;
    else this.parent[ra] = rb;
  }
}

/**
 * Finds islands: connected components of buses through in-service branches and closed switches.
 * Isolated buses (MATPOWER type 4) belong to no island. The reference of an energised island is
 * its first slack bus; without one, the bus of its largest grid-forming unit (by participation).
 * An island with in-service generation but neither is 'no-reference'; one without any
 * in-service unit or slack bus is 'de-energised'.
 */
export function findIslands(net: CompiledNetwork): Island[] {
  const nb = net.busIds.length;
  const islandsUf = new UnionFind(nb);
  const nodesUf = new UnionFind(nb);
  for (let s = 0; s < net.switchIds.length; s++) {
    if (!net.switchClosed[s]) continue;
    const a = net.switchFrom[s]!;
    const b = net.switchTo[s]!;
    if (net.busIsolated[a] || net.busIsolated[b]) continue;
    islandsUf.union(a, b);
    nodesUf.union(a, b);
  }
  for (let k = 0; k < net.branchIds.length; k++) {
    if (!net.branchInService[k]) continue;
    const a = net.branchFrom[k]!;
    const b = net.branchTo[k]!;
    if (net.busIsolated[a] || net.busIsolated[b]) continue;
    islandsUf.union(a, b);
  }
  const islandOfRoot = new Map<number, number>();
  const members: number[][] = [];
  for (let i = 0; i < nb; i++) {
    if (net.busIsolated[i]) continue;
    const root = islandsUf.find(i);
    let index = islandOfRoot.get(root);
    if (index === undefined) {
      index = members.length;
      islandOfRoot.set(root, index);
      members.push([]);
    }
    members[index]!.push(i);
  }
  const branchLists: number[][] = members.map(() => []);
  for (let k = 0; k < net.branchIds.length; k++) {
    if (!net.branchInService[k]) continue;
    const a = net.branchFrom[k]!;
    if (net.busIsolated[a] || net.busIsolated[net.branchTo[k]!]) continue;
    branchLists[islandOfRoot.get(islandsUf.find(a))!]!.push(k);
  }
  const hasUnit = new Uint8Array(nb);
  const bestFormer = new Map<number, { bus: number; weight: number }>();
  for (let u = 0; u < net.unitIds.length; u++) {
    if (!net.unitInService[u]) continue;
    const bus = net.unitBus[u]!;
    if (net.busIsolated[bus]) continue;
    hasUnit[bus] = 1;
    if (net.unitGridForming[u]) {
      const island = islandOfRoot.get(islandsUf.find(bus))!;
      const weight = net.unitParticipation[u]!;
      const best = bestFormer.get(island);
      if (!best || weight > best.weight) bestFormer.set(island, { bus, weight });
    }
  }
  return members.map((busList, index) => {
    const buses = Int32Array.from(busList);
    const localOfRoot = new Map<number, number>();
    const nodeBusList: number[] = [];
    const busNode = new Int32Array(buses.length);
    buses.forEach((bus, k) => {
      const root = nodesUf.find(bus);
      let local = localOfRoot.get(root);
      if (local === undefined) {
        local = nodeBusList.length;
        localOfRoot.set(root, local);
        nodeBusList.push(bus);
      }
      busNode[k] = local;
    });
    let referenceBus = busList.find((b) => net.busIsSlack[b]) ?? -1;
    if (referenceBus < 0) referenceBus = bestFormer.get(index)?.bus ?? -1;
    const anySource = busList.some((b) => hasUnit[b]);
    const kind: IslandKind = referenceBus >= 0 ? 'energised' : anySource ? 'no-reference' : 'de-energised';
    const referenceNode = referenceBus >= 0 ? busNode[busList.indexOf(referenceBus)]! : -1;
    return {
      index,
      kind,
      buses,
      nodeCount: nodeBusList.length,
      busNode,
      nodeBus: Int32Array.from(nodeBusList),
      referenceNode: kind === 'energised' ? referenceNode : -1,
      referenceBus: kind === 'energised' ? referenceBus : -1,
      branches: Int32Array.from(branchLists[index]!),
    };
  });
}
