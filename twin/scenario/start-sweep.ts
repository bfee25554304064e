/**
 * A scenario played on a twin that has already been running for a while, as the live bench
 * plays it (a class starts the classroom flow whenever it likes): the twin runs `startAfter_s`
 * from its initial state, then the player starts the scenario where the run is. A sweep over
 * start times finds what only some of them break (wind and load have moved on, dispatch is
 * half-way through its interval, storage has drifted).
 */
import type { TwinEvent } from '../api.ts';
import { Twin } from '../twin.ts';
import { loadScenario } from './load.ts';
import { ScenarioPlayer, type ScenarioVerdict } from './player.ts';

export interface StartSweepRun {
  startAfter_s: number;
  verdict: ScenarioVerdict;
  /** The twin's events during the scenario, stamped in scenario time. */
  events: TwinEvent[];
}

/** Plays `scenarioFile` on its grid after the twin has run `startAfter_s` at step `dt_s`. */
export async function playAfter(
  scenarioFile: string,
  startAfter_s: number,
  options: { dt_s?: number; seed?: number } = {},
): Promise<StartSweepRun> {
  const scenario = await loadScenario(scenarioFile);
  const dt_s = options.dt_s ?? 0.005;
  const twin = await Twin.fromFiles({ grid: scenario.grid, seed: options.seed ?? scenario.seed, dt_s });
  for (let i = 0; i < Math.round(startAfter_s / dt_s); i++) twin.step([]);
  const player = new ScenarioPlayer(scenario, twin);
  const origin_s = twin.state.t_s;
  const events: TwinEvent[] = [];
  let verdict: ScenarioVerdict | undefined;
  while (!verdict) {
    player.scheduleDue(twin);
    const state = twin.step([]);
    for (const e of state.events) events.push({ ...e, t_s: e.t_s - origin_s });
    verdict = player.observe(state, twin);
  }
  return { startAfter_s, verdict, events };
}
