import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMatpower } from '../grid/matpower.ts';
import { type Bus, type Der, emptyGrid, type Generator, type Grid } from '../grid/model.ts';
import { checkIslandReferences, compileNetwork, findIslands, PowerFlowSolver } from './index.ts';
import { IslandModel, NodeMode } from './island-model.ts';
import { NewtonSolver } from './newton.ts';

function bus(id: string, kind: Bus['kind'] = 'pq', vm = 1): Bus {
  return { id, kind, baseKV: 10, vm_pu: vm, va_deg: 0, vmin_pu: 0.9, vmax_pu: 1.1 };
}
function line(id: string, from: string, to: string, r: number, x: number, b = 0): Grid['branches'][number] {
  return {
    id,
    kind: 'line',
    from,
    to,
    r_pu: r,
    x_pu: x,
    b_pu: b,
    tap: 1,
    shift_deg: 0,
    rateA_mva: 0,
    inService: true,
  };
}
function gen(id: string, at: string, p: number, extra: Partial<Generator> = {}): Generator {
  return {
    id,
    bus: at,
    p_mw: p,
    q_mvar: 0,
    qmin_mvar: -999,
    qmax_mvar: 999,
    pmin_mw: 0,
    pmax_mw: 999,
    vset_pu: 1,
    inService: true,
    participation: 0,
    gridForming: false,
    ...extra,
  };
}
function der(id: string, at: string, extra: Partial<Der> = {}): Der {
  return {
    id,
    bus: at,
    technology: 'battery',
    control: 'grid-forming',
    rating_mva: 1,
    p_mw: 0,
    q_mvar: 0,
    qmin_mvar: -1,
    qmax_mvar: 1,
    vset_pu: 1,
    participation: 1,
    inService: true,
    params: {},
    ...extra,
  };
}

/** Slack 1 — lossless line jx — load P at bus 2 with unity power factor. */
function twoBus(p: number, x: number): Grid {
  const grid = emptyGrid('two-bus', 100);
  grid.buses.push(bus('1', 'slack'), bus('2'));
  grid.branches.push(line('l12', '1', '2', 0, x));
  grid.generators.push(gen('g1', '1', 0));
  grid.loads.push({ id: 'ld2', bus: '2', p_mw: p * 100, q_mvar: 0, inService: true });
  return grid;
}

describe('PowerFlowSolver on closed-form cases', () => {
  it('two buses, lossless line: P x = V2 sin δ, V2 = cos δ', () => {
    // With Q2 = 0: V2² = V1 V2 cos δ → V2 = cos δ; P = V2 sin δ / x → sin 2δ = 2 P x.
    const p = 0.8;
    const x = 0.5;
    const delta = Math.asin(2 * p * x) / 2;
    for (const method of ['nr', 'sweep'] as const) {
      const pf = new PowerFlowSolver(twoBus(p, x), { method });
      const result = pf.solve();
      expect(result.converged).toBe(true);
      expect(pf.vm_pu[1]).toBeCloseTo(Math.cos(delta), 7);
      expect(pf.va_deg[1]).toBeCloseTo((-delta * 180) / Math.PI, 5);
      expect(pf.unitPOut_mw[0]).toBeCloseTo(p * 100, 5);
    }
  });

  it('distributed slack shares the imbalance by participation (lossless network)', () => {
    const grid = emptyGrid('ds', 100);
    grid.buses.push(bus('1', 'slack'), bus('2'), bus('3', 'pv'));
    grid.branches.push(line('a', '1', '2', 0, 0.1), line('b', '2', '3', 0, 0.1));
    grid.generators.push(gen('g1', '1', 20, { participation: 1 }), gen('g3', '3', 30, { participation: 3 }));
    grid.loads.push({ id: 'ld', bus: '2', p_mw: 130, q_mvar: 10, inService: true });
    const pf = new PowerFlowSolver(grid);
    const result = pf.solve();
    expect(result.converged).toBe(true);
    // No resistance: no losses, so the 80 MW imbalance splits 1 : 3.
    expect(result.islands[0]!.slackP_mw).toBeCloseTo(80, 6);
    expect(pf.unitPOut_mw[0]).toBeCloseTo(20 + 20, 6);
    expect(pf.unitPOut_mw[1]).toBeCloseTo(30 + 60, 6);
    // Changing participation changes values only: same topology, same symbolic factorisation.
    pf.net.unitParticipation[1] = 1;
    pf.solve();
    expect(pf.unitPOut_mw[0]).toBeCloseTo(60, 6);
    expect(pf.unitPOut_mw[1]).toBeCloseTo(70, 6);
    expect(pf.topologyBuilds).toBe(1);
  });

  it('holds a PV bus at its set-point and switches it to PQ at its Q limit', () => {
    const grid = emptyGrid('q', 100);
    grid.buses.push(bus('1', 'slack'), bus('2', 'pv'));
    grid.branches.push(line('l', '1', '2', 0, 0.2));
    grid.generators.push(gen('g1', '1', 0), gen('g2', '2', 0, { vset_pu: 1.05, qmax_mvar: 10 }));
    grid.loads.push({ id: 'ld', bus: '2', p_mw: 0, q_mvar: 0, inService: true });
    const free = new PowerFlowSolver(grid);
    free.solve();
    expect(free.vm_pu[1]).toBeCloseTo(1.05, 12);
    // Closed form with P = 0 (δ = 0): Q2 = V2 (V2 - V1) / x.
    expect(free.unitQOut_mvar[1]).toBeCloseTo((1.05 * 0.05 * 100) / 0.2, 6);
    const limited = new PowerFlowSolver(grid, { enforceQLimits: true });
    const result = limited.solve();
    expect(result.islands[0]!.qLimitSwitches).toBe(1);
    expect(limited.unitQOut_mvar[1]).toBeCloseTo(10, 6);
    // V2 (V2 - 1) / 0.2 = 0.1 → V2 = (1 + sqrt(1.08)) / 2
    expect(limited.vm_pu[1]).toBeCloseTo((1 + Math.sqrt(1.08)) / 2, 9);
  });
});

