/**
 * Flat start on the large synthetic cases. MATPOWER's plain Newton diverges from a flat start on
 * case_ACTIVSg10k; the solver then starts from DC power-flow angles and says so. The answer must
 * be the same operating point as the solve from the voltages stored in the file.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMatpower } from '../twin/grid/matpower.ts';
import { PowerFlowSolver } from '../twin/powerflow/index.ts';

const load = (name: string) => {
  const file = new URL(`../grids/matpower/${name}.m`, import.meta.url);
  return parseMatpower(readFileSync(file, 'utf8'), `${name}.m`).grid;
};

describe('flat start', { timeout: 60_000 }, () => {
  it.each([
    { name: 'case_ACTIVSg10k', start: 'dc-angles' },
    { name: 'case_ACTIVSg2000', start: 'flat' },
  ])('$name converges from 1 pu / 0° ($start) to the solution of the stored start', ({ name, start }) => {
    const grid = load(name);
    const flat = new PowerFlowSolver(grid, { method: 'nr', flatStart: true });
    const result = flat.solve();
    expect(result.converged).toBe(true);
    expect(result.islands[0]!.start).toBe(start);
    const stored = new PowerFlowSolver(grid, { method: 'nr' });
    expect(stored.solve().islands[0]!.start).toBe('previous');
    for (let i = 0; i < grid.buses.length; i++) {
      expect(Math.abs(flat.vm_pu[i]! - stored.vm_pu[i]!)).toBeLessThan(1e-7);
      expect(Math.abs(flat.va_deg[i]! - stored.va_deg[i]!)).toBeLessThan(1e-5);
    }
    // A later solve warm-starts from this solution.
    flat.net.loadP_mw[0]! *= 1.01;
    const again = flat.solve();
    expect(again.converged).toBe(true);
    expect(again.islands[0]!.start).toBe('previous');
  });
});
