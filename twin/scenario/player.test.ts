import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { TwinEvent } from '../api.ts';
import type { Twin } from '../twin.ts';
import { loadScenario, parseScenario, type Scenario } from './load.ts';
import { ScenarioPlayer, unplayableReason, verdictEvent } from './player.ts';
import { buildScenarioTwin, runScenario } from './runner.ts';

const DT = 0.005;
const GRID = resolve('grids/demo-33bw-microgrids.yaml');

/** A short scenario with an initial state, two events and assertions on both. */
const SCRIPT = (extra = '') => `
name: player-check
grid: ../grids/demo-33bw-microgrids.yaml
seed: 3
duration_s: 3
initial:
  fids: { fid-25-29: 0.05 }
  loadScale: 0.9
events:
  - { at: 0.5, action: fid-setpoint, fid: fid-25-29, p_mw: 0.2 }
  - { at: 1.2, action: load-step, bus: '14', delta_mw: 0.1 }
assertions:
  - { type: event-occurs, kind: fid-setpoint, target: fid-25-29, after: 0.49, until: 0.51 }
  - { type: event-occurs, kind: load-step, after: 1.19, until: 1.21 }
  - { type: frequency-nadir, island: MG2, min_hz: 49.0 }
${extra}`;

const scenarioOf = (text: string): Scenario => parseScenario(text, resolve('scenarios/player-check.yaml'));

/** Steps `twin` with a player the way the loop does: due actions, step, observe. */
function play(twin: Twin, player: ScenarioPlayer, steps: number, log: TwinEvent[] = []) {
  for (let k = 0; k < steps; k++) {
    player.scheduleDue(twin);
    const state = twin.step([]);
    log.push(...state.events);
    const verdict = player.observe(state, twin);
    if (verdict) return verdict;
  }
  return undefined;
}

describe('ScenarioPlayer', () => {
  it('played from time 0 gives runScenario’s outcomes, value for value', async () => {
    const s = await loadScenario('scenarios/mg2-load-step.yaml');
    const offline = await runScenario(s, { dt_s: DT });
    const twin = await buildScenarioTwin(s, DT, { script: false });
    const verdict = play(twin, new ScenarioPlayer(s, twin), offline.steps + 10);
    expect(verdict?.assertions).toEqual(offline.assertions);
    expect(verdict?.passed).toBe(offline.passed);
    expect(twin.state.step).toBe(offline.steps);
  });

  it('started mid-run: initial state, then events on the scenario clock, verdict at its end', async () => {
    const s = scenarioOf(SCRIPT());
    const twin = await buildScenarioTwin(s, DT, { script: false });
    for (let k = 0; k < 400; k++) twin.step([]); // 2 s of a running twin
    const log: TwinEvent[] = [];
    const player = new ScenarioPlayer(s, twin);
    const verdict = play(twin, player, 2000, log);
    expect(log.map((e) => e.kind).slice(0, 2)).toEqual(['fid-setpoint', 'load-scale']);
    expect(log.find((e) => e.kind === 'fid-setpoint' && e.message.includes('0.2'))?.t_s).toBeCloseTo(2.5, 9);
    expect(log.find((e) => e.kind === 'load-step')?.t_s).toBeCloseTo(3.2, 9);
    expect(verdict?.passed).toBe(true);
    expect(verdict?.played_s).toBeCloseTo(3, 9);
    expect(twin.state.t_s).toBeCloseTo(5, 9);
    expect(player.state).toBe('finished');
    expect(player.scheduleDue(twin)).toEqual([]);
  });

  it('pause holds the script and the assertions’ clock; resume shifts what is left', async () => {
    const s = scenarioOf(SCRIPT());
    const twin = await buildScenarioTwin(s, DT, { script: false });
    const player = new ScenarioPlayer(s, twin);
    const log: TwinEvent[] = [];
    expect(play(twin, player, 160, log)).toBeUndefined(); // 0.8 s: first event done
    player.pause(twin.state.t_s);
    for (let k = 0; k < 200; k++) {
      expect(player.scheduleDue(twin)).toEqual([]);
      expect(player.observe(twin.step([]), twin)).toBeUndefined();
    }
    expect(player.scenarioTime(twin.state.t_s)).toBeCloseTo(0.8, 9);
    player.resume(twin.state.t_s);
    const verdict = play(twin, player, 2000, log);
    // The load step, due at 1.2 s of scenario time, comes 1 s (the pause) later on the twin's clock.
    expect(log.find((e) => e.kind === 'load-step')?.t_s).toBeCloseTo(2.2, 9);
    expect(verdict?.passed).toBe(true);
    expect(twin.state.t_s).toBeCloseTo(4, 9);
    expect(() => player.resume(twin.state.t_s)).toThrow(/finished, not paused/);
  });

  it('a failing assertion fails the verdict, and the event names it', async () => {
    const s = scenarioOf(SCRIPT('  - { type: frequency-zenith, max_hz: 49.0, name: too-strict }'));
    const twin = await buildScenarioTwin(s, DT, { script: false });
    const verdict = play(twin, new ScenarioPlayer(s, twin), 2000);
    expect(verdict?.passed).toBe(false);
    const event = verdictEvent(verdict!, twin.state.t_s);
    expect(event.kind).toBe('scenario-verdict');
    expect(event.message).toMatch(/player-check failed \(3\/4 assertions passed; failed: too-strict\)/);
    expect(event.data?.passed).toBe(false);
  });

  it('stopped early: no verdict and nothing more applied', async () => {
    const s = scenarioOf(SCRIPT());
    const twin = await buildScenarioTwin(s, DT, { script: false });
    const player = new ScenarioPlayer(s, twin);
    const log: TwinEvent[] = [];
    play(twin, player, 50, log);
    player.stop();
    expect(play(twin, player, 1000, log)).toBeUndefined();
    expect(log.some((e) => e.kind === 'load-step' || e.message.includes('0.2 MW'))).toBe(false);
  });

  it('refuses a scenario for another grid, or one that shapes the twin when it is built', () => {
    const s = scenarioOf(SCRIPT());
    expect(unplayableReason(s, GRID)).toBeUndefined();
    expect(unplayableReason(s, resolve('grids/other.yaml'))).toMatch(
      /written for grid .*demo-33bw.*this run's twin is/,
    );
    const built = scenarioOf(SCRIPT().replace('seed: 3', 'seed: 3\nstartHour: 12'));
    expect(unplayableReason(built, GRID)).toMatch(/sets startHour.*gridloop run/);
  });

  it('refuses unknown ids before anything is applied', async () => {
    const s = scenarioOf(SCRIPT().replace('fid: fid-25-29, p_mw: 0.2', 'fid: fid-nope, p_mw: 0.2'));
    const twin = await buildScenarioTwin(scenarioOf(SCRIPT()), DT, { script: false });
    expect(() => new ScenarioPlayer(s, twin)).toThrow(/unknown FID 'fid-nope'/);
  });
});
