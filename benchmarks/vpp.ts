/**
 * VPP benchmark: `npm run bench:vpp`.
 *
 * - central day-ahead schedule of the demo portfolio (grids/demo-33bw-microgrids.yaml,
 *   vpp/portfolios/demo-33bw.yaml), 96 quarter-hours, ramps and storage energy, with HiGHS (LP);
 * - one real-time interval of a generated 1,000-member portfolio (exact optimality conditions, and
 *   the same interval as an LP with HiGHS for comparison);
 * - fully distributed consensus, 1,000 agents on a small world of average degree 6, until every
 *   |λ_i − λ*| < 1e-3·λ*: rounds, messages, CPU time; and ADMM on the same portfolio;
 * - consensus on the demo portfolio at 20 % message loss;
 * - one TVPP decision with network limits on (linearisation + QP) on the running demo twin.
 * - loop overruns and step times on the live bench with the VPP re-dispatching vs without
 *   (benchmarks/vpp-live.ts; `--live-s <s>` per run, default 10, 0 skips it; `--live-pairs <n>`,
 *   default 2; `--vpp-period-s <s>`, default 1; `--live-only` runs only this).
 *
 * Medians of repeated runs (the first, with JIT warm-up, excluded). Prints one JSON line.
 */
import { cpus, loadavg } from 'node:os';
import { DEMO_GRID, DEMO_PORTFOLIO, twinWithCatalog } from '../test/support/vpp-catalog.ts';
import type { ControllerAction } from '../twin/control/contract.ts';
import { loadGridFile } from '../twin/files.ts';
import { Twin } from '../twin/twin.ts';
import { admmDispatch } from '../vpp/admm.ts';
import { flexibilityOverTime, memberLimits } from '../vpp/aggregate.ts';
import { dispatchInterval, loadSolver, solveSchedule } from '../vpp/central.ts';
import { averageDegree, smallWorld } from '../vpp/comms.ts';
import { consensusDispatch } from '../vpp/consensus.ts';
import { VppController } from '../vpp/controller.ts';
import { generatePortfolio } from '../vpp/generate.ts';
import { bindPortfolio, loadPortfolio } from '../vpp/portfolio.ts';
import { liveOverruns } from './vpp-live.ts';