describe('islands and switches', () => {
  function microgrid(): Grid {
    const grid = emptyGrid('mg', 1);
    grid.microgrids.push({ id: 'mg1', pccSwitch: 'pcc' });
    grid.buses.push(bus('grid', 'slack'), bus('a'), { ...bus('b'), microgrid: 'mg1' }, bus('c'));
    grid.branches.push(line('l1', 'grid', 'a', 0.01, 0.05), line('l2', 'b', 'c', 0.01, 0.05));
    grid.switches.push({ id: 'pcc', kind: 'breaker', from: 'a', to: 'b', closed: true });
    grid.generators.push(gen('utility', 'grid', 0));
    grid.ders.push(
      der('bess', 'b', { vset_pu: 1.0 }),
      der('pv', 'c', { control: 'pq', participation: 0, p_mw: 0.2 }),
    );
    grid.loads.push({ id: 'ldc', bus: 'c', p_mw: 0.5, q_mvar: 0.1, inService: true });
    return grid;
  }

  it('a closed switch joins buses into one node (same voltage); opening it makes an island', () => {
    const pf = new PowerFlowSolver(microgrid());
    let result = pf.solve();
    expect(result.converged).toBe(true);
    expect(pf.islands).toHaveLength(1);
    expect(pf.vm_pu[pf.busIndex('a')]).toBe(pf.vm_pu[pf.busIndex('b')]);
    // Grid-connected: the slack takes the whole imbalance (its bus is the reference).
    pf.setSwitch(pf.switchIndex('pcc'), false);
    result = pf.solve();
    expect(result.converged).toBe(true);
    expect(pf.islands).toHaveLength(2);
    const mg = pf.islands.find((i) => i.buses.includes(pf.busIndex('b')))!;
    expect(pf.net.busIds[mg.referenceBus]).toBe('b');
    // Islanded: the grid-forming battery holds 1.0 pu and supplies load - PV + losses.
    expect(pf.vm_pu[pf.busIndex('b')]).toBeCloseTo(1.0, 12);
    const bess = pf.unitIndex('bess');
    expect(pf.unitPOut_mw[bess]).toBeGreaterThan(0.3);
    expect(pf.unitPOut_mw[bess]).toBeLessThan(0.31);
    // Bus 'a' stays with the utility, unloaded: its voltage equals the slack's.
    expect(pf.vm_pu[pf.busIndex('a')]).toBeCloseTo(1, 9);
    expect(pf.busIsland[pf.busIndex('a')]).not.toBe(pf.busIsland[pf.busIndex('b')]);
  });

  it('reports de-energised and no-reference islands with zero voltage, not NaN', () => {
    const grid = microgrid();
    grid.ders[0]!.inService = false; // no grid-former left in the microgrid
    const pf = new PowerFlowSolver(grid);
    pf.setSwitch(pf.switchIndex('pcc'), false);
    let result = pf.solve();
    const mgIsland = pf.busIsland[pf.busIndex('c')]!;
    expect(result.islands[mgIsland]!.status).toBe('no-reference');
    expect(result.converged).toBe(false);
    expect(pf.vm_pu[pf.busIndex('c')]).toBe(0);
    pf.setUnitInService(pf.unitIndex('pv'), false);
    result = pf.solve();
    expect(result.islands[mgIsland]!.status).toBe('de-energised');
    // A de-energised island does not make the whole solve fail.
    expect(result.converged).toBe(true);
  });
});

