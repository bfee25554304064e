/**
 * One campaign run on a worker (embedded pool or BullMQ): writes the run's inputs (patched scenario,
 * grid, trace) beside its run folder, runs it as `gridloop simulate` would, and returns its result:
 * verdict, assertion outcomes and figures. The same code in both modes, so the tables match.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { parseScenario } from '../../twin/scenario/load.ts';
import { openScenarioRun } from '../cli/scenario-run.ts';
import { simulateRecorded } from '../recording/simulate-run.ts';
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
    const scenario = parseScenario(scenarioText, scenarioFile);
    const figures = new FigureCollector(spec.collect);
    const dt = scenario.dt_s;
    const { result, verdict, runDir } = await simulateRecorded(scenario, {
      dt_s: dt,
      every_s: scenario.record?.every_s ?? Math.max(0.01, dt),
      open: () =>
        openScenarioRun('campaign', join(workDir, 'runs', '.recording'), {
          scenario,
          file: scenarioFile,
          dt_s: dt,
          devices: (scenario.hardware ?? []).map((h) => ({ id: h.id, transport: 'simulated' })),
          loop: { devices: [], runner: 'simulate' },
        }),
      out,
      onStep: (state) => figures.step(state),
    });
    const values = figures.values();
    return {
      ...base,
      status: verdict.passed ? 'passed' : 'failed',
      verdict: verdict.summary,
      assertions: result.assertions.map((a) => ({
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
