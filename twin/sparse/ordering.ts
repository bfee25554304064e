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
  const order = new Int32Array(n);
  const eliminated = new Uint8Array(n);
  const heap = new DegreeHeap();
  for (let i = 0; i < n; i++) heap.push(adjacency[i]!.size, i);
  let k = 0;
  while (k < n) {
    const v = heap.pop();
    if (v < 0) break;
    if (eliminated[v] || heap.lastKey !== adjacency[v]!.size) continue;
    eliminated[v] = 1;
    order[k++] = v;
    const neighbours = Array.from(adjacency[v]!);
    for (const a of neighbours) adjacency[a]!.delete(v);
    for (let x = 0; x < neighbours.length; x++) {
      const a = neighbours[x]!;
      const set = adjacency[a]!;
      for (let y = 0; y < neighbours.length; y++) {
        if (x !== y) set.add(neighbours[y]!);
      }
    }
    for (const a of neighbours) heap.push(adjacency[a]!.size, a);
    adjacency[v]!.clear();
  }
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
