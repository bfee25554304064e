/**
 * A 24 h market day of the demo in `simulate` (docs/market.md, "A market day in simulate").
 *   npm run bench:market-day [-- --hours H] [-- --no-record] [-- --scenario FILE]
 * Runs scenarios/market-day.yaml as `gridloop simulate` does (recorded into a temporary run folder,
 * deleted afterwards): per-DER agents bid, the market clears every 15 min, the FIDs carry the
 * exchange, each delivered interval is settled on the embedded chain against the meters and the
 * chain is written into the run folder, then verified from genesis as `gridloop ledger verify` does.
 * Ends with one JSON line: wall and CPU time (target ≤ 180 s for the day), the delivery figures
 * (intervals, shortfalls and their share of the day, the largest FID energy error), the settlement
 * (intervals, blocks, gas), the verification's time, and islanded microgrids' largest frequency
 * deviation in the first minute of each interval against a minute mid-interval (what FID schedule
 * steps do: docs/market.md, "FID schedule ramps"). `--scenario` runs another market scenario
 * for its own duration (e.g. scenarios/vpp-market.yaml: then the VPP's awarded and delivered
 * energy are figures too).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { simulateRunOpener } from '../bench/cli/scenario-run.ts';
import { marketRunOf } from '../bench/market/market-settlement.ts';
import { simulateRecorded } from '../bench/recording/simulate-run.ts';
import { verifyLedger } from '../market/ledger/persist.ts';
import type { TwinState } from '../twin/api.ts';
import { loadScenario } from '../twin/scenario/load.ts';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const file = arg('--scenario');
const scenario = await loadScenario(
  file ?? new URL('../scenarios/market-day.yaml', import.meta.url).pathname,
);
const hours = Number(arg('--hours') ?? (file ? scenario.duration_s / 3600 : 24));
if (!(hours > 0 && hours <= 24)) {
  console.error('bench:market-day: --hours must be in (0, 24]');
  process.exit(2);
}
const record = !process.argv.includes('--no-record');
scenario.duration_s = hours * 3600;
const runsDir = mkdtempSync(join(tmpdir(), 'bench-market-day-'));
const c0 = process.cpuUsage();
const t0 = performance.now();
const marketRun = (await marketRunOf(scenario, scenario.dt_s))!;
const market = marketRun.market;
const excursions = boundaryExcursions(market.section.interval_s);
const run = await simulateRecorded(scenario, {
  ...marketRun.options,
  onStep: (state) => {
    marketRun.options.onStep(state);
    excursions.onStep(state);
  },
  dt_s: scenario.dt_s,
  every_s: scenario.record?.every_s ?? 60,
  open: record ? simulateRunOpener(runsDir, scenario) : undefined,
});
const wall_s = (performance.now() - t0) / 1000;
const cpu = process.cpuUsage(c0);
const settled = marketRun.settled;
const v0 = process.cpuUsage();
const verified = record && run.runDir ? await verifyLedger(run.runDir) : undefined;
const verifyCpu = process.cpuUsage(v0);
rmSync(runsDir, { recursive: true, force: true });
const r = market.report();
const round = (x: number, d = 3) => Number(x.toFixed(d));
console.log(
  JSON.stringify({
    bench: 'market-day',
    scenario: scenario.name,
    simulated_h: hours,
    dt_s: scenario.dt_s,
    recorded: record,
    wall_s: round(wall_s, 1),
    cpu_s: round((cpu.user + cpu.system) / 1e6, 1),
    target_s: 180,
    assertions_passed: run.verdict.passed,
    intervals: r.intervals.length,
    shortfall_intervals: new Set(r.shortfalls.map((s) => s.intervalStart_s)).size,
    shortfall_fraction: round(r.shortfallFraction, 4),
    shortfalls: r.shortfalls.map((s) => `${s.intervalStart_s} s: ${s.constraint}`),
    max_error: round(r.maxError, 4),
    exchanged_kwh: round(r.exchanged_wh / 1e3, 1),
    traded_kwh: round(r.volume_wh / 1e3, 1),
    ...(r.vpp
      ? {
          vpp: {
            id: r.vpp.id,
            intervals: r.vpp.intervals.length,
            awarded_kwh: round(r.vpp.intervals.reduce((x, d) => x + d.award_wh, 0) / 1e3, 1),
            delivered_kwh: round(r.vpp.intervals.reduce((x, d) => x + d.delivered_wh, 0) / 1e3, 1),
            max_interval_error: round(r.vpp.maxError, 4),
          },
        }
      : {}),
    settled_intervals: settled?.settled.length,
    unsettled_intervals: settled?.unsettled.length,
    chain_blocks: settled?.blocks,
    chain_gas: settled ? Number(settled.gas) : undefined,
    verify_ok: verified?.ok,
    verify_s: verified ? round(verified.seconds, 1) : undefined,
    verify_cpu_s: verified ? round((verifyCpu.user + verifyCpu.system) / 1e6, 1) : undefined,
    // Islanded microgrids' largest |f − 50 Hz| in the first minute of each interval (where the FID
    // schedules change) against the same length of time mid-interval (docs/market.md, "FID schedule ramps").
    islanded_df_boundary_hz: round(excursions.boundary_hz, 4),
    islanded_df_mid_hz: round(excursions.mid_hz, 4),
    loadavg_1m: round(loadavg()[0], 1),
  }),
);

/** Largest frequency deviation of islanded microgrids just after interval boundaries and mid-interval. */
function boundaryExcursions(interval_s: number, window_s = 60, f0_hz = 50) {
  const figures = {
    boundary_hz: 0,
    mid_hz: 0,
    onStep(state: TwinState): void {
      const into = state.t_s % interval_s;
      const atBoundary = into < window_s;
      const mid = into >= interval_s / 2 && into < interval_s / 2 + window_s;
      if (!atBoundary && !mid) return;
      for (const island of state.islands) {
        if (!island.energised || island.gridConnected) continue;
        const df = Math.abs(island.f_hz - f0_hz);
        if (atBoundary) figures.boundary_hz = Math.max(figures.boundary_hz, df);
        else figures.mid_hz = Math.max(figures.mid_hz, df);
      }
    },
  };
  return figures;
}
