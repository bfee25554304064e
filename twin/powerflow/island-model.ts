/**
 * One energised island as the solvers see it: local node numbering, its bus admittance matrix
 * (CSR, complex as separate G and B arrays), the per-node scheduled injections assembled from the
 * network's mutable arrays, and the voltage state that warm-starts the next solve.
 */
import { patternFromCoordinates } from '../sparse/csc.ts';
import { type CompiledNetwork, type Island, UnitControl } from './network.ts';

export const NodeMode = { pq: 0, pv: 1, reference: 2 } as const;

/**
 * Two-port admittances of branch k (MATPOWER's model: series ys, charging b/2 at each end, ideal
 * transformer of complex ratio t at the from side): out = [Yff, Yft, Ytf, Ytt] as re, im pairs.
 */
export function branchAdmittances(net: CompiledNetwork, k: number, out: Float64Array): void {
  const r = net.branchR[k]!;
  const x = net.branchX[k]!;
  const den = r * r + x * x;
  const ysRe = r / den;
  const ysIm = -x / den;
  const tap = net.branchTap[k]!;
  const shift = net.branchShift_rad[k]!;
  const tRe = tap * Math.cos(shift);
  const tIm = tap * Math.sin(shift);
  const halfB = net.branchB[k]! / 2;
  const t2 = tap * tap;
  out[0] = ysRe / t2;
  out[1] = (ysIm + halfB) / t2;
  // Yft = -ys / conj(t) = -ys t / |t|²
  out[2] = -(ysRe * tRe - ysIm * tIm) / t2;
  out[3] = -(ysIm * tRe + ysRe * tIm) / t2;
  // Ytf = -ys / t = -ys conj(t) / |t|²
  out[4] = -(ysRe * tRe + ysIm * tIm) / t2;
  out[5] = -(ysIm * tRe - ysRe * tIm) / t2;
  out[6] = ysRe;
  out[7] = ysIm + halfB;
}

export class IslandModel {
  readonly m: number;
  readonly referenceNode: number;
  /** Ybus rows: for row i, entries yPtr[i]..yPtr[i+1]-1 with columns yIdx. */
  readonly yPtr: Int32Array;
  readonly yIdx: Int32Array;
  readonly yG: Float64Array;
  readonly yB: Float64Array;
  /** Position of the diagonal entry of each row. */
  readonly yDiag: Int32Array;

  readonly vm: Float64Array;
  readonly va: Float64Array;
  readonly e: Float64Array;
  readonly f: Float64Array;
  readonly pCalc: Float64Array;
  readonly qCalc: Float64Array;
  readonly pSched: Float64Array;
  readonly qSched: Float64Array;
  /** Reactive injection of everything except voltage-controlling units, pu. */
  readonly qFixed: Float64Array;
  /** Normalised distributed-slack share of each node (sums to 1 over the island). */
  readonly alpha: Float64Array;
  readonly mode: Uint8Array;
  readonly vset: Float64Array;
  readonly hasVoltageControl: Uint8Array;
  readonly vcQmin: Float64Array;
  readonly vcQmax: Float64Array;
  /** Number of in-service voltage-regulating units at each node. */
  readonly vcCount: Int32Array;
  /** +1 held at its Q maximum, -1 at its minimum, 0 regulating (or no regulating unit). */
  readonly qLimited: Int8Array;
  /**
   * Result of the last mismatch(): a field rather than a return value, so that hot loops do not
   * box a double on every call.
   */
  worstMismatch = 0;
  /** Island power imbalance taken by the slack units, pu. */
  deltaP = 0;
  /** Sum of participation factors of the island's in-service units (0: single slack). */
  participationTotal = 0;
  /**
   * Node whose units take the imbalance ΔP when no unit has a participation factor: the reference
   * node, until Q limits turn it into a PQ node and the slack role moves on (MATPOWER's runpf
   * rule; the angle reference stays where it was).
   */
  slackNode: number;
  /** Active power (pu) a node keeps from the time it held the slack role; 0 elsewhere. */
  readonly heldP: Float64Array;
  /** In-service units at each node (after the last assembleInjections). */
  readonly unitCount: Int32Array;
  /** Scratch for sharing a node's reactive power among its units (PowerFlowSolver). */
  readonly qShareNeeded: Float64Array;
  readonly qShareMin: Float64Array;
  readonly qShareMax: Float64Array;
  readonly qProxy: Float64Array;

