/**
 * Fill-reducing ordering: minimum degree on the graph of A + Aᵀ, eliminating explicitly.
 *
 * Power-network graphs are sparse, planar-like and low-fill, so an explicit elimination graph (the
 * neighbours of each eliminated node become a clique) costs little and runs once per topology; the
 * quotient-graph machinery of AMD would pay off only on far denser matrices. Ties break on the lower
 * index so the ordering is deterministic.
 */
import type { CscPattern } from './csc.ts';

/** Min-heap of (degree, node) with lazy deletion: stale entries are skipped when popped. */
class DegreeHeap {
  private keys: number[] = [];
  private nodes: number[] = [];

  push(key: number, node: number): void {
    const keys = this.keys;
    const nodes = this.nodes;
    let i = keys.length;
    keys.push(key);
    nodes.push(node);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (keys[parent]! < key || (keys[parent] === key && nodes[parent]! < node)) break;
      keys[i] = keys[parent]!;
      nodes[i] = nodes[parent]!;
      i = parent;
    }
    keys[i] = key;
    nodes[i] = node;
  }

  /** Removes the smallest entry and returns its node, or -1 when empty. `lastKey` holds its key. */
  lastKey = 0;
  pop(): number {
    const keys = this.keys;
    const nodes = this.nodes;
    if (keys.length === 0) return -1;
    const topNode = nodes[0]!;
    this.lastKey = keys[0]!;
    const key = keys.pop()!;
    const node = nodes.pop()!;
    const size = keys.length;
    if (size > 0) {
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= size) break;
        const right = left + 1;
        let child = left;
        if (
          right < size &&
          (keys[right]! < keys[left]! || (keys[right] === keys[left] && nodes[right]! < nodes[left]!))
        ) {
          child = right;
        }
        if (key < keys[child]! || (key === keys[child] && node < nodes[child]!)) break;
        keys[i] = keys[child]!;
        nodes[i] = nodes[child]!;
        i = child;
      }
      keys[i] = key;
      nodes[i] = node;
    }
    return topNode;
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
  const heap = new DegreeHeap();
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
