/**
 * Compressed sparse column (CSC) patterns with a fixed structure, built once and refilled with
 * values many times (the Newton–Raphson Jacobian changes values, not structure, between steps).
 */

export interface CscPattern {
  /** Number of rows and columns (square). */
  n: number;
  /** Column pointers, length n + 1. */
  colPtr: Int32Array;
  /** Row index of each stored entry, sorted within each column. */
  rowIdx: Int32Array;
}

export interface CscMatrix extends CscPattern {
  values: Float64Array;
}

/**
 * Builds the pattern of a square n×n matrix from (row, col) coordinates. Duplicates share one slot.
 * Returns the pattern and, for each input coordinate, the index of its slot in `values`, so callers
 * can scatter values without searching.
 */
export function patternFromCoordinates(
  n: number,
  rows: ArrayLike<number>,
  cols: ArrayLike<number>,
): { pattern: CscPattern; slotOf: Int32Array } {
  const count = rows.length;
  if (cols.length !== count) throw new RangeError('rows and cols differ in length');
  // Two stable counting sorts (by row, then by column) put the entries in column-major order with
  // rows ascending in O(count + n); duplicates are then adjacent and share one slot.
  const perRow = new Int32Array(n + 1);
  const perColumn = new Int32Array(n + 1);
  for (let k = 0; k < count; k++) {
    const i = rows[k]!;
    const j = cols[k]!;
    if (!(i >= 0 && i < n && j >= 0 && j < n) || !Number.isInteger(i) || !Number.isInteger(j)) {
      throw new RangeError(`coordinate (${i}, ${j}) outside a ${n}x${n} matrix`);
    }
    perRow[i + 1]!++;
    perColumn[j + 1]!++;
  }
  for (let j = 0; j < n; j++) {
    perRow[j + 1]! += perRow[j]!;
    perColumn[j + 1]! += perColumn[j]!;
  }
  const byRow = new Int32Array(count);
  for (let k = 0; k < count; k++) byRow[perRow[rows[k]!]!++] = k;
  const order = new Int32Array(count);
  const fill = perColumn.slice(0, n);
  for (let q = 0; q < count; q++) {
    const k = byRow[q]!;
    order[fill[cols[k]!]!++] = k;
  }
  const colPtr = new Int32Array(n + 1);
  const rowIdx = new Int32Array(count);
  const slotOf = new Int32Array(count);
  let slots = 0;
  for (let j = 0; j < n; j++) {
    let last = -1;
    for (let q = perColumn[j]!; q < perColumn[j + 1]!; q++) {
      const k = order[q]!;
      const i = rows[k]!;
      if (i !== last) {
        rowIdx[slots++] = i;
        last = i;
      }
      slotOf[k] = slots - 1;
    }
    colPtr[j + 1] = slots;
  }
  return { pattern: { n, colPtr, rowIdx: rowIdx.slice(0, slots) }, slotOf };
}

/** Builds a CSC matrix from coordinates and values, summing duplicates. */
export function cscFromTriplets(
  n: number,
  rows: ArrayLike<number>,
  cols: ArrayLike<number>,
  vals: ArrayLike<number>,
): CscMatrix {
  const { pattern, slotOf } = patternFromCoordinates(n, rows, cols);
  const values = new Float64Array(pattern.rowIdx.length);
  for (let k = 0; k < vals.length; k++) values[slotOf[k]!]! += vals[k]!;
  return { ...pattern, values };
}

/** y = A x (overwrites y). */
export function cscMultiply(a: CscMatrix, x: ArrayLike<number>, y: Float64Array): void {
  y.fill(0, 0, a.n);
  for (let j = 0; j < a.n; j++) {
    const xj = x[j]!;
    if (xj === 0) continue;
    for (let p = a.colPtr[j]!; p < a.colPtr[j + 1]!; p++) y[a.rowIdx[p]!]! += a.values[p]! * xj;
  }
}

/** Dense row-major copy, for tests and small diagnostics. */
export function cscToDense(a: CscMatrix): Float64Array {
  const dense = new Float64Array(a.n * a.n);
  for (let j = 0; j < a.n; j++) {
    for (let p = a.colPtr[j]!; p < a.colPtr[j + 1]!; p++) dense[a.rowIdx[p]! * a.n + j] = a.values[p]!;
  }
  return dense;
}
