/**
 * Power-flow benchmark: `npm run bench:powerflow [-- --quick]`.
 *
 * For each case: the first solve including topology analysis and symbolic factorisation, then
 * repeated "cold" solves from the voltages stored in the file (symbolic work reused, as in the
 * twin), then warm re-solves after a ±1 % change of every load, then the one-shot time (a new
 * solver each time: Ybus, ordering, symbolic LU, solve and branch flows; parsing excluded; the
 * median of repeated runs, so JIT warm-up is not counted — first_solve_ms shows it).
 * Then a year of hourly steps on case_ACTIVSg2000 (loads and generation scaled by a daily and
 * seasonal profile), each solve warm-started from the previous hour. Prints human lines, then one
 * JSON line with all figures. Times are wall-clock on this machine; nothing here is asserted.
 */
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseMatpower } from '../twin/grid/matpower.ts';
import { type Bus, emptyGrid, type Grid } from '../twin/grid/model.ts';
import { PowerFlowSolver } from '../twin/powerflow/index.ts';

const quick = process.argv.includes('--quick');

interface CaseFigures {
  case: string;
  buses: number;
  method: string;
  first_solve_ms: number;
  /** New solver + solve + branch flows (parse excluded), median of repeated runs. */
  one_shot_median_ms: number;
  one_shot_runs: number;
  cold_median_ms: number;
  cold_p95_ms: number;
  cold_iterations: number;
  cold_solves_per_s: number;
  warm_median_ms: number;
  warm_p95_ms: number;
  warm_iterations: number;
  /** Largest number of Jacobian factorisations in one warm solve (0: previous factors sufficed). */
  warm_factorizations: number;
  /** Cold median / warm median (same problems, see measure()). */
  warm_speedup: number;
  /** First solve (analysis included, as a one-shot solver does every call) / warm median. */
  warm_speedup_vs_first: number;
  /** Twin-like step: every load moved by up to ±0.1 % (pseudo-random), warm re-solve. */
  step_median_ms: number;
  step_p95_ms: number;
  step_factorizations_per_solve: number;
  converged: boolean;
}

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(p * (sorted.length - 1)))]!;