describe('per-step use', () => {
  const case118 = () =>
    parseMatpower(
      readFileSync(new URL('../../grids/matpower/case118.m', import.meta.url), 'utf8'),
      'case118.m',
    ).grid;

  it('re-solves warm with one topology build, one full LU factorisation and reused factors', () => {
    const pf = new PowerFlowSolver(case118(), { method: 'nr' });
    const first = pf.solve();
    // The result object is reused by every solve: keep the numbers, not the object.
    const coldFactorizations = first.islands[0]!.factorizations;
    expect(coldFactorizations).toBe(first.iterations);
    let warmFactorizations = 0;
    for (let step = 0; step < 20; step++) {
      const scale = 1 + 0.01 * Math.sin(step);
      for (let l = 0; l < pf.net.loadP_mw.length; l++) pf.net.loadP_mw[l]! *= scale;
      const r = pf.solve();
      expect(r.converged).toBe(true);
      expect(r.maxMismatch_pu).toBeLessThan(1e-8);
      warmFactorizations += r.islands[0]!.factorizations;
    }
    // A 1 % step from a converged point: the previous factors do most of the work.
    expect(warmFactorizations).toBeLessThan(20 * coldFactorizations);
    expect(pf.topologyBuilds).toBe(1);
    // biome-ignore lint/suspicious/noExplicitAny: reaching into the island runtime to read LU counters
    const lu = (pf as any).runtimes[0].newton.luStats;
    expect(lu.scalarFallback).toBe(false);
    expect(lu.blockFactorizations).toBeLessThan(coldFactorizations + 20 * coldFactorizations);
    // And the warm answer equals a cold solve of the same injections.
    const warmVm = Float64Array.from(pf.vm_pu);
    pf.resetVoltages();
    const cold = pf.solve();
    expect(cold.islands[0]!.factorizations).toBe(cold.iterations);
    for (let i = 0; i < warmVm.length; i++) expect(Math.abs(warmVm[i]! - pf.vm_pu[i]!)).toBeLessThan(1e-8);
  });

  it('falls back to the pivoting scalar LU when the block LU refuses a diagonal block', () => {
    const pf = new PowerFlowSolver(case118(), { method: 'nr', enforceQLimits: true });
    pf.solve();
    const reference = Float64Array.from(pf.vm_pu);
    const other = new PowerFlowSolver(case118(), { method: 'nr', enforceQLimits: true });
    other.solve();
    // biome-ignore lint/suspicious/noExplicitAny: forcing the fallback path inside this unit test
    const newton = (other as any).runtimes[0].newton;
    newton.block.factor = () => 'singular';
    other.resetVoltages();
    expect(other.solve().converged).toBe(true);
    expect(newton.luStats.scalarFallback).toBe(true);
    for (let i = 0; i < reference.length; i++)
      expect(Math.abs(other.vm_pu[i]! - reference[i]!)).toBeLessThan(1e-9);
  });

  it('distributed slack on case118 with no share on the reference bus: shares ∝ participation', () => {
    const grid = case118();
    const slackBus = grid.buses.find((b) => b.kind === 'slack')!.id;
    grid.generators.forEach((g) => {
      g.participation = g.bus === slackBus ? 0 : Math.max(g.pmax_mw, 1);
    });
    const pf = new PowerFlowSolver(grid, { method: 'nr' });
    const result = pf.solve();
    expect(result.converged).toBe(true);
    const total = grid.generators.reduce((sum, g) => sum + (g.inService ? g.participation : 0), 0);
    grid.generators.forEach((g, u) => {
      if (!g.inService) return;
      const share = pf.unitPOut_mw[u]! - g.p_mw;
      expect(share).toBeCloseTo((result.islands[0]!.slackP_mw * g.participation) / total, 6);
    });
  });

  it('non-convergence is a typed result with a finite mismatch, voltages kept', () => {
    const pf = new PowerFlowSolver(case118(), { method: 'nr', maxIterations: 1, flatStart: true });
    const result = pf.solve();
    expect(result.converged).toBe(false);
    expect(result.islands[0]!.status).toBe('max-iterations');
    expect(Number.isFinite(result.maxMismatch_pu)).toBe(true);
    expect(result.maxMismatch_pu).toBeGreaterThan(1e-8);
    expect(pf.vm_pu.every(Number.isFinite)).toBe(true);
  });

  it('an impossible load diverges without NaN and restores the starting voltages', () => {
    const pf = new PowerFlowSolver(twoBus(0.5, 0.5), { method: 'nr' });
    pf.solve();
    const before = Float64Array.from(pf.vm_pu);
    pf.net.loadP_mw[0] = 500; // P x = 2.5 > 0.5: no solution exists
    const result = pf.solve();
    expect(result.converged).toBe(false);
    expect(['diverged', 'max-iterations', 'singular']).toContain(result.islands[0]!.status);
    expect(Number.isFinite(result.maxMismatch_pu)).toBe(true);
    expect(pf.vm_pu.every(Number.isFinite)).toBe(true);
    if (result.islands[0]!.status !== 'max-iterations') expect(pf.vm_pu).toEqual(before);
    // And it recovers once the load is feasible again.
    pf.net.loadP_mw[0] = 50;
    expect(pf.solve().converged).toBe(true);
  });

  it('NaN or infinite injections are refused as invalid-input', () => {
    const pf = new PowerFlowSolver(twoBus(0.5, 0.5));
    pf.solve();
    pf.net.loadQ_mvar[0] = Number.NaN;
    const result = pf.solve();
    expect(result.islands[0]!.status).toBe('invalid-input');
    expect(pf.vm_pu.every(Number.isFinite)).toBe(true);
    pf.net.loadQ_mvar[0] = 0;
    pf.net.busExtraP_mw[1] = Number.POSITIVE_INFINITY;
    expect(pf.solve().islands[0]!.status).toBe('invalid-input');
  });

  it('sweep on a radial feeder with a tapped transformer and line charging matches NR', () => {
    const grid = emptyGrid('radial', 10);
    grid.buses.push(bus('s', 'slack', 1.02));
    for (let i = 1; i <= 6; i++) grid.buses.push(bus(`n${i}`));
    grid.branches.push({
      ...line('t', 's', 'n1', 0.002, 0.06),
      kind: 'transformer',
      tap: 0.975,
      shift_deg: 0,
    });
    for (let i = 1; i < 6; i++) grid.branches.push(line(`l${i}`, `n${i}`, `n${i + 1}`, 0.02, 0.04, 0.002));
    for (let i = 1; i <= 6; i++)
      grid.loads.push({ id: `ld${i}`, bus: `n${i}`, p_mw: 0.3, q_mvar: 0.1, inService: true });
    grid.shunts.push({ id: 'cap', bus: 'n4', g_mw: 0, b_mvar: 0.2, inService: true });
    grid.generators.push(gen('g', 's', 0, { vset_pu: 1.02 }));
    const nr = new PowerFlowSolver(grid, { method: 'nr' });
    const sweep = new PowerFlowSolver(grid, { method: 'sweep' });
    expect(nr.solve().converged).toBe(true);
    const r = sweep.solve();
    expect(r.converged).toBe(true);
    expect(r.islands[0]!.method).toBe('sweep');
    for (let i = 0; i < grid.buses.length; i++) {
      expect(sweep.vm_pu[i]).toBeCloseTo(nr.vm_pu[i]!, 9);
      expect(sweep.va_deg[i]).toBeCloseTo(nr.va_deg[i]!, 7);
    }
  });

  it('auto picks the sweep on radial single-source islands and NR on meshed ones', () => {
    const radial = new PowerFlowSolver(twoBus(0.2, 0.1));
    expect(radial.solve().islands[0]!.method).toBe('sweep');
    const meshed = new PowerFlowSolver(case118());
    expect(meshed.solve().islands[0]!.method).toBe('nr');
    expect(() => new PowerFlowSolver(case118(), { method: 'sweep' })).toThrow(/radial/);
  });
});

