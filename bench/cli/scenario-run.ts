/**
 * The run folder of a scenario run the CLI steps itself (`gridloop simulate`, `gridloop attack`):
 * its manifest names the grid and scenario files relative to the working directory, so that
 * `gridloop replay` finds them again.
 */
import { relative } from 'node:path';
import { type ManifestInput, RunRecorder } from '../recording/index.ts';
import { runtimeError } from './exit-codes.ts';

export interface ScenarioRun {
  scenario: { name: string; grid: string; seed: number };
  /** The scenario file. */
  file: string;
  dt_s: number;
  devices: NonNullable<ManifestInput['devices']>;
  /** What `gridloop replay` rebuilds the run from (the twin's grid, scenario, seed and step are added). */
  loop: Omit<NonNullable<ManifestInput['loop']>, 'twin'>;
}

/**
 * `simulateRecorded`'s `open` for a scenario run in `runsDir` as `gridloop simulate` records one that
 * no device feeds (benchmarks and tests).
 */
export function simulateRunOpener(
  runsDir: string,
  scenario: ScenarioRun['scenario'] & { file: string; dt_s: number },
): () => Promise<RunRecorder> {
  return () =>
    openScenarioRun('simulate', runsDir, {
      scenario,
      file: scenario.file,
      dt_s: scenario.dt_s,
      devices: [],
      loop: { devices: [], runner: 'simulate' },
    });
}

/** Opens the run folder; a folder that cannot be made is a runtime error of `gridloop <command>`. */
export async function openScenarioRun(
  command: string,
  runsDir: string,
  run: ScenarioRun,
): Promise<RunRecorder> {
  const { scenario, file, dt_s } = run;
  try {
    return await RunRecorder.open({
      runsDir,
      scenario: scenario.name,
      manifest: {
        grid: relative(process.cwd(), scenario.grid),
        scenario: scenario.name,
        scenarioFile: relative(process.cwd(), file),
        seed: scenario.seed,
        dt_s,
        mode: 'simulate',
        devices: run.devices,
        loop: { twin: { grid: scenario.grid, scenario: file, seed: scenario.seed, dt_s }, ...run.loop },
      },
    });
  } catch (err) {
    throw runtimeError(`gridloop ${command}: cannot open the run folder: ${(err as Error).message}`);
  }
}
