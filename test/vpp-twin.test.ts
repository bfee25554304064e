import { describe, expect, it } from 'vitest';
import type { ControllerAction } from '../twin/control/contract.ts';
import { loadGridFile } from '../twin/files.ts';
import { Twin } from '../twin/twin.ts';
import { admmDispatch } from '../vpp/admm.ts';
import { memberLimits } from '../vpp/aggregate.ts';
import { loadSolver, solveSchedule } from '../vpp/central.ts';
import { forecastAvailability, MeasurementHistory } from '../vpp/commercial.ts';
import { smallWorld } from '../vpp/comms.ts';
import { consensusDispatch } from '../vpp/consensus.ts';
import { VppController, type VppStatus } from '../vpp/controller.ts';
import { bindPortfolio, loadPortfolio, parsePortfolio } from '../vpp/portfolio.ts';
import { DEMO_GRID, DEMO_PORTFOLIO, twinWithCatalog } from './support/vpp-catalog.ts';

const MG1 = `format: gridloop-vpp/1
vpps:
  - id: mg1
    period_s: 5
    members:
      - { der: chp-4, cost: { a_per_mw2h: 40, b_per_mwh: 80 }, ramp_mw_per_min: 6 }
      - { der: fc-20, cost: { a_per_mw2h: 60, b_per_mwh: 95 } }
      - { der: bess-25, cost: { a_per_mw2h: 30, b_per_mwh: 20 } }
`;

