import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cscFromTriplets, cscMultiply, cscToDense, patternFromCoordinates } from './csc.ts';
import { SparseLU } from './lu.ts';
import { minimumDegreeOrder } from './ordering.ts';

/** Dense Gaussian elimination with partial pivoting: the independent reference. */
function denseSolve(n: number, a: Float64Array, b: Float64Array): Float64Array | null {
  const m = Float64Array.from(a);
  const x = Float64Array.from(b);
  for (let k = 0; k < n; k++) {
    let p = k;
    for (let i = k + 1; i < n; i++) if (Math.abs(m[i * n + k]!) > Math.abs(m[p * n + k]!)) p = i;
    if (Math.abs(m[p * n + k]!) < 1e-12) return null;
    if (p !== k) {
      for (let j = 0; j < n; j++) {
        const t = m[k * n + j]!;
        m[k * n + j] = m[p * n + j]!;
        m[p * n + j] = t;
      }
      const t = x[k]!;
      x[k] = x[p]!;
      x[p] = t;
    }
    for (let i = k + 1; i < n; i++) {
      const f = m[i * n + k]! / m[k * n + k]!;
      if (f === 0) continue;
      for (let j = k; j < n; j++) m[i * n + j]! -= f * m[k * n + j]!;
      x[i]! -= f * x[k]!;
    }
  }
  for (let i = n - 1; i >= 0; i--) {
    let s = x[i]!;
    for (let j = i + 1; j < n; j++) s -= m[i * n + j]! * x[j]!;
    x[i] = s / m[i * n + i]!;
  }
  return x;
}

const sparseSystem = fc.integer({ min: 1, max: 40 }).chain((n) =>
  fc.record({
    n: fc.constant(n),
    entries: fc.array(
      fc.tuple(
        fc.integer({ min: 0, max: n - 1 }),
        fc.integer({ min: 0, max: n - 1 }),
        fc.double({ min: -10, max: 10, noNaN: true }),
      ),
      { maxLength: 4 * n },
    ),
    diagonal: fc.array(fc.double({ min: -10, max: 10, noNaN: true }), { minLength: n, maxLength: n }),
    rhs: fc.array(fc.double({ min: -100, max: 100, noNaN: true }), { minLength: n, maxLength: n }),
    dropDiagonal: fc.boolean(),
  }),
);

function build(sys: {
  n: number;
  entries: [number, number, number][];
  diagonal: number[];
  dropDiagonal: boolean;
}) {
  const rows: number[] = [];
  const cols: number[] = [];
  const vals: number[] = [];
  for (const [i, j, v] of sys.entries) {
    rows.push(i);
    cols.push(j);
    vals.push(v);
  }
  // Without the diagonal the matrix needs real row pivoting; with it, usually none.
  if (!sys.dropDiagonal) {
    sys.diagonal.forEach((v, i) => {
      rows.push(i);
      cols.push(i);
      vals.push(v);
    });
  }
  return cscFromTriplets(sys.n, rows, cols, vals);
}

function residual(a: ReturnType<typeof cscFromTriplets>, x: Float64Array, b: Float64Array): number {
  const ax = new Float64Array(a.n);
  cscMultiply(a, x, ax);
  let worst = 0;
  for (let i = 0; i < a.n; i++) worst = Math.max(worst, Math.abs(ax[i]! - b[i]!));
  return worst;
}