  /** Elements of the island and their local nodes. */
  readonly loads: Int32Array;
  readonly loadNode: Int32Array;
  readonly units: Int32Array;
  readonly unitNode: Int32Array;
  readonly fidSidesA: Int32Array;
  readonly fidNodeA: Int32Array;
  readonly fidSidesB: Int32Array;
  readonly fidNodeB: Int32Array;
  /** Local node of each grid bus, -1 for buses outside this island. */
  readonly nodeOfBus: Int32Array;
  /** Local series branches (distinct end nodes) for tree tests and the radial sweep. */
  readonly seriesBranches: Int32Array;

  constructor(
    readonly net: CompiledNetwork,
    readonly island: Island,
  ) {
    const m = island.nodeCount;
    this.m = m;
    this.referenceNode = island.referenceNode;
    const nodeOfBus = new Int32Array(net.busIds.length).fill(-1);
    for (let k = 0; k < island.buses.length; k++) nodeOfBus[island.buses[k]!] = island.busNode[k]!;
    this.nodeOfBus = nodeOfBus;

    // Ybus: stamp every in-service branch (MATPOWER's makeYbus model) and the bus shunts, as
    // coordinates (row, column, G, B); duplicates are summed below.
    const count = m + island.buses.length + 4 * island.branches.length;
    const rows = new Int32Array(count);
    const cols = new Int32Array(count);
    const g = new Float64Array(count);
    const b = new Float64Array(count);
    let c = 0;
    for (let i = 0; i < m; i++) {
      rows[c] = cols[c] = i;
      c++;
    }
    for (let k = 0; k < island.buses.length; k++) {
      const bus = island.buses[k]!;
      rows[c] = cols[c] = island.busNode[k]!;
      g[c] = net.busShuntG[bus]!;
      b[c++] = net.busShuntB[bus]!;
    }
    const series = new Int32Array(island.branches.length);
    let seriesCount = 0;
    const stamp = new Float64Array(8);
    for (let q = 0; q < island.branches.length; q++) {
      const k = island.branches[q]!;
      const from = nodeOfBus[net.branchFrom[k]!]!;
      const to = nodeOfBus[net.branchTo[k]!]!;
      branchAdmittances(net, k, stamp);
      for (let s = 0; s < 4; s++) {
        rows[c] = s < 2 ? from : to;
        cols[c] = s === 0 || s === 2 ? from : to;
        g[c] = stamp[2 * s]!;
        b[c++] = stamp[2 * s + 1]!;
      }
      if (from !== to) series[seriesCount++] = k;
    }
    this.seriesBranches = series.slice(0, seriesCount);
    // Row-major: build "CSC" of the transpose, so each column of it is a row of Ybus.
    const { pattern, slotOf } = patternFromCoordinates(m, cols, rows);
    this.yPtr = pattern.colPtr;
    this.yIdx = pattern.rowIdx;
    this.yG = new Float64Array(pattern.rowIdx.length);
    this.yB = new Float64Array(pattern.rowIdx.length);
    for (let k = 0; k < count; k++) {
      this.yG[slotOf[k]!]! += g[k]!;
      this.yB[slotOf[k]!]! += b[k]!;
    }
    this.yDiag = new Int32Array(m);
    for (let i = 0; i < m; i++) {
      for (let p = this.yPtr[i]!; p < this.yPtr[i + 1]!; p++) if (this.yIdx[p] === i) this.yDiag[i] = p;
    }

    this.vm = new Float64Array(m);
    this.va = new Float64Array(m);
    this.e = new Float64Array(m);
    this.f = new Float64Array(m);
    this.pCalc = new Float64Array(m);
    this.qCalc = new Float64Array(m);
    this.pSched = new Float64Array(m);
    this.qSched = new Float64Array(m);
    this.qFixed = new Float64Array(m);
    this.alpha = new Float64Array(m);
    this.mode = new Uint8Array(m);
    this.vset = new Float64Array(m);
    this.hasVoltageControl = new Uint8Array(m);
    this.vcQmin = new Float64Array(m);
    this.vcQmax = new Float64Array(m);
    this.vcCount = new Int32Array(m);
    this.qLimited = new Int8Array(m);
    this.slackNode = island.referenceNode;
    this.heldP = new Float64Array(m);
    this.unitCount = new Int32Array(m);
    this.qShareNeeded = new Float64Array(m);
    this.qShareMin = new Float64Array(m);
    this.qShareMax = new Float64Array(m);
    this.qProxy = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      const bus = island.nodeBus[i]!;
      this.vm[i] = net.busVm0[bus]! > 0 ? net.busVm0[bus]! : 1;
      this.va[i] = net.busVa0_rad[bus]!;
    }

