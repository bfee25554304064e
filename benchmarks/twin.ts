/**
 * Twin benchmark (npm run bench:twin): per-step cost of the default demo system (Baran & Wu
 * 33-bus, three microgrids, 15 DERs, 2 FIDs, protection and controls on) at 1 ms steps, and the
 * wall time of the 24-hour scenario at 100 ms steps. Ends with one JSON line.
 *
 *   BENCH_TWIN_STEPS   measured 1 ms steps (default 30000)
 *   BENCH_TWIN_SKIP_24H=1  skip the 24 h run
 */
import { join } from 'node:path';
import type { DeviceInput } from '../twin/api.ts';
import { loadScenario } from '../twin/scenario/load.ts';
import { runScenario } from '../twin/scenario/runner.ts';
import { Twin } from '../twin/twin.ts';

const root = join(import.meta.dirname, '..');
const steps = Number(process.env.BENCH_TWIN_STEPS ?? 30_000);

const twin = await Twin.fromFiles({
  grid: join(root, 'grids/demo-33bw-microgrids.yaml'),
  seed: 1,
  dt_s: 0.001,
});
const inputs: DeviceInput[] = [{ deviceId: 'bess-hw', p_mw: 0.02, q_mvar: 0, online: true }];
// Disturbances inside the measured window, so events, rebuilds and protection are exercised.
twin.scheduleAt(5, { kind: 'load-step', bus: '14', delta_mw: 0.15 });
twin.scheduleAt(12, { kind: 'irradiance', unit: 'pv-28', scale: 0.4 });
twin.scheduleAt(20, { kind: 'fid-setpoint', fidId: 'fid-25-29', p_mw: 0.2 });

for (let i = 0; i < 3000; i++) twin.step(inputs); // warm-up (JIT)
const times = new Float64Array(steps);
const cpuStep0 = process.cpuUsage();
const t0 = performance.now();
for (let i = 0; i < steps; i++) {
  const a = performance.now();
  inputs[0].p_mw = 0.02 + 0.01 * Math.sin(i * 0.01);
  twin.step(inputs);
  times[i] = performance.now() - a;
}
const total_ms = performance.now() - t0;
const cpuSteps = process.cpuUsage(cpuStep0);
const cpuMean_us = (cpuSteps.user + cpuSteps.system) / steps;
const sorted = Float64Array.from(times).sort();
const median_us = sorted[Math.floor(steps / 2)] * 1000;
const p99_us = sorted[Math.floor(steps * 0.99)] * 1000;
const max_us = sorted[steps - 1] * 1000;
const mean_us = (total_ms * 1000) / steps;
const realtimeFactor = 1000 / mean_us;
console.log(
  `demo system, 1 ms steps: ${steps} steps, ${twin.units.length} DERs, ${twin.fids.length} FIDs, ${twin.islandRuntimes.length} islands`,
);
console.log(
  `  median ${median_us.toFixed(1)} µs, p99 ${p99_us.toFixed(1)} µs, max ${max_us.toFixed(0)} µs, mean ${mean_us.toFixed(1)} µs`,
);
console.log(
  `  real-time factor ${realtimeFactor.toFixed(1)}× (targets: median ≤ 50 µs, p99 ≤ 200 µs); CPU ${cpuMean_us.toFixed(1)} µs/step`,
);

let day_s: number | null = null;
let dayCpu_s: number | null = null;
if (process.env.BENCH_TWIN_SKIP_24H !== '1') {
  const scenario = await loadScenario(join(root, 'scenarios/day-24h-ems.yaml'));
  const cpu0 = process.cpuUsage();
  const result = await runScenario(scenario);
  const cpu = process.cpuUsage(cpu0);
  day_s = result.wall_s;
  dayCpu_s = (cpu.user + cpu.system) / 1e6;
  console.log(
    `24 h scenario at 100 ms: ${result.steps} steps in ${day_s.toFixed(1)} s wall, ${dayCpu_s.toFixed(1)} s CPU (target ≤ 60 s), assertions ${result.passed ? 'passed' : 'FAILED'}`,
  );
  if (day_s > dayCpu_s * 1.5)
    console.log("  (wall ≫ CPU: the machine is busy; the CPU time is the twin's own cost)");
}

console.log(
  JSON.stringify({
    bench: 'twin',
    steps,
    median_us: Number(median_us.toFixed(2)),
    p99_us: Number(p99_us.toFixed(2)),
    max_us: Number(max_us.toFixed(1)),
    mean_us: Number(mean_us.toFixed(2)),
    cpu_mean_us: Number(cpuMean_us.toFixed(2)),
    realtime_factor: Number(realtimeFactor.toFixed(2)),
    day_24h_wall_s: day_s === null ? null : Number(day_s.toFixed(2)),
    day_24h_cpu_s: dayCpu_s === null ? null : Number(dayCpu_s.toFixed(2)),
  }),
);