describe('SparseLU', () => {
  it('matches a dense reference on random sparse systems, or both call them singular', () => {
    fc.assert(
      fc.property(sparseSystem, (sys) => {
        const a = build(sys);
        const b = Float64Array.from(sys.rhs);
        const reference = denseSolve(a.n, cscToDense(a), b);
        const lu = new SparseLU(a);
        const status = lu.factor(a.values);
        if (reference === null) {
          // Near-singular for the dense reference: the sparse LU may still factor, but then it
          // must produce a solution that satisfies the system.
          if (status === 'ok') {
            const x = Float64Array.from(b);
            lu.solve(x);
            if (x.every(Number.isFinite))
              expect(residual(a, x, b)).toBeLessThan(1e-6 * (1 + Math.max(...x.map(Math.abs))));
          }
          return;
        }
        // Well-conditioned enough for the dense reference: the sparse LU must agree with it.
        const scale = Math.max(1, ...reference.map(Math.abs));
        if (scale > 1e8) return; // ill-conditioned: agreement is not a meaningful test
        expect(status).toBe('ok');
        const x = Float64Array.from(b);
        lu.solve(x);
        for (let i = 0; i < a.n; i++) expect(Math.abs(x[i]! - reference[i]!)).toBeLessThan(1e-7 * scale);
      }),
      { numRuns: 300, seed: 20261124 },
    );
  });

  it('refactors new values on the stored pattern and still matches the reference', () => {
    fc.assert(
      fc.property(sparseSystem, fc.double({ min: 0.5, max: 2, noNaN: true }), (sys, factor) => {
        const a = build({ ...sys, dropDiagonal: false, diagonal: sys.diagonal.map((d) => 50 + Math.abs(d)) });
        const lu = new SparseLU(a);
        expect(lu.factor(a.values)).toBe('ok');
        // Same pattern, perturbed values (as a Jacobian between Newton iterations).
        const values = a.values.map((v, k) => v * (k % 2 ? factor : 1 / factor));
        const perturbed = { ...a, values };
        expect(lu.factor(values)).toBe('ok');
        expect(lu.stats.fullFactorizations + lu.stats.refactorizations).toBe(2);
        const b = Float64Array.from(sys.rhs);
        const reference = denseSolve(a.n, cscToDense(perturbed), b)!;
        const x = Float64Array.from(b);
        lu.solve(x);
        const scale = Math.max(1, ...reference.map(Math.abs));
        for (let i = 0; i < a.n; i++) expect(Math.abs(x[i]! - reference[i]!)).toBeLessThan(1e-8 * scale);
      }),
      { numRuns: 150, seed: 7 },
    );
  });

  it('reuses the symbolic factorisation when values change (no new pivot search)', () => {
    const a = cscFromTriplets(3, [0, 1, 2, 0, 1, 2, 1], [0, 1, 2, 1, 2, 0, 0], [4, 5, 6, 1, 1, 1, 2]);
    const lu = new SparseLU(a);
    lu.factor(a.values);
    lu.factor(a.values.map((v) => v * 1.1));
    lu.factor(a.values.map((v) => v * 0.9));
    expect(lu.stats).toMatchObject({ fullFactorizations: 1, refactorizations: 2 });
  });

  it('falls back to fresh pivoting when a reused pivot becomes zero', () => {
    // [[1, 1], [1, 2]] pivots on the diagonal; then [[0, 1], [1, 2]] needs a row swap.
    const a = cscFromTriplets(2, [0, 1, 0, 1], [0, 0, 1, 1], [1, 1, 1, 2]);
    const lu = new SparseLU(a, { columnOrder: Int32Array.from([0, 1]) });
    expect(lu.factor(a.values)).toBe('ok');
    const swapped = Float64Array.from([0, 1, 1, 2]);
    expect(lu.factor(swapped)).toBe('ok');
    expect(lu.stats.fullFactorizations).toBe(2);
    const x = Float64Array.from([3, 5]); // 0·x0 + 1·x1 = 3 ; x0 + 2·x1 = 5 → x = (-1, 3)
    lu.solve(x);
    expect(x[0]).toBeCloseTo(-1, 12);
    expect(x[1]).toBeCloseTo(3, 12);
  });

  it('reports a structurally or numerically singular matrix', () => {
    const a = cscFromTriplets(3, [0, 1, 0, 1], [0, 0, 1, 1], [1, 2, 2, 4]);
    expect(new SparseLU(a).factor(a.values)).toBe('singular');
    const zeroColumn = cscFromTriplets(2, [0, 1], [0, 0], [1, 1]);
    expect(new SparseLU(zeroColumn).factor(zeroColumn.values)).toBe('singular');
  });
});

describe('minimumDegreeOrder', () => {
  it('returns a permutation', () => {
    fc.assert(
      fc.property(sparseSystem, (sys) => {
        const a = build(sys);
        const order = minimumDegreeOrder(a);
        expect([...order].sort((x, y) => x - y)).toEqual(Array.from({ length: sys.n }, (_, i) => i));
      }),
      { numRuns: 100, seed: 3 },
    );
  });

  it('orders an arrow matrix hub last, so elimination creates no fill', () => {
    // Node 0 connects to all others: eliminating it first would fill the whole matrix.
    const n = 8;
    const rows: number[] = [];
    const cols: number[] = [];
    for (let i = 0; i < n; i++) {
      rows.push(i, 0, i);
      cols.push(i, i, 0);
    }
    const { pattern } = patternFromCoordinates(n, rows, cols);
    const order = minimumDegreeOrder(pattern);
    expect(order[n - 1] === 0 || order[n - 2] === 0).toBe(true);
    const a = cscFromTriplets(
      n,
      rows,
      cols,
      rows.map((r, k) => (r === cols[k] ? 10 : 1)),
    );
    const lu = new SparseLU(a, { columnOrder: order });
    expect(lu.factor(a.values)).toBe('ok');
    expect(lu.stats.nnzL + lu.stats.nnzU).toBe(a.rowIdx.length + n);
  });
});
