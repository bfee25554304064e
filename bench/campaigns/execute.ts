/**
 * One campaign run on a worker (embedded pool or BullMQ): writes the run's inputs (patched scenario,
 * grid, trace) beside its run folder, runs it as `gridloop simulate` would, and returns its result:
 * verdict, assertion outcomes and figures. The same code in both modes, so the tables match.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseSecurityScenario, type SecurityScenario } from '../../twin/attacks/security.ts';
import type { SecurityMetrics } from '../../twin/detection/metrics.ts';
import { parseScenario, type Scenario } from '../../twin/scenario/load.ts';
import type { ScenarioRunResult } from '../../twin/scenario/runner.ts';
import { attackRecorded } from '../attacks/attack-run.ts';
import { openScenarioRun } from '../cli/scenario-run.ts';
import { marketRunOf } from '../market/market-settlement.ts';
import { simulateRecorded } from '../recording/simulate-run.ts';
import type { RunVerdict } from '../recording/verdict.ts';
import { FigureCollector } from './figures.ts';
import type { RunSpec } from './load.ts';

/** What one run produced: the row of the campaign table (plus where and how long). */
export interface RunResult {
  id: string;
  index: number;
  specHash: string;
  params: RunSpec['params'];
  scenario: string;
  /** passed/failed: the run's verdict; error: it could not run (its reason says why). */
  status: 'passed' | 'failed' | 'error';
  verdict: string;
  assertions: { name: string; passed: boolean; value?: number | string; detail: string }[];
  figures: Record<string, number | null>;
  /** Where the run folder is: relative to the campaign folder, or host:path on a remote worker. */
  runDir?: string;
  worker: string;
  attempts: number;
  wall_s: number;
}

/** The campaign folder's name for a run's inputs and folder, relative to `workDir`. */
export const runFolder = (id: string) => join('runs', id);

/**
 * Runs `spec` with its folders under `workDir` (`runs/<id>/`, inputs in `runs/<id>.inputs/`).
 * A folder left by an earlier attempt (a killed worker) is replaced. Never throws for a run that
 * fails: that is a result with status error.
 */
export async function executeRun(
  spec: RunSpec,
  workDir: string,
  columns: string[],
  attempt = 1,
): Promise<RunResult> {
  const t0 = performance.now();
  const worker = `${hostname()}/${process.pid}`;
  const out = join(workDir, runFolder(spec.id));
  const inputs = `${out}.inputs`;
  const base = {
    id: spec.id,
    index: spec.index,
    specHash: spec.specHash,
    params: spec.params,
    scenario: String(spec.scenario.name ?? spec.scenarioFile),
    worker,
    attempts: attempt,
  };
  try {
    await rm(out, { recursive: true, force: true });
    await mkdir(inputs, { recursive: true });
    for (const [name, text] of Object.entries(spec.files)) await writeFile(join(inputs, name), text);
    const scenarioText = `${JSON.stringify(spec.scenario, null, 1)}\n`;
    const scenarioFile = join(inputs, 'scenario.yaml');
    await writeFile(scenarioFile, scenarioText);
    const figures = new FigureCollector(spec.collect);
    const open = (scenario: Scenario | SecurityScenario) => () =>
      openScenarioRun('campaign', join(workDir, 'runs', '.recording'), {
        scenario,
        file: scenarioFile,
        dt_s: scenario.dt_s,
        devices: (scenario.hardware ?? []).map((h) => ({ id: h.id, transport: 'simulated' })),
        // What `gridloop replay` needs: an attack run's simulated boards give the step inputs.
        loop:
          'security' in scenario
            ? { devices: (scenario.security.boards ?? []).map((b) => ({ id: b.device })), runner: 'attack' }
            : { devices: [], runner: 'simulate' },
      });
    const every_s = (s: Scenario) => s.record?.every_s ?? Math.max(0.01, s.dt_s);
    let run: { verdict: RunVerdict; runDir?: string; assertions: ScenarioRunResult['assertions'] };
    let metrics: SecurityMetrics | undefined;
    if ('security' in spec.scenario) {
      // An attack run, as `gridloop attack` makes it: detectors, labels and detection metrics.
      const scenario = parseSecurityScenario(scenarioText, scenarioFile);
      const link = (scenario.security as { link?: unknown }).link;
      // Its P2P market and the VPP bidding in it, as `gridloop attack` runs them.
      const market = link ? undefined : await marketRunOf(scenario, scenario.dt_s);
      const r = await attackRecorded(scenario, {
        ...market?.options,
        every_s: every_s(scenario),
        open: open(scenario),
        out,
        onStep: (state) => {
          market?.options.onStep(state);
          figures.step(state);
        },
      });
      metrics = r.result.metrics;
      run = { ...r, assertions: [...r.result.assertions, ...r.result.expectations] };
    } else {
      const scenario = parseScenario(scenarioText, scenarioFile);
      // Its P2P market and the VPP bidding in it, as `gridloop simulate` runs them.
      const market = await marketRunOf(scenario, scenario.dt_s);
      const r = await simulateRecorded(scenario, {
        ...market?.options,
        dt_s: scenario.dt_s,
        every_s: every_s(scenario),
        open: open(scenario),
        out,
        onStep: (state) => {
          market?.options.onStep(state);
          figures.step(state);
        },
      });
      run = { ...r, assertions: r.result.assertions };
    }
    const { verdict, runDir } = run;
    const values = figures.values(metrics);
    return {
      ...base,
      status: verdict.passed ? 'passed' : 'failed',
      verdict: verdict.summary,
      assertions: run.assertions.map((a) => ({
        name: a.name,
        passed: a.passed,
        ...(a.value !== undefined ? { value: a.value } : {}),
        detail: a.detail,
      })),
      figures: Object.fromEntries(columns.map((c, k) => [c, values[k] ?? null])),
      runDir: runDir ? runFolder(spec.id) : undefined,
      wall_s: (performance.now() - t0) / 1000,
    };
  } catch (err) {
    return errorResult(spec, columns, `run failed: ${(err as Error).message}`, worker, attempt, t0);
  }
}

/** The result of a run that could not run or whose every attempt failed: a row, not a hole. */
export function errorResult(
  spec: Pick<RunSpec, 'id' | 'index' | 'specHash' | 'params' | 'scenario' | 'scenarioFile'>,
  columns: string[],
  reason: string,
  worker: string,
  attempts: number,
  t0 = performance.now(),
): RunResult {
  return {
    id: spec.id,
    index: spec.index,
    specHash: spec.specHash,
    params: spec.params,
    scenario: String(spec.scenario.name ?? spec.scenarioFile),
    status: 'error',
    verdict: reason,
    assertions: [],
    figures: Object.fromEntries(columns.map((c) => [c, null])),
    worker,
    attempts,
    wall_s: (performance.now() - t0) / 1000,
  };
}
