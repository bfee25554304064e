/**
 * Newton–Raphson in polar form for one island, with a Jacobian whose structure never changes.
 *
 * Every node keeps two unknown slots (θ, |V|) and two equation rows (P, Q). A PV or reference
 * node's Q row becomes the identity (|V| is held at its set-point), and the reference node's θ slot
 * carries the island's slack power ΔP instead (θ_ref is fixed), whose column holds -αᵢ in the P
 * rows of the participating nodes. So PV↔PQ switching and changes of participation change values
 * only: the fill-reducing ordering and the LU's symbolic pattern are computed once per topology.
 */

import { BlockLU2 } from '../sparse/block-lu.ts';
import type { CscPattern } from '../sparse/csc.ts';
import { SparseLU } from '../sparse/lu.ts';
import { minimumDegreeOrderOfAdjacency } from '../sparse/ordering.ts';
import { type IslandModel, NodeMode } from './island-model.ts';

export type IterationOutcome = 'converged' | 'max-iterations' | 'diverged' | 'singular';

/**
 * The verdict at the head of an iterative solver's loop on its worst mismatch: 'diverged' when it
 * is not finite, 'converged' under the tolerance, 'max-iterations' once the budget is spent; else
 * undefined, with the new iteration counted. `maxMismatch` keeps the last finite mismatch.
 */
export function nextIteration(
  solver: { iterations: number; maxMismatch: number },
  worst: number,
  tolerance: number,
  maxIterations: number,
): IterationOutcome | undefined {
  if (!Number.isFinite(worst)) return 'diverged';
  solver.maxMismatch = worst;
  if (worst < tolerance) return 'converged';
  if (solver.iterations >= maxIterations) return 'max-iterations';
  solver.iterations++;
  return undefined;
}

/** Chord steps (reusing the previous factors) tried before refactoring, while each halves the mismatch. */
const MAX_CHORD_STEPS = 6;

/** Voltage magnitudes beyond this are taken as divergence rather than a solution. */
const DIVERGED_VM = 5;

export class NewtonSolver {
  private readonly slotPT: Int32Array;
  private readonly slotPV: Int32Array;
  private readonly slotQT: Int32Array;
  private readonly slotQV: Int32Array;
  private readonly alphaNodes: Int32Array;
  private readonly slotAlpha: Int32Array;
  private readonly jValues: Float64Array;
  /**
   * The Jacobian's LU: 2×2-block LU on the node order first (fast, fixed pattern); if a diagonal
   * block is unfit for static pivoting, the scalar LU with threshold pivoting for this topology.
   */
  private readonly block: BlockLU2;
  private scalar: SparseLU | undefined;
  private useScalar = false;
  private readonly pattern: CscPattern;
  private readonly columnOrder: Int32Array;
  private readonly nodeOrder: Int32Array;
  /**
   * Step-size control: each Newton step is cut by halves (down to 1/256) until the largest
   * mismatch falls, instead of being taken whole. Slower per iteration, but it keeps a start far
   * from the solution (a flat start on a stressed grid) from overshooting into divergence.
   */
  stepControl = false;
  private readonly rhs: Float64Array;
  private readonly saveVm: Float64Array;
  private readonly saveVa: Float64Array;
  private readonly stepVm: Float64Array;
  private readonly stepVa: Float64Array;
  private readonly correction: Float64Array;
  /** Iterations and final mismatch of the last run. */
  iterations = 0;
  maxMismatch = 0;
  /** Of those iterations, how many reused the previous LU factors (chord steps). */
  chordSteps = 0;
  /** The LU holds factors of a Jacobian near the present solution, for node modes factorModes. */
  private factorsValid = false;
  private readonly factorModes: Uint8Array;