function numberArg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!(v >= 0)) {
    console.error(`bench:vpp: --${name} must be a number ≥ 0`);
    process.exit(2);
  }
  return v;
}
const live = {
  seconds: numberArg('live-s', 10),
  pairs: Math.max(1, Math.round(numberArg('live-pairs', 2))),
  vppPeriod_s: numberArg('vpp-period-s', 1) || 1,
};
const runLive = async () => {
  const figures = await liveOverruns(live);
  console.log(
    `live bench, ${live.pairs}×${live.seconds} s at 1 kHz: overruns ${figures.without_vpp.overruns} without the VPP, ${figures.with_vpp.overruns} with it re-dispatching every ${live.vppPeriod_s} s`,
  );
  return { seconds_per_run: live.seconds, vpp_period_s: live.vppPeriod_s, ...figures };
};
if (process.argv.includes('--live-only')) {
  const figures = await runLive();
  console.log(
    JSON.stringify({
      bench: 'vpp',
      cpus: cpus().length,
      load1: Number(loadavg()[0]!.toFixed(2)),
      live: figures,
    }),
  );
  process.exit(0);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median wall and CPU time of `runs` calls after a warm-up call (CPU time is less sensitive to a loaded machine). */
function timed<T>(
  runs: number,
  f: () => T,
): { result: T; median_ms: number; median_cpu_ms: number; first_ms: number; first_cpu_ms: number } {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  let result = f();
  const c = process.cpuUsage(c0);
  const first_ms = performance.now() - t0;
  const first_cpu_ms = (c.user + c.system) / 1000;
  const times: number[] = [];
  const cpu: number[] = [];
  for (let k = 0; k < runs; k++) {
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    result = f();
    const c = process.cpuUsage(c0);
    times.push(performance.now() - t0);
    cpu.push((c.user + c.system) / 1000);
  }
  if (runs === 0) return { result, median_ms: first_ms, median_cpu_ms: first_cpu_ms, first_ms, first_cpu_ms };
  return { result, median_ms: median(times), median_cpu_ms: median(cpu), first_ms, first_cpu_ms };
}

function cpuMs<T>(f: () => T): { result: T; cpu_ms: number } {
  const c0 = process.cpuUsage();
  const result = f();
  const c = process.cpuUsage(c0);
  return { result, cpu_ms: (c.user + c.system) / 1000 };
}

const highs = await loadSolver();
const { catalog } = await twinWithCatalog();
const [demo] = bindPortfolio(loadPortfolio(DEMO_PORTFOLIO), catalog);
const members = demo!.members;

// Day-ahead: a target at 40 % of the way from the aggregate minimum to maximum of each interval.
const flex = flexibilityOverTime(members, 0, 96, 0.25);
const target = flex.map((f) => f.pmin_mw + 0.4 * (f.pmax_mw - f.pmin_mw));
const schedule = () =>
  solveSchedule(highs, { members, target_mw: target, interval_h: 0.25, startHour: 0, linear: true });
// The first solve in the process (JavaScript and HiGHS's wasm not yet optimised by V8), then the
// steady state of a VPP that re-schedules: median after a warm-up of 20 solves.
const firstDayAhead = timed(0, schedule);
const c0 = process.cpuUsage();
for (let k = 0; k < 20; k++) schedule();
const warmup = process.cpuUsage(c0);
const dayAhead = timed(10, schedule);
if (!dayAhead.result.ok) throw new Error(`day-ahead: ${dayAhead.result.reason}`);
const profile = { build_ms: [] as number[], solve_ms: [] as number[], extract_ms: [] as number[] };
for (let k = 0; k < 10; k++) {
  const r = schedule();
  if (!r.ok) throw new Error(r.reason);
  for (const key of ['build_ms', 'solve_ms', 'extract_ms'] as const) profile[key].push(r.timing[key]);
}
console.log(
  `central day-ahead, ${members.length} members × 96 intervals (LP, HiGHS): ${dayAhead.median_ms.toFixed(1)} ms (${dayAhead.median_cpu_ms.toFixed(1)} ms CPU); first solve ${firstDayAhead.first_ms.toFixed(0)} ms`,
);

// The same day-ahead with quadratic costs (a QP: HiGHS's interior point, docs/vpp.md).
const dayAheadQp = timed(2, () =>
  solveSchedule(highs, { members, target_mw: target, interval_h: 0.25, startHour: 0 }),
);
if (!dayAheadQp.result.ok) throw new Error(`day-ahead QP: ${dayAheadQp.result.reason}`);
console.log(
  `central day-ahead QP (quadratic costs, HiGHS IPM): ${dayAheadQp.median_ms.toFixed(0)} ms (${dayAheadQp.median_cpu_ms.toFixed(0)} ms CPU)`,
);

// TVPP: one interval of the demo portfolio over its microgrids and FIDs (QP, HiGHS).
const zoneIds = catalog.microgrids.map((m) => m.id);
const zoneOfBus = new Map(catalog.microgrids.flatMap((m) => m.buses.map((b) => [b, m.id] as const)));
const links = catalog.fids.map((f) => ({
  id: f.id,
  from: zoneOfBus.get(f.busA)!,
  to: zoneOfBus.get(f.busB)!,
  rating_mw: f.rating_mw,
}));
const zoneNeed = zoneIds.map(
  (z) => 0.5 * members.filter((m) => m.microgrid === z).reduce((s, m) => s + m.pmax_mw, 0),
);
const tvpp = timed(5, () =>
  solveSchedule(highs, {
    members,
    target_mw: [zoneNeed.reduce((s, x) => s + x, 0)],
    interval_h: 5 / 3600,
    startHour: 12,
    zones: { ids: zoneIds, target_mw: zoneNeed, links, gridZones: [zoneIds[0]!] },
  }),
);
if (!tvpp.result.ok) throw new Error(`tvpp: ${tvpp.result.reason}`);
console.log(
  `TVPP interval, demo portfolio over 3 microgrids and 2 FIDs (QP, HiGHS): ${tvpp.median_ms.toFixed(1)} ms`,
);

// TVPP with network limits on: one decision of the controller on the running demo twin (linearise
// at the published state, the QP with voltage and branch rows, HiGHS), L3-23 rated so a row binds.
const tvppNet = await tvppIntervalWithNetwork();
console.log(
  `TVPP interval with network limits (demo twin, ${tvppNet.rows}): ${tvppNet.median_ms.toFixed(1)} ms (${tvppNet.median_cpu_ms.toFixed(1)} ms CPU)`,
);

// Real time, 1,000 members.
const big = generatePortfolio(1000, 7);
const curves = big.map((m) => ({ a: m.a, b: m.b, ...memberLimits(m, 12, undefined, 5 / 3600) }));
const bigTarget = 0.5 * curves.reduce((s, c) => s + c.pmax_mw, 0);
const realTime = timed(20, () => dispatchInterval(curves, curves, bigTarget));
const realTimeLp = timed(3, () =>
  solveSchedule(highs, {
    members: big.map((m, i) => ({ ...m, ...curves[i]!, capacity_mwh: undefined, ramp_mw_s: undefined })),
    target_mw: [bigTarget],
    interval_h: 5 / 3600,
    startHour: 12,
    linear: true,
  }),
);
console.log(
  `real-time interval, 1,000 members: ${realTime.median_ms.toFixed(2)} ms (exact QP conditions), ${realTimeLp.median_ms.toFixed(1)} ms (LP, HiGHS)`,
);

// Consensus, 1,000 agents.
const graph = smallWorld(1000, 6, 0.1, 3);
const lambdaRef = realTime.result.lambda;
const consensus = cpuMs(() =>
  consensusDispatch(curves, { target_mw: bigTarget, graph, tolerance: 1e-3, lambdaRef }),
);
console.log(
  `consensus, 1,000 agents (small world, degree ${averageDegree(graph)}): ${consensus.result.iterations} rounds, ${consensus.cpu_ms.toFixed(0)} ms CPU`,
);
const admm = cpuMs(() => admmDispatch(curves, { target_mw: bigTarget, tolerance: 1e-5 }));
console.log(`ADMM, 1,000 members: ${admm.result.iterations} rounds, ${admm.cpu_ms.toFixed(0)} ms CPU`);

// Demo portfolio at 20 % loss.
const demoCurves = members.map((m) => ({ a: m.a, b: m.b, ...memberLimits(m, 12, undefined, 5 / 3600) }));
const demoTarget = 0.5 * demoCurves.reduce((s, c) => s + c.pmax_mw, 0);
const demoRef = dispatchInterval(demoCurves, demoCurves, demoTarget);
const demoGraph = smallWorld(members.length, 6, 0.1, 3);
// The former default, one global gain 0.4 / mean(1/2a), for comparison.
const demoGain = 0.4 / (demoCurves.reduce((s, c) => s + 1 / (2 * c.a), 0) / demoCurves.length);
const lossy = consensusDispatch(demoCurves, {
  target_mw: demoTarget,
  graph: demoGraph,
  network: { loss: 0.2, seed: 1 },
  tolerance: 1e-3,
  lambdaRef: demoRef.lambda,
  epsilon: demoGain,
});
const lossyDefault = consensusDispatch(demoCurves, {
  target_mw: demoTarget,
  graph: demoGraph,
  network: { loss: 0.2, seed: 1 },
  tolerance: 1e-3,
  lambdaRef: demoRef.lambda,
});
console.log(
  `consensus, demo portfolio at 20 % loss: ${lossyDefault.iterations} rounds (default gain), ${lossy.iterations} (former global gain)`,
);

// A lying agent (+40 /MWh) under W-MSR on the demo portfolio: each agent's own gain against one global gain.
const wmsr = (epsilon?: number) =>
  consensusDispatch(demoCurves, {
    target_mw: demoTarget,
    graph: demoGraph,
    liar: { agent: 4, bias: 40 },
    resilient: true,
    maxIterations: 3000,
    epsilon,
  });
const wmsrOwn = wmsr();
const wmsrGlobal = wmsr(demoGain);
console.log(
  `consensus W-MSR with a liar, demo portfolio: ${wmsrOwn.iterations} rounds (own gains), ${wmsrGlobal.iterations} (global gain); isolated ${wmsrOwn.isolated.join(', ')}`,
);

const liveFigures = live.seconds > 0 ? await runLive() : undefined;

console.log(
  JSON.stringify({
    bench: 'vpp',
    cpus: cpus().length,
    load1: Number(loadavg()[0]!.toFixed(2)),
    central_day_ahead_96_ms: Number(dayAhead.median_ms.toFixed(2)),
    central_day_ahead_96_cpu_ms: Number(dayAhead.median_cpu_ms.toFixed(2)),
    central_day_ahead_96_first_ms: Number(firstDayAhead.first_ms.toFixed(1)),
    central_day_ahead_96_first_cpu_ms: Number(firstDayAhead.first_cpu_ms.toFixed(1)),
    central_day_ahead_96_warmup_cpu_ms: Number(((warmup.user + warmup.system) / 1000).toFixed(0)),
    central_day_ahead_96_profile_ms: {
      build: Number(median(profile.build_ms).toFixed(2)),
      highs: Number(median(profile.solve_ms).toFixed(2)),
      extract: Number(median(profile.extract_ms).toFixed(2)),
    },
    central_day_ahead_96_qp_ms: Number(dayAheadQp.median_ms.toFixed(0)),
    central_day_ahead_96_qp_cpu_ms: Number(dayAheadQp.median_cpu_ms.toFixed(0)),
    central_day_ahead_members: members.length,
    central_day_ahead_model: 'LP (linear costs), ramps, storage energy',
    tvpp_interval_demo_ms: Number(tvpp.median_ms.toFixed(2)),
    tvpp_interval_demo_cpu_ms: Number(tvpp.median_cpu_ms.toFixed(2)),
    tvpp_network_interval_demo_ms: Number(tvppNet.median_ms.toFixed(2)),
    tvpp_network_interval_demo_cpu_ms: Number(tvppNet.median_cpu_ms.toFixed(2)),
    tvpp_network_binding: tvppNet.binding,
    realtime_1000_ms: Number(realTime.median_ms.toFixed(3)),
    realtime_1000_cpu_ms: Number(realTime.median_cpu_ms.toFixed(3)),
    realtime_1000_highs_lp_ms: Number(realTimeLp.median_ms.toFixed(2)),
    consensus_1000: {
      converged: consensus.result.converged,
      iterations: consensus.result.iterations,
      cpu_ms: Number(consensus.cpu_ms.toFixed(1)),
      messages: consensus.result.messages.sent,
      graph: { kind: 'watts-strogatz', n: 1000, k: 6, beta: 0.1, average_degree: averageDegree(graph) },
      cost_rel_error: Number(
        ((consensus.result.cost - realTime.result.cost) / realTime.result.cost).toExponential(2),
      ),
    },
    admm_1000: {
      converged: admm.result.converged,
      iterations: admm.result.iterations,
      cpu_ms: Number(admm.cpu_ms.toFixed(1)),
      cost_rel_error: Number(
        ((admm.result.cost - realTime.result.cost) / realTime.result.cost).toExponential(2),
      ),
    },
    consensus_demo_loss20: {
      converged: lossyDefault.converged,
      iterations_default_gain: lossyDefault.iterations,
      iterations_global_gain: lossy.iterations,
    },
    consensus_demo_wmsr_liar: {
      converged: wmsrOwn.converged,
      iterations_own_gain: wmsrOwn.iterations,
      iterations_global_gain: wmsrGlobal.iterations,
      isolated: wmsrOwn.isolated,
    },
    ...(liveFigures ? { live: liveFigures } : {}),
  }),
);

/** Median time of the TVPP controller's decision with the network model on (demo twin, L3-23 rated 0.75 MVA). */
async function tvppIntervalWithNetwork() {
  const { grid, config } = await loadGridFile(DEMO_GRID);
  for (const b of grid.branches) if (b.id === 'L3-23') b.rateA_mva = 0.75;
  const twin = new Twin(grid, { config, dt_s: 0.05, seed: 1 });
  const netCatalog = twin.catalog();
  const [vpp] = bindPortfolio(loadPortfolio(DEMO_PORTFOLIO), netCatalog);
  const ctl = new VppController({ vpp: vpp!, target: () => 2.5, network: { highs, catalog: netCatalog } });
  let state = twin.step([]);
  const actions: ControllerAction[] = [];
  // Let it settle under its own dispatch (applied as the twin's commands), then time decisions.
  for (let k = 0; k < 600; k++) {
    if (k % 100 === 0) {
      actions.length = 0;
      ctl.decide(state, actions);
      for (const a of actions) {
        if (a.kind === 'der-setpoint') twin.command({ kind: 'setpoint', deviceId: a.id, p_mw: a.p_mw });
        else if (a.kind === 'fid-setpoint') twin.command({ kind: 'fid-setpoint', fidId: a.id, p_mw: a.p_mw });
      }
    }
    state = twin.step([]);
  }
  const t = timed(10, () => {
    actions.length = 0;
    ctl.decide(state, actions);
  });
  const n = ctl.status.network!;
  return {
    ...t,
    binding: n.binding,
    rows: `${Object.keys(n.predicted).length} network limits`,
  };
}
