/**
 * The estimator is checked against facts that do not depend on it: the IEEE 14-bus power-flow
 * solution (validated against the case file's stored voltages in the power-flow suite), the
 * χ²(m − n) law of the WLS objective under Gaussian noise, and the stealthy-attack identity
 * r(z + H·c) = r(z) (Liu, Ning & Reiter, 2009).
 */
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadGrid } from '../grid/load.ts';
import { PowerFlowSolver } from '../powerflow/index.ts';
import { Random } from '../random.ts';
import { type SeMeasurement, StateEstimator } from './wls.ts';

const case14 = join(import.meta.dirname, '../../grids/matpower/case14.m');

let se: StateEstimator;
let trueVm: Float64Array;
let trueVa: Float64Array;
let exact: Float64Array;
const SIGMA = { vm: 0.004, inj: 0.01, flow: 0.008 };

beforeAll(() => {
  const pf = new PowerFlowSolver(loadGrid(case14), { enforceQLimits: true });
  const result = pf.solve();
  expect(result.converged).toBe(true);
  const net = pf.net;
  const nb = net.busIds.length;
  const buses = Array.from({ length: nb }, (_, i) => i);
  const measurements: SeMeasurement[] = [];
  for (const b of buses) {
    measurements.push({ kind: 'vm', index: b, sigma: SIGMA.vm });
    measurements.push({ kind: 'p_inj', index: b, sigma: SIGMA.inj });
    measurements.push({ kind: 'q_inj', index: b, sigma: SIGMA.inj });
  }
  for (let k = 0; k < net.branchFrom.length; k++) {
    measurements.push({ kind: 'p_flow', index: k, sigma: SIGMA.flow });
    measurements.push({ kind: 'q_flow', index: k, sigma: SIGMA.flow });
  }
  const refBus = net.busIsSlack.indexOf(1);
  se = new StateEstimator(net, { buses, refBus, measurements });
  trueVm = Float64Array.from(pf.vm_pu);
  trueVa = Float64Array.from(pf.va_deg, (d) => (d * Math.PI) / 180);
  exact = se.measure(trueVm, trueVa);
});

function noisy(rng: Random): Float64Array {
  return exact.map((v, i) => v + se.measurements[i].sigma * rng.normal());
}

describe('WLS state estimator on IEEE 14-bus', () => {
  it('recovers the power-flow state from exact measurements, with J ≈ 0 and no alarm', () => {
    const r = se.estimate(exact);
    expect(r.converged).toBe(true);
    for (let i = 0; i < trueVm.length; i++) {
      expect(r.vm[i]).toBeCloseTo(trueVm[i], 7);
      expect(r.va[i]).toBeCloseTo(trueVa[i], 7);
    }
    expect(r.objective).toBeLessThan(1e-6);
    expect(r.alarm).toBe(false);
    expect(r.degreesOfFreedom).toBe(se.m - se.nState);
  });

  it('J follows χ²(m − n) under Gaussian noise: mean ≈ m − n and false alarms ≈ α', () => {
    const rng = new Random(7);
    const trials = 300;
    let alarms = 0;
    let sum = 0;
    for (let t = 0; t < trials; t++) {
      const r = se.estimate(noisy(rng), { alpha: 0.05, vm0: trueVm, va0: trueVa });
      sum += r.objective;
      if (r.alarm) alarms++;
    }
    const dof = se.m - se.nState;
    // Mean of χ²(k) is k with standard error √(2k/trials).
    expect(Math.abs(sum / trials - dof)).toBeLessThan(4 * Math.sqrt((2 * dof) / trials));
    // Binomial(300, 0.05): mean 15, sd ≈ 3.8.
    expect(alarms).toBeGreaterThanOrEqual(4);
    expect(alarms).toBeLessThanOrEqual(28);
  });

  it('a 10σ bias on one voltage measurement raises the alarm and the largest normalised residual names it', () => {
    const rng = new Random(11);
    const target = se.measurements.findIndex((m) => m.kind === 'vm' && m.index === 8);
    let detected = 0;
    let identified = 0;
    for (let t = 0; t < 50; t++) {
      const z = noisy(rng);
      z[target] += 10 * SIGMA.vm;
      const r = se.estimate(z, { vm0: trueVm, va0: trueVa });
      if (r.alarm) detected++;
      if (r.largestNormalisedResidual.index === target) identified++;
    }
    expect(detected).toBeGreaterThanOrEqual(48);
    expect(identified).toBeGreaterThanOrEqual(48);
  });

  it('a stealthy attack a = H·c shifts the estimate by c and passes the χ² test', () => {
    const rng = new Random(3);
    const z = noisy(rng);
    const clean = se.estimate(z, { vm0: trueVm, va0: trueVa });
    const c = new Float64Array(se.nState);
    // Move bus 9's magnitude by +0.02 pu (magnitudes follow the nBus − 1 angle columns).
    c[se.nBus - 1 + 8] = 0.02;
    const a = se.stealthyAttack(clean.jacobian, c);
    const attacked = se.estimate(
      z.map((v, i) => v + a[i]),
      { vm0: trueVm, va0: trueVa },
    );
    expect(attacked.vm[8] - clean.vm[8]).toBeCloseTo(0.02, 3);
    // Second-order effects only: the objective barely moves.
    expect(Math.abs(attacked.objective - clean.objective)).toBeLessThan(0.05 * clean.objective + 0.5);
    expect(attacked.alarm).toBe(clean.alarm);
  });

  it('rejects bad inputs with a reason', () => {
    expect(() => se.estimate(new Float64Array(3))).toThrow(/expected \d+ measured values/);
    const z = Float64Array.from(exact);
    z[5] = Number.NaN;
    expect(() => se.estimate(z)).toThrow(/measured value 5 is NaN/);
    const net = new PowerFlowSolver(loadGrid(case14)).net;
    expect(() => new StateEstimator(net, { buses: [0, 1], refBus: 5, measurements: [] })).toThrow(
      /reference bus/,
    );
    expect(
      () =>
        new StateEstimator(net, {
          buses: [0, 1],
          refBus: 0,
          measurements: [{ kind: 'vm', index: 0, sigma: 0.01 }],
        }),
    ).toThrow(/cannot estimate/);
  });
});