/** Deterministic pseudo-random numbers for the generated feeder (mulberry32). */
function mulberry32(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A 10,000-bus radial feeder at 12.66 kV: each new bus hangs off the previous one (70 %) or off a
 * random earlier bus (30 %), so it has long laterals and many branches; 0.05–0.25 Ω segments and
 * 0.1–0.5 kW loads at 0.9 power factor keep the far end above 0.9 pu.
 */
function radialFeeder(n: number): Grid {
  const random = mulberry32(20261124);
  const grid = emptyGrid('radial10k', 10, 50);
  const bus = (id: string, kind: Bus['kind']): Bus => ({
    id,
    kind,
    baseKV: 12.66,
    vm_pu: 1,
    va_deg: 0,
    vmin_pu: 0.9,
    vmax_pu: 1.1,
  });
  grid.buses.push(bus('1', 'slack'));
  grid.generators.push({
    id: 'source',
    bus: '1',
    p_mw: 0,
    q_mvar: 0,
    qmin_mvar: -100,
    qmax_mvar: 100,
    pmin_mw: 0,
    pmax_mw: 100,
    vset_pu: 1,
    inService: true,
    participation: 0,
    gridForming: false,
  });
  const zBase = 12.66 ** 2 / 10;
  for (let i = 2; i <= n; i++) {
    const parent = random() < 0.7 ? i - 1 : 1 + Math.floor(random() * (i - 1));
    grid.buses.push(bus(String(i), 'pq'));
    const r = (0.05 + 0.2 * random()) / zBase;
    grid.branches.push({
      id: `s${i}`,
      kind: 'line',
      from: String(parent),
      to: String(i),
      r_pu: r,
      x_pu: 0.8 * r,
      b_pu: 0,
      tap: 1,
      shift_deg: 0,
      rateA_mva: 0,
      inService: true,
    });
    const p = (0.1 + 0.4 * random()) / 1000;
    grid.loads.push({ id: `ld${i}`, bus: String(i), p_mw: p, q_mvar: 0.484 * p, inService: true });
  }
  return grid;
}

function loadCase(name: string): Grid {
  const file = new URL(`../grids/matpower/${name}.m`, import.meta.url);
  return parseMatpower(readFileSync(file, 'utf8'), `${name}.m`).grid;
}

function measure(name: string, grid: Grid, budget_ms: number, maxRuns: number): CaseFigures {
  const t0 = performance.now();
  const pf = new PowerFlowSolver(grid);
  const first = pf.solve();
  const firstMs = performance.now() - t0;
  const method = first.islands.map((i) => i.method).join('+');

  // Cold and warm solve the same sequence of problems (every load alternately ×1.01 and back):
  // cold starts each from the voltages stored in the file with no factors to reuse (symbolic
  // analysis kept, as in the twin); warm starts from the previous solution and its factors.
  const loadP = pf.net.loadP_mw;
  const loadQ = pf.net.loadQ_mvar;
  const step = (k: number) => {
    const factor = k % 2 === 0 ? 1.01 : 1 / 1.01;
    for (let l = 0; l < loadP.length; l++) {
      loadP[l]! *= factor;
      loadQ[l]! *= factor;
    }
  };
  const cold: number[] = [];
  let coldIterations = 0;
  let converged = first.converged;
  const coldStart = performance.now();
  for (
    let k = 0;
    cold.length < maxRuns && (cold.length < 6 || performance.now() - coldStart < budget_ms);
    k++
  ) {
    step(k);
    pf.resetVoltages();
    const s = performance.now();
    const r = pf.solve();
    cold.push(performance.now() - s);
    coldIterations = Math.max(coldIterations, r.iterations);
    converged &&= r.converged;
  }
  if (cold.length % 2 === 1) step(cold.length); // back to the file's loads
  pf.resetVoltages();
  pf.solve();
  const warm: number[] = [];
  let warmIterations = 0;
  let warmFactorizations = 0;
  const warmStart = performance.now();
  for (
    let k = 0;
    warm.length < maxRuns && (warm.length < 6 || performance.now() - warmStart < budget_ms);
    k++
  ) {
    step(k);
    const s = performance.now();
    const r = pf.solve();
    warm.push(performance.now() - s);
    warmIterations = Math.max(warmIterations, r.iterations);
    warmFactorizations = Math.max(warmFactorizations, ...r.islands.map((i) => i.factorizations));
    converged &&= r.converged;
  }
  // Twin-like steps: small, uneven load changes every solve (as a 1 ms step sees).
  const noise = mulberry32(7);
  const base = Float64Array.from(loadP);
  const steps: number[] = [];
  let stepFactorizations = 0;
  const stepStart = performance.now();
  while (steps.length < maxRuns && (steps.length < 6 || performance.now() - stepStart < budget_ms / 2)) {
    for (let l = 0; l < loadP.length; l++) loadP[l] = base[l]! * (1 + 0.002 * (noise() - 0.5));
    const s = performance.now();
    const r = pf.solve();
    steps.push(performance.now() - s);
    for (const island of r.islands) stepFactorizations += island.factorizations;
    converged &&= r.converged;
  }
  // One-shot: everything a `gridloop powerflow` call does after parsing, from scratch each time.
  const oneShot: number[] = [];
  const n = grid.branches.length;
  const oneShotStart = performance.now();
  while (oneShot.length < 5 || (oneShot.length < maxRuns && performance.now() - oneShotStart < budget_ms)) {
    const s = performance.now();
    const fresh = new PowerFlowSolver(grid);
    converged &&= fresh.solve().converged;
    fresh.branchFlows({
      pf: new Float64Array(n),
      qf: new Float64Array(n),
      pt: new Float64Array(n),
      qt: new Float64Array(n),
    });
    oneShot.push(performance.now() - s);
  }
  oneShot.sort((a, b) => a - b);
  steps.sort((a, b) => a - b);
  cold.sort((a, b) => a - b);
  warm.sort((a, b) => a - b);
  const coldMedian = percentile(cold, 0.5);
  const warmMedian = percentile(warm, 0.5);
  const r3 = (x: number) => Number(x.toPrecision(3));
  return {
    case: name,
    buses: grid.buses.length,
    method,
    first_solve_ms: r3(firstMs),
    one_shot_median_ms: r3(percentile(oneShot, 0.5)),
    one_shot_runs: oneShot.length,
    cold_median_ms: r3(coldMedian),
    cold_p95_ms: r3(percentile(cold, 0.95)),
    cold_iterations: coldIterations,
    cold_solves_per_s: r3(1000 / coldMedian),
    warm_median_ms: r3(warmMedian),
    warm_p95_ms: r3(percentile(warm, 0.95)),
    warm_iterations: warmIterations,
    warm_factorizations: warmFactorizations,
    warm_speedup: r3(coldMedian / warmMedian),
    warm_speedup_vs_first: r3(firstMs / warmMedian),
    step_median_ms: r3(percentile(steps, 0.5)),
    step_p95_ms: r3(percentile(steps, 0.95)),
    step_factorizations_per_solve: r3(stepFactorizations / steps.length),
    converged,
  };
}

/** Cold-solve targets (ms). */
const targets_ms: Record<string, number> = {
  case33bw: 0.1,
  case118: 1,
  case_ACTIVSg10k: 40,
  radial10k: 10,
};
/** One-shot targets (ms): 0.1× MATPOWER's legacy runpf on this machine (issue 23). */
const oneShotTargets_ms: Record<string, number> = {
  case_ACTIVSg2000: 8,
  case_ACTIVSg10k: 40,
};

const cases: [string, () => Grid][] = [
  ['case14', () => loadCase('case14')],
  ['case33bw', () => loadCase('case33bw')],
  ['case69', () => loadCase('case69')],
  ['case118', () => loadCase('case118')],
  ['case300', () => loadCase('case300')],
  ['case_ACTIVSg2000', () => loadCase('case_ACTIVSg2000')],
  ['case_ACTIVSg10k', () => loadCase('case_ACTIVSg10k')],
  ['radial10k', () => radialFeeder(10_000)],
];

const budget = quick ? 300 : 1500;
const figures: CaseFigures[] = [];
const loadBefore = loadavg()[0]!;
console.log(
  `power flow benchmark (${quick ? 'quick' : 'full'}), node ${process.version}, ${cpus().length} cores, ` +
    `load average ${loadBefore.toFixed(1)} (other processes share this machine), tolerance 1e-8 pu`,
);
for (const [name, make] of cases) {
  const grid = make();
  const big = grid.buses.length > 1000;
  const f = measure(name, grid, big ? budget * 2 : budget, big ? 60 : 20_000);
  figures.push(f);
  const target = targets_ms[name];
  const verdict =
    target === undefined
      ? ''
      : f.cold_median_ms <= target
        ? `  (target ≤ ${target} ms: met)`
        : `  (target ≤ ${target} ms: MISSED)`;
  const oneShotTarget = oneShotTargets_ms[name];
  const oneShotVerdict =
    oneShotTarget === undefined
      ? ''
      : ` (target ≤ ${oneShotTarget} ms: ${f.one_shot_median_ms <= oneShotTarget ? 'met' : 'MISSED'})`;
  console.log(
    `${name.padEnd(17)} ${String(f.buses).padStart(6)} buses ${f.method.padEnd(5)} ` +
      `first ${f.first_solve_ms} ms, one-shot median ${f.one_shot_median_ms} ms${oneShotVerdict} | cold median ${f.cold_median_ms} ms p95 ${f.cold_p95_ms} ms ` +
      `${f.cold_iterations} it ${f.cold_solves_per_s}/s | warm (1 % load step) median ${f.warm_median_ms} ms ` +
      `p95 ${f.warm_p95_ms} ms ${f.warm_iterations} it ${f.warm_factorizations} LU, ${f.warm_speedup}× faster ` +
      `(${f.warm_speedup_vs_first}× vs first) | ±0.1 % step median ${f.step_median_ms} ms ` +
      `${f.step_factorizations_per_solve} LU/solve${verdict}` +
      (f.converged ? '' : '  NOT CONVERGED'),
  );
}
/**
 * A year of hourly operating points on case_ACTIVSg2000: every load and every generator's schedule
 * scaled by the same profile (daily swing, weekly dip, seasonal swing), so the slack covers only
 * the change in losses; each hour warm-starts from the previous one.
 */
function timeSeries(hours: number) {
  const grid = loadCase('case_ACTIVSg2000');
  const pf = new PowerFlowSolver(grid);
  const net = pf.net;
  const loadP = Float64Array.from(net.loadP_mw);
  const loadQ = Float64Array.from(net.loadQ_mvar);
  const unitP = Float64Array.from(net.unitP_mw);
  const profile = (h: number) => {
    const day = Math.sin((2 * Math.PI * (h % 24)) / 24 - Math.PI / 2);
    const week = Math.floor(h / 24) % 7 >= 5 ? -0.06 : 0;
    const season = Math.cos((2 * Math.PI * h) / 8760);
    return 0.85 + 0.1 * day + week + 0.08 * season;
  };
  pf.solve();
  let iterations = 0;
  let factorizations = 0;
  let failed = 0;
  let worstStep = 0;
  const start = performance.now();
  for (let h = 0; h < hours; h++) {
    const scale = profile(h);
    for (let l = 0; l < loadP.length; l++) {
      net.loadP_mw[l] = loadP[l]! * scale;
      net.loadQ_mvar[l] = loadQ[l]! * scale;
    }
    for (let u = 0; u < unitP.length; u++) net.unitP_mw[u] = unitP[u]! * scale;
    const s = performance.now();
    const r = pf.solve();
    worstStep = Math.max(worstStep, performance.now() - s);
    iterations += r.iterations;
    for (const island of r.islands) factorizations += island.factorizations;
    if (!r.converged) failed++;
  }
  const total = performance.now() - start;
  const r3 = (x: number) => Number(x.toPrecision(3));
  return {
    case: 'case_ACTIVSg2000',
    hours,
    total_s: r3(total / 1000),
    per_step_ms: r3(total / hours),
    worst_step_ms: r3(worstStep),
    iterations_per_step: r3(iterations / hours),
    factorizations_per_step: r3(factorizations / hours),
    not_converged: failed,
    target_s: hours === 8760 ? 10 : null,
  };
}

const series = timeSeries(quick ? 720 : 8760);
console.log(
  `time series: ${series.hours} hourly steps on ${series.case} in ${series.total_s} s ` +
    `(${series.per_step_ms} ms/step, worst ${series.worst_step_ms} ms, ${series.iterations_per_step} it and ` +
    `${series.factorizations_per_step} LU per step, ${series.not_converged} not converged)` +
    (series.target_s === null
      ? ''
      : `  (target ≤ ${series.target_s} s: ${series.total_s <= series.target_s ? 'met' : 'MISSED'})`),
);
console.log('MATPOWER runpf was not run here (no MATLAB/Octave on this machine): no ratio to it is claimed.');
console.log(
  JSON.stringify({
    benchmark: 'powerflow',
    quick,
    node: process.version,
    load_average: [loadBefore, loadavg()[0]!].map((x) => Number(x.toFixed(2))),
    targets_ms,
    one_shot_targets_ms: oneShotTargets_ms,
    cases: figures,
    time_series: series,
  }),
);
