/**
 * Backward/forward sweep for radial islands (a tree rooted at the reference node, no other
 * voltage-regulating node, the whole imbalance on the reference).
 *
 * Backward: the current each node draws through its parent branch, from its injections, shunts and
 * the branches to its children (each branch as its exact two-port, so taps and charging are kept).
 * Forward: node voltages from the root down. Converges when the power mismatch, computed on Ybus
 * exactly as Newton–Raphson reports it, is below tolerance; so both methods answer to one criterion.
 */
import { hypot2 } from '../hypot.ts';
import { branchAdmittances, type IslandModel } from './island-model.ts';
import { type IterationOutcome, nextIteration } from './newton.ts';

export class RadialSweepSolver {
  /** Non-root nodes in breadth-first order from the root. */
  private readonly order: Int32Array;
  private readonly parent: Int32Array;
  /** Per node (as child): two-port admittances of its parent branch, seen parent p / child c. */
  private readonly ypp: Float64Array;
  private readonly ypc: Float64Array;
  private readonly ycp: Float64Array;
  private readonly ycc: Float64Array;
  /** Node admittance to ground (Ybus diagonal minus the tree branches' own terms). */
  private readonly yshRe: Float64Array;
  private readonly yshIm: Float64Array;
  /** Current drawn from the parent through the parent branch, and the branch's parent-end current. */
  private readonly jRe: Float64Array;
  private readonly jIm: Float64Array;
  private readonly upRe: Float64Array;
  private readonly upIm: Float64Array;
  private readonly saveVm: Float64Array;
  private readonly saveVa: Float64Array;
  iterations = 0;
  maxMismatch = 0;

  /** Whether the island's topology is a tree (required; checked by the caller with isRadial). */
  static isRadial(model: IslandModel): boolean {
    return model.seriesBranches.length === model.m - 1;
  }

  /** Whether the current injections and controls suit the sweep (single source at the root). */
  static suits(model: IslandModel): boolean {
    const { m, hasVoltageControl, referenceNode, alpha } = model;
    if (alpha[referenceNode] !== 1) return false;
    for (let i = 0; i < m; i++) if (i !== referenceNode && hasVoltageControl[i]) return false;
    return true;
  }

  constructor(private readonly model: IslandModel) {
    const { m, net, referenceNode, nodeOfBus, yDiag, yG, yB } = model;
    const neighbours: { node: number; branch: number }[][] = Array.from({ length: m }, () => []);
    for (const k of model.seriesBranches) {
      const a = nodeOfBus[net.branchFrom[k]!]!;
      const b = nodeOfBus[net.branchTo[k]!]!;
      neighbours[a]!.push({ node: b, branch: k });
      neighbours[b]!.push({ node: a, branch: k });
    }
    this.parent = new Int32Array(m).fill(-1);
    this.ypp = new Float64Array(2 * m);
    this.ypc = new Float64Array(2 * m);
    this.ycp = new Float64Array(2 * m);
    this.ycc = new Float64Array(2 * m);
    this.yshRe = new Float64Array(m);
    this.yshIm = new Float64Array(m);
    for (let i = 0; i < m; i++) {
      this.yshRe[i] = yG[yDiag[i]!]!;
      this.yshIm[i] = yB[yDiag[i]!]!;
    }
    const order: number[] = [];
    const seen = new Uint8Array(m);
    seen[referenceNode] = 1;
    const queue = [referenceNode];
    const stamp = new Float64Array(8);
    for (let head = 0; head < queue.length; head++) {
      const p = queue[head]!;
      for (const { node: c, branch: k } of neighbours[p]!) {
        if (seen[c]) continue;
        seen[c] = 1;
        queue.push(c);
        order.push(c);
        this.parent[c] = p;
        branchAdmittances(net, k, stamp);
        const parentIsFrom = nodeOfBus[net.branchFrom[k]!] === p;
        // stamp: [Yff, Yft, Ytf, Ytt]
        const [pp, pc, cp, cc] = parentIsFrom ? [0, 2, 4, 6] : [6, 4, 2, 0];
        this.ypp[2 * c] = stamp[pp]!;
        this.ypp[2 * c + 1] = stamp[pp + 1]!;
        this.ypc[2 * c] = stamp[pc]!;
        this.ypc[2 * c + 1] = stamp[pc + 1]!;
        this.ycp[2 * c] = stamp[cp]!;
        this.ycp[2 * c + 1] = stamp[cp + 1]!;
        this.ycc[2 * c] = stamp[cc]!;
        this.ycc[2 * c + 1] = stamp[cc + 1]!;
        this.yshRe[p]! -= stamp[pp]!;
        this.yshIm[p]! -= stamp[pp + 1]!;
        this.yshRe[c]! -= stamp[cc]!;
        this.yshIm[c]! -= stamp[cc + 1]!;
      }
    }
    if (order.length !== m - 1) throw new RangeError('radial sweep needs a connected tree');
    this.order = Int32Array.from(order);
    this.jRe = new Float64Array(m);
    this.jIm = new Float64Array(m);
    this.upRe = new Float64Array(m);
    this.upIm = new Float64Array(m);
    this.saveVm = new Float64Array(m);
    this.saveVa = new Float64Array(m);
  }

