/**
 * LU with 2×2 blocks for matrices whose structure comes from a graph with two unknowns per node —
 * the Newton–Raphson power-flow Jacobian, (θ, |V|) per bus. A = L D U with unit block-lower L,
 * block-diagonal D and unit block-upper U, on the node order given (static pivoting: 2×2 diagonal
 * blocks, no row exchanges between nodes).
 *
 * Why not only the scalar SparseLU: the block form does the same arithmetic with a quarter of the
 * index work and contiguous 2×2 data, and its pattern (a symbolic Cholesky of the node graph) is
 * fixed once per topology. Without row exchanges it can meet a tiny diagonal block; it then
 * reports 'singular' and the caller falls back to SparseLU, which pivots.
 */
import { type CscPattern, patternFromCoordinates } from './csc.ts';

function grown(a: Int32Array<ArrayBuffer>): Int32Array<ArrayBuffer> {
  const b = new Int32Array(2 * a.length);
  b.set(a);
  return b;
}

export type BlockLuStatus = 'ok' | 'singular';

export class BlockLU2 {
  /** Number of nodes (the matrix is 2·nodes square). */
  readonly nodes: number;
  /** position[node] = elimination step; nodeAt[step] = node. */
  private readonly position: Int32Array;
  private readonly nodeAt: Int32Array;
  /** A in permuted block CSC; slotOf maps each scalar entry of the input pattern into ax. */
  private readonly ap: Int32Array;
  private readonly ai: Int32Array;
  private readonly ax: Float64Array;
  private readonly slotOf: Int32Array;
  private readonly lp: Int32Array;
  private readonly li: Int32Array;
  private readonly lx: Float64Array;
  private readonly up: Int32Array;
  private readonly ui: Int32Array;
  private readonly ux: Float64Array;
  private readonly dinv: Float64Array;
  private readonly x: Float64Array;
  private readonly y: Float64Array;
  readonly stats = { factorizations: 0, blocksL: 0 };

