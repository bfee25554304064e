/**
 * Loop overruns and step-time percentiles on the live bench with the VPP re-dispatching vs without
 * (issue 19: "re-dispatch on the running bench adds no loop overruns"). Part of `npm run bench:vpp`
 * (`--live-s 0` skips it; `--live-only` runs only it).
 *
 * Each run is the real-time loop process (RealtimeRun) at 1 kHz on the demo grid with the hardware
 * slot simulated; "with" hosts the `vpp` controller (vpp/portfolios/demo-33bw-live.yaml) in its
 * worker thread, re-dispatching every `--vpp-period-s` of twin time. Runs alternate without / with,
 * `--live-pairs` times, so both see the same machine; figures are summed (overruns, decisions) or
 * the median over runs of each run's percentile (max: the largest).
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
  lateness_us: { p50: number; p99: number; max: number };
  work_us: { p50: number; p99: number; max: number };
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
    overrunPolicy: 'continue',
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
  return {
    runs: runs.length,
    steps: t.reduce((s, x) => s + x.steps, 0),
    overruns: t.reduce((s, x) => s + x.overruns, 0),
    lateness_us: pct((x) => x.lateness_us),
    work_us: pct((x) => x.work_us),
    ...(controllers.length
      ? {
          vpp_decisions: controllers.reduce((s, c) => s + c.decisions, 0),
          vpp_decide_ms_max: Math.round(Math.max(...controllers.map((c) => c.decide_ms_max)) * 100) / 100,
          vpp_telemetry_records: runs.reduce((s, r) => s + r.telemetry, 0),
        }
      : {}),
  };
}

export async function liveOverruns(
  options: LiveOptions,
): Promise<{ without_vpp: Summary; with_vpp: Summary }> {
  const without: Awaited<ReturnType<typeof runOnce>>[] = [];
  const withVpp: Awaited<ReturnType<typeof runOnce>>[] = [];
  for (let i = 0; i < options.pairs; i++) {
    without.push(await runOnce(options, false));
    withVpp.push(await runOnce(options, true));
  }
  return { without_vpp: summarise(without), with_vpp: summarise(withVpp) };
}