  constructor(private readonly model: IslandModel) {
    const { m, yPtr, yIdx, referenceNode } = model;
    const nnzY = yIdx.length;
    // Candidate slack participants: every node with a unit, plus the reference.
    const isAlpha = new Uint8Array(m);
    isAlpha[referenceNode] = 1;
    for (const node of model.unitNode) isAlpha[node] = 1;
    let alphaCount = 0;
    for (let i = 0; i < m; i++) alphaCount += isAlpha[i]!;
    this.alphaNodes = new Int32Array(alphaCount);
    for (let i = 0, a = 0; i < m; i++) if (isAlpha[i]) this.alphaNodes[a++] = i;

    // Ybus is structurally symmetric (every branch stamps both ways), so column k of Ybus has the
    // pattern of row k. transposed[p] is the position of entry (i, k) within row k.
    const transposed = new Int32Array(nnzY);
    const cursor = yPtr.slice(0, m);
    for (let i = 0; i < m; i++) {
      for (let p = yPtr[i]!; p < yPtr[i + 1]!; p++) {
        const k = yIdx[p]!;
        const q = cursor[k]!++;
        if (yIdx[q] !== i) throw new RangeError('Ybus pattern is not structurally symmetric');
        transposed[p] = q;
      }
    }
    // Jacobian pattern, column by column: the θ and |V| columns of node k hold rows (P_i, Q_i) for
    // every i in column k of Ybus; the reference's θ column (the slack power ΔP) also holds the
    // P rows of every candidate participant.
    const refExtra: number[] = [];
    {
      const adjacentToRef = new Uint8Array(m);
      for (let p = yPtr[referenceNode]!; p < yPtr[referenceNode + 1]!; p++) adjacentToRef[yIdx[p]!] = 1;
      for (const a of this.alphaNodes) if (!adjacentToRef[a]) refExtra.push(a);
    }
    const colPtr = new Int32Array(2 * m + 1);
    for (let k = 0; k < m; k++) {
      const degree = yPtr[k + 1]! - yPtr[k]!;
      colPtr[2 * k + 1] = colPtr[2 * k]! + 2 * degree + (k === referenceNode ? refExtra.length : 0);
      colPtr[2 * k + 2] = colPtr[2 * k + 1]! + 2 * degree;
    }
    const rowIdx = new Int32Array(colPtr[2 * m]!);
    for (let k = 0; k < m; k++) {
      let t = colPtr[2 * k + 1]!;
      for (let p = yPtr[k]!; p < yPtr[k + 1]!; p++) {
        rowIdx[t++] = 2 * yIdx[p]!;
        rowIdx[t++] = 2 * yIdx[p]! + 1;
      }
      if (k !== referenceNode) rowIdx.copyWithin(colPtr[2 * k]!, colPtr[2 * k + 1]!, colPtr[2 * k + 2]!);
    }
    // The reference's θ column: its Ybus rows merged with the extra participants' P rows.
    const refColumn: number[] = [];
    for (let p = yPtr[referenceNode]!; p < yPtr[referenceNode + 1]!; p++) {
      refColumn.push(2 * yIdx[p]!, 2 * yIdx[p]! + 1);
    }
    for (const a of refExtra) refColumn.push(2 * a);
    refColumn.sort((x, y) => x - y);
    rowIdx.set(refColumn, colPtr[2 * referenceNode]!);
    const pattern: CscPattern = { n: 2 * m, colPtr, rowIdx };
    // Slot of Ybus entry p = (i, k) in the four Jacobian blocks: position t of row i in column k.
    this.slotPT = new Int32Array(nnzY);
    this.slotPV = new Int32Array(nnzY);
    this.slotQT = new Int32Array(nnzY);
    this.slotQV = new Int32Array(nnzY);
    const refSlot = new Map<number, number>();
    for (let q = colPtr[2 * referenceNode]!; q < colPtr[2 * referenceNode + 1]!; q++)
      refSlot.set(rowIdx[q]!, q);
    for (let i = 0; i < m; i++) {
      for (let p = yPtr[i]!; p < yPtr[i + 1]!; p++) {
        const k = yIdx[p]!;
        const t = transposed[p]! - yPtr[k]!;
        this.slotPT[p] = k === referenceNode ? refSlot.get(2 * i)! : colPtr[2 * k]! + 2 * t;
        this.slotQT[p] = k === referenceNode ? refSlot.get(2 * i + 1)! : colPtr[2 * k]! + 2 * t + 1;
        this.slotPV[p] = colPtr[2 * k + 1]! + 2 * t;
        this.slotQV[p] = colPtr[2 * k + 1]! + 2 * t + 1;
      }
    }
    this.slotAlpha = Int32Array.from(this.alphaNodes, (a) => refSlot.get(2 * a)!);
    this.jValues = new Float64Array(rowIdx.length);
    // Order nodes (the graph of Ybus plus the slack column's couplings), then keep each node's
    // two unknowns together.
    const adjPtr = new Int32Array(m + 1);
    for (let i = 0; i < m; i++) adjPtr[i + 1] = yPtr[i + 1]! - yPtr[i]! - 1;
    adjPtr[referenceNode + 1]! += refExtra.length;
    for (const a of refExtra) adjPtr[a + 1]!++;
    for (let i = 0; i < m; i++) adjPtr[i + 1]! += adjPtr[i]!;
    const adjIdx = new Int32Array(adjPtr[m]!);
    const fill = adjPtr.slice(0, m);
    for (let i = 0; i < m; i++) {
      for (let p = yPtr[i]!; p < yPtr[i + 1]!; p++) if (yIdx[p] !== i) adjIdx[fill[i]!++] = yIdx[p]!;
    }
    for (const a of refExtra) {
      adjIdx[fill[a]!++] = referenceNode;
      adjIdx[fill[referenceNode]!++] = a;
    }
    // The reference node's slot holds the slack power, coupled to every participating node:
    // eliminate it last (it is the hub, and its Schur complement is then well defined).
    const nodeOrder = minimumDegreeOrderOfAdjacency(m, adjPtr, adjIdx, referenceNode);
    this.columnOrder = new Int32Array(2 * m);
    for (let j = 0; j < m; j++) {
      this.columnOrder[2 * j] = 2 * nodeOrder[j]!;
      this.columnOrder[2 * j + 1] = 2 * nodeOrder[j]! + 1;
    }
    this.pattern = pattern;
    this.block = new BlockLU2(pattern, nodeOrder);
    this.nodeOrder = nodeOrder;
    this.rhs = new Float64Array(2 * m);
    this.saveVm = new Float64Array(m);
    this.saveVa = new Float64Array(m);
    this.factorModes = new Uint8Array(m);
    this.stepVm = new Float64Array(m);
    this.stepVa = new Float64Array(m);
    this.correction = new Float64Array(2 * m);
  }