describe('checkIslandReferences', () => {
  it('names the file, line and unit of an energised island without slack or grid-former', () => {
    const text = `function mpc = split
mpc.baseMVA = 100;
mpc.bus = [
	1	3	0	0	0	0	1	1	0	138	1	1.1	0.9;
	2	1	50	20	0	0	1	1	0	138	1	1.1	0.9;
	3	2	0	0	0	0	1	1	0	138	1	1.1	0.9;
	4	1	30	10	0	0	1	1	0	138	1	1.1	0.9;
];
mpc.gen = [
	1	0	0	100	-100	1.02	100	1	200	0;
	3	40	0	100	-100	1.01	100	1	200	0;
];
mpc.branch = [
	1	2	0.01	0.1	0.02	0	0	0	0	0	1	-360	360;
	3	4	0.01	0.1	0.02	0	0	0	0	0	1	-360	360;
];
`;
    const { grid, locate } = parseMatpower(text, 'split.m');
    expect(() => checkIslandReferences(grid, 'split.m', locate)).toThrow(
      /^split\.m:11 \(at \/generators\/1\): the island of buses 3, 4 has generation \('gen2'\) but no slack bus/,
    );
    // With the unit marked grid-forming, the island has its reference and the check passes.
    grid.generators[1]!.gridForming = true;
    expect(() => checkIslandReferences(grid, 'split.m', locate)).not.toThrow();
    const pf = new PowerFlowSolver(grid);
    expect(pf.solve().converged).toBe(true);
    expect(pf.vm_pu[2]).toBeCloseTo(1.01, 12);
  });
});

