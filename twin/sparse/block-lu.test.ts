import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlockLU2 } from './block-lu.ts';
import { cscFromTriplets, cscMultiply } from './csc.ts';
import { SparseLU } from './lu.ts';
import { minimumDegreeOrderOfGraph } from './ordering.ts';

/** A random node graph with 2×2 blocks on its edges and diagonally strong diagonal blocks. */
const blockSystem = fc.integer({ min: 1, max: 30 }).chain((nodes) =>
  fc.record({
    nodes: fc.constant(nodes),
    edges: fc.array(fc.tuple(fc.nat({ max: nodes - 1 }), fc.nat({ max: nodes - 1 })), {
      maxLength: 3 * nodes,
    }),
    values: fc.array(fc.double({ min: -1, max: 1, noNaN: true }), { minLength: 64, maxLength: 64 }),
    rhs: fc.array(fc.double({ min: -10, max: 10, noNaN: true }), {
      minLength: 2 * nodes,
      maxLength: 2 * nodes,
    }),
    // Edges may be one-directional (structurally unsymmetric, like the slack-power column).
    oneWay: fc.boolean(),
  }),
);

function build(sys: { nodes: number; edges: [number, number][]; values: number[]; oneWay: boolean }) {
  const rows: number[] = [];
  const cols: number[] = [];
  const vals: number[] = [];
  let v = 0;
  const next = () => sys.values[v++ % sys.values.length]!;
  const block = (i: number, j: number, diagonal: number) => {
    for (let a = 0; a < 2; a++) {
      for (let b = 0; b < 2; b++) {
        rows.push(2 * i + a);
        cols.push(2 * j + b);
        vals.push(next() + (a === b ? diagonal : 0));
      }
    }
  };
  const degree = new Array(sys.nodes).fill(0);
  for (const [i, j] of sys.edges) {
    if (i === j) continue;
    block(i, j, 0);
    if (!sys.oneWay) block(j, i, 0);
    degree[i]++;
    degree[j]++;
  }
  for (let i = 0; i < sys.nodes; i++) block(i, i, 4 + 4 * degree[i]);
  return cscFromTriplets(2 * sys.nodes, rows, cols, vals);
}

function nodeOrder(nodes: number, edges: [number, number][]) {
  const adjacency = Array.from({ length: nodes }, () => new Set<number>());
  for (const [i, j] of edges) {
    if (i === j) continue;
    adjacency[i]!.add(j);
    adjacency[j]!.add(i);
  }
  return minimumDegreeOrderOfGraph(adjacency);
}

describe('BlockLU2', () => {
  it('solves random block systems to the same answer as the pivoting scalar LU, small residual', () => {
    fc.assert(
      fc.property(blockSystem, (sys) => {
        const a = build(sys);
        const order = nodeOrder(sys.nodes, sys.edges);
        const block = new BlockLU2(a, order);
        expect(block.factor(a.values)).toBe('ok');
        const b = Float64Array.from(sys.rhs);
        const z = Float64Array.from(b);
        block.solve(z);
        const az = new Float64Array(a.n);
        cscMultiply(a, z, az);
        for (let i = 0; i < a.n; i++)
          expect(Math.abs(az[i]! - b[i]!)).toBeLessThan(1e-9 * (1 + Math.abs(b[i]!)));
        const scalar = new SparseLU(a);
        expect(scalar.factor(a.values)).toBe('ok');
        const w = Float64Array.from(b);
        scalar.solve(w);
        for (let i = 0; i < a.n; i++)
          expect(Math.abs(z[i]! - w[i]!)).toBeLessThan(1e-9 * (1 + Math.abs(w[i]!)));
      }),
      { numRuns: 200, seed: 5 },
    );
  });

  it('refactors new values on the same pattern', () => {
    const sys = {
      nodes: 4,
      edges: [
        [0, 1],
        [1, 2],
        [2, 3],
        [3, 0],
      ] as [number, number][],
      oneWay: false,
    };
    const a = build({ ...sys, values: Array.from({ length: 64 }, (_, k) => Math.sin(k)) });
    const block = new BlockLU2(a, Int32Array.from([0, 1, 2, 3]));
    expect(block.factor(a.values)).toBe('ok');
    const scaled = a.values.map((v) => 2 * v);
    expect(block.factor(scaled)).toBe('ok');
    const z = Float64Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    block.solve(z);
    const az = new Float64Array(8);
    cscMultiply({ ...a, values: scaled }, z, az);
    expect(Array.from(az).map((x) => Number(x.toFixed(9)))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(block.stats.factorizations).toBe(2);
  });

  it("reports 'singular' for a zero diagonal block the static order cannot pivot around", () => {
    // [[0 I], [I 0]] is regular but needs exchanges between nodes.
    const a = cscFromTriplets(4, [0, 1, 2, 3], [2, 3, 0, 1], [1, 1, 1, 1]);
    expect(new BlockLU2(a, Int32Array.from([0, 1])).factor(a.values)).toBe('singular');
    const scalar = new SparseLU(a);
    expect(scalar.factor(a.values)).toBe('ok');
  });
});
