/**
 * Sparse LU for a fixed pattern: P A Q = L U.
 *
 * The first factorisation is left-looking Gilbert–Peierls with threshold partial pivoting that
 * prefers the diagonal (the algorithm of CSparse's cs_lu, Davis 2006). It records the pivot
 * sequence and the patterns of L and U. Later factorisations of the same pattern with new values
 * (`factor` again) reuse that symbolic work, KLU-style "refactor": no depth-first searches, only
 * the numeric updates in the stored topological order. If a reused pivot has become too small
 * relative to its column, the factorisation silently starts over with fresh pivoting, so reuse
 * never costs accuracy.
 *
 * All work arrays are allocated up front or grown only during a fresh factorisation; refactor and
 * solve allocate nothing.
 */
import type { CscPattern } from './csc.ts';
import { minimumDegreeOrder } from './ordering.ts';

export type LuStatus = 'ok' | 'singular';

export interface SparseLuOptions {
  /** Column order (fill-reducing). Default: minimum degree on A + Aᵀ. */
  columnOrder?: Int32Array;
  /**
   * A candidate pivot is accepted when |pivot| ≥ tolerance · max|column|. The diagonal is preferred
   * whenever it passes. @default 0.1
   */
  pivotTolerance?: number;
}

export class SparseLU {
  readonly n: number;
  private readonly colPtr: Int32Array;
  private readonly rowIdx: Int32Array;
  private readonly q: Int32Array;
  private readonly tolerance: number;
  /** pinv[originalRow] = pivot position. */
  private readonly pinv: Int32Array;
  /** prow[pivotPosition] = original row. */
  private readonly prow: Int32Array;
  private lp: Int32Array;
  private li: Int32Array;
  /** L row indices in original numbering, used by refactor's scatter. */
  private liOriginal: Int32Array;
  private lx: Float64Array;
  private up: Int32Array;
  private ui: Int32Array;
  private ux: Float64Array;
  private readonly x: Float64Array;
  private readonly xi: Int32Array;
  private readonly mark: Int32Array;
  private markStamp = 0;
  private readonly work: Float64Array;
  private haveSymbolic = false;

  /** Counts, for benchmarks and tests of reuse. */
  readonly stats = { fullFactorizations: 0, refactorizations: 0, nnzL: 0, nnzU: 0 };

  constructor(pattern: CscPattern, options: SparseLuOptions = {}) {
    const n = pattern.n;
    this.n = n;
    this.colPtr = pattern.colPtr;
    this.rowIdx = pattern.rowIdx;
    this.q = options.columnOrder ?? minimumDegreeOrder(pattern);
    if (this.q.length !== n) throw new RangeError('column order length differs from n');
    this.tolerance = options.pivotTolerance ?? 0.1;
    this.pinv = new Int32Array(n);
    this.prow = new Int32Array(n);
    const guess = 4 * this.rowIdx.length + n;
    this.lp = new Int32Array(n + 1);
    this.li = new Int32Array(guess);
    this.liOriginal = new Int32Array(guess);
    this.lx = new Float64Array(guess);
    this.up = new Int32Array(n + 1);
    this.ui = new Int32Array(guess);
    this.ux = new Float64Array(guess);
    this.x = new Float64Array(n);
    this.xi = new Int32Array(2 * n);
    this.mark = new Int32Array(n);
    this.work = new Float64Array(n);
  }

  /**
   * Factorises the matrix with this pattern and `values` (same layout as the pattern's rowIdx).
   * Reuses the previous pivot order and fill pattern when it is still numerically sound.
   */
  factor(values: Float64Array): LuStatus {
    if (this.haveSymbolic && this.refactor(values)) {
      this.stats.refactorizations++;
      return 'ok';
    }
    const status = this.fullFactor(values);
    this.haveSymbolic = status === 'ok';
    if (status === 'ok') this.stats.fullFactorizations++;
    return status;
  }

  /** Forces the next `factor` to choose pivots afresh. */
  forgetPivots(): void {
    this.haveSymbolic = false;
  }

  /** Solves A x = b in place (b becomes x). Call after a successful `factor`. */
  solve(b: Float64Array): void {
    const { n, pinv, q, lp, li, lx, up, ui, ux, work } = this;
    for (let i = 0; i < n; i++) work[pinv[i]!] = b[i]!;
    for (let j = 0; j < n; j++) {
      const xj = work[j]!;
      if (xj === 0) continue;
      for (let p = lp[j]! + 1; p < lp[j + 1]!; p++) work[li[p]!]! -= lx[p]! * xj;
    }
    for (let j = n - 1; j >= 0; j--) {
      const end = up[j + 1]! - 1;
      const xj = work[j]! / ux[end]!;
      work[j] = xj;
      if (xj === 0) continue;
      for (let p = up[j]!; p < end; p++) work[ui[p]!]! -= ux[p]! * xj;
    }
    for (let k = 0; k < n; k++) b[q[k]!] = work[k]!;
  }

  private grow(kind: 'l' | 'u', needed: number): void {
    const size = Math.max(needed, 2 * (kind === 'l' ? this.lx.length : this.ux.length));
    if (kind === 'l') {
      const li = new Int32Array(size);
      li.set(this.li);
      this.li = li;
      const lo = new Int32Array(size);
      lo.set(this.liOriginal);
      this.liOriginal = lo;
      const lx = new Float64Array(size);
      lx.set(this.lx);
      this.lx = lx;
    } else {
      const ui = new Int32Array(size);
      ui.set(this.ui);
      this.ui = ui;
      const ux = new Float64Array(size);
      ux.set(this.ux);
      this.ux = ux;
    }
  }