    const loads: number[] = [];
    for (let l = 0; l < net.loadIds.length; l++) if (nodeOfBus[net.loadBus[l]!]! >= 0) loads.push(l);
    this.loads = Int32Array.from(loads);
    this.loadNode = Int32Array.from(loads, (l) => nodeOfBus[net.loadBus[l]!]!);
    const units: number[] = [];
    for (let u = 0; u < net.unitIds.length; u++) if (nodeOfBus[net.unitBus[u]!]! >= 0) units.push(u);
    this.units = Int32Array.from(units);
    this.unitNode = Int32Array.from(units, (u) => nodeOfBus[net.unitBus[u]!]!);
    const sidesA: number[] = [];
    const sidesB: number[] = [];
    for (let k = 0; k < net.fidIds.length; k++) {
      if (nodeOfBus[net.fidBusA[k]!]! >= 0) sidesA.push(k);
      if (nodeOfBus[net.fidBusB[k]!]! >= 0) sidesB.push(k);
    }
    this.fidSidesA = Int32Array.from(sidesA);
    this.fidNodeA = Int32Array.from(sidesA, (k) => nodeOfBus[net.fidBusA[k]!]!);
    this.fidSidesB = Int32Array.from(sidesB);
    this.fidNodeB = Int32Array.from(sidesB, (k) => nodeOfBus[net.fidBusB[k]!]!);
  }

  /**
   * Reads loads, units, FIDs and extra injections into per-node scheduled powers (pu), node
   * modes (respecting Q-limit states) and voltage set-points. Allocation-free.
   */
  assembleInjections(): void {
    const { net, m, pSched, qSched, qFixed, alpha, vset, hasVoltageControl, vcQmin, vcQmax, vcCount } = this;
    const base = net.baseMVA;
    pSched.fill(0);
    qFixed.fill(0);
    alpha.fill(0);
    vset.fill(0);
    hasVoltageControl.fill(0);
    vcQmin.fill(0);
    vcQmax.fill(0);
    vcCount.fill(0);
    const unitCount = this.unitCount;
    unitCount.fill(0);
    const bus = this.island.buses;
    for (let k = 0; k < bus.length; k++) {
      const node = this.island.busNode[k]!;
      pSched[node]! += net.busExtraP_mw[bus[k]!]! / base;
      qFixed[node]! += net.busExtraQ_mvar[bus[k]!]! / base;
    }
    for (let k = 0; k < this.loads.length; k++) {
      const l = this.loads[k]!;
      if (!net.loadInService[l]) continue;
      pSched[this.loadNode[k]!]! -= net.loadP_mw[l]! / base;
      qFixed[this.loadNode[k]!]! -= net.loadQ_mvar[l]! / base;
    }
    for (let k = 0; k < this.fidSidesA.length; k++) {
      const f = this.fidSidesA[k]!;
      if (!net.fidInService[f]) continue;
      pSched[this.fidNodeA[k]!]! -= net.fidP_mw[f]! / base;
      qFixed[this.fidNodeA[k]!]! += net.fidQA_mvar[f]! / base;
    }
    for (let k = 0; k < this.fidSidesB.length; k++) {
      const f = this.fidSidesB[k]!;
      if (!net.fidInService[f]) continue;
      const transfer = net.fidP_mw[f]!;
      pSched[this.fidNodeB[k]!]! += (transfer - Math.abs(transfer) * net.fidLossFraction[f]!) / base;
      qFixed[this.fidNodeB[k]!]! += net.fidQB_mvar[f]! / base;
    }
    let participation = 0;
    for (let k = 0; k < this.units.length; k++) {
      const u = this.units[k]!;
      if (!net.unitInService[u]) continue;
      const node = this.unitNode[k]!;
      unitCount[node]!++;
      pSched[node]! += net.unitP_mw[u]! / base;
      const share = net.unitParticipation[u]!;
      if (share > 0) {
        alpha[node]! += share;
        participation += share;
      }
      if (net.unitControl[u] === UnitControl.voltage) {
        if (!hasVoltageControl[node]) vset[node] = net.unitVset_pu[u]!;
        hasVoltageControl[node] = 1;
        vcCount[node]!++;
        vcQmin[node]! += net.unitQmin_mvar[u]! / base;
        vcQmax[node]! += net.unitQmax_mvar[u]! / base;
      } else {
        qFixed[node]! += net.unitQ_mvar[u]! / base;
      }
    }
    this.participationTotal = participation;
    const ref = this.referenceNode;
    if (participation > 0) {
      for (let i = 0; i < m; i++) alpha[i] = alpha[i]! / participation;
    } else {
      alpha[this.slackNode] = 1;
    }
    for (let i = 0; i < m; i++) pSched[i]! += this.heldP[i]!;
    if (!hasVoltageControl[ref]) vset[ref] = net.busVm0[this.island.nodeBus[ref]!]! || 1;
    for (let i = 0; i < m; i++) {
      let mode: number = NodeMode.pq;
      // A Q-limited reference keeps the angle (and, with distributed slack, its ΔP slot) as a PQ node.
      if (i === ref) mode = this.qLimited[i] === 0 ? NodeMode.reference : NodeMode.pq;
      else if (hasVoltageControl[i] && this.qLimited[i] === 0) mode = NodeMode.pv;
      this.mode[i] = mode;
      const limited = this.qLimited[i]!;
      qSched[i] = qFixed[i]! + (limited > 0 ? vcQmax[i]! : limited < 0 ? vcQmin[i]! : 0);
      if (mode !== NodeMode.pq) this.vm[i] = vset[i]!;
    }
  }

  /**
   * Hands the slack role back to the reference node (ΔP keeps its total) and lets every node
   * regulate again: the state MATPOWER's runpf starts each run from.
   */
  restoreSlack(): void {
    if (this.slackNode === this.referenceNode) return;
    for (let i = 0; i < this.m; i++) {
      this.deltaP += this.heldP[i]!;
      this.heldP[i] = 0;
    }
    this.slackNode = this.referenceNode;
    this.qLimited.fill(0);
  }

  /** Rectangular voltages from polar. */
  updateRectangular(): void {
    const { m, vm, va, e, f } = this;
    for (let i = 0; i < m; i++) {
      e[i] = vm[i]! * Math.cos(va[i]!);
      f[i] = vm[i]! * Math.sin(va[i]!);
    }
  }

  /** Calculated injections S = V conj(Y V) into pCalc/qCalc. */
  computePower(): void {
    const { m, yPtr, yIdx, yG, yB, e, f, pCalc, qCalc } = this;
    for (let i = 0; i < m; i++) {
      let ir = 0;
      let ii = 0;
      for (let p = yPtr[i]!; p < yPtr[i + 1]!; p++) {
        const k = yIdx[p]!;
        const gk = yG[p]!;
        const bk = yB[p]!;
        ir += gk * e[k]! - bk * f[k]!;
        ii += gk * f[k]! + bk * e[k]!;
      }
      pCalc[i] = e[i]! * ir + f[i]! * ii;
      qCalc[i] = f[i]! * ir - e[i]! * ii;
    }
  }

  /**
   * Largest absolute mismatch (pu) over the equations being solved: P at every node (the
   * reference included, since the slack share is an unknown) and Q at PQ nodes.
   * Writes the mismatch vector (2 entries per node) when `out` is given.
   */
  mismatch(out?: Float64Array): void {
    const { m, pCalc, qCalc, pSched, qSched, alpha, mode } = this;
    let worst = 0;
    for (let i = 0; i < m; i++) {
      const dp = pCalc[i]! - pSched[i]! - alpha[i]! * this.deltaP;
      const dq = mode[i] === NodeMode.pq ? qCalc[i]! - qSched[i]! : 0;
      if (out) {
        out[2 * i] = dp;
        out[2 * i + 1] = dq;
      }
      const a = Math.abs(dp);
      const b = Math.abs(dq);
      if (a > worst) worst = a;
      if (b > worst) worst = b;
      // A NaN would slip past the comparisons above: report it as an infinite mismatch.
      if (Number.isNaN(a) || Number.isNaN(b)) worst = Number.POSITIVE_INFINITY;
    }
    this.worstMismatch = worst;
  }
}