  /** Makes the next run start with a fresh Jacobian instead of the stored factors. */
  forgetFactors(): void {
    this.factorsValid = false;
  }

  private modesUnchanged(): boolean {
    const mode = this.model.mode;
    const saved = this.factorModes;
    for (let i = 0; i < mode.length; i++) if (mode[i] !== saved[i]) return false;
    return true;
  }

  /** x ← x − Δ from the solved correction in rhs; false if a voltage left the plausible range. */
  private applyCorrection(rhs: Float64Array): boolean {
    const model = this.model;
    const { m, vm, va, mode, referenceNode } = model;
    let plausible = true;
    for (let i = 0; i < m; i++) {
      if (i === referenceNode) model.deltaP -= rhs[2 * i]!;
      else va[i] = va[i]! - rhs[2 * i]!;
      if (mode[i] === NodeMode.pq) {
        const v = vm[i]! - rhs[2 * i + 1]!;
        vm[i] = v;
        if (!(v > 0 && v < DIVERGED_VM)) plausible = false;
      }
    }
    return plausible;
  }

  /**
   * Takes the Newton correction in `rhs` scaled by 1, 1/2, 1/4 … until the largest mismatch
   * falls below `worst` (or the last, smallest step); leaves the new mismatch in `rhs` and
   * returns its largest entry.
   */
  private controlledStep(rhs: Float64Array, worst: number): number {
    const model = this.model;
    const { vm, va } = model;
    const { stepVm, stepVa } = this;
    const correction = this.correction;
    correction.set(rhs);
    stepVm.set(vm);
    stepVa.set(va);
    const startDeltaP = model.deltaP;
    let scale = 1;
    for (let attempt = 0; ; attempt++) {
      for (let i = 0; i < rhs.length; i++) rhs[i] = correction[i]! * scale;
      const plausible = this.applyCorrection(rhs);
      model.updateRectangular();
      model.computePower();
      model.mismatch(rhs);
      const next = plausible ? model.worstMismatch : Number.POSITIVE_INFINITY;
      if (next < worst || attempt === 8) return plausible ? next : Number.POSITIVE_INFINITY;
      vm.set(stepVm);
      va.set(stepVa);
      model.deltaP = startDeltaP;
      scale /= 2;
    }
  }