  /** Depth-first search from original row j through the columns of L found so far. */
  private dfs(j: number, top: number): number {
    const { xi, pinv, lp, liOriginal, mark, n } = this;
    const stamp = this.markStamp;
    let head = 0;
    xi[0] = j;
    while (head >= 0) {
      j = xi[head]!;
      const jnew = pinv[j]!;
      if (mark[j] !== stamp) {
        mark[j] = stamp;
        xi[n + head] = jnew < 0 ? 0 : lp[jnew]! + 1;
      }
      let done = true;
      const end = jnew < 0 ? 0 : lp[jnew + 1]!;
      for (let p = xi[n + head]!; p < end; p++) {
        const i = liOriginal[p]!;
        if (mark[i] === stamp) continue;
        xi[n + head] = p;
        xi[++head] = i;
        done = false;
        break;
      }
      if (done) {
        head--;
        xi[--top] = j;
      }
    }
    return top;
  }

  private fullFactor(values: Float64Array): LuStatus {
    const { n, colPtr, rowIdx, q, pinv, prow, x, xi, tolerance } = this;
    pinv.fill(-1);
    x.fill(0);
    let lnz = 0;
    let unz = 0;
    for (let k = 0; k < n; k++) {
      this.lp[k] = lnz;
      this.up[k] = unz;
      if (lnz + n > this.lx.length) this.grow('l', lnz + n);
      if (unz + n > this.ux.length) this.grow('u', unz + n);
      const col = q[k]!;
      // x = L \ A(:, col), over the rows reachable from A(:, col)'s pattern.
      this.markStamp++;
      let top = n;
      for (let p = colPtr[col]!; p < colPtr[col + 1]!; p++) {
        if (this.mark[rowIdx[p]!] !== this.markStamp) top = this.dfs(rowIdx[p]!, top);
      }
      for (let p = top; p < n; p++) x[xi[p]!] = 0;
      for (let p = colPtr[col]!; p < colPtr[col + 1]!; p++) x[rowIdx[p]!] = values[p]!;
      const { lp, liOriginal, lx } = this;
      for (let px = top; px < n; px++) {
        const j = xi[px]!;
        const jPivot = pinv[j]!;
        if (jPivot < 0) continue;
        const xj = x[j]!;
        for (let p = lp[jPivot]! + 1; p < lp[jPivot + 1]!; p++) x[liOriginal[p]!]! -= lx[p]! * xj;
      }
      let ipiv = -1;
      let largest = -1;
      const { ui, ux } = this;
      for (let p = top; p < n; p++) {
        const i = xi[p]!;
        if (pinv[i]! < 0) {
          const t = Math.abs(x[i]!);
          if (t > largest) {
            largest = t;
            ipiv = i;
          }
        } else {
          ui[unz] = pinv[i]!;
          ux[unz++] = x[i]!;
        }
      }
      if (ipiv === -1 || !(largest > 0) || !Number.isFinite(largest)) {
        for (let p = top; p < n; p++) x[xi[p]!] = 0;
        return 'singular';
      }
      if (pinv[col]! < 0 && Math.abs(x[col]!) >= largest * tolerance) ipiv = col;
      const pivot = x[ipiv]!;
      ui[unz] = k;
      ux[unz++] = pivot;
      pinv[ipiv] = k;
      prow[k] = ipiv;
      liOriginal[lnz] = ipiv;
      lx[lnz++] = 1;
      for (let p = top; p < n; p++) {
        const i = xi[p]!;
        if (pinv[i]! < 0) {
          liOriginal[lnz] = i;
          lx[lnz++] = x[i]! / pivot;
        }
        x[i] = 0;
      }
    }
    this.lp[n] = lnz;
    this.up[n] = unz;
    for (let p = 0; p < lnz; p++) this.li[p] = pinv[this.liOriginal[p]!]!;
    this.stats.nnzL = lnz;
    this.stats.nnzU = unz;
    return 'ok';
  }

  /**
   * Numeric factorisation on the stored pattern and pivots; false if a pivot is no longer sound.
   * Works in pivot-position numbering throughout (A's rows mapped through pinv once), which keeps
   * the dense work vector's accesses clustered in elimination order.
   */
  private refactor(values: Float64Array): boolean {
    const { n, colPtr, rowIdx, q, pinv, x, lp, li, lx, up, ui, ux, tolerance } = this;
    for (let k = 0; k < n; k++) {
      const col = q[k]!;
      const uStart = up[k]!;
      const uEnd = up[k + 1]! - 1;
      const lStart = lp[k]!;
      const lEnd = lp[k + 1]!;
      for (let p = uStart; p <= uEnd; p++) x[ui[p]!] = 0;
      for (let p = lStart + 1; p < lEnd; p++) x[li[p]!] = 0;
      for (let p = colPtr[col]!; p < colPtr[col + 1]!; p++) x[pinv[rowIdx[p]!]!] = values[p]!;
      for (let p = uStart; p < uEnd; p++) {
        const r = ui[p]!;
        const xj = x[r]!;
        ux[p] = xj;
        if (xj === 0) continue;
        const end = lp[r + 1]!;
        for (let pl = lp[r]! + 1; pl < end; pl++) x[li[pl]!]! -= lx[pl]! * xj;
      }
      const pivot = x[k]!;
      let largest = 0;
      for (let p = lStart + 1; p < lEnd; p++) {
        const t = Math.abs(x[li[p]!]!);
        if (t > largest) largest = t;
      }
      const magnitude = Math.abs(pivot);
      if (!(magnitude > 0) || !Number.isFinite(magnitude) || !(magnitude >= tolerance * largest))
        return false;
      ux[uEnd] = pivot;
      lx[lStart] = 1;
      const inverse = 1 / pivot;
      for (let p = lStart + 1; p < lEnd; p++) lx[p] = x[li[p]!]! * inverse;
    }
    return true;
  }
}
