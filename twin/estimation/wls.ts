/**
 * Weighted-least-squares AC state estimation (Schweppe; Abur & Expósito, "Power System State
 * Estimation", ch. 2 and 5) with the χ² bad-data test and the largest normalised residual.
 *
 * State: voltage angles of every bus but the reference, then every magnitude. Measurements: bus
 * voltage magnitudes, P/Q injections, P/Q flows at branch from-ends, all per unit on baseMVA.
 * Gauss–Newton on the normal equations G Δx = Hᵀ W r with dense Cholesky: an island of the twin has
 * tens of buses, where dense algebra is simpler and fast enough for a run every N steps.
 *
 *   const se = new StateEstimator(net, { buses, refBus, measurements });
 *   const r = se.estimate(z, { alpha: 0.05 });   // z[i] in the order of `measurements`
 *   r.alarm, r.objective, r.threshold, r.largestNormalisedResidual
 */
import type { CompiledNetwork } from '../powerflow/network.ts';
import { chi2Quantile } from './chi2.ts';

/** The network data the estimator needs: the admittance part of the compiled network. */
export type SeNetwork = Pick<
  CompiledNetwork,
  | 'baseMVA'
  | 'busShuntG'
  | 'busShuntB'
  | 'branchFrom'
  | 'branchTo'
  | 'branchR'
  | 'branchX'
  | 'branchB'
  | 'branchTap'
  | 'branchShift_rad'
  | 'branchInService'
>;

export type SeMeasurementKind = 'vm' | 'p_inj' | 'q_inj' | 'p_flow' | 'q_flow';

export interface SeMeasurement {
  kind: SeMeasurementKind;
  /** Bus index (vm, injections) or branch index (flows), in the network's numbering. */
  index: number;
  /** Standard deviation, pu. */
  sigma: number;
}

export interface SeOptions {
  /** Bus indices of the island to estimate. */
  buses: readonly number[];
  /** Angle reference bus (index in the network), held at angle 0. */
  refBus: number;
  measurements: readonly SeMeasurement[];
  /** @default 20 */
  maxIterations?: number;
  /** Stop when max |Δx| falls below this. @default 1e-8 */
  tolerance?: number;
}

export interface SeResult {
  converged: boolean;
  iterations: number;
  /** Estimated magnitudes and angles (rad), indexed like `buses`. */
  vm: Float64Array;
  va: Float64Array;
  /** r = z − h(x̂). */
  residuals: Float64Array;
  /** J(x̂) = Σ rᵢ² / σᵢ². */
  objective: number;
  degreesOfFreedom: number;
  /** χ²₍₁₋α₎(m − n): J above it raises the alarm. */
  threshold: number;
  alarm: boolean;
  /** Largest |rᵢ| / √Ωᵢᵢ and the measurement it belongs to (−1 when Ω is degenerate everywhere). */
  largestNormalisedResidual: { index: number; value: number };
  /** H at the estimate (m × n, row-major): the attack-construction matrix for a = H·c. */
  jacobian: Float64Array;
}

/** Dense complex matrices as separate real and imaginary Float64Arrays, row-major. */
interface Complex {
  re: Float64Array;
  im: Float64Array;
}

export class StateEstimator {
  readonly nBus: number;
  readonly nState: number;
  readonly m: number;
  private readonly local: Map<number, number>;
  private readonly ref: number;
  private readonly Y: Complex;
  /** Per in-service branch of the island: local from/to and the four pi-model admittances. */
  private readonly branches: { f: number; t: number; yff: [number, number]; yft: [number, number] }[];
  private readonly branchSlot: Map<number, number>;
  readonly measurements: readonly SeMeasurement[];
  private readonly maxIterations: number;
  private readonly tolerance: number;

