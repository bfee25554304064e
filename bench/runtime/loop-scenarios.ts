/**
 * Scenario control inside the real-time loop process: the run's own scenario (played from the
 * first step; the run ends with it) and the scenarios the bench starts, pauses, resumes and stops
 * over IPC, each played by a ScenarioPlayer on the loop's twin. Requests wait for the next step
 * boundary, like commands; scenario files are read and checked off the step path.
 */
import type { TwinEvent, TwinState } from '../../twin/api.ts';
import type { AssertionOutcome } from '../../twin/scenario/assertions.ts';
import { loadScenario, type Scenario } from '../../twin/scenario/load.ts';
import { ScenarioPlayer, unplayableReason, verdictEvent } from '../../twin/scenario/player.ts';
import type { Twin, TwinAction } from '../../twin/twin.ts';
import type { ReplayLogWriter } from '../recording/replay-log.ts';
import type { HostToLoop, LoopToHost, ScenarioAction, ScenarioStatus } from './messages.ts';

type ScenarioRequest = Extract<HostToLoop, { type: 'scenario' }>;

/**
 * Why a bench refuses to play a scenario live although its twin could: a `security:` section.
 * Its verdict depends on detectors configured as the file says, watching from the first step with
 * nothing but the scripted attacks acting, and judged over the whole run (detection delay, false
 * alarms); a live bench has its own detectors, already running, and operators acting at will, so
 * a verdict there would not be the one the file promises. `gridloop attack` runs it.
 */
export function securityRefusal(s: Scenario): string | undefined {
  if ((s as Scenario & { security?: unknown }).security === undefined) return undefined;
  return `it has a security section (attacks, detectors and the verdict they must reach), which the live player does not run: run it with \`gridloop attack ${s.file}\``;
}

export class LoopScenarios {
  private player: ScenarioPlayer | undefined;
  private file: string;
  private readonly pending: { id: number; action: ScenarioAction; loaded?: Scenario }[] = [];
  /** Assertion outcomes of the run's own scenario, once it has finished. */
  ownVerdict: AssertionOutcome[] | undefined;

  constructor(
    private readonly twin: Twin,
    /** The run's own scenario and its file, when the run is a scenario run. */
    private readonly own: { scenario: Scenario; file: string } | undefined,
    /** The grid file the twin was built from (resolved path): scenarios must be written for it. */
    private readonly runGrid: string,
    private readonly post: (message: LoopToHost) => void,
  ) {
    this.player = own ? new ScenarioPlayer(own.scenario, twin) : undefined;
    this.file = own?.file ?? '';
  }

  /** Takes a request from the bench; a start is queued once its file is read and playable. */
  request(message: ScenarioRequest): void {
    if (message.action !== 'start') {
      this.pending.push(message);
      return;
    }
    const refuse = (error: string) => this.post({ type: 'command-result', id: message.id, ok: false, error });
    loadScenario(message.file ?? '').then(
      (loaded) => {
        const why = unplayableReason(loaded, this.runGrid) ?? securityRefusal(loaded);
        if (why) refuse(`cannot play ${loaded.name}: ${why}`);
        else this.pending.push({ ...message, loaded });
      },
      (err: Error) => refuse(err.message),
    );
  }

  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** Between steps: carries out the queued requests; their timeline events go to `events`. */
  applyPending(events: TwinEvent[]): void {
    for (const request of this.pending) {
      try {
        const event = this.carryOut(request);
        events.push(event);
        this.post({ type: 'command-result', id: request.id, ok: true, event });
        this.postStatus();
      } catch (err) {
        this.post({ type: 'command-result', id: request.id, ok: false, error: (err as Error).message });
      }
    }
    this.pending.length = 0;
  }

  /**
   * Before a step: schedules on the twin what the scenario has due in it, logs it for replay, and
   * hands each action to `toDevices` (the loop's path to the device links, shared with operator
   * commands), so a scenario's set-point for a hardware device reaches the hardware.
   */
  beforeStep(step: number, replayLog: ReplayLogWriter, toDevices: (action: TwinAction) => void): void {
    if (this.player?.state !== 'playing') return;
    const t_s = this.twin.state.t_s;
    for (const action of this.player.scheduleDue(this.twin)) {
      replayLog.action(step, t_s, action);
      toDevices(action);
    }
  }

  /** After a step: feeds the scenario's assertions; its verdict, when it ends, becomes an event. */
  afterStep(state: TwinState, events: TwinEvent[]): void {
    const verdict = this.player?.observe(state, this.twin);
    if (!verdict) return;
    events.push(verdictEvent(verdict, state.t_s));
    if (this.own && this.player?.scenario === this.own.scenario) this.ownVerdict = verdict.assertions;
    this.postStatus(verdict.passed);
  }

  /** How the run's own scenario ended ('finished' or 'stopped'), or undefined while it plays. */
  get ownEnded(): 'finished' | 'stopped' | undefined {
    const player = this.player;
    if (!this.own || player?.scenario !== this.own.scenario) return undefined;
    return player.state === 'finished' || player.state === 'stopped' ? player.state : undefined;
  }

  /** Tells the bench where the player is (after every change). */
  postStatus(passed?: boolean): void {
    const player = this.player;
    if (!player) return;
    const status: ScenarioStatus = {
      scenario: player.scenario.name,
      file: this.file,
      state: player.state,
      elapsed_s: player.elapsed_s,
      duration_s: player.scenario.duration_s,
      ...(passed === undefined ? {} : { passed }),
    };
    this.post({ type: 'scenario-status', status });
  }

  private carryOut(request: (typeof this.pending)[number]): TwinEvent {
    const t_s = this.twin.state.t_s;
    const event = (kind: string, message: string): TwinEvent => ({
      t_s,
      kind,
      message,
      target: this.player?.scenario.name,
    });
    const player = this.player;
    const busy = player !== undefined && (player.state === 'playing' || player.state === 'paused');
    switch (request.action) {
      case 'start': {
        const next = request.loaded!;
        if (busy) throw new TypeError(`scenario ${player.scenario.name} is ${player.state}: stop it first`);
        this.player = new ScenarioPlayer(next, this.twin);
        this.file = next.file;
        return event('scenario-start', `${next.name} started (${next.duration_s} s)`);
      }
      case 'pause':
        if (!player) throw new TypeError('no scenario is playing');
        player.pause(t_s);
        return event('scenario-pause', `${player.scenario.name} paused at ${player.elapsed_s.toFixed(3)} s`);
      case 'resume':
        if (!player) throw new TypeError('no scenario is paused');
        player.resume(t_s);
        return event(
          'scenario-resume',
          `${player.scenario.name} resumed at ${player.elapsed_s.toFixed(3)} s`,
        );
      case 'stop':
        if (!busy) throw new TypeError('no scenario is playing');
        player.stop();
        return event(
          'scenario-stop',
          `${player.scenario.name} stopped at ${player.elapsed_s.toFixed(3)} s, without a verdict`,
        );
    }
  }
}
