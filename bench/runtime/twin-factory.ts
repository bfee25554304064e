import { enableLiveAttacks } from '../../twin/attacks/live.ts';
import { loadGridFile } from '../../twin/files.ts';
import { loadScenario, type Scenario } from '../../twin/scenario/load.ts';
import { buildScenarioTwin } from '../../twin/scenario/runner.ts';
import { type HardwareSpec, Twin } from '../../twin/twin.ts';
import type { DeviceLinkConfig, LoopConfig } from './messages.ts';

/**
 * Hardware specs for the mapped devices: a mapping with a `bus` places (or moves) the device there;
 * one without must name a device the grid (or scenario) already declares. 'trip' makes the twin's
 * fallback zero output.
 */
function hardwareFor(
  declared: readonly HardwareSpec[],
  devices: readonly DeviceLinkConfig[],
  where: string,
): HardwareSpec[] {
  const specs = new Map<string, HardwareSpec>();
  for (const spec of declared) specs.set(spec.id, spec);
  for (const d of devices) {
    const existing = specs.get(d.id);
    if (!existing && d.bus === undefined) {
      throw new TypeError(
        `device '${d.id}': not a hardware device of ${where} (its hardware list); give its bus in the mapping`,
      );
    }
    specs.set(d.id, {
      id: d.id,
      bus: d.bus ?? existing!.bus,
      rating_mva: d.rating_mva ?? existing?.rating_mva,
      fallback: d.fallback === 'trip' ? 'zero' : existing?.fallback,
    });
  }
  return [...specs.values()];
}

/** Builds the twin a run steps from a grid file, inside the real-time loop process. */
export async function createTwin(
  config: LoopConfig['twin'],
  devices: readonly DeviceLinkConfig[] = [],
): Promise<Twin> {
  const loaded = await loadGridFile(config.grid);
  const twin = new Twin(loaded.grid, {
    seed: config.seed,
    dt_s: config.dt_s,
    config: { ...loaded.config, hardware: hardwareFor(loaded.config.hardware ?? [], devices, config.grid) },
  });
  // Operators may launch attacks on a live run (the `attack` command is the attacks' own).
  enableLiveAttacks(twin);
  return twin;
}

export interface RunTwin {
  twin: Twin;
  /** The run's scenario, for a ScenarioPlayer to play from the first step (scenario runs only). */
  scenario?: Scenario;
}

/**
 * The twin for a run: built as the scenario says when the config names one (its grid and
 * build-time settings; the config's seed and step win), else from the grid file. The scenario's
 * script (initial state, events, assertions) is not applied here: the loop plays it, so it can
 * be paused and stopped like any scenario started later.
 */
export async function createRunTwin(
  config: LoopConfig['twin'],
  devices: readonly DeviceLinkConfig[],
): Promise<RunTwin> {
  if (!config.scenario) return { twin: await createTwin(config, devices) };
  const scenario = await loadScenario(config.scenario);
  const loaded = await loadGridFile(scenario.grid);
  const declared = [
    ...(loaded.config.hardware ?? []),
    ...(scenario.twin?.hardware ?? []),
    ...(scenario.hardware ?? []),
  ];
  const s: Scenario = {
    ...scenario,
    seed: config.seed,
    hardware: hardwareFor(declared, devices, config.scenario),
  };
  const twin = await buildScenarioTwin(s, config.dt_s, { script: false });
  enableLiveAttacks(twin);
  return { twin, scenario: s };
}