  /**
   * @param pattern scalar pattern of size 2·nodes; rows/cols 2i and 2i+1 belong to node i.
   * @param nodeOrder elimination order of the nodes (fill-reducing; put hubs last).
   */
  constructor(pattern: CscPattern, nodeOrder: Int32Array) {
    const nodes = pattern.n >> 1;
    if (pattern.n !== 2 * nodes || nodeOrder.length !== nodes)
      throw new RangeError('need 2·nodes and a node order');
    this.nodes = nodes;
    this.nodeAt = Int32Array.from(nodeOrder);
    this.position = new Int32Array(nodes).fill(-1);
    for (let k = 0; k < nodes; k++) this.position[nodeOrder[k]!] = k;
    if (this.position.some((p) => p < 0)) throw new RangeError('node order is not a permutation');
    const pos = this.position;

    // Block pattern of A (permuted), made symmetric so the symbolic factorisation below holds:
    // the distinct blocks of each block column and their mirrors, merged by patternFromCoordinates.
    const { colPtr, rowIdx } = pattern;
    const nnz = rowIdx.length;
    const bRows = new Int32Array(2 * nnz + nodes);
    const bCols = new Int32Array(2 * nnz + nodes);
    const seen = new Int32Array(nodes).fill(-1);
    let c2 = 0;
    for (let bj = 0; bj < nodes; bj++) {
      bRows[c2] = bCols[c2] = bj;
      c2++;
      seen[bj] = bj;
      const node = this.nodeAt[bj]!;
      for (let p = colPtr[2 * node]!; p < colPtr[2 * node + 2]!; p++) {
        const bi = pos[rowIdx[p]! >> 1]!;
        if (seen[bi] === bj) continue;
        seen[bi] = bj;
        bRows[c2] = bi;
        bCols[c2++] = bj;
        bRows[c2] = bj;
        bCols[c2++] = bi;
      }
    }
    const blockPattern = patternFromCoordinates(nodes, bRows.subarray(0, c2), bCols.subarray(0, c2)).pattern;
    this.ap = blockPattern.colPtr;
    this.ai = blockPattern.rowIdx;
    this.ax = new Float64Array(4 * this.ai.length);
    this.slotOf = new Int32Array(nnz);
    // Where each block row sits in the current block column (valid for that column only).
    const slotInColumn = new Int32Array(nodes);
    for (let bj = 0; bj < nodes; bj++) {
      for (let q = this.ap[bj]!; q < this.ap[bj + 1]!; q++) slotInColumn[this.ai[q]!] = q;
      const node = this.nodeAt[bj]!;
      for (let c = 2 * node; c <= 2 * node + 1; c++) {
        for (let p = colPtr[c]!; p < colPtr[c + 1]!; p++) {
          const r = rowIdx[p]!;
          this.slotOf[p] = 4 * slotInColumn[pos[r >> 1]!]! + 2 * (r & 1) + (c & 1);
        }
      }
    }

    // Symbolic factorisation (column patterns of L, strictly below the diagonal) along the
    // elimination tree: L(:, j) = A(j+1:, j) ∪ children's patterns minus j. Columns are appended
    // to one buffer in order, so a child's pattern is always there when its parent needs it.
    const childrenHead = new Int32Array(nodes).fill(-1);
    const nextChild = new Int32Array(nodes).fill(-1);
    const mark = new Int32Array(nodes).fill(-1);
    this.lp = new Int32Array(nodes + 1);
    let li = new Int32Array(Math.max(16, 2 * this.ai.length));
    let top = 0;
    for (let j = 0; j < nodes; j++) {
      mark[j] = j;
      const start = top;
      for (let p = this.ap[j]!; p < this.ap[j + 1]!; p++) {
        const i = this.ai[p]!;
        if (i > j && mark[i] !== j) {
          mark[i] = j;
          if (top === li.length) li = grown(li);
          li[top++] = i;
        }
      }
      for (let c = childrenHead[j]!; c >= 0; c = nextChild[c]!) {
        for (let q = this.lp[c]!; q < this.lp[c + 1]!; q++) {
          const i = li[q]!;
          if (i > j && mark[i] !== j) {
            mark[i] = j;
            if (top === li.length) li = grown(li);
            li[top++] = i;
          }
        }
      }
      li.subarray(start, top).sort();
      this.lp[j + 1] = top;
      if (top > start) {
        const pj = li[start]!;
        nextChild[j] = childrenHead[pj]!;
        childrenHead[pj] = j;
      }
    }
    this.li = li.slice(0, top);
    this.lx = new Float64Array(4 * this.li.length);
    // U's pattern is L's transposed; walking L by increasing column leaves each U column sorted.
    this.up = new Int32Array(nodes + 1);
    for (let p = 0; p < this.li.length; p++) this.up[this.li[p]! + 1]!++;
    for (let j = 0; j < nodes; j++) this.up[j + 1]! += this.up[j]!;
    this.ui = new Int32Array(this.li.length);
    const fill = this.up.slice(0, nodes);
    for (let k = 0; k < nodes; k++) {
      for (let p = this.lp[k]!; p < this.lp[k + 1]!; p++) this.ui[fill[this.li[p]!]!++] = k;
    }
    this.ux = new Float64Array(4 * this.ui.length);
    this.dinv = new Float64Array(4 * nodes);
    this.x = new Float64Array(4 * nodes);
    this.y = new Float64Array(2 * nodes);
    this.stats.blocksL = this.li.length;
  }

