/**
 * An attack scenario (a scenario with a `security:` section) run as fast as possible and recorded:
 * the twin's states, the attack labels, detector samples, alarms and detection metrics, with the
 * scenario's VPP attached (its communication network is an attack target). `gridloop attack` and
 * campaign workers (bench/campaigns/execute.ts) both run attacks through it, so a campaign's attack
 * runs are the runs `gridloop attack` makes. With `security.link` the C emulated board is in the
 * loop over a pseudo-terminal (link-scenario.ts) and the frames its verifier rejected are recorded.
 * Attacks on targets the host owns (the market's chain, `ledger.*`) come with `hosted`: the callers
 * pass ledgerAttackRunOf (bench/market/consensus-scenario.ts), which attaches the scenario's market
 * and its chain as a host target of the attack engine; the chain settles each interval during the run
 * while they strike. (Passed in rather than imported: bench/market depends on bench/recording,
 * which depends on this folder through bench/runtime.)
 */
import { rename } from 'node:fs/promises';
import type { TwinState } from '../../twin/api.ts';
import type { HostAttackTarget } from '../../twin/attacks/engine.ts';
import {
  runSecurityScenario,
  type SecurityRunResult,
  type SecurityScenario,
} from '../../twin/attacks/security.ts';
import type { Controller } from '../../twin/control/contract.ts';
import { loadGridFile } from '../../twin/files.ts';
import { ScenarioError } from '../../twin/scenario/load.ts';
import type { RunRecorder } from '../recording/run-recorder.ts';
import type { PointSink } from '../recording/schema.ts';
import { controllersOf, type SimulateRunOptions, stateRecorder } from '../recording/simulate-run.ts';
import { assertionResults, judgeRun, type RunVerdict } from '../recording/verdict.ts';
import { deviceMicrogrids, plannedIslands } from '../runtime/snapshot-points.ts';
import { scenarioVppRun } from '../vpp/scenario.ts';
import { type LinkRunResult, runLinkAttackScenario } from './link-scenario.ts';
import { recordSecurity } from './record.ts';

/** Targets the host owns beside the twin's, attached for one scenario (its market's chain). */
export interface HostedAttacks<Report = unknown> {
  host: HostAttackTarget;
  /** Controllers the host's targets need attached (the market). */
  controllers: () => readonly Controller[];
  /** Sees every state, after the recorder. */
  onStep: (state: TwinState) => void;
  /** Where its points go when the run is recorded. */
  recordPoints: (point: PointSink, timeOf: (t_s: number) => bigint) => void;
  /** What it reports (filled as the run goes). */
  report: Report;
}

/**
 * `controllers`, `vpp`, `recordMore`, `finish`: what the run attaches besides the attack engine, as for
 * simulateRecorded: the scenario's P2P market and the VPP bidding in it (marketRunOf(…).options,
 * bench/market/market-settlement.ts; its `onStep` goes into `onStep`). With attacks on the market's
 * chain (`ledger.*`), `hosted` attaches the market and its chain instead (ledgerAttackRunOf).
 */
export interface AttackRunOptions<Report = unknown>
  extends Pick<SimulateRunOptions, 'controllers' | 'vpp' | 'recordMore' | 'finish'> {
  /** Recording interval, s of twin time. */
  every_s: number;
  /** Opens the run's folder; no recording without it. */
  open?: () => Promise<RunRecorder>;
  /** Rename the finished run folder to exactly this path. */
  out?: string;
  /** Sees every state, after the recorder (campaign figures). */
  onStep?: (state: TwinState) => void;
  /**
   * The host's targets for a scenario, or undefined when it has none (ledgerAttackRunOf for the
   * market's chain); called before the run folder opens, so a bad attack leaves no run behind.
   */
  hosted?: (scenario: SecurityScenario) => Promise<HostedAttacks<Report> | undefined>;
  /** The host's report as soon as it is attached (it fills as the run goes). */
  onHosted?: (report: Report) => void;
}

export interface AttackRunResult<Report = unknown> {
  result: SecurityRunResult;
  /** The run's verdict over its assertions and security expectations. */
  verdict: RunVerdict;
  runDir?: string;
  /** The host's report (the market's chain: who rejected each attack and why, the balance check). */
  hosted?: Report;
}

export async function attackRecorded<Report = unknown>(
  scenario: SecurityScenario,
  options: AttackRunOptions<Report>,
): Promise<AttackRunResult<Report>> {
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
  const hosted = link ? undefined : await options.hosted?.(scenario);
  if (hosted) options.onHosted?.(hosted.report);
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
    hosted?.recordPoints(rec.point.bind(rec), (t) => rec!.timeOf(t));
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
          hosted?.onStep(state);
          options.onStep?.(state);
        },
        controllers: controllersOf(vpp?.controllers, options.controllers, hosted?.controllers),
        assertions: vpp?.assertions,
        hosts: hosted ? [hosted.host] : undefined,
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
  const report = hosted?.report;
  if (!rec)
    return { result, verdict: judgeRun({ status: 'complete', assertions: outcomes }), hosted: report };
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
  return { result, verdict, runDir, hosted: report };
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
