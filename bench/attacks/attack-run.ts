/**
 * An attack scenario (a scenario with a `security:` section, no board on a link) run as fast as
 * possible and recorded as `gridloop attack` records it: the twin's states, the attack labels,
 * detector samples, alarms and detection metrics. Campaign workers run attack variants through it
 * (bench/campaigns/execute.ts), so a campaign's attack runs are the runs `gridloop attack` makes.
 */
import { rename } from 'node:fs/promises';
import type { TwinState } from '../../twin/api.ts';
import {
  runSecurityScenario,
  type SecurityRunResult,
  type SecurityScenario,
} from '../../twin/attacks/security.ts';
import { loadGridFile } from '../../twin/files.ts';
import type { RunRecorder } from '../recording/run-recorder.ts';
import { stateRecorder } from '../recording/simulate-run.ts';
import { assertionResults, judgeRun, type RunVerdict } from '../recording/verdict.ts';
import { deviceMicrogrids, plannedIslands } from '../runtime/snapshot-points.ts';
import { recordSecurity } from './record.ts';

export interface AttackRunOptions {
  /** Recording interval, s of twin time. */
  every_s: number;
  /** Opens the run's folder; no recording without it. */
  open?: () => Promise<RunRecorder>;
  /** Rename the finished run folder to exactly this path. */
  out?: string;
  /** Sees every state, after the recorder (campaign figures). */
  onStep?: (state: TwinState) => void;
}

export interface AttackRunResult {
  result: SecurityRunResult;
  /** The run's verdict over its assertions and security expectations. */
  verdict: RunVerdict;
  runDir?: string;
}

export async function attackRecorded(
  scenario: SecurityScenario,
  options: AttackRunOptions,
): Promise<AttackRunResult> {
  let rec: RunRecorder | undefined;
  let states: ReturnType<typeof stateRecorder> | undefined;
  if (options.open) {
    const loaded = await loadGridFile(scenario.grid);
    rec = await options.open();
    states = stateRecorder(rec, {
      dt_s: scenario.dt_s,
      every_s: options.every_s,
      includeBuses: scenario.record?.buses ?? true,
      deviceMicrogrid: deviceMicrogrids(loaded.grid, loaded.config.hardware),
      plannedIslands: plannedIslands(loaded.grid),
    });
  }
  let result: SecurityRunResult;
  try {
    result = await runSecurityScenario(scenario, {
      onStep: (state, _twin, _harness, inputs) => {
        states?.step(state, inputs);
        options.onStep?.(state);
      },
    });
  } catch (err) {
    await rec?.close({ status: 'failed', reason: (err as Error).message });
    throw err;
  }
  states?.finish();
  const outcomes = assertionResults([...result.assertions, ...result.expectations], scenario.duration_s);
  if (!rec) return { result, verdict: judgeRun({ status: 'complete', assertions: outcomes }) };
  recordSecurity(result.harness, result.metrics, rec);
  const verdict =
    (await rec.close({ status: 'complete', assertions: outcomes })).verdict ??
    judgeRun({ status: 'complete', assertions: outcomes });
  let runDir = rec.dir;
  if (options.out) {
    await rename(rec.dir, options.out);
    runDir = options.out;
  }
  return { result, verdict, runDir };
}