describe('robust start pieces', () => {
  const case118 = () =>
    parseMatpower(
      readFileSync(new URL('../../grids/matpower/case118.m', import.meta.url), 'utf8'),
      'case118.m',
    ).grid;
  function flatModel() {
    const net = compileNetwork(case118());
    const island = findIslands(net)[0]!;
    const model = new IslandModel(net, island);
    model.assembleInjections();
    for (let i = 0; i < model.m; i++) {
      if (model.mode[i] === NodeMode.pq) model.vm[i] = 1;
      model.va[i] = net.busVa0_rad[island.referenceBus]!; // the reference keeps its angle (30°)
    }
    return model;
  }
  const solved = () => {
    const pf = new PowerFlowSolver(case118(), { method: 'nr' });
    pf.solve();
    return pf;
  };

  it('Newton with step-size control reaches the same solution from a flat start', () => {
    const model = flatModel();
    const newton = new NewtonSolver(model);
    newton.stepControl = true;
    expect(newton.run(1e-8, 30)).toBe('converged');
    const pf = solved();
    for (let i = 0; i < model.m; i++) {
      expect(Math.abs(model.vm[i]! - pf.vm_pu[model.island.nodeBus[i]!]!)).toBeLessThan(1e-8);
    }
  });

  it('DC angles lie close to the AC angles (a start, not a solution)', () => {
    const model = flatModel();
    const newton = new NewtonSolver(model);
    expect(newton.setDcAngles()).toBe(true);
    const pf = solved();
    let worst = 0;
    for (let i = 0; i < model.m; i++) {
      worst = Math.max(
        worst,
        Math.abs((model.va[i]! * 180) / Math.PI - pf.va_deg[model.island.nodeBus[i]!]!),
      );
    }
    // case118's angles span about 40°; the lossless DC approximation stays within a few degrees.
    expect(worst).toBeGreaterThan(0.01);
    expect(worst).toBeLessThan(10);
    // And they solve the DC equations: at every bus but the reference, Σ b (θf − θt − φ) = P.
    const { net, island } = model;
    const flowOut = new Float64Array(model.m);
    for (const k of island.branches) {
      const f = model.nodeOfBus[net.branchFrom[k]!]!;
      const t = model.nodeOfBus[net.branchTo[k]!]!;
      const flow =
        (model.va[f]! - model.va[t]! - net.branchShift_rad[k]!) / (net.branchX[k]! * net.branchTap[k]!);
      flowOut[f]! += flow;
      flowOut[t]! -= flow;
    }
    for (let i = 0; i < model.m; i++) {
      if (i !== model.referenceNode) expect(Math.abs(flowOut[i]! - model.pSched[i]!)).toBeLessThan(1e-9);
    }
  });
});
