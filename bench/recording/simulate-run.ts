/**
 * A scenario run on the twin as fast as possible, recorded in the run-folder format: the job of
 * `gridloop simulate`, shared with campaign workers (bench/campaigns/) so that a campaign's runs
 * are exactly the runs `simulate` would record.
 */
import { rename } from 'node:fs/promises';
import type { TwinState } from '../../twin/api.ts';
import { loadGridFile } from '../../twin/files.ts';
import type { Scenario } from '../../twin/scenario/load.ts';
import { runScenario, type ScenarioRunResult } from '../../twin/scenario/runner.ts';
import {
  deviceMicrogrids,
  snapshotOfState,
  snapshotToPoints,
  updateBusIslands,
} from '../runtime/snapshot-points.ts';
import { scenarioVppRun } from '../vpp/scenario.ts';
import { REPLAY_BATCH_STEPS, ReplayLogWriter } from './replay-log.ts';
import type { RunRecorder } from './run-recorder.ts';
import { assertionResults, judgeRun, type RunVerdict } from './verdict.ts';

export interface SimulateRunOptions {
  /** Step, s. */
  dt_s: number;
  /** Recording interval, s of twin time. */
  every_s: number;
  /**
   * Opens the run's folder (the CLI's openScenarioRun, which writes the manifest `gridloop
   * replay` needs); no recording without it.
   */
  open?: () => Promise<RunRecorder>;
  /** Rename the finished run folder to exactly this path. */
  out?: string;
  signal?: AbortSignal;
  onProgress?: (fraction: number) => void;
  /** Sees every state, after the recorder (campaign figures). */
  onStep?: (state: TwinState) => void;
}

export interface SimulateRunResult {
  result: ScenarioRunResult;
  verdict: RunVerdict;
  /** The run folder (absolute), when recorded. */
  runDir?: string;
}

/**
 * Runs `scenario` and records it under `runsDir`. Throws ScenarioError for a scenario the twin
 * cannot run (unknown ids, bad grid), what `open` throws when the folder cannot be opened; any
 * other error is a run failure (the run folder is closed as failed first).
 */
export async function simulateRecorded(
  scenario: Scenario,
  options: SimulateRunOptions,
): Promise<SimulateRunResult> {
  const dt = options.dt_s;
  const includeBuses = scenario.record?.buses ?? true;
  // Before the run folder opens: a VPP section that cannot be used is the scenario's error.
  const vpp = await scenarioVppRun(scenario);
  let rec: RunRecorder | undefined;
  let deviceMicrogrid: Map<string, string> | undefined;
  if (options.open) {
    const loaded = await loadGridFile(scenario.grid);
    deviceMicrogrid = deviceMicrogrids(loaded.grid, loaded.config.hardware);
    rec = await options.open();
  }
  const everySteps = Math.max(1, Math.round(options.every_s / dt));
  const loop = { lateness_us: 0, work_us: 0, overruns: 0 };
  let stepIndex = 0;
  const busIsland = new Map<string, string>();
  const replayLog = new ReplayLogWriter();
  const record = (state: TwinState) => {
    if (!rec) return;
    replayLog.state(stepIndex, state);
    // Handed over as the loop process does with each batch, so a crash loses at most one flush.
    if (stepIndex % REPLAY_BATCH_STEPS === REPLAY_BATCH_STEPS - 1) rec.replay(replayLog.drain());
    for (const e of state.events) rec.event({ ...e, source: 'twin' });
    if (stepIndex++ % everySteps !== 0 && state.events.length === 0) return;
    updateBusIslands(
      state.islands,
      state.islands.map((island) => island.buses),
      busIsland,
    );
    snapshotToPoints(
      snapshotOfState(state, loop),
      state.busIds,
      rec.timeOf(0),
      (measurement, tags, fields, time) => rec!.point(measurement, tags, fields, time),
      { includeBuses, busIsland, deviceMicrogrid },
    );
  };
  const onStep = options.onStep;
  let result: ScenarioRunResult;
  try {
    result = await runScenario(scenario, {
      dt_s: dt,
      controllers: vpp?.controllers,
      assertions: vpp?.assertions,
      signal: options.signal,
      onStep: onStep
        ? (state) => {
            record(state);
            onStep(state);
          }
        : record,
      onProgress: options.onProgress,
    });
  } catch (err) {
    await rec?.close({ status: 'failed', reason: (err as Error).message });
    throw err;
  }
  replayLog.finish();
  rec?.replay(replayLog.drain());
  const moveToOut = async () => {
    if (!rec) return undefined;
    if (!options.out) return rec.dir;
    await rename(rec.dir, options.out);
    return options.out;
  };
  if (result.interrupted) {
    const reason = `interrupted (SIGINT) at t = ${result.simulated_s.toFixed(3)} s of ${scenario.duration_s} s`;
    await rec?.close({ status: 'aborted', reason, twinSolver: { ...result.solver } });
    return {
      result,
      verdict: judgeRun({ status: 'aborted', reason, assertions: [] }),
      runDir: await moveToOut(),
    };
  }
  const assertions = assertionResults(result.assertions, result.simulated_s);
  // The recorder judges a recorded run (and writes the verdict everywhere); the same function
  // judges an unrecorded one.
  let verdict = judgeRun({ status: 'complete', assertions });
  if (rec) {
    verdict =
      (await rec.close({ status: 'complete', assertions, twinSolver: { ...result.solver } })).verdict ??
      verdict;
  }
  return { result, verdict, runDir: await moveToOut() };
}