  /**
   * DC power-flow angles as a start (Bθ = P with b = 1/(x·tap) per branch, phase shifts as
   * injections, the reference angle held), magnitudes left as they are. For flat starts that
   * plain Newton cannot take: the angles carry most of the nonlinearity on large grids.
   */
  setDcAngles(): boolean {
    const model = this.model;
    const { m, yPtr, yIdx, referenceNode, net, island, nodeOfBus } = model;
    const values = new Float64Array(yIdx.length);
    const rhs = new Float64Array(m);
    for (let i = 0; i < m; i++) rhs[i] = model.pSched[i]!;
    const slot = (i: number, k: number) => {
      let p = yPtr[i]!;
      while (yIdx[p] !== k) p++;
      return p;
    };
    for (const k of island.branches) {
      const f = nodeOfBus[net.branchFrom[k]!]!;
      const t = nodeOfBus[net.branchTo[k]!]!;
      if (f === t || net.branchX[k] === 0) continue;
      const b = 1 / (net.branchX[k]! * net.branchTap[k]!);
      values[slot(f, f)]! += b;
      values[slot(t, t)]! += b;
      values[slot(f, t)]! -= b;
      values[slot(t, f)]! -= b;
      const shift = net.branchShift_rad[k]!;
      rhs[f]! += b * shift;
      rhs[t]! -= b * shift;
    }
    // θ_ref fixed: its row becomes the identity and its column moves to the right-hand side.
    const thetaRef = model.va[referenceNode]!;
    for (let i = 0; i < m; i++) {
      for (let p = yPtr[i]!; p < yPtr[i + 1]!; p++) {
        const k = yIdx[p]!;
        if (i === referenceNode) values[p] = k === i ? 1 : 0;
        else if (k === referenceNode) {
          rhs[i]! -= values[p]! * thetaRef;
          values[p] = 0;
        }
      }
    }
    rhs[referenceNode] = thetaRef;
    // Ybus is structurally symmetric, so its row lists serve as the CSC columns of B.
    const lu = new SparseLU({ n: m, colPtr: yPtr, rowIdx: yIdx }, { columnOrder: this.nodeOrder });
    if (lu.factor(values) !== 'ok') return false;
    lu.solve(rhs);
    if (!rhs.every(Number.isFinite)) return false;
    model.va.set(rhs);
    return true;
  }

  /** Factorisation counters: block LU, and the scalar fallback if it was ever needed. */
  get luStats() {
    return {
      blockFactorizations: this.block.stats.factorizations,
      scalarFallback: this.useScalar,
      scalar: this.scalar?.stats,
    };
  }

  private factor(): boolean {
    if (!this.useScalar) {
      if (this.block.factor(this.jValues) === 'ok') return true;
      this.useScalar = true;
    }
    this.scalar ??= new SparseLU(this.pattern, { columnOrder: this.columnOrder });
    return this.scalar.factor(this.jValues) === 'ok';
  }

  private solveWithFactors(rhs: Float64Array): void {
    if (this.useScalar) this.scalar!.solve(rhs);
    else this.block.solve(rhs);
  }

  /** Fills the Jacobian values from the model's current voltages and calculated powers. */
  private fillJacobian(): void {
    const { m, yPtr, yIdx, yG, yB, e, f, vm, pCalc, qCalc, mode, alpha, referenceNode } = this.model;
    const { slotPT, slotPV, slotQT, slotQV, jValues } = this;
    jValues.fill(0);
    for (let i = 0; i < m; i++) {
      const qRow = mode[i] === NodeMode.pq;
      const ei = e[i]!;
      const fi = f[i]!;
      for (let p = yPtr[i]!; p < yPtr[i + 1]!; p++) {
        const k = yIdx[p]!;
        const thetaFree = k !== referenceNode;
        const vFree = mode[k] === NodeMode.pq;
        if (k === i) {
          const vi = vm[i]!;
          const gii = yG[p]!;
          const bii = yB[p]!;
          if (thetaFree) jValues[slotPT[p]!] = -qCalc[i]! - bii * vi * vi;
          if (vFree) jValues[slotPV[p]!] = pCalc[i]! / vi + gii * vi;
          if (qRow) {
            if (thetaFree) jValues[slotQT[p]!] = pCalc[i]! - gii * vi * vi;
            jValues[slotQV[p]!] = qCalc[i]! / vi - bii * vi;
          } else {
            jValues[slotQV[p]!] = 1;
          }
          continue;
        }
        // a + jb = V_i conj(Y_ik V_k)
        const g = yG[p]!;
        const b = yB[p]!;
        const u = g * e[k]! - b * f[k]!;
        const w = g * f[k]! + b * e[k]!;
        const a = ei * u + fi * w;
        const bb = fi * u - ei * w;
        if (thetaFree) jValues[slotPT[p]!] = bb;
        if (vFree) jValues[slotPV[p]!] = a / vm[k]!;
        if (qRow) {
          if (thetaFree) jValues[slotQT[p]!] = -a;
          if (vFree) jValues[slotQV[p]!] = bb / vm[k]!;
        }
      }
    }
    const { alphaNodes, slotAlpha } = this;
    for (let k = 0; k < alphaNodes.length; k++) jValues[slotAlpha[k]!]! -= alpha[alphaNodes[k]!]!;
  }