describe('VPP on a real twin (demo grid)', () => {
  it('the demo portfolio binds to the demo grid', async () => {
    const { catalog } = await twinWithCatalog();
    const [vpp] = bindPortfolio(loadPortfolio(DEMO_PORTFOLIO), catalog);
    expect(vpp!.members.map((m) => m.id)).toHaveLength(15);
  });

  it('demo portfolio: consensus and ADMM reach the central cost within 0.1 %, in ≤ 500 rounds at 20 % loss', async () => {
    const { catalog } = await twinWithCatalog();
    const [vpp] = bindPortfolio(loadPortfolio(DEMO_PORTFOLIO), catalog);
    const curves = vpp!.members.map((m) => ({ a: m.a, b: m.b, ...memberLimits(m, 12, undefined, 5 / 3600) }));
    const target = 0.5 * curves.reduce((s, c) => s + c.pmax_mw, 0);
    // Reference: HiGHS on the same one-interval QP.
    const highs = await loadSolver();
    const members = vpp!.members.map((m, i) => ({
      ...m,
      ...curves[i]!,
      capacity_mwh: undefined,
      availability: undefined,
    }));
    const ref = solveSchedule(highs, { members, target_mw: [target], interval_h: 1, startHour: 12 });
    if (!ref.ok) throw new Error(ref.reason);
    const graph = smallWorld(curves.length, 6, 0.1, 3);
    // The default gain (no tuning): a global one slowed this portfolio to ~800 rounds at 20 % loss,
    // its five weather-driven members (tiny a, always at their limit) dominating it (docs/vpp.md).
    for (const loss of [0, 0.2]) {
      const network = { loss, seed: 1 };
      const c = consensusDispatch(curves, {
        target_mw: target,
        graph,
        network,
        tolerance: 1e-3,
        lambdaRef: ref.price[0]!,
      });
      expect(c.converged).toBe(true);
      expect(c.iterations).toBeLessThanOrEqual(500);
      const full = consensusDispatch(curves, { target_mw: target, graph, network, tolerance: 1e-5 });
      expect(Math.abs(full.cost - ref.cost) / ref.cost).toBeLessThan(1e-3);
      const a = admmDispatch(curves, { target_mw: target, network });
      expect(a.converged).toBe(true);
      expect(a.iterations).toBeLessThanOrEqual(500);
      expect(Math.abs(a.cost - ref.cost) / ref.cost).toBeLessThan(1e-3);
    }
  });

  it('a forecast made at gate closure cannot see the twin after it (a cloud later changes nothing)', async () => {
    const recordRun = async (seconds: number, cloudAt?: number) => {
      const { twin, catalog } = await twinWithCatalog(DEMO_GRID, 0.1);
      const [vpp] = bindPortfolio(loadPortfolio(DEMO_PORTFOLIO), catalog);
      const members = vpp!.members.filter((m) => m.technology === 'pv' || m.technology === 'wind');
      const history = new MeasurementHistory();
      let state = twin.step([]);
      while (state.t_s < seconds) {
        if (cloudAt !== undefined && Math.abs(state.t_s - cloudAt) < twin.dt_s / 2) {
          twin.apply({ kind: 'irradiance', scale: 0.2 });
        }
        for (const m of members) history.record(m.id, state.t_s, state.devices[m.id]!.p_mw);
        state = twin.step([]);
      }
      return { members, history, pvAfter: state.devices['pv-24']!.p_mw };
    };
    const gate = 20;
    const options = { startHour: 12, from_s: gate, intervals: 8, interval_s: 900, sigma0: 0.1, seed: 4 };
    const upToGate = await recordRun(gate);
    const beyond = await recordRun(45, 25);
    // The cloud after the gate really changed the twin: PV output fell.
    expect(beyond.pvAfter).toBeLessThan(0.5 * upToGate.pvAfter);
    const a = forecastAvailability(upToGate.members, upToGate.history.closedAt(gate), options);
    const b = forecastAvailability(beyond.members, beyond.history.closedAt(gate), options);
    expect([...b]).toEqual([...a]);
    expect(() =>
      forecastAvailability(beyond.members, beyond.history.closedAt(gate), { ...options, from_s: 10 }),
    ).toThrow(/cannot start before its gate closure/);
  });

  it('TVPP: islands held by their members and FIDs, FID set-points within ratings, target met', async () => {
    const highs = await loadSolver();
    const { twin, catalog } = await twinWithCatalog();
    const [vpp] = bindPortfolio(loadPortfolio(DEMO_PORTFOLIO), catalog);
    let target = Number.NaN;
    const ctl = new VppController({ vpp: vpp!, target: () => target, network: { highs, catalog } });
    ctl.attach(catalog);
    expect(ctl.claims.filter((c) => c.kind === 'fid').map((c) => c.id)).toEqual(['fid-18-33', 'fid-25-29']);
    const ratings = new Map(catalog.fids.map((f) => [f.id, f.rating_mw]));
    const periodSteps = Math.round(ctl.period_s / twin.dt_s);
    let state = twin.step([]);
    for (let k = 0; k < Math.round(45 / twin.dt_s); k++) {
      if (k % periodSteps === 0) {
        // Target: 0.1 MW more than the members produced at the start.
        if (Number.isNaN(target))
          target = vpp!.members.reduce((s, m) => s + state.devices[m.id]!.p_mw, 0) + 0.1;
        const actions: ControllerAction[] = [];
        ctl.decide(state, actions);
        expect(ctl.status.ok).toBe(true);
        for (const a of actions) {
          if (a.kind === 'der-setpoint') twin.command({ kind: 'setpoint', deviceId: a.id, p_mw: a.p_mw });
          else if (a.kind === 'fid-setpoint') {
            expect(Math.abs(a.p_mw)).toBeLessThanOrEqual(ratings.get(a.id)!);
            twin.command({ kind: 'fid-setpoint', fidId: a.id, p_mw: a.p_mw });
          }
        }
      }
      state = twin.step([]);
      if (state.t_s > 30) {
        // The islands stay balanced: their frequency within 0.05 Hz of nominal (no secondary control).
        for (const island of state.islands) expect(Math.abs(island.f_hz - 50)).toBeLessThan(0.05);
      }
    }
    // Delivered within 2 % (the transport model ignores the FIDs' 2 % conversion loss).
    expect(Math.abs(ctl.status.delivered_mw - target)).toBeLessThan(0.02 * target);
  });

  /**
   * Drives a real twin with the controller in-line: decide() every period between twin.step()
   * calls, actions applied with the twin's own set-point command (until Twin.attach/applyActions
   * of the controller redesign are merged, this is what `simulate` will do for it).
   */
  async function run(
    target: (t: number) => number,
    options: {
      seconds: number;
      structure?: 'central' | 'admm' | 'consensus';
      at?: (t: number, twin: Twin) => void;
    },
  ) {
    const { twin, catalog } = await twinWithCatalog();
    const [vpp] = bindPortfolio(parsePortfolio(MG1, 'mg1.yaml'), catalog);
    const ctl = new VppController({ vpp: vpp!, target, structure: options.structure });
    ctl.attach(catalog);
    const limits = new Map(catalog.ders.map((d) => [d.id, d]));
    const periodSteps = Math.round(ctl.period_s / twin.dt_s);
    const decisions: { t: number; status: VppStatus; actions: ControllerAction[] }[] = [];
    let state = twin.step([]);
    const steps = Math.round(options.seconds / twin.dt_s);
    for (let k = 0; k < steps; k++) {
      options.at?.(state.t_s, twin);
      if (k % periodSteps === 0) {
        const actions: ControllerAction[] = [];
        ctl.decide(state, actions);
        for (const a of actions) {
          if (a.kind !== 'der-setpoint') throw new Error(`unexpected ${a.kind}`);
          const d = limits.get(a.id)!;
          // Never NaN, never outside the unit's limits.
          expect(Number.isFinite(a.p_mw)).toBe(true);
          expect(a.p_mw!).toBeGreaterThanOrEqual(d.pmin_mw - 1e-12);
          expect(a.p_mw!).toBeLessThanOrEqual(d.pmax_mw + 1e-12);
          twin.command({ kind: 'setpoint', deviceId: a.id, p_mw: a.p_mw });
        }
        decisions.push({ t: state.t_s, status: structuredClone(ctl.status), actions });
      }
      state = twin.step([]);
    }
    return decisions;
  }

  const near = (decisions: Awaited<ReturnType<typeof run>>, t: number) =>
    decisions.reduce((best, d) => (Math.abs(d.t - t) < Math.abs(best.t - t) ? d : best));

  it('tracks a changing target within 2 % once the units have followed (central, ADMM, consensus)', async () => {
    for (const structure of ['central', 'admm', 'consensus'] as const) {
      const decisions = await run((t) => (t < 20 ? 0.6 : 0.9), { seconds: 40, structure });
      for (const t of [15, 35]) {
        const d = near(decisions, t);
        expect(d.status.ok).toBe(true);
        expect(Math.abs(d.status.delivered_mw - d.status.target_mw)).toBeLessThan(0.02 * d.status.target_mw);
      }
    }
  });

  it('plugs into the twin through the contract alone: declared with the run, the EMS hands over its members, the VPP tracks', async () => {
    // Only the twin's side of the contract: its own catalog, a declared controller, no set-point
    // commands from the test. The twin runs the VPP in-line every period (as simulate does).
    const { grid, config } = await loadGridFile(DEMO_GRID);
    const catalog = new Twin(grid, { config, dt_s: 0.05, seed: 1 }).catalog();
    const [vpp] = bindPortfolio(parsePortfolio(MG1, 'mg1.yaml'), catalog);
    const ctl = new VppController({ vpp: vpp!, target: (t) => (t < 20 ? 0.6 : 0.9) });
    const twin = new Twin(grid, { config, dt_s: 0.05, seed: 1, controllers: [ctl] });
    expect(twin.controllerIds).toContain(ctl.id);
    for (const claim of ctl.claims) expect(twin.ownership.ownerOf(claim)).toBe(ctl.id);
    const membersOutput = () => vpp!.members.reduce((sum, m) => sum + state.devices[m.id]!.p_mw, 0);
    let state = twin.step([]);
    const handOvers = state.events.filter((e) => e.kind === 'hand-over').map((e) => e.target);
    let beforeChange = Number.NaN;
    while (state.t_s < 40) {
      state = twin.step([]);
      for (const e of state.events) expect(e.kind).not.toMatch(/action-refused|controller-error/);
      if (Number.isNaN(beforeChange) && state.t_s >= 19.9) beforeChange = membersOutput();
    }
    expect(handOvers.length).toBeGreaterThan(0);
    expect(ctl.status.ok).toBe(true);
    // What the twin measured, not what the VPP believes: the members' output meets each target
    // within 2 % once the slowest member (the fuel cell's lag) has followed.
    expect(Math.abs(beforeChange - 0.6)).toBeLessThan(0.02 * 0.6);
    expect(Math.abs(membersOutput() - 0.9)).toBeLessThan(0.02 * 0.9);
  });

  it('an infeasible target keeps the last feasible dispatch, says why, and recovers', async () => {
    const decisions = await run((t) => (t >= 20 && t < 30 ? 5 : 0.9), { seconds: 45 });
    const before = near(decisions, 15);
    const during = near(decisions, 25);
    expect(during.status.ok).toBe(false);
    expect(during.status.reason).toMatch(/target 5 MW is outside the available range \[[-\d.]+, 1\.300\] MW/);
    expect(during.actions).toEqual(before.actions);
    const after = near(decisions, 40);
    expect(after.status.ok).toBe(true);
    expect(Math.abs(after.status.delivered_mw - 0.9)).toBeLessThan(0.02 * 0.9);
  });

  it('a member that trips is re-dispatched around at the next period', async () => {
    let tripped = false;
    // 1.0 MW needs the fuel cell (by hand: chp 0.375, fc 0.125 at equal incremental cost 110).
    const decisions = await run(() => 1.0, {
      seconds: 45,
      at: (t, twin) => {
        if (!tripped && t >= 17) {
          twin.apply({ kind: 'generator-trip', unit: 'fc-20' });
          tripped = true;
        }
      },
    });
    const before = near(decisions, 15);
    expect(before.status.dispatch['fc-20']).toBeCloseTo(0.125, 6);
    expect(before.status.lambda).toBeCloseTo(110, 6);
    const next = decisions.find((d) => d.t > 17)!;
    expect(next.t - 17).toBeLessThanOrEqual(5);
    expect(next.status.dispatch['fc-20']).toBeUndefined();
    const sum = Object.values(next.status.dispatch).reduce((s, x) => s + x, 0);
    expect(sum).toBeCloseTo(1.0, 9);
    const later = near(decisions, 40);
    expect(Math.abs(later.status.delivered_mw - 1.0)).toBeLessThan(0.02);
  });
});
