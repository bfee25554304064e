/**
 * An attack scenario (a scenario with a `security:` section) run as fast as possible and recorded:
 * the twin's states, the attack labels, detector samples, alarms and detection metrics, with the
 * scenario's VPP attached (its communication network is an attack target). `gridloop attack` and
 * campaign workers (bench/campaigns/execute.ts) both run attacks through it, so a campaign's attack
 * runs are the runs `gridloop attack` makes. With `security.link` the C emulated board is in the
 * loop over a pseudo-terminal (link-scenario.ts) and the frames its verifier rejected are recorded.
 */
import { rename } from 'node:fs/promises';
import type { TwinState } from '../../twin/api.ts';
import {
  runSecurityScenario,
  type SecurityRunResult,
  type SecurityScenario,
} from '../../twin/attacks/security.ts';
import { loadGridFile } from '../../twin/files.ts';
import { ScenarioError } from '../../twin/scenario/load.ts';
import type { RunRecorder } from '../recording/run-recorder.ts';
import { controllersOf, type SimulateRunOptions, stateRecorder } from '../recording/simulate-run.ts';
import { assertionResults, judgeRun, type RunVerdict } from '../recording/verdict.ts';
import { deviceMicrogrids, plannedIslands } from '../runtime/snapshot-points.ts';
import { scenarioVppRun } from '../vpp/scenario.ts';
import { type LinkRunResult, runLinkAttackScenario } from './link-scenario.ts';
import { recordSecurity } from './record.ts';

/**
 * `controllers`, `vpp`, `recordMore`, `finish`: what the run attaches besides the attack engine, as for
 * simulateRecorded: the scenario's P2P market and the VPP bidding in it (marketRunOf(…).options,
 * bench/market/market-settlement.ts; its `onStep` goes into `onStep`).
 */
export interface AttackRunOptions
  extends Pick<SimulateRunOptions, 'controllers' | 'vpp' | 'recordMore' | 'finish'> {
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
  const link = (scenario.security as { link?: { device: string } }).link;
  if (link && scenario.market)
    throw new ScenarioError(
      'security.link runs the board in the loop without the P2P market: remove the market: section',
      scenario.file,
      undefined,
      '/market',
    );
  // The scenario's VPP, whose communication network the attacks may target (comms:<id>); read
  // before the run folder opens, so a bad vpp: section leaves no run behind.
  const vpp = link ? undefined : (options.vpp ?? (await scenarioVppRun(scenario)));
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
      recordMore: options.recordMore,
    });
  }
  let result: SecurityRunResult;
  try {
    if (link) {
      result = await runLinkAttackScenario(scenario, {
        onStep: (state, input) => {
          states?.step(state, [input]);
          options.onStep?.(state);
        },
      });
    } else {
      result = await runSecurityScenario(scenario, {
        onStep: (state, _twin, _harness, inputs) => {
          states?.step(state, inputs);
          options.onStep?.(state);
        },
        controllers: controllersOf(vpp?.controllers, options.controllers),
        assertions: vpp?.assertions,
      });
    }
  } catch (err) {
    await rec?.close({ status: 'failed', reason: (err as Error).message });
    throw err;
  }
  states?.finish();
  try {
    await options.finish?.({ dir: rec?.dir, end_s: scenario.duration_s });
  } catch (err) {
    await rec?.close({ status: 'failed', reason: (err as Error).message });
    throw err;
  }
  const outcomes = assertionResults([...result.assertions, ...result.expectations], scenario.duration_s);
  if (!rec) return { result, verdict: judgeRun({ status: 'complete', assertions: outcomes }) };
  recordSecurity(result.harness, result.metrics, rec);
  if (link) recordRejectedFrames(result as LinkRunResult, link.device, rec);
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

/** The frames the bench's verifier rejected, per step and reason (`auth`, docs/grafana.md). */
function recordRejectedFrames(result: LinkRunResult, device: string, rec: RunRecorder): void {
  for (const a of result.auth)
    rec.point(
      'auth',
      { device, reason: a.reason },
      { rejected: BigInt(a.rejected) },
      rec.timeOf(0) + BigInt(Math.round(a.t_s * 1e9)),
    );
}