  constructor(net: SeNetwork, options: SeOptions) {
    this.nBus = options.buses.length;
    this.local = new Map(options.buses.map((b, i) => [b, i]));
    const ref = this.local.get(options.refBus);
    if (ref === undefined)
      throw new TypeError(`StateEstimator: reference bus ${options.refBus} is not in the island`);
    this.ref = ref;
    this.nState = 2 * this.nBus - 1;
    this.measurements = options.measurements;
    this.m = options.measurements.length;
    this.maxIterations = options.maxIterations ?? 20;
    this.tolerance = options.tolerance ?? 1e-8;
    const n = this.nBus;
    this.Y = { re: new Float64Array(n * n), im: new Float64Array(n * n) };
    this.branches = [];
    this.branchSlot = new Map();
    for (const [bus, i] of this.local) {
      this.Y.re[i * n + i] += net.busShuntG[bus];
      this.Y.im[i * n + i] += net.busShuntB[bus];
    }
    for (let k = 0; k < net.branchFrom.length; k++) {
      const f = this.local.get(net.branchFrom[k]);
      const t = this.local.get(net.branchTo[k]);
      if (f === undefined || t === undefined || !net.branchInService[k]) continue;
      const z2 = net.branchR[k] ** 2 + net.branchX[k] ** 2;
      const ys: [number, number] = [net.branchR[k] / z2, -net.branchX[k] / z2];
      const tap = net.branchTap[k] || 1;
      const shift = net.branchShift_rad[k];
      const bc2 = net.branchB[k] / 2;
      // MATPOWER's branch model: Yff = (ys + j b/2)/tap², Yft = −ys/(tap·e^{−jθ}), Ytf = −ys/(tap·e^{jθ}).
      const yff: [number, number] = [ys[0] / tap ** 2, (ys[1] + bc2) / tap ** 2];
      const cs = Math.cos(shift);
      const sn = Math.sin(shift);
      const yft: [number, number] = [-(ys[0] * cs - ys[1] * sn) / tap, -(ys[0] * sn + ys[1] * cs) / tap];
      const ytf: [number, number] = [-(ys[0] * cs + ys[1] * sn) / tap, -(ys[1] * cs - ys[0] * sn) / tap];
      const ytt: [number, number] = [ys[0], ys[1] + bc2];
      this.Y.re[f * n + f] += yff[0];
      this.Y.im[f * n + f] += yff[1];
      this.Y.re[f * n + t] += yft[0];
      this.Y.im[f * n + t] += yft[1];
      this.Y.re[t * n + f] += ytf[0];
      this.Y.im[t * n + f] += ytf[1];
      this.Y.re[t * n + t] += ytt[0];
      this.Y.im[t * n + t] += ytt[1];
      this.branchSlot.set(k, this.branches.length);
      this.branches.push({ f, t, yff, yft });
    }
    options.measurements.forEach((meas, i) => {
      if (!(meas.sigma > 0)) throw new TypeError(`StateEstimator: measurement ${i} has sigma ${meas.sigma}`);
      const known = meas.kind.endsWith('flow') ? this.branchSlot.has(meas.index) : this.local.has(meas.index);
      if (!known)
        throw new TypeError(
          `StateEstimator: measurement ${i} (${meas.kind}) refers to ${meas.index}, not in the island`,
        );
    });
    if (this.m <= this.nState) {
      throw new TypeError(
        `StateEstimator: ${this.m} measurements cannot estimate ${this.nState} states with redundancy`,
      );
    }
  }

  /** Measurement functions h(x) for the state (vm, va), in measurement order. */
  measure(vm: Float64Array, va: Float64Array, out = new Float64Array(this.m)): Float64Array {
    const { pInj, qInj } = this.injections(vm, va);
    this.measurements.forEach((meas, i) => {
      if (meas.kind === 'vm') out[i] = vm[this.local.get(meas.index)!];
      else if (meas.kind === 'p_inj') out[i] = pInj[this.local.get(meas.index)!];
      else if (meas.kind === 'q_inj') out[i] = qInj[this.local.get(meas.index)!];
      else {
        const [p, q] = this.flow(this.branches[this.branchSlot.get(meas.index)!], vm, va);
        out[i] = meas.kind === 'p_flow' ? p : q;
      }
    });
    return out;
  }

