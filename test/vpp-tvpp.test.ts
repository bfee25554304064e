/**
 * TVPP with network limits on a running twin of the demo grid. The VPP dispatches with a
 * linearised network model (vpp/network.ts); the check is the twin's own full AC power flow of the
 * dispatched state (its published voltages and its solver's branch flows), not the linear model.
 */
import { describe, expect, it } from 'vitest';
import { loadGridFile } from '../twin/files.ts';
import type { Grid } from '../twin/grid/model.ts';
import type { BranchFlow } from '../twin/powerflow/index.ts';
import { Twin } from '../twin/twin.ts';
import { loadSolver } from '../vpp/central.ts';
import { VppController } from '../vpp/controller.ts';
import { linearise } from '../vpp/network.ts';
import { bindPortfolio, loadPortfolio } from '../vpp/portfolio.ts';
import { DEMO_GRID, DEMO_PORTFOLIO } from './support/vpp-catalog.ts';

/** The demo grid with some limits changed (bus id → [vmin, vmax]; branch id → rating MVA). */
async function demoGrid(
  voltage: Record<string, [number, number]> = {},
  ratings: Record<string, number> = {},
) {
  const { grid, config } = await loadGridFile(DEMO_GRID);
  for (const b of grid.buses) if (voltage[b.id]) [b.vmin_pu, b.vmax_pu] = voltage[b.id]!;
  for (const b of grid.branches) if (ratings[b.id] !== undefined) b.rateA_mva = ratings[b.id]!;
  return { grid, config };
}

/** The twin's AC value of a named limit (voltage pu, or the larger end's apparent power in MVA). */
function acValue(twin: Twin, grid: Grid, name: string): { value: number; limit: number; sense: 1 | -1 } {
  const [kind, id] = name.split(':') as [string, string];
  if (kind === 'vmax' || kind === 'vmin') {
    const i = grid.buses.findIndex((b) => b.id === id);
    const bus = grid.buses[i]!;
    return kind === 'vmax'
      ? { value: twin.state.vm_pu[i]!, limit: bus.vmax_pu, sense: 1 }
      : { value: twin.state.vm_pu[i]!, limit: bus.vmin_pu, sense: -1 };
  }
  const k = twin.pf.branchIndex(id);
  const f: BranchFlow = { pf_mw: 0, qf_mvar: 0, pt_mw: 0, qt_mvar: 0, lossP_mw: 0, lossQ_mvar: 0 };
  twin.pf.branchFlow(k, f);
  const value = Math.max(Math.hypot(f.pf_mw, f.qf_mvar), Math.hypot(f.pt_mw, f.qt_mvar));
  return { value, limit: grid.branches[k]!.rateA_mva, sense: 1 };
}

/** Runs the demo portfolio's TVPP in-line on the twin (declared with the run: the EMS hands over). */
async function runTvpp(
  grid: Grid,
  config: Awaited<ReturnType<typeof demoGrid>>['config'],
  target_mw: number,
) {
  const highs = await loadSolver();
  const catalog = new Twin(grid, { config, dt_s: 0.05, seed: 1 }).catalog();
  const [vpp] = bindPortfolio(loadPortfolio(DEMO_PORTFOLIO), catalog);
  const ctl = new VppController({ vpp: vpp!, target: () => target_mw, network: { highs, catalog } });
  const twin = new Twin(grid, { config, dt_s: 0.05, seed: 1, controllers: [ctl] });
  return { twin, ctl };
}

/**
 * After the units have followed (30 s), at every re-dispatch: every limit the TVPP reports as
 * honoured holds in the twin's AC solution of the state its dispatch produced (sampled just before
 * the next dispatch, when the units have settled on it). Returns the limits seen binding.
 */
async function checkHonoured(
  voltage: Record<string, [number, number]>,
  ratings: Record<string, number>,
  target_mw: number,
) {
  const { grid, config } = await demoGrid(voltage, ratings);
  const { twin, ctl } = await runTvpp(grid, config, target_mw);
  const binding = new Set<string>();
  let checked = 0;
  let honoured: string[] = [];
  let state = twin.step([]);
  const periodSteps = Math.round(ctl.period_s / twin.dt_s);
  while (state.t_s < 60) {
    state = twin.step([]);
    if (state.step % periodSteps !== periodSteps - 1) {
      // The dispatch decided at the last period boundary is in force: remember what it promised.
      honoured = ctl.status.network?.honoured ?? [];
      continue;
    }
    if (state.t_s < 30) continue;
    expect(ctl.status.ok).toBe(true);
    for (const b of ctl.status.network!.binding) binding.add(b);
    for (const name of honoured) {
      if (name.startsWith('fid:')) continue;
      const { value, limit, sense } = acValue(twin, grid, name);
      expect(
        sense * (value - limit),
        `${name} at t=${state.t_s}: AC ${value} vs limit ${limit}`,
      ).toBeLessThanOrEqual(0);
      checked++;
    }
  }
  expect(checked).toBeGreaterThan(0);
  return { binding, ctl, twin };
}

