/**
 * A scenario run on the twin as fast as possible, recorded in the run-folder format: the job of
 * `gridloop simulate`, shared with campaign workers (bench/campaigns/) so that a campaign's runs
 * are exactly the runs `simulate` would record.
 */
import { rename } from 'node:fs/promises';
import type { DeviceInput, TwinState } from '../../twin/api.ts';
import type { Controller } from '../../twin/control/contract.ts';
import { loadGridFile } from '../../twin/files.ts';
import type { Scenario } from '../../twin/scenario/load.ts';
import { runScenario, type ScenarioRunResult } from '../../twin/scenario/runner.ts';
import type { VppStatus } from '../../vpp/controller.ts';
import {
  deviceMicrogrids,
  plannedIslands,
  snapshotOfState,
  snapshotToPoints,
  updateBusIslands,
} from '../runtime/snapshot-points.ts';
import { vppDecisionRecorder } from '../runtime/vpp-points.ts';
import { type ScenarioVppRun, scenarioVppRun } from '../vpp/scenario.ts';
import { REPLAY_BATCH_STEPS, ReplayLogWriter } from './replay-log.ts';
import type { RunRecorder } from './run-recorder.ts';
import type { PointSink } from './schema.ts';
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
  /**
   * The scenario's VPP when the caller built it (one that bids into the run's market:
   * MarketDay.vpp.run); otherwise it is built from the scenario's vpp: section.
   */
  vpp?: ScenarioVppRun;
  /** Controllers attached to the run, made fresh for it (runScenario's `controllers`). */
  controllers?: () => readonly Controller[];
  /**
   * Writes points of the run's own (the market's, bench/market/) after each state is recorded, with
   * the recorder's `point` and run start time; only called when recording.
   */
  recordMore?: (state: TwinState, point: PointSink, timeOf: (t_s: number) => bigint) => void;
  /**
   * After the last step, before the run folder is closed (whether the run completed or was
   * interrupted): work of the run's own that writes into the folder (the market's chain).
   */
  finish?: (run: { dir?: string; end_s: number }) => Promise<void>;
}

export interface SimulateRunResult {
  result: ScenarioRunResult;
  verdict: RunVerdict;
  /** The scenario's VPP at the end of the run (its last decision), when it has one. */
  vpp?: Readonly<VppStatus>;
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
  const vpp = options.vpp ?? (await scenarioVppRun(scenario));
  let rec: RunRecorder | undefined;
  let deviceMicrogrid: Map<string, string> | undefined;
  let planned: Set<string> | undefined;
  if (options.open) {
    const loaded = await loadGridFile(scenario.grid);
    deviceMicrogrid = deviceMicrogrids(loaded.grid, loaded.config.hardware);
    planned = plannedIslands(loaded.grid);
    rec = await options.open();
  }
  const states = rec
    ? stateRecorder(rec, {
        dt_s: dt,
        every_s: options.every_s,
        includeBuses,
        deviceMicrogrid,
        plannedIslands: planned,
        recordMore: recordersOf(vpp && vppDecisionRecorder(vpp.vpp.controller), options.recordMore),
      })
    : undefined;
  const record = (state: TwinState) => states?.step(state);
  const onStep = options.onStep;
  let result: ScenarioRunResult;
  try {
    result = await runScenario(scenario, {
      dt_s: dt,
      controllers: controllersOf(vpp?.controllers, options.controllers),
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
  states?.finish();
  try {
    await options.finish?.({ dir: rec?.dir, end_s: result.simulated_s });
  } catch (err) {
    await rec?.close({ status: 'failed', reason: (err as Error).message });
    throw err;
  }
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
  return { result, verdict, runDir: await moveToOut(), vpp: vpp?.vpp.controller.status };
}

/**
 * Records a run's states into `rec` as `gridloop simulate` does: the replay log (states and the
 * device inputs each step was given), the twin's events, and points every `every_s` of twin time
 * (and at every step with events). Shared with attack runs in campaigns (bench/attacks/attack-run.ts).
 */
export function stateRecorder(
  rec: RunRecorder,
  options: {
    dt_s: number;
    every_s: number;
    includeBuses: boolean;
    deviceMicrogrid?: Map<string, string>;
    /** Islands with no PCC in the grid file (recorded as islanded by design). */
    plannedIslands?: Set<string>;
    recordMore?: SimulateRunOptions['recordMore'];
  },
): { step(state: TwinState, inputs?: readonly DeviceInput[]): void; finish(): void } {
  const everySteps = Math.max(1, Math.round(options.every_s / options.dt_s));
  const loop = { lateness_us: 0, work_us: 0, overruns: 0 };
  let stepIndex = 0;
  const busIsland = new Map<string, string>();
  const replayLog = new ReplayLogWriter();
  const point: PointSink = (m, tags, fields, time) => rec.point(m, tags, fields, time);
  const timeOf = (t_s: number) => rec.timeOf(t_s);
  return {
    step(state, inputs) {
      if (inputs) replayLog.inputs(stepIndex, inputs);
      replayLog.state(stepIndex, state);
      // Handed over as the loop process does with each batch, so a crash loses at most one flush.
      if (stepIndex % REPLAY_BATCH_STEPS === REPLAY_BATCH_STEPS - 1) rec.replay(replayLog.drain());
      for (const e of state.events) rec.event({ ...e, source: 'twin' });
      options.recordMore?.(state, point, timeOf);
      if (stepIndex++ % everySteps !== 0 && state.events.length === 0) return;
      updateBusIslands(
        state.islands,
        state.islands.map((island) => island.buses),
        busIsland,
      );
      snapshotToPoints(snapshotOfState(state, loop), state.busIds, rec.timeOf(0), point, {
        includeBuses: options.includeBuses,
        busIsland,
        deviceMicrogrid: options.deviceMicrogrid,
        plannedIslands: options.plannedIslands,
      });
    },
    finish() {
      replayLog.finish();
      rec.replay(replayLog.drain());
    },
  };
}

/** The scenario's VPP and the caller's controllers (a market), made fresh for each run. */
export function controllersOf(
  ...makers: (SimulateRunOptions['controllers'] | undefined)[]
): SimulateRunOptions['controllers'] {
  const present = makers.filter((m) => m !== undefined);
  if (present.length === 0) return undefined;
  return () => present.flatMap((m) => m());
}

/** The VPP's points (`vpp`, `vpp_member`, as the live bench records them) and the caller's (a market's). */
function recordersOf(
  ...recorders: (SimulateRunOptions['recordMore'] | undefined)[]
): SimulateRunOptions['recordMore'] {
  const present = recorders.filter((r) => r !== undefined);
  if (present.length === 0) return undefined;
  return (state, point, timeOf) => {
    for (const r of present) r(state, point, timeOf);
  };
}
