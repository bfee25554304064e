/**
 * Reactive limits by MATPOWER's rules, checked bus by bus against MATPOWER's own results
 * (grids/matpower-results: MATPOWER 8.1 runpf on Octave, NR, tol 1e-8, ENFORCE_Q_LIMS = 1; see
 * its SOURCES.md). In case14 and case300 the slack itself reaches a limit: MATPOWER turns it
 * into a PQ bus, keeps its active power, makes the first remaining PV bus the slack and refers the
 * angles to the original reference. case118's slack stays within its range.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMatpower } from '../twin/grid/matpower.ts';
import { PowerFlowSolver } from '../twin/powerflow/index.ts';

const load = (name: string) => {
  const file = new URL(`../grids/matpower/${name}.m`, import.meta.url);
  return parseMatpower(readFileSync(file, 'utf8'), `${name}.m`).grid;
};

interface MatpowerBus {
  id: string;
  type: number;
  vm: number;
  va: number;
}

function matpowerResult(name: string) {
  const file = new URL(`../grids/matpower-results/${name}_case_q1_legacy.txt`, import.meta.url);
  const buses: MatpowerBus[] = [];
  const scalars = new Map<string, number>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f[0] === 'B') buses.push({ id: f[1]!, type: Number(f[2]), vm: Number(f[3]), va: Number(f[4]) });
    else if (f.length === 2) scalars.set(f[0]!, Number(f[1]));
  }
  return { buses, ploss: scalars.get('ploss')!, qloss: scalars.get('qloss')! };
}

describe.each([
  { name: 'case14', newSlack: '2', formerSlack: '1' },
  { name: 'case118', newSlack: null, formerSlack: null },
  { name: 'case300', newSlack: '84', formerSlack: '7049' },
])('MATPOWER Q-limit rules on $name', ({ name, newSlack, formerSlack }) => {
  const grid = load(name);
  const reference = matpowerResult(name);
  const pf = new PowerFlowSolver(grid, { method: 'nr', enforceQLimits: true });
  const result = pf.solve();
  const island = result.islands[0]!;

  it('bus types after the run, voltages and angles bus by bus, losses', () => {
    expect(result.converged).toBe(true);
    expect(reference.buses).toHaveLength(grid.buses.length);
    const n = grid.branches.length;
    const flows = {
      pf: new Float64Array(n),
      qf: new Float64Array(n),
      pt: new Float64Array(n),
      qt: new Float64Array(n),
    };
    const losses = pf.branchFlows(flows);
    const regulating = new Set(grid.generators.filter((g) => g.inService).map((g) => g.bus));
    grid.buses.forEach((bus, i) => {
      const mp = reference.buses[i]!;
      expect(mp.id).toBe(bus.id);
      // 1 PQ, 2 PV, 3 reference, as MATPOWER's bustypes after the run.
      const type =
        i === island.slackBus
          ? 3
          : (bus.kind === 'pv' || bus.kind === 'slack') && regulating.has(bus.id) && pf.busQLimit[i] === 0
            ? 2
            : 1;
      expect(type, `type of bus ${bus.id}`).toBe(mp.type);
      expect(Math.abs(pf.vm_pu[i]! - mp.vm), `vm at bus ${bus.id}`).toBeLessThan(1e-6);
      expect(Math.abs(pf.va_deg[i]! - mp.va), `va at bus ${bus.id}`).toBeLessThan(1e-5);
    });
    expect(losses.p_mw).toBeCloseTo(reference.ploss, 4);
    expect(losses.q_mvar).toBeCloseTo(reference.qloss, 3);
  });

  it('reports which bus became the slack and that the former slack was switched', () => {
    const original = grid.buses.findIndex((b) => b.kind === 'slack');
    if (newSlack === null) {
      expect(island.slackBus).toBe(original);
      return;
    }
    expect(grid.buses[island.slackBus]!.id).toBe(newSlack);
    const former = grid.buses.findIndex((b) => b.id === formerSlack);
    expect(former).toBe(original);
    expect(pf.busQLimit[former]).not.toBe(0);
    // Angles stay referred to the original reference (MATPOWER shifts them back at the end).
    expect(pf.va_deg[former]).toBeCloseTo(grid.buses[former]!.va_deg, 9);
  });

  it('the former behaviour (slack never limited) stays available and differs where the slack hits a limit', () => {
    const legacy = new PowerFlowSolver(load(name), {
      method: 'nr',
      enforceQLimits: true,
      limitReferenceQ: false,
    });
    const r = legacy.solve();
    expect(r.converged).toBe(true);
    const original = grid.buses.findIndex((b) => b.kind === 'slack');
    expect(r.islands[0]!.slackBus).toBe(original);
    let largest = 0;
    for (let i = 0; i < grid.buses.length; i++)
      largest = Math.max(largest, Math.abs(legacy.vm_pu[i]! - pf.vm_pu[i]!));
    if (newSlack === null) expect(largest).toBeLessThan(1e-9);
    else expect(largest).toBeGreaterThan(1e-3);
  });
});

describe('PEGASE-style infinite reactive limits (QMAX = Inf, QMIN = -Inf)', () => {
  const text = readFileSync(new URL('../grids/matpower/case14.m', import.meta.url), 'utf8');
  // The slack machine without limits, plus a second machine at the slack bus with ±50 Mvar.
  const pegaseStyle = text.replace(
    '\t1\t232.4\t-16.9\t10\t0\t1.06\t100\t1\t332.4\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0;',
    '\t1\t232.4\t-16.9\tInf\t-Inf\t1.06\t100\t1\t332.4\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0;\n' +
      '\t1\t0\t0\t50\t-50\t1.06\t100\t1\t100\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0\t0;',
  );

  it('are read, never switch the slack, and give the result of an unlimited slack', () => {
    const grid = parseMatpower(pegaseStyle, 'case14-inf.m').grid;
    expect(grid.generators[0]!.qmax_mvar).toBe(Number.POSITIVE_INFINITY);
    const pf = new PowerFlowSolver(grid, { method: 'nr', enforceQLimits: true });
    const r = pf.solve();
    expect(r.converged).toBe(true);
    expect(r.islands[0]!.slackBus).toBe(0);
    expect(pf.busQLimit[0]).toBe(0);
    const legacy = new PowerFlowSolver(parseMatpower(pegaseStyle, 'x.m').grid, {
      method: 'nr',
      enforceQLimits: true,
      limitReferenceQ: false,
    });
    legacy.solve();
    for (let i = 0; i < grid.buses.length; i++)
      expect(Math.abs(pf.vm_pu[i]! - legacy.vm_pu[i]!)).toBeLessThan(1e-12);
  });

  it("share the bus's reactive power as MATPOWER's pfsoln does (finite proxy M for ±Inf)", () => {
    const grid = parseMatpower(pegaseStyle, 'case14-inf.m').grid;
    const pf = new PowerFlowSolver(grid, { method: 'nr', enforceQLimits: true });
    pf.solve();
    const total = pf.unitQOut_mvar[0]! + pf.unitQOut_mvar[1]!;
    // pfsoln: equal shares X/2 first; M = Σ over the bus's machines of |X/2| + |finite limits|;
    // ±Inf → ±M; then Qg = Qmin + (X − ΣQmin)/(ΣQmax − ΣQmin)·(Qmax − Qmin) per machine.
    const m = 2 * Math.abs(total / 2) + 100;
    const [minA, maxA, minB, maxB] = [-m, m, -50, 50];
    const fraction = (total - (minA + minB)) / (maxA + maxB - (minA + minB));
    expect(pf.unitQOut_mvar[0]).toBeCloseTo(minA + fraction * (maxA - minA), 9);
    expect(pf.unitQOut_mvar[1]).toBeCloseTo(minB + fraction * (maxB - minB), 9);
    expect(Number.isFinite(total)).toBe(true);
  });
});