describe('TVPP with network limits (linearised AC model, checked by the twin’s AC power flow)', () => {
  it('sensitivities: dV/dP and the branch loading from the linear model match the twin’s own AC re-solve of a small change', async () => {
    const { grid, config } = await demoGrid({}, { 'L3-23': 5 });
    const twin = new Twin(grid, { config, dt_s: 0.05, seed: 1 });
    const state = twin.step([]);
    const lin = linearise(twin.catalog().network!, state, ['22', '24']);
    // The twin's power flow of the same state with 0.05 MW more injected at bus 24 (MG1 is
    // grid-connected: the main grid's slack bus takes it, as the reference of the linear model).
    const pf = twin.pf;
    const before = Float64Array.from(pf.vm_pu);
    const flow = (id: string) => acValue(twin, grid, `line:${id}`).value;
    const s0 = flow('L3-23');
    const b24 = pf.busIndex('24');
    pf.net.busExtraP_mw[b24] += 0.05;
    pf.solve();
    const j = 1;
    for (const [b, bus] of lin.buses.entries()) {
      if (bus.island !== 'MG1') continue;
      const i = pf.busIndex(bus.id);
      const actual = pf.vm_pu[i]! - before[i]!;
      const predicted = lin.dV_dP[b * 2 + j]! * 0.05;
      expect(Math.abs(predicted - actual), `bus ${bus.id}`).toBeLessThan(0.03 * Math.abs(actual) + 1e-6);
    }
    const e = lin.branches.find((x) => x.id === 'L3-23' && x.end === 'from')!;
    expect(e.s_mva).toBeCloseTo(s0, 6);
    const ds = flow('L3-23') - s0;
    expect(Math.abs(e.dS_dP[j]! * 0.05 - ds)).toBeLessThan(0.03 * Math.abs(ds));
    pf.net.busExtraP_mw[b24] -= 0.05;
    pf.solve();
  });

  it('(a) a binding voltage limit (vmin 0.99 pu at buses 24 and 25): honoured limits hold in the twin’s AC solution', async () => {
    const { binding, ctl } = await checkHonoured({ '24': [0.99, 1.1], '25': [0.99, 1.1] }, {}, 2.5);
    expect([...binding]).toContain('vmin:25');
    // The target gives way to the network, and the reason names the limit.
    expect(ctl.status.reason).toMatch(/target missed by .* MW \(binding: .*vmin:25/);
  });

  it('(b) a binding line rating (L3-23 at 0.75 MVA): honoured limits hold in the twin’s AC solution', async () => {
    const { binding, ctl } = await checkHonoured({}, { 'L3-23': 0.75 }, 2.5);
    expect([...binding]).toContain('line:L3-23');
    expect(ctl.status.network!.violated).toEqual([]);
  });

  it('(c) a limit nothing can honour is reported by name; set-points stay finite and within limits', async () => {
    // The island reference at bus 30 holds 1.0 pu: a 0.99 pu ceiling there cannot be kept.
    const { grid, config } = await demoGrid({ '30': [0.9, 0.99] });
    const { twin, ctl } = await runTvpp(grid, config, 2.5);
    const catalog = twin.catalog();
    const limits = new Map(catalog.ders.map((d) => [d.id, d]));
    let state = twin.step([]);
    while (state.t_s < 20) state = twin.step([]);
    expect(ctl.status.ok).toBe(true);
    expect(ctl.status.network!.violated.map((v) => v.constraint)).toContain('vmax:30');
    expect(ctl.status.reason).toMatch(/cannot honour vmax:30/);
    expect(ctl.status.network!.honoured).not.toContain('vmax:30');
    for (const [id, p] of Object.entries(ctl.status.dispatch)) {
      expect(Number.isFinite(p)).toBe(true);
      expect(p).toBeGreaterThanOrEqual(limits.get(id)!.pmin_mw - 1e-9);
      expect(p).toBeLessThanOrEqual(limits.get(id)!.pmax_mw + 1e-9);
    }
    for (const f of Object.values(ctl.status.fids)) expect(Math.abs(f)).toBeLessThanOrEqual(0.3);
  });
});
