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

/**
 * Bus index by id. MATPOWER ids are small integers written in decimal: those go through a
 * plain array (no hashing); any other id set through a Map.
 */
function busLookup(grid: Grid): (id: string) => number {
  const nb = grid.buses.length;
  let largest = -1;
  for (let i = 0; i < nb; i++) {
    const id = grid.buses[i]!.id;
    const value = Number(id);
    if (!(Number.isInteger(value) && value >= 0 && String(value) === id && value <= 16 * nb + 1024)) {
      largest = -1;
      break;
    }
    if (value > largest) largest = value;
  }
  if (largest >= 0) {
    const indexOf = new Int32Array(largest + 1).fill(-1);
    for (let i = 0; i < nb; i++) indexOf[Number(grid.buses[i]!.id)] = i;
    return (id: string) => {
      const value = Number(id);
      const index = Number.isInteger(value) && String(value) === id ? (indexOf[value] ?? -1) : -1;
      if (index < 0) throw new RangeError(`unknown bus id '${id}'`);
      return index;
    };
  }
  const map = new Map<string, number>();
  for (let i = 0; i < nb; i++) map.set(grid.buses[i]!.id, i);
  return (id: string) => {
    const index = map.get(id);
    if (index === undefined) throw new RangeError(`unknown bus id '${id}'`);
    return index;
  };
}

/** Compiles a validated grid. Indices follow the grid's element order. */
export function compileNetwork(grid: Grid): CompiledNetwork {
  const nb = grid.buses.length;
  const busOf = busLookup(grid);
  let busIndexOf: Map<string, number> | undefined;
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
    // Built on first use: a Map of thousands of string keys costs more than the rest of compiling.
    get busIndexOf() {
      if (!busIndexOf) {
        busIndexOf = new Map<string, number>();
        for (let i = 0; i < nb; i++) busIndexOf.set(grid.buses[i]!.id, i);
      }
      return busIndexOf;
    },
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
    this.parent = new Int32Array(n);
    for (let i = 0; i < n; i++) this.parent[i] = i;
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
  // Island of each bus (numbered by lowest bus), then buses and branches bucketed per island.
  const islandOfRoot = new Int32Array(nb).fill(-1);
  const islandOf = new Int32Array(nb).fill(-1);
  let islandCount = 0;
  for (let i = 0; i < nb; i++) {
    if (net.busIsolated[i]) continue;
    const root = islandsUf.find(i);
    if (islandOfRoot[root]! < 0) islandOfRoot[root] = islandCount++;
    islandOf[i] = islandOfRoot[root]!;
  }
  const busStart = new Int32Array(islandCount + 1);
  for (let i = 0; i < nb; i++) if (islandOf[i]! >= 0) busStart[islandOf[i]! + 1]!++;
  for (let k = 0; k < islandCount; k++) busStart[k + 1]! += busStart[k]!;
  const busesSorted = new Int32Array(busStart[islandCount]!);
  const busFill = busStart.slice(0, islandCount);
  for (let i = 0; i < nb; i++) if (islandOf[i]! >= 0) busesSorted[busFill[islandOf[i]!]!++] = i;
  const branchIsland = new Int32Array(net.branchIds.length).fill(-1);
  const branchStart = new Int32Array(islandCount + 1);
  for (let k = 0; k < net.branchIds.length; k++) {
    if (!net.branchInService[k]) continue;
    const a = net.branchFrom[k]!;
    if (net.busIsolated[a] || net.busIsolated[net.branchTo[k]!]) continue;
    branchIsland[k] = islandOf[a]!;
    branchStart[islandOf[a]! + 1]!++;
  }
  for (let k = 0; k < islandCount; k++) branchStart[k + 1]! += branchStart[k]!;
  const branchesSorted = new Int32Array(branchStart[islandCount]!);
  const branchFill = branchStart.slice(0, islandCount);
  for (let k = 0; k < net.branchIds.length; k++) {
    if (branchIsland[k]! >= 0) branchesSorted[branchFill[branchIsland[k]!]!++] = k;
  }
  const hasUnit = new Uint8Array(islandCount);
  const bestFormerBus = new Int32Array(islandCount).fill(-1);
  const bestFormerWeight = new Float64Array(islandCount);
  for (let u = 0; u < net.unitIds.length; u++) {
    if (!net.unitInService[u]) continue;
    const bus = net.unitBus[u]!;
    if (net.busIsolated[bus]) continue;
    const island = islandOf[bus]!;
    hasUnit[island] = 1;
    if (net.unitGridForming[u]) {
      const weight = net.unitParticipation[u]!;
      if (bestFormerBus[island]! < 0 || weight > bestFormerWeight[island]!) {
        bestFormerBus[island] = bus;
        bestFormerWeight[island] = weight;
      }
    }
  }
  // Local node numbers: buses joined by closed switches share one (node roots are unique per island).
  const localOfRoot = new Int32Array(nb).fill(-1);
  const islands: Island[] = [];
  for (let index = 0; index < islandCount; index++) {
    const buses = busesSorted.slice(busStart[index]!, busStart[index + 1]!);
    const busNode = new Int32Array(buses.length);
    const nodeBusList: number[] = [];
    let referenceBus = -1;
    let referencePosition = -1;
    for (let k = 0; k < buses.length; k++) {
      const bus = buses[k]!;
      const root = nodesUf.find(bus);
      if (localOfRoot[root]! < 0) {
        localOfRoot[root] = nodeBusList.length;
        nodeBusList.push(bus);
      }
      busNode[k] = localOfRoot[root]!;
      if (referenceBus < 0 && net.busIsSlack[bus]) {
        referenceBus = bus;
        referencePosition = k;
      }
    }
    if (referenceBus < 0 && bestFormerBus[index]! >= 0) {
      referenceBus = bestFormerBus[index]!;
      referencePosition = buses.indexOf(referenceBus);
    }
    const kind: IslandKind =
      referenceBus >= 0 ? 'energised' : hasUnit[index] ? 'no-reference' : 'de-energised';
    islands.push({
      index,
      kind,
      buses,
      nodeCount: nodeBusList.length,
      busNode,
      nodeBus: Int32Array.from(nodeBusList),
      referenceNode: kind === 'energised' ? busNode[referencePosition]! : -1,
      referenceBus: kind === 'energised' ? referenceBus : -1,
      branches: branchesSorted.slice(branchStart[index]!, branchStart[index + 1]!),
    });
  }
  return islands;
}
