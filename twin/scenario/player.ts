/**
 * Plays a scenario on a twin that keeps running: the real-time loop's twin, whose clock never
 * stops and whose devices are real. The player sets the scenario's initial state, applies its
 * events as the scenario clock reaches them, feeds its assertions and gives the verdict once the
 * scenario's duration has elapsed.
 *
 * Timing follows `Twin.scheduleAt`, so a scenario played from twin time 0 applies every event at
 * the same step as `runScenario` does. Pausing holds the script (pending events and the
 * assertions' clock); the physics already under way, and any hardware, go on in real time.
 */
import type { TwinEvent, TwinState } from '../api.ts';
import type { Twin, TwinAction } from '../twin.ts';
import { type AssertionOutcome, AssertionSet } from './assertions.ts';
import type { Scenario } from './load.ts';
import { actionOf, checkReferences, initialActions } from './runner.ts';

export type PlayerState = 'playing' | 'paused' | 'finished' | 'stopped';

export interface ScenarioVerdict {
  scenario: string;
  passed: boolean;
  assertions: AssertionOutcome[];
  /** Scenario seconds played (the duration, unless stopped early). */
  played_s: number;
}

/** Scenario settings that shape the twin when it is built; a running twin cannot take them. */
const BUILD_TIME: readonly (keyof Scenario)[] = ['mainGrid', 'startHour', 'twin', 'channels', 'hardware'];

/**
 * Why this scenario cannot be played on a twin that is already running, or undefined when it can.
 * `runGrid` is the grid file the twin was built from (resolved path).
 */
export function unplayableReason(s: Scenario, runGrid: string): string | undefined {
  if (s.grid !== runGrid) return `it is written for grid ${s.grid}, and this run's twin is ${runGrid}`;
  const needs = BUILD_TIME.filter((key) => {
    const v = s[key];
    return v !== undefined && !(Array.isArray(v) && v.length === 0);
  });
  if (needs.length > 0) {
    return `it sets ${needs.join(', ')}, which shape the twin when it is built: run it with \`gridloop run ${s.file}\``;
  }
  return undefined;
}

export class ScenarioPlayer {
  state: PlayerState = 'playing';
  private readonly events: { at: number; action: TwinAction }[];
  private nextEvent = 0;
  private initialPending = true;
  private readonly assertions: AssertionSet;
  /** Twin time at scenario time 0. */
  private readonly origin_s: number;
  /** Pauses so far, in twin time; the last may still be open (until undefined). */
  private readonly pauses: { from_s: number; until_s?: number }[] = [];
  private played_s = 0;

  /**
   * Starts `scenario` on `twin` at the twin's current time. Throws (TypeError or ScenarioError)
   * when the scenario names something the twin does not have.
   */
  constructor(
    readonly scenario: Scenario,
    twin: Twin,
  ) {
    checkReferences(scenario, twin);
    this.origin_s = twin.state.t_s;
    this.events = scenario.events
      .map((e, seq) => ({ at: e.at, seq, action: actionOf(e) }))
      .sort((a, b) => a.at - b.at || a.seq - b.seq);
    this.assertions = new AssertionSet(scenario.assertions, twin, { timeOf: (t) => this.scenarioTime(t) });
  }

  /** Scenario seconds at twin time `t_s`: twin time since the start, less the time spent paused. */
  scenarioTime(t_s: number): number {
    let held = 0;
    for (const p of this.pauses) {
      if (t_s <= p.from_s) break;
      held += Math.min(t_s, p.until_s ?? t_s) - p.from_s;
    }
    return t_s - this.origin_s - held;
  }

  /**
   * Schedules on `twin` what is due in its next step: the initial state first, then each event
   * whose time falls before the end of that step. They are applied inside the step, as scheduled
   * events are, so their events appear in the step's state. Returns them with the twin time they
   * were scheduled at, for the caller's replay log.
   */
  scheduleDue(twin: Twin): TwinAction[] {
    if (this.state !== 'playing') return [];
    const now_s = twin.state.t_s;
    const actions: TwinAction[] = [];
    if (this.initialPending) {
      this.initialPending = false;
      actions.push(...initialActions(this.scenario));
    }
    const elapsed = this.scenarioTime(now_s);
    // Twin time of scenario time 0 had the scenario never been paused.
    const shiftedOrigin = this.origin_s + (now_s - this.origin_s - elapsed);
    const end = elapsed + twin.dt_s - 1e-9;
    while (this.nextEvent < this.events.length && this.events[this.nextEvent].at < end) {
      const { at, action } = this.events[this.nextEvent++];
      // A main-grid disturbance starts at its own time on the twin's clock, as when scheduled.
      actions.push(action.kind === 'grid-disturbance' ? { ...action, start_s: shiftedOrigin + at } : action);
    }
    for (const action of actions) twin.scheduleAt(now_s, action);
    return actions;
  }

  /** Feeds a step's state to the assertions; returns the verdict when the scenario has ended. */
  observe(state: TwinState, twin: Twin): ScenarioVerdict | undefined {
    if (this.state !== 'playing') return undefined;
    this.assertions.update(state, twin);
    this.played_s = this.scenarioTime(state.t_s);
    if (this.played_s < this.scenario.duration_s - 1e-9) return undefined;
    this.state = 'finished';
    const assertions = this.assertions.finish(state, twin);
    return {
      scenario: this.scenario.name,
      passed: assertions.every((o) => o.passed),
      assertions,
      played_s: this.played_s,
    };
  }

  pause(now_s: number): void {
    if (this.state !== 'playing')
      throw new TypeError(`scenario ${this.scenario.name} is ${this.state}, not playing`);
    this.state = 'paused';
    this.pauses.push({ from_s: now_s });
  }

  resume(now_s: number): void {
    if (this.state !== 'paused')
      throw new TypeError(`scenario ${this.scenario.name} is ${this.state}, not paused`);
    this.state = 'playing';
    this.pauses[this.pauses.length - 1].until_s = now_s;
  }

  /** Ends the scenario early: no verdict (its assertions judge the whole scenario). */
  stop(): void {
    this.state = 'stopped';
  }

  /** Scenario seconds played so far. */
  get elapsed_s(): number {
    return this.played_s;
  }
}

/** The timeline event that carries a verdict (`data` holds the ScenarioVerdict). */
export function verdictEvent(verdict: ScenarioVerdict, t_s: number): TwinEvent {
  const failed = verdict.assertions.filter((o) => !o.passed);
  const n = verdict.assertions.length;
  return {
    t_s,
    kind: 'scenario-verdict',
    target: verdict.scenario,
    message: verdict.passed
      ? `${verdict.scenario} passed (${n}/${n} assertions)`
      : `${verdict.scenario} failed (${n - failed.length}/${n} assertions passed; failed: ${failed.map((o) => o.name).join(', ')})`,
    data: { ...verdict },
  };
}