  /**
   * Iterates from the model's current state (warm start) until the largest mismatch is below
   * `tolerance` (pu) or `maxIterations` is reached. On divergence or a singular Jacobian the
   * voltages are restored to where this run started, so they are never NaN.
   */
  run(tolerance: number, maxIterations: number): IterationOutcome {
    const model = this.model;
    const { vm, va } = model;
    this.saveVm.set(vm);
    this.saveVa.set(va);
    const savedDeltaP = model.deltaP;
    const rhs = this.rhs;
    model.updateRectangular();
    model.computePower();
    model.mismatch(rhs);
    let worst = model.worstMismatch;
    this.maxMismatch = worst;
    this.iterations = 0;
    this.chordSteps = 0;
    let outcome: IterationOutcome = 'max-iterations';
    // Warm re-solve: while the stored factors (of a Jacobian at the previous solution) still cut
    // the mismatch fast, use them as they are — a triangular solve instead of a factorisation.
    if (this.factorsValid && Number.isFinite(worst) && worst >= tolerance && this.modesUnchanged()) {
      const { stepVm, stepVa } = this;
      while (this.chordSteps < MAX_CHORD_STEPS && this.iterations < maxIterations) {
        stepVm.set(vm);
        stepVa.set(va);
        const stepDeltaP = model.deltaP;
        this.solveWithFactors(rhs);
        this.iterations++;
        this.chordSteps++;
        const plausible = this.applyCorrection(rhs);
        model.updateRectangular();
        model.computePower();
        if (plausible) model.mismatch(rhs);
        const next = plausible ? model.worstMismatch : Number.NaN;
        if (!(next < 0.5 * worst)) {
          // The old Jacobian no longer describes this operating point: undo the step and let
          // Newton take over from where the chord steps got to.
          vm.set(stepVm);
          va.set(stepVa);
          model.deltaP = stepDeltaP;
          model.updateRectangular();
          model.computePower();
          model.mismatch(rhs);
          worst = model.worstMismatch;
          break;
        }
        worst = next;
        if (worst < tolerance) break;
      }
    }
    for (;;) {
      const stop = nextIteration(this, worst, tolerance, maxIterations);
      if (stop) {
        outcome = stop;
        break;
      }
      this.fillJacobian();
      if (!this.factor()) {
        outcome = 'singular';
        break;
      }
      this.factorsValid = true;
      this.factorModes.set(model.mode);
      this.solveWithFactors(rhs);
      if (this.stepControl) {
        worst = this.controlledStep(rhs, worst);
        continue;
      }
      if (!this.applyCorrection(rhs)) {
        outcome = 'diverged';
        break;
      }
      model.updateRectangular();
      model.computePower();
      model.mismatch(rhs);
      worst = model.worstMismatch;
    }
    if (outcome === 'diverged' || outcome === 'singular') {
      vm.set(this.saveVm);
      va.set(this.saveVa);
      model.deltaP = savedDeltaP;
      model.updateRectangular();
      model.computePower();
      // A fresh pivot choice next time: the failed values may have spoiled the stored one.
      this.scalar?.forgetPivots();
      this.factorsValid = false;
    }
    return outcome;
  }
}
