/**
 * Fill-reducing ordering: minimum degree on the graph of A + Aᵀ, eliminating explicitly.
 *
 * Power-network graphs are sparse, planar-like and low-fill, so an explicit elimination graph (the
 * neighbours of each eliminated node become a clique) costs little and runs once per topology; the
 * quotient-graph machinery of AMD would pay off only on far denser matrices. Ties break on the lower
 * index so the ordering is deterministic.
 */
import type { CscPattern } from './csc.ts';

/**
 * Min-heap of (degree, node) with lazy deletion: stale entries are skipped when popped. Each entry
 * is one number, degree · n + node, so comparing two is one comparison and ties go to the lower
 * node; the numbers live in a growable Float64Array.
 */
class DegreeHeap {
  private items: Float64Array;
  private size = 0;
  constructor(private readonly n: number) {
    this.items = new Float64Array(Math.max(16, 4 * n));
  }

  push(key: number, node: number): void {
    if (this.size === this.items.length) {
      const bigger = new Float64Array(2 * this.size);
      bigger.set(this.items);
      this.items = bigger;
    }
    const items = this.items;
    const item = key * this.n + node;
    let i = this.size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (items[parent]! < item) break;
      items[i] = items[parent]!;
      i = parent;
    }
    items[i] = item;
  }

  /** Removes the smallest entry and returns its node, or -1 when empty. `lastKey` holds its key. */
  lastKey = 0;
  pop(): number {
    if (this.size === 0) return -1;
    const items = this.items;
    const top = items[0]!;
    const node = top % this.n;
    this.lastKey = (top - node) / this.n;
    const item = items[--this.size]!;
    const size = this.size;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= size) break;
      const right = left + 1;
      const child = right < size && items[right]! < items[left]! ? right : left;
      if (item < items[child]!) break;
      items[i] = items[child]!;
      i = child;
    }
    items[i] = item;
    return node;
  }
}

/** Minimum-degree elimination order of an undirected graph given as neighbour sets (consumed). */
export function minimumDegreeOrderOfGraph(adjacency: Set<number>[]): Int32Array {
  const n = adjacency.length;
  const ptr = new Int32Array(n + 1);
  for (let i = 0; i < n; i++) ptr[i + 1] = ptr[i]! + adjacency[i]!.size;
  const idx = new Int32Array(ptr[n]!);
  for (let i = 0; i < n; i++) {
    idx.set(Array.from(adjacency[i]!), ptr[i]!);
    adjacency[i]!.clear();
  }
  return minimumDegreeOrderOfAdjacency(n, ptr, idx);
}

/**
 * Minimum-degree elimination order of an undirected graph in adjacency-list form: the neighbours
 * of node i are idx[ptr[i]] … idx[ptr[i+1] - 1] (no self loops, no repeats; not modified).
 * Ties break on the lower node index, so the order does not depend on the neighbours' order.
 *
 * `last`, if given, is a hub eliminated after every other node (the power flow's slack column,
 * coupled to every generator). Its edges count in the degrees as usual but are kept as one flag
 * per node instead of in a list, so a hub of thousands of neighbours costs nothing extra; the
 * order is the same as with the hub in the graph and moved to the end.
 */
export function minimumDegreeOrderOfAdjacency(
  n: number,
  ptr: Int32Array,
  idx: Int32Array,
  last = -1,
): Int32Array {
  const order = new Int32Array(n);
  const eliminated = new Uint8Array(n);
  // The elimination graph in one typed buffer: node i's neighbours are space[start[i] …
  // start[i] + size[i] - 1], with room for capacity[i]. A list that outgrows its room moves to
  // the end of the buffer (the old segment is simply abandoned): no per-node objects for the GC.
  const start = new Int32Array(n);
  const size = new Int32Array(n);
  const capacity = new Int32Array(n);
  let space = new Int32Array(2 * idx.length + 4 * n);
  let end = 0;
  // touchesHub[i]: node i is adjacent to `last` (one more in its degree).
  const touchesHub = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    start[i] = end;
    if (i === last) continue;
    for (let p = ptr[i]!; p < ptr[i + 1]!; p++) {
      const j = idx[p]!;
      if (j === last) touchesHub[i] = 1;
      else space[end + size[i]!++] = j;
    }
    capacity[i] = 2 * size[i]! + 2;
    end += capacity[i]!;
  }
  const mark = new Int32Array(n);
  let stamp = 0;
  const heap = new DegreeHeap(n);
  for (let i = 0; i < n; i++) if (i !== last) heap.push(size[i]! + touchesHub[i]!, i);
  let k = 0;
  const count = last >= 0 ? n - 1 : n;
  while (k < count) {
    const v = heap.pop();
    if (v < 0) break;
    if (eliminated[v] || heap.lastKey !== size[v]! + touchesHub[v]!) continue;
    eliminated[v] = 1;
    order[k++] = v;
    const vStart = start[v]!;
    const vSize = size[v]!;
    const vHub = touchesHub[v]!;
    // Eliminating v joins its neighbours into a clique (element order within a list is free:
    // ties break on node numbers, so v is removed by moving the last element into its place).
    for (let x = 0; x < vSize; x++) {
      const a = space[vStart + x]!;
      let aStart = start[a]!;
      let aSize = size[a]!;
      let at = aStart;
      while (space[at] !== v) at++;
      space[at] = space[aStart + aSize - 1]!;
      aSize--;
      if (vSize > 1) {
        stamp++;
        for (let y = aStart; y < aStart + aSize; y++) mark[space[y]!] = stamp;
        mark[a] = stamp;
        for (let y = 0; y < vSize; y++) {
          const b = space[vStart + y]!;
          if (mark[b] === stamp) continue;
          mark[b] = stamp;
          if (aSize === capacity[a]!) {
            const room = 2 * aSize + 4;
            if (end + room > space.length) {
              const bigger = new Int32Array(2 * (end + room));
              bigger.set(space.subarray(0, end));
              space = bigger;
            }
            space.copyWithin(end, aStart, aStart + aSize);
            aStart = start[a] = end;
            capacity[a] = room;
            end += room;
          }
          space[aStart + aSize++] = b;
        }
      }
      size[a] = aSize;
      if (vHub) touchesHub[a] = 1;
    }
    for (let x = 0; x < vSize; x++) {
      const a = space[vStart + x]!;
      heap.push(size[a]! + touchesHub[a]!, a);
    }
    size[v] = 0;
  }
  if (last >= 0) order[k] = last;
  return order;
}

/** Minimum-degree column order for LU of a square pattern, computed on A + Aᵀ. */
export function minimumDegreeOrder(pattern: CscPattern): Int32Array {
  const { n, colPtr, rowIdx } = pattern;
  const adjacency: Set<number>[] = Array.from({ length: n }, () => new Set<number>());
  for (let j = 0; j < n; j++) {
    for (let p = colPtr[j]!; p < colPtr[j + 1]!; p++) {
      const i = rowIdx[p]!;
      if (i === j) continue;
      adjacency[i]!.add(j);
      adjacency[j]!.add(i);
    }
  }
  return minimumDegreeOrderOfGraph(adjacency);
}
