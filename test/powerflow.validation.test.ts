/**
 * The power flow against published figures (not against this code's earlier output).
 *
 * Baran & Wu feeders — base case (tie switches open), 12.66 kV, constant-power loads:
 * - 33-bus: M. E. Baran, F. F. Wu, IEEE Trans. Power Delivery 4(2), 1989, doi:10.1109/61.25627;
 *   total losses 202.67 kW and 135.14 kvar, minimum voltage 0.9131 pu at bus 18 (values as
 *   reproduced throughout the reconfiguration literature).
 * - 69-bus: M. E. Baran, F. F. Wu, IEEE Trans. Power Delivery 4(1), 1989, doi:10.1109/61.19265;
 *   total losses 224.95 kW and 102.2 kvar, minimum voltage 0.9092 pu at bus 65.
 * IEEE 14 and 118: the solved voltages stored in the case files (IEEE CDF, 3 decimals), generator
 * reactive limits enforced.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMatpower } from '../twin/grid/matpower.ts';
import { type PowerFlowMethod, PowerFlowSolver } from '../twin/powerflow/index.ts';

const load = (name: string) => {
  const file = new URL(`../grids/matpower/${name}.m`, import.meta.url);
  return parseMatpower(readFileSync(file, 'utf8'), `${name}.m`).grid;
};

function solveAndSummarise(
  name: string,
  method: PowerFlowMethod,
  enforceQLimits = false,
  limitReferenceQ = true,
) {
  const grid = load(name);
  const pf = new PowerFlowSolver(grid, { method, enforceQLimits, limitReferenceQ });
  const result = pf.solve();
  const n = grid.branches.length;
  const flows = {
    pf: new Float64Array(n),
    qf: new Float64Array(n),
    pt: new Float64Array(n),
    qt: new Float64Array(n),
  };
  const losses = pf.branchFlows(flows);
  let vmin = Number.POSITIVE_INFINITY;
  let vminBus = '';
  grid.buses.forEach((bus, i) => {
    if (pf.vm_pu[i]! < vmin) {
      vmin = pf.vm_pu[i]!;
      vminBus = bus.id;
    }
  });
  return { grid, pf, result, losses, vmin, vminBus };
}

describe.each([
  { name: 'case33bw', lossKw: 202.67, lossKvar: 135.14, vmin: 0.9131, vminBus: '18' },
  { name: 'case69', lossKw: 224.95, lossKvar: 102.2, vmin: 0.9092, vminBus: '65' },
])('Baran & Wu $name', ({ name, lossKw, lossKvar, vmin, vminBus }) => {
  it.each(['nr', 'sweep'] as const)('%s: losses within 0.1 %, minimum voltage and its bus', (method) => {
    const s = solveAndSummarise(name, method);
    expect(s.result.converged).toBe(true);
    expect(s.result.islands[0]!.method).toBe(method);
    expect(Math.abs(s.losses.p_mw * 1e3 - lossKw) / lossKw).toBeLessThan(1e-3);
    expect(Math.abs(s.losses.q_mvar * 1e3 - lossKvar) / lossKvar).toBeLessThan(1e-3);
    // Published to 4 decimals: 1e-4 pu tolerance plus half a unit of the last digit.
    expect(Math.abs(s.vmin - vmin)).toBeLessThan(1e-4 + 5e-5);
    expect(s.vminBus).toBe(vminBus);
  });

  it('sweep and Newton–Raphson agree to 1e-8 pu', () => {
    const nr = solveAndSummarise(name, 'nr');
    const sweep = solveAndSummarise(name, 'sweep');
    for (let i = 0; i < nr.grid.buses.length; i++) {
      expect(Math.abs(nr.pf.vm_pu[i]! - sweep.pf.vm_pu[i]!)).toBeLessThan(1e-8);
      expect(Math.abs(nr.pf.va_deg[i]! - sweep.pf.va_deg[i]!)).toBeLessThan(1e-6);
    }
  });

  it("the slack supplies load plus losses (the feeder's power balance)", () => {
    const s = solveAndSummarise(name, 'auto');
    const totalLoad = s.grid.loads.reduce((sum, l) => sum + l.p_mw, 0);
    // The mismatch tolerance is 1e-8 pu per bus on a 10 MVA base: 1e-7 MW each.
    expect(Math.abs(s.pf.unitPOut_mw[0]! - (totalLoad + s.losses.p_mw))).toBeLessThan(1e-5);
  });
});

describe.each([
  { name: 'case14', skip: [] as string[] },
  // Bus 30's stored 0.968 pu is not a solution of the file's own data: at the stored voltages its
  // reactive balance is off by about 130 Mvar (see the last test), while a solve of the same data
  // gives 0.985. It is the one bus excluded; the other 117 are checked.
  { name: 'case118', skip: ['30'] },
])('IEEE $name stored solution', ({ name, skip }) => {
  // The CDF solutions were computed with the slack free of reactive limits (case14's slack gives
  // -16.9 Mvar against a 0 Mvar minimum), so they are compared with the slack left unlimited;
  // MATPOWER's rule (slack limited too) is checked in powerflow.matpower-qlimits.test.ts.
  it('voltage magnitudes within 2e-3 pu with Q limits enforced (slack unlimited, as the CDF)', () => {
    const s = solveAndSummarise(name, 'nr', true, false);
    expect(s.result.converged).toBe(true);
    let checked = 0;
    s.grid.buses.forEach((bus, i) => {
      if (skip.includes(bus.id)) return;
      expect(Math.abs(s.pf.vm_pu[i]! - bus.vm_pu), `bus ${bus.id}`).toBeLessThan(2e-3);
      checked++;
    });
    expect(checked).toBe(s.grid.buses.length - skip.length);
  });
});

describe('IEEE 118 Q limits matter', () => {
  it('without limits some generator exceeds its Q range; with them none does', () => {
    const free = solveAndSummarise('case118', 'nr', false);
    const limited = solveAndSummarise('case118', 'nr', true);
    const beyond = (s: typeof free) =>
      s.grid.generators.filter(
        (g, u) =>
          s.pf.unitQOut_mvar[u]! > g.qmax_mvar + 1e-6 &&
          s.grid.buses.find((b) => b.id === g.bus)!.kind !== 'slack',
      );
    expect(beyond(free).length).toBeGreaterThan(0);
    expect(beyond(limited)).toEqual([]);
  });
});

describe('IEEE 118 bus 30 stored voltage', () => {
  it('leaves a large reactive mismatch at bus 30 (so the data, not the solver, disagrees)', () => {
    // Independent check from the branch data alone: the reactive power flowing out of bus 30
    // through its four branches at the stored voltages, versus its zero load and zero generation.
    const grid = load('case118');
    const v = new Map(grid.buses.map((b) => [b.id, { vm: b.vm_pu, va: (b.va_deg * Math.PI) / 180 }]));
    const polar = (id: string) => {
      const x = v.get(id)!;
      return { re: x.vm * Math.cos(x.va), im: x.vm * Math.sin(x.va) };
    };
    const mul = (a: { re: number; im: number }, b: { re: number; im: number }) => ({
      re: a.re * b.re - a.im * b.im,
      im: a.re * b.im + a.im * b.re,
    });
    let qOut = 0;
    for (const br of grid.branches) {
      if (br.from !== '30' && br.to !== '30') continue;
      const z2 = br.r_pu ** 2 + br.x_pu ** 2;
      const ys = { re: br.r_pu / z2, im: -br.x_pu / z2 };
      const t = br.tap; // no phase shifters here
      const vf = polar(br.from);
      const vt = polar(br.to);
      // MATPOWER π model: Yff = (ys + jb/2)/t², Yft = Ytf = -ys/t, Ytt = ys + jb/2.
      const ytt = { re: ys.re, im: ys.im + br.b_pu / 2 };
      const yff = { re: ytt.re / (t * t), im: ytt.im / (t * t) };
      const ym = { re: -ys.re / t, im: -ys.im / t };
      const [self, other, vs, vo] = br.from === '30' ? [yff, ym, vf, vt] : [ytt, ym, vt, vf];
      const a = mul(self, vs);
      const c = mul(other, vo);
      const current = { re: a.re + c.re, im: a.im + c.im };
      // Q = Im(V conj(I))
      qOut += (vs.im * current.re - vs.re * current.im) * grid.baseMVA;
    }
    expect(Math.abs(qOut)).toBeGreaterThan(50);
  });
});

describe('branch flows and losses (case300: taps and phase shifters)', () => {
  it('flows leaving each bus equal its generation minus load minus shunt (KCL), losses add up', () => {
    const grid = load('case300');
    // case300 has off-nominal taps but no phase shifter: give two transformers one each.
    const transformers = grid.branches.filter((b) => b.kind === 'transformer' && b.tap !== 1);
    expect(transformers.length).toBeGreaterThan(10);
    transformers[0]!.shift_deg = 2;
    transformers[5]!.shift_deg = -1;
    const pf = new PowerFlowSolver(grid, { method: 'nr' });
    expect(pf.solve().converged).toBe(true);
    const n = grid.branches.length;
    const flows = {
      pf: new Float64Array(n),
      qf: new Float64Array(n),
      pt: new Float64Array(n),
      qt: new Float64Array(n),
    };
    const losses = pf.branchFlows(flows);
    const index = new Map(grid.buses.map((b, i) => [b.id, i]));
    const outP = new Float64Array(grid.buses.length);
    const outQ = new Float64Array(grid.buses.length);
    let sumP = 0;
    grid.branches.forEach((br, k) => {
      if (!br.inService) return;
      outP[index.get(br.from)!]! += flows.pf[k]!;
      outQ[index.get(br.from)!]! += flows.qf[k]!;
      outP[index.get(br.to)!]! += flows.pt[k]!;
      outQ[index.get(br.to)!]! += flows.qt[k]!;
      sumP += flows.pf[k]! + flows.pt[k]!;
    });
    const injP = new Float64Array(grid.buses.length);
    const injQ = new Float64Array(grid.buses.length);
    grid.generators.forEach((g, u) => {
      if (!g.inService) return;
      injP[index.get(g.bus)!]! += pf.unitPOut_mw[u]!;
      injQ[index.get(g.bus)!]! += pf.unitQOut_mvar[u]!;
    });
    for (const l of grid.loads) {
      injP[index.get(l.bus)!]! -= l.p_mw;
      injQ[index.get(l.bus)!]! -= l.q_mvar;
    }
    for (const s of grid.shunts) {
      const v2 = pf.vm_pu[index.get(s.bus)!]! ** 2;
      injP[index.get(s.bus)!]! -= s.g_mw * v2;
      injQ[index.get(s.bus)!]! += s.b_mvar * v2;
    }
    for (let i = 0; i < grid.buses.length; i++) {
      expect(Math.abs(outP[i]! - injP[i]!), `P at bus ${grid.buses[i]!.id}`).toBeLessThan(1e-5);
      expect(Math.abs(outQ[i]! - injQ[i]!), `Q at bus ${grid.buses[i]!.id}`).toBeLessThan(1e-5);
    }
    // Active losses are the series I²R: the sum of both ends' flows (charging carries no P).
    expect(losses.p_mw).toBeCloseTo(sumP, 6);
  });
});
