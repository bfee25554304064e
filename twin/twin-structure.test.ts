/**
 * The twin keeps the power flow's structure (islands, Ybus pattern, symbolic analysis and
 * ordering) across steps unless the network really changed (issue 24). Counted with the solver's
 * own topologyBuilds and the twin's stats.
 */
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { Twin } from './twin.ts';

const root = join(import.meta.dirname, '..');
const DEMO = join(root, 'grids/demo-33bw-microgrids.yaml');
const CASE118 = join(root, 'grids/matpower/case118.m');

function run(twin: Twin, steps: number): void {
  for (let i = 0; i < steps; i++) twin.step([]);
}

describe('twin solver structure reuse', () => {
  it('builds the structure once in a demo run without topology changes', async () => {
    const twin = await Twin.fromFiles({ grid: DEMO, seed: 1, dt_s: 0.001 });
    // Injection changes only: a load step and a cloud.
    twin.scheduleAt(0.2, { kind: 'load-step', bus: '14', delta_mw: 0.15 });
    twin.scheduleAt(0.4, { kind: 'irradiance', unit: 'pv-28', scale: 0.4 });
    run(twin, 600);
    expect(twin.pf.topologyBuilds).toBe(1);
    const stats = twin.stats;
    expect(stats.structureRebuilds).toBe(1);
    expect(stats.rebuildsByCause).toEqual({ initial: 1 });
    expect(stats.networkSolves).toBeGreaterThan(10);
    expect(stats.factorizations).toBeGreaterThan(0);
    expect(stats.failedSolves).toBe(0);
  });

  it('builds the structure once on case118 and converges every solve', async () => {
    const twin = await Twin.fromFiles({ grid: CASE118, seed: 1, dt_s: 0.001 });
    twin.scheduleAt(0.05, { kind: 'load-step', bus: '59', delta_mw: 50 });
    run(twin, 200);
    expect(twin.pf.topologyBuilds).toBe(1);
    const stats = twin.stats;
    expect(stats.structureRebuilds).toBe(1);
    expect(stats.failedSolves).toBe(0);
    expect(stats.retriedIslands).toBe(0);
    // Chord steps: far fewer numeric factorisations than solves once warm.
    expect(stats.factorizations).toBeLessThan(stats.networkSolves);
  });

  it('trips a case118 generator (not the reference) without a rebuild', async () => {
    const twin = await Twin.fromFiles({ grid: CASE118, seed: 1, dt_s: 0.001 });
    run(twin, 10);
    const ref = twin.islandRuntimes[0].referenceBus;
    const gen = twin.units.find((u) => u.busIndex !== ref && u.p_mw > 50);
    expect(gen).toBeDefined();
    twin.apply({ kind: 'generator-trip', unit: gen!.id });
    run(twin, 50);
    expect(twin.pf.net.unitInService[twin.pf.unitIndex(gen!.id)]).toBe(0);
    expect(twin.pf.topologyBuilds).toBe(1);
    expect(twin.stats.structureRebuilds).toBe(1);
    expect(twin.stats.failedSolves).toBe(0);
  });

  it('trips a non-reference grid-forming unit of an islanded microgrid without a rebuild', async () => {
    const twin = await Twin.fromFiles({ grid: DEMO, seed: 1, dt_s: 0.001 });
    run(twin, 10);
    const mg2 = twin.islandRuntimes.find((r) => r.id === 'MG2')!;
    expect(mg2.gridConnected).toBe(false);
    const refBus = mg2.referenceBus;
    const other = mg2.units.find((u) => u.kind !== 'grid-following' && u.busIndex !== refBus)!;
    expect(other).toBeDefined();
    twin.apply({ kind: 'generator-trip', unit: other.id });
    run(twin, 50);
    expect(twin.pf.net.unitInService[twin.pf.unitIndex(other.id)]).toBe(0);
    expect(twin.pf.topologyBuilds).toBe(1);
    expect(twin.islandRuntimes.find((r) => r.id === 'MG2')!.referenceBus).toBe(refBus);

    // Tripping the reference itself must move the reference: one rebuild, booked to that cause.
    const reference = mg2.units.find((u) => u.busIndex === refBus && u.kind !== 'grid-following')!;
    twin.apply({ kind: 'generator-trip', unit: reference.id });
    run(twin, 5);
    expect(twin.pf.topologyBuilds).toBe(2);
    expect(twin.stats.rebuildsByCause).toEqual({ initial: 1, 'unit-reference': 1 });
    expect(twin.islandRuntimes.find((r) => r.id === 'MG2')!.referenceBus).not.toBe(refBus);
  });

  it('retries an island that did not converge without rebuilding the structure', async () => {
    const twin = await Twin.fromFiles({ grid: CASE118, seed: 1, dt_s: 0.001 });
    run(twin, 10);
    const vmBefore = Float64Array.from(twin.state.vm_pu);
    // One solve reports the island diverged (as after a fault, from a warm start outside
    // Newton's basin); the twin must retry it from a flat start with the structure kept.
    const solve = twin.pf.solve.bind(twin.pf);
    const spy = vi.spyOn(twin.pf, 'solve').mockImplementationOnce(() => {
      const result = solve();
      result.converged = false;
      result.islands[0].status = 'diverged';
      return result;
    });
    run(twin, 1);
    expect(spy).toHaveBeenCalled();
    expect(twin.pf.topologyBuilds).toBe(1);
    const stats = twin.stats;
    expect(stats.retriedIslands).toBe(1);
    expect(stats.failedSolves).toBe(0);
    expect(twin.pf.topologyBuilds).toBe(1);
    expect(stats.structureRebuilds).toBe(1);
    // The flat-start retry lands on the same operating point (within the twin's 1e-5 pu tolerance).
    let worst = 0;
    for (let b = 0; b < vmBefore.length; b++)
      worst = Math.max(worst, Math.abs(twin.state.vm_pu[b] - vmBefore[b]));
    expect(worst).toBeLessThan(1e-3);
  });

  it('books a breaker operation as one rebuild caused by the breaker', async () => {
    const twin = await Twin.fromFiles({ grid: DEMO, seed: 1, dt_s: 0.001 });
    run(twin, 10);
    twin.apply({ kind: 'breaker', id: 'pcc-mg1', closed: false });
    run(twin, 20);
    expect(twin.stats.rebuildsByCause).toEqual({ initial: 1, breaker: 1 });
    expect(twin.pf.topologyBuilds).toBe(2);
  });
});