  run(tolerance: number, maxIterations: number): IterationOutcome {
    const model = this.model;
    const { e, f, vm, va, pSched, qSched, referenceNode, m } = model;
    const { order, parent, ypp, ypc, yshRe, yshIm, jRe, jIm, upRe, upIm } = this;
    this.saveVm.set(vm);
    this.saveVa.set(va);
    model.updateRectangular();
    this.iterations = 0;
    let outcome: IterationOutcome = 'max-iterations';
    this.measure();
    let worst = this.model.worstMismatch;
    this.maxMismatch = worst;
    for (;;) {
      const stop = nextIteration(this, worst, tolerance, maxIterations);
      if (stop) {
        outcome = stop;
        break;
      }
      // Backward: children before parents. upRe/upIm accumulate, per node, the current its child
      // branches draw at its end.
      upRe.fill(0);
      upIm.fill(0);
      for (let k = order.length - 1; k >= 0; k--) {
        const c = order[k]!;
        const er = e[c]!;
        const fi = f[c]!;
        const v2 = er * er + fi * fi;
        // Injected current conj(S / V) = (P - jQ) / conj(V) = (P - jQ)(e + jf) / |V|²
        const ps = pSched[c]!;
        const qs = qSched[c]!;
        const injRe = (ps * er + qs * fi) / v2;
        const injIm = (ps * fi - qs * er) / v2;
        const shRe = yshRe[c]! * er - yshIm[c]! * fi;
        const shIm = yshRe[c]! * fi + yshIm[c]! * er;
        const jr = shRe + upRe[c]! - injRe;
        const ji = shIm + upIm[c]! - injIm;
        jRe[c] = jr;
        jIm[c] = ji;
        // Parent-end current of this branch: ypp Vp + ypc Vc with Vc = (-J - ycp Vp) / ycc,
        // evaluated with the parent's present voltage.
        const p = parent[c]!;
        const vpr = e[p]!;
        const vpi = f[p]!;
        const vc = this.childVoltage(c, vpr, vpi, jr, ji);
        const vcr = vc.re;
        const vci = vc.im;
        upRe[p]! += ypp[2 * c]! * vpr - ypp[2 * c + 1]! * vpi + ypc[2 * c]! * vcr - ypc[2 * c + 1]! * vci;
        upIm[p]! += ypp[2 * c]! * vpi + ypp[2 * c + 1]! * vpr + ypc[2 * c]! * vci + ypc[2 * c + 1]! * vcr;
      }
      // Forward: parents before children.
      const root = referenceNode;
      e[root] = vm[root]! * Math.cos(va[root]!);
      f[root] = vm[root]! * Math.sin(va[root]!);
      let largestChange = 0;
      for (let k = 0; k < order.length; k++) {
        const c = order[k]!;
        const p = parent[c]!;
        const vc = this.childVoltage(c, e[p]!, f[p]!, jRe[c]!, jIm[c]!);
        const change = Math.abs(vc.re - e[c]!) + Math.abs(vc.im - f[c]!);
        if (change > largestChange || Number.isNaN(change)) {
          largestChange = Number.isNaN(change) ? Number.POSITIVE_INFINITY : change;
        }
        e[c] = vc.re;
        f[c] = vc.im;
      }
      // The mismatch on Ybus costs as much as a sweep: skip it while voltages still move a lot
      // (then it cannot be below any useful tolerance), except on the last allowed iteration.
      if (largestChange < 1e-4 || !Number.isFinite(largestChange) || this.iterations >= maxIterations) {
        this.measure();
        worst = this.model.worstMismatch;
      }
    }
    if (outcome === 'diverged') {
      vm.set(this.saveVm);
      va.set(this.saveVa);
      model.updateRectangular();
      model.computePower();
    } else {
      for (let i = 0; i < m; i++) {
        vm[i] = hypot2(e[i]!, f[i]!);
        va[i] = Math.atan2(f[i]!, e[i]!);
      }
    }
    return outcome;
  }

  private readonly scratch = { re: 0, im: 0 };
  /** Vc = (-J - ycp Vp) / ycc, into a reused scratch object. */
  private childVoltage(c: number, vpr: number, vpi: number, jr: number, ji: number) {
    const { ycp, ycc } = this;
    const nr = -jr - (ycp[2 * c]! * vpr - ycp[2 * c + 1]! * vpi);
    const ni = -ji - (ycp[2 * c]! * vpi + ycp[2 * c + 1]! * vpr);
    const dr = ycc[2 * c]!;
    const di = ycc[2 * c + 1]!;
    const den = dr * dr + di * di;
    this.scratch.re = (nr * dr + ni * di) / den;
    this.scratch.im = (ni * dr - nr * di) / den;
    return this.scratch;
  }

  /** Mismatch of the present voltages, with the reference's imbalance taken as the slack power. */
  private measure(): void {
    const model = this.model;
    model.computePower();
    const ref = model.referenceNode;
    model.deltaP = model.pCalc[ref]! - model.pSched[ref]!;
    model.mismatch();
  }
}