  /** Factorises values laid out as the scalar pattern given at construction. */
  factor(values: Float64Array): BlockLuStatus {
    const { nodes, ap, ai, ax, slotOf, lp, li, lx, up, ui, ux, dinv, x } = this;
    ax.fill(0);
    for (let p = 0; p < slotOf.length; p++) ax[slotOf[p]!] = values[p]!;
    for (let j = 0; j < nodes; j++) {
      for (let p = up[j]!; p < up[j + 1]!; p++) {
        const o = 4 * ui[p]!;
        x[o] = x[o + 1] = x[o + 2] = x[o + 3] = 0;
      }
      for (let p = lp[j]!; p < lp[j + 1]!; p++) {
        const o = 4 * li[p]!;
        x[o] = x[o + 1] = x[o + 2] = x[o + 3] = 0;
      }
      const oj = 4 * j;
      x[oj] = x[oj + 1] = x[oj + 2] = x[oj + 3] = 0;
      for (let p = ap[j]!; p < ap[j + 1]!; p++) {
        const o = 4 * ai[p]!;
        const s = 4 * p;
        x[o] = ax[s]!;
        x[o + 1] = ax[s + 1]!;
        x[o + 2] = ax[s + 2]!;
        x[o + 3] = ax[s + 3]!;
      }
      for (let p = up[j]!; p < up[j + 1]!; p++) {
        const k = ui[p]!;
        const ok = 4 * k;
        const u0 = x[ok]!;
        const u1 = x[ok + 1]!;
        const u2 = x[ok + 2]!;
        const u3 = x[ok + 3]!;
        const s = 4 * p;
        ux[s] = u0;
        ux[s + 1] = u1;
        ux[s + 2] = u2;
        ux[s + 3] = u3;
        if (u0 === 0 && u1 === 0 && u2 === 0 && u3 === 0) continue;
        for (let q = lp[k]!; q < lp[k + 1]!; q++) {
          const oi = 4 * li[q]!;
          const t = 4 * q;
          const l0 = lx[t]!;
          const l1 = lx[t + 1]!;
          const l2 = lx[t + 2]!;
          const l3 = lx[t + 3]!;
          x[oi]! -= l0 * u0 + l1 * u2;
          x[oi + 1]! -= l0 * u1 + l1 * u3;
          x[oi + 2]! -= l2 * u0 + l3 * u2;
          x[oi + 3]! -= l2 * u1 + l3 * u3;
        }
      }
      const a = x[oj]!;
      const b = x[oj + 1]!;
      const c = x[oj + 2]!;
      const d = x[oj + 3]!;
      const det = a * d - b * c;
      const scale = Math.max(Math.abs(a), Math.abs(b), Math.abs(c), Math.abs(d));
      if (!(Math.abs(det) > 1e-10 * scale * scale) || !Number.isFinite(det)) return 'singular';
      const i0 = d / det;
      const i1 = -b / det;
      const i2 = -c / det;
      const i3 = a / det;
      dinv[oj] = i0;
      dinv[oj + 1] = i1;
      dinv[oj + 2] = i2;
      dinv[oj + 3] = i3;
      for (let q = lp[j]!; q < lp[j + 1]!; q++) {
        const oi = 4 * li[q]!;
        const v0 = x[oi]!;
        const v1 = x[oi + 1]!;
        const v2 = x[oi + 2]!;
        const v3 = x[oi + 3]!;
        const t = 4 * q;
        const l0 = v0 * i0 + v1 * i2;
        const l1 = v0 * i1 + v1 * i3;
        const l2 = v2 * i0 + v3 * i2;
        const l3 = v2 * i1 + v3 * i3;
        // Growth guard: huge multipliers mean the static pivot order is numerically unfit.
        if (!(Math.abs(l0) + Math.abs(l1) + Math.abs(l2) + Math.abs(l3) < 1e10)) return 'singular';
        lx[t] = l0;
        lx[t + 1] = l1;
        lx[t + 2] = l2;
        lx[t + 3] = l3;
      }
    }
    this.stats.factorizations++;
    return 'ok';
  }

  /** Solves A z = b in place (scalar layout: b[2·node], b[2·node + 1]). */
  solve(b: Float64Array): void {
    const { nodes, position, nodeAt, lp, li, lx, up, ui, ux, dinv, y } = this;
    for (let i = 0; i < nodes; i++) {
      const k = position[i]!;
      y[2 * k] = b[2 * i]!;
      y[2 * k + 1] = b[2 * i + 1]!;
    }
    for (let j = 0; j < nodes; j++) {
      const y0 = y[2 * j]!;
      const y1 = y[2 * j + 1]!;
      if (y0 === 0 && y1 === 0) continue;
      for (let q = lp[j]!; q < lp[j + 1]!; q++) {
        const i = 2 * li[q]!;
        const t = 4 * q;
        y[i]! -= lx[t]! * y0 + lx[t + 1]! * y1;
        y[i + 1]! -= lx[t + 2]! * y0 + lx[t + 3]! * y1;
      }
    }
    for (let j = nodes - 1; j >= 0; j--) {
      const o = 4 * j;
      const r0 = y[2 * j]!;
      const r1 = y[2 * j + 1]!;
      const z0 = dinv[o]! * r0 + dinv[o + 1]! * r1;
      const z1 = dinv[o + 2]! * r0 + dinv[o + 3]! * r1;
      y[2 * j] = z0;
      y[2 * j + 1] = z1;
      if (z0 === 0 && z1 === 0) continue;
      for (let q = up[j]!; q < up[j + 1]!; q++) {
        const k = 2 * ui[q]!;
        const t = 4 * q;
        y[k]! -= ux[t]! * z0 + ux[t + 1]! * z1;
        y[k + 1]! -= ux[t + 2]! * z0 + ux[t + 3]! * z1;
      }
    }
    for (let k = 0; k < nodes; k++) {
      const i = nodeAt[k]!;
      b[2 * i] = y[2 * k]!;
      b[2 * i + 1] = y[2 * k + 1]!;
    }
  }
}