  private injections(vm: Float64Array, va: Float64Array) {
    const n = this.nBus;
    const pInj = new Float64Array(n);
    const qInj = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let iRe = 0;
      let iIm = 0;
      for (let k = 0; k < n; k++) {
        const g = this.Y.re[i * n + k];
        const b = this.Y.im[i * n + k];
        if (g === 0 && b === 0) continue;
        const vr = vm[k] * Math.cos(va[k]);
        const vi = vm[k] * Math.sin(va[k]);
        iRe += g * vr - b * vi;
        iIm += g * vi + b * vr;
      }
      const vr = vm[i] * Math.cos(va[i]);
      const vi = vm[i] * Math.sin(va[i]);
      pInj[i] = vr * iRe + vi * iIm;
      qInj[i] = vi * iRe - vr * iIm;
    }
    return { pInj, qInj };
  }

  private flow(br: StateEstimator['branches'][number], vm: Float64Array, va: Float64Array): [number, number] {
    const vfr = vm[br.f] * Math.cos(va[br.f]);
    const vfi = vm[br.f] * Math.sin(va[br.f]);
    const vtr = vm[br.t] * Math.cos(va[br.t]);
    const vti = vm[br.t] * Math.sin(va[br.t]);
    const iRe = br.yff[0] * vfr - br.yff[1] * vfi + br.yft[0] * vtr - br.yft[1] * vti;
    const iIm = br.yff[0] * vfi + br.yff[1] * vfr + br.yft[0] * vti + br.yft[1] * vtr;
    return [vfr * iRe + vfi * iIm, vfi * iRe - vfr * iIm];
  }

  /**
   * H = ∂h/∂x at (vm, va), m × nState row-major. Columns: angles of non-reference buses (in bus
   * order), then all magnitudes. Central differences on the exact h: with step 1e-6 the truncation
   * error is O(1e-12), far below any measurement noise, and h stays the one definition of the model.
   */
  jacobian(vm: Float64Array, va: Float64Array): Float64Array {
    const H = new Float64Array(this.m * this.nState);
    const plus = new Float64Array(this.m);
    const minus = new Float64Array(this.m);
    const step = 1e-6;
    let col = 0;
    const column = (arr: Float64Array, i: number) => {
      const saved = arr[i];
      arr[i] = saved + step;
      this.measure(vm, va, plus);
      arr[i] = saved - step;
      this.measure(vm, va, minus);
      arr[i] = saved;
      for (let r = 0; r < this.m; r++) H[r * this.nState + col] = (plus[r] - minus[r]) / (2 * step);
      col++;
    };
    for (let i = 0; i < this.nBus; i++) if (i !== this.ref) column(va, i);
    for (let i = 0; i < this.nBus; i++) column(vm, i);
    return H;
  }

  /** Estimates the state from measured values `z` (measurement order). */
  estimate(
    z: ArrayLike<number>,
    options: { alpha?: number; vm0?: Float64Array; va0?: Float64Array } = {},
  ): SeResult {
    if (z.length !== this.m)
      throw new TypeError(`StateEstimator: expected ${this.m} measured values, got ${z.length}`);
    for (let i = 0; i < this.m; i++) {
      if (!Number.isFinite(z[i])) throw new TypeError(`StateEstimator: measured value ${i} is ${z[i]}`);
    }
    const alpha = options.alpha ?? 0.05;
    const n = this.nState;
    const m = this.m;
    const vm = options.vm0 ? Float64Array.from(options.vm0) : new Float64Array(this.nBus).fill(1);
    const va = options.va0 ? Float64Array.from(options.va0) : new Float64Array(this.nBus);
    const w = this.measurements.map((meas) => 1 / meas.sigma ** 2);
    const h = new Float64Array(m);
    const r = new Float64Array(m);
    let H: Float64Array = new Float64Array(m * n);
    let G: Float64Array = new Float64Array(n * n);
    let converged = false;
    let iterations = 0;
    for (; iterations < this.maxIterations; iterations++) {
      this.measure(vm, va, h);
      for (let i = 0; i < m; i++) r[i] = z[i] - h[i];
      H = this.jacobian(vm, va);
      G = gain(H, w, m, n);
      const rhs = new Float64Array(n);
      for (let i = 0; i < m; i++) {
        const wr = w[i] * r[i];
        for (let j = 0; j < n; j++) rhs[j] += H[i * n + j] * wr;
      }
      const L = cholesky(G, n);
      if (!L) break;
      const dx = choleskySolve(L, n, rhs);
      let col = 0;
      let largest = 0;
      for (let i = 0; i < this.nBus; i++) {
        if (i === this.ref) continue;
        va[i] += dx[col];
        largest = Math.max(largest, Math.abs(dx[col++]));
      }
      for (let i = 0; i < this.nBus; i++) {
        vm[i] += dx[col];
        largest = Math.max(largest, Math.abs(dx[col++]));
      }
      if (largest < this.tolerance) {
        converged = true;
        iterations++;
        break;
      }
    }
    this.measure(vm, va, h);
    let objective = 0;
    for (let i = 0; i < m; i++) {
      r[i] = z[i] - h[i];
      objective += w[i] * r[i] * r[i];
    }
    H = this.jacobian(vm, va);
    G = gain(H, w, m, n);
    const dof = m - n;
    const threshold = chi2Quantile(1 - alpha, dof);
    return {
      converged,
      iterations,
      vm,
      va,
      residuals: r,
      objective,
      degreesOfFreedom: dof,
      threshold,
      alarm: objective > threshold,
      largestNormalisedResidual: largestNormalisedResidual(H, G, this.measurements, r, m, n),
      jacobian: H,
    };
  }

  /** a = H·c: a measurement attack that moves the estimate by c and leaves the residual unchanged (to first order). */
  stealthyAttack(H: Float64Array, c: ArrayLike<number>): Float64Array {
    if (c.length !== this.nState) throw new TypeError(`stealthyAttack: c must have ${this.nState} entries`);
    const a = new Float64Array(this.m);
    for (let i = 0; i < this.m; i++) {
      let s = 0;
      for (let j = 0; j < this.nState; j++) s += H[i * this.nState + j] * c[j];
      a[i] = s;
    }
    return a;
  }
}

