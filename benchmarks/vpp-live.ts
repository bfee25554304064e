/**
 * Loop overruns and step-time percentiles on the live bench with the VPP re-dispatching vs without
 * (issue 19: "re-dispatch on the running bench adds no loop overruns"). Part of `npm run bench:vpp`
 * (`--live-s 0` skips it; `--live-only` runs only it).
 *
 * Each run is the real-time loop process (RealtimeRun) at 1 kHz on the demo grid with the hardware
 * slot simulated; "with" hosts the `vpp` controller (vpp/portfolios/demo-33bw-live.yaml) in its
 * worker thread, re-dispatching every `--vpp-period-s` of twin time.
 *
 * Made to say something on a loaded machine, where both cases overrun: runs are short and many,
 * interleaved as A/B pairs in ABBA order (without/with, then with/without, …) so slow drifts of the
 * machine's load fall on both equally; the loop runs with `overrunPolicy: freeze` (a late step
 * re-anchors the schedule) so each overrun is one event instead of every later step of a loop
 * that fell behind once; and the figure is the paired difference (with − without) per pair, with
 * its mean, standard error and signs, beside each case's summed counts and step-time percentiles
 * (the median over runs of each run's percentile; max: the largest).
 */
import { checkControllerSpecs } from '../bench/runtime/controllers/spec.ts';
import type { LoopConfig, LoopToHost, TimingSummary } from '../bench/runtime/messages.ts';
import { RealtimeRun } from '../bench/runtime/realtime-run.ts';

export interface LiveOptions {
  seconds: number;
  pairs: number;
  vppPeriod_s: number;
}

interface Summary {
  runs: number;
  steps: number;
  overruns: number;
  /** Overruns per 1,000 steps. */
  overruns_per_1k_steps: number;
  lateness_us: { p50: number; p99: number; max: number };
  /** The loop's step time (its work per step). */
  work_us: { p50: number; p99: number; max: number };
  /** Twin seconds per wall second (median over runs). */
  real_time_factor: number;
  vpp_decisions?: number;
  vpp_decide_ms_max?: number;
  vpp_telemetry_records?: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function runOnce(options: LiveOptions, withVpp: boolean) {
  const config: LoopConfig = {
    twin: { grid: 'grids/demo-33bw-microgrids.yaml', seed: 1, dt_s: 0.001 },
    devices: [{ id: 'bess-hw', driver: 'simulated' }],
    snapshotEvery: 10,
    // Each overrun once: a loop that fell behind restarts its schedule instead of counting every later step.
    overrunPolicy: 'freeze',
    duration_s: options.seconds,
    ...(withVpp
      ? {
          controllers: checkControllerSpecs(
            [
              {
                module: 'vpp',
                id: 'vpp',
                options: {
                  portfolio: 'vpp/portfolios/demo-33bw-live.yaml',
                  target: [
                    [0, 1.0],
                    [options.seconds / 2, 1.3],
                  ],
                  period_s: options.vppPeriod_s,
                },
              },
            ],
            process.cwd(),
          ),
        }
      : {}),
  };
  const run = new RealtimeRun(config);
  let telemetry = 0;
  // Drained as the bench process would (it records and serves them).
  run.on('message', (m: LoopToHost) => {
    if (m.type === 'batch') telemetry += m.controllerTelemetry?.length ?? 0;
  });
  const end = await run.finished;
  await run.stop();
  if (end.type !== 'stopped') throw new Error(`bench:vpp live run failed: ${end.message}`);
  return { timing: end.timing, controller: end.controllers?.[0], telemetry };
}

function summarise(runs: Awaited<ReturnType<typeof runOnce>>[]): Summary {
  const t = runs.map((r) => r.timing);
  const pct = (pick: (x: TimingSummary) => { p50: number; p99: number; max: number }) => ({
    p50: Math.round(median(t.map((x) => pick(x).p50))),
    p99: Math.round(median(t.map((x) => pick(x).p99))),
    max: Math.round(Math.max(...t.map((x) => pick(x).max))),
  });
  const controllers = runs.flatMap((r) => (r.controller ? [r.controller] : []));
  const steps = t.reduce((s, x) => s + x.steps, 0);
  const overruns = t.reduce((s, x) => s + x.overruns, 0);
  return {
    runs: runs.length,
    steps,
    overruns,
    overruns_per_1k_steps: Math.round((1e5 * overruns) / Math.max(steps, 1)) / 100,
    lateness_us: pct((x) => x.lateness_us),
    work_us: pct((x) => x.work_us),
    real_time_factor: Math.round(1000 * median(t.map((x) => x.realTimeFactor))) / 1000,
    ...(controllers.length
      ? {
          vpp_decisions: controllers.reduce((s, c) => s + c.decisions, 0),
          vpp_decide_ms_max: Math.round(Math.max(...controllers.map((c) => c.decide_ms_max)) * 100) / 100,
          vpp_telemetry_records: runs.reduce((s, r) => s + r.telemetry, 0),
        }
      : {}),
  };
}

/** The paired difference with − without of one figure over the pairs. */
interface Paired {
  /** Per pair, in run order. */
  per_pair: number[];
  mean: number;
  /** Standard error of the mean (sample standard deviation / √pairs). */
  stderr: number;
  median: number;
  /** Pairs where "with" was higher, equal, lower. */
  higher: number;
  equal: number;
  lower: number;
}

function paired(d: number[]): Paired {
  const n = d.length;
  const mean = d.reduce((s, x) => s + x, 0) / n;
  const sd = n > 1 ? Math.sqrt(d.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)) : Number.NaN;
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    per_pair: d,
    mean: round(mean),
    stderr: round(sd / Math.sqrt(n)),
    median: median(d),
    higher: d.filter((x) => x > 0).length,
    equal: d.filter((x) => x === 0).length,
    lower: d.filter((x) => x < 0).length,
  };
}

export async function liveOverruns(options: LiveOptions): Promise<{
  order: string;
  without_vpp: Summary;
  with_vpp: Summary;
  /** With − without, pair by pair. */
  difference: { overruns: Paired; work_us_p99: Paired; lateness_us_p99: Paired };
}> {
  const without: Awaited<ReturnType<typeof runOnce>>[] = [];
  const withVpp: Awaited<ReturnType<typeof runOnce>>[] = [];
  for (let i = 0; i < options.pairs; i++) {
    // ABBA: whichever case goes first in one pair goes second in the next.
    if (i % 2 === 0) {
      without.push(await runOnce(options, false));
      withVpp.push(await runOnce(options, true));
    } else {
      withVpp.push(await runOnce(options, true));
      without.push(await runOnce(options, false));
    }
  }
  const diff = (pick: (t: TimingSummary) => number) =>
    paired(without.map((w, i) => Math.round(pick(withVpp[i]!.timing) - pick(w.timing))));
  return {
    order: 'ABBA (A: without, B: with)',
    without_vpp: summarise(without),
    with_vpp: summarise(withVpp),
    difference: {
      overruns: diff((t) => t.overruns),
      work_us_p99: diff((t) => t.work_us.p99),
      lateness_us_p99: diff((t) => t.lateness_us.p99),
    },
  };
}