function gain(H: Float64Array, w: readonly number[], m: number, n: number): Float64Array {
  const G = new Float64Array(n * n);
  for (let i = 0; i < m; i++) {
    const row = i * n;
    for (let a = 0; a < n; a++) {
      const ha = H[row + a] * w[i];
      if (ha === 0) continue;
      for (let b = a; b < n; b++) G[a * n + b] += ha * H[row + b];
    }
  }
  for (let a = 0; a < n; a++) for (let b = 0; b < a; b++) G[a * n + b] = G[b * n + a];
  return G;
}

/** Lower-triangular L with G = L Lᵀ, or undefined when G is not positive definite (unobservable). */
function cholesky(G: Float64Array, n: number): Float64Array | undefined {
  const L = new Float64Array(n * n);
  for (let j = 0; j < n; j++) {
    let d = G[j * n + j];
    for (let k = 0; k < j; k++) d -= L[j * n + k] ** 2;
    if (!(d > 0)) return undefined;
    const ljj = Math.sqrt(d);
    L[j * n + j] = ljj;
    for (let i = j + 1; i < n; i++) {
      let s = G[i * n + j];
      for (let k = 0; k < j; k++) s -= L[i * n + k] * L[j * n + k];
      L[i * n + j] = s / ljj;
    }
  }
  return L;
}

function choleskySolve(L: Float64Array, n: number, b: Float64Array): Float64Array {
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = b[i];
    for (let k = 0; k < i; k++) s -= L[i * n + k] * y[k];
    y[i] = s / L[i * n + i];
  }
  const x = new Float64Array(n);
  for (let i = n - 1; i >= 0; i--) {
    let s = y[i];
    for (let k = i + 1; k < n; k++) s -= L[k * n + i] * x[k];
    x[i] = s / L[i * n + i];
  }
  return x;
}

/** Ωᵢᵢ = σᵢ² − Hᵢ G⁻¹ Hᵢᵀ; r_N,i = |rᵢ| / √Ωᵢᵢ (Abur & Expósito §5.7). */
function largestNormalisedResidual(
  H: Float64Array,
  G: Float64Array,
  measurements: readonly SeMeasurement[],
  r: Float64Array,
  m: number,
  n: number,
): { index: number; value: number } {
  const L = cholesky(G, n);
  if (!L) return { index: -1, value: Number.NaN };
  let best = { index: -1, value: 0 };
  const hi = new Float64Array(n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) hi[j] = H[i * n + j];
    const g = choleskySolve(L, n, hi);
    let q = 0;
    for (let j = 0; j < n; j++) q += hi[j] * g[j];
    const omega = measurements[i].sigma ** 2 - q;
    // Critical measurements have Ω ≈ 0: their residual is always ~0 and says nothing.
    if (!(omega > 1e-12 * measurements[i].sigma ** 2)) continue;
    const value = Math.abs(r[i]) / Math.sqrt(omega);
    if (value > best.value) best = { index: i, value };
  }
  return best;
}
