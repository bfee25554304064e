/**
 * Hosts the run's controllers off the loop's step path (docs/bench.md, "Controllers"). Each
 * controller lives in a worker thread of its own (worker.ts). After a step, a controller whose
 * period has come and that is not still deciding gets the state (structured clone: a snapshot);
 * its answer waits until the next step boundary, where `applyDecisions` hands it to the twin's
 * `applyActions` (ownership checked there). A slow controller makes only its own actions late:
 * while it decides, its next periods are skipped, never waited for.
 *
 * A controller that throws, answers with something that is not a list of actions, or does not
 * answer within its timeout never stops the loop: it is reported as a twin event and its actions
 * are dropped (a hung one is stopped; one that throws is asked again next period).
 */
import { Worker } from 'node:worker_threads';
import type { TwinEvent, TwinState } from '../../../twin/api.ts';
import type {
  ActuatorRef,
  ControllableTwin,
  ControllerAction,
  ControllerInput,
  ControllerTelemetry,
  RefusedAction,
} from '../../../twin/control/contract.ts';
import { isBuiltIn } from '../../../twin/stages/actuators.ts';
import type { ControllerToHost, ControllerWorkerData, HostToController } from './messages.ts';
import type { ControllerSpec } from './spec.ts';

/** What a hosted controller did over the run (the loop's final report). */
export interface HostedControllerStats {
  id: string;
  /** Decisions applied (empty ones included). */
  decisions: number;
  /** Actions the twin accepted. */
  applied: number;
  /** Periods skipped because the previous decision was still running. */
  skipped: number;
  /** Decisions dropped: decide() threw, or answered garbage. */
  dropped: number;
  /** Actions the twin refused (not the owner, latched, unknown actuator, bad value). */
  refused: number;
  /** Longest decide() call, ms of wall time. */
  decide_ms_max: number;
  /** Why it was stopped during the run (hung, its worker died); absent while it ran to the end. */
  stopped?: string;
}

/** A hosted controller's report after one applied decision (`Controller.telemetry`). */
export interface HostedTelemetry {
  controller: string;
  telemetry: ControllerTelemetry;
}

/** How long a controller may take to load and attach before the run refuses to start. */
const START_TIMEOUT_MS = 60_000;
/** At most one event of a kind per controller per this many ms of wall time (the rest counted). */
const REPORT_EVERY_MS = 1000;

const ACTION_KINDS = new Set(['der-setpoint', 'fid-setpoint', 'breaker', 'load-curtail']);

/** Why `value` is not a list of controller actions, or undefined when it is one. */
export function actionsProblem(value: unknown): string | undefined {
  if (!Array.isArray(value)) return `expected a list of actions, got ${typeof value}`;
  for (let i = 0; i < value.length; i++) {
    const a = value[i] as Record<string, unknown> | null;
    const at = `action ${i}`;
    if (typeof a !== 'object' || a === null) return `${at}: not an object`;
    if (typeof a.kind !== 'string' || !ACTION_KINDS.has(a.kind))
      return `${at}: unknown kind ${JSON.stringify(a.kind)} (der-setpoint, fid-setpoint, breaker, load-curtail)`;
    if (typeof a.id !== 'string' || a.id === '') return `${at} (${a.kind}): id must be a non-empty string`;
    const finite = (key: string, required: boolean) =>
      a[key] === undefined
        ? required
          ? `${at} (${a.kind} ${a.id}): ${key} is missing`
          : undefined
        : typeof a[key] === 'number' && Number.isFinite(a[key])
          ? undefined
          : `${at} (${a.kind} ${a.id}): ${key} must be a finite number`;
    const problem =
      a.kind === 'der-setpoint'
        ? (finite('p_mw', false) ??
          finite('q_mvar', false) ??
          (a.p_mw === undefined && a.q_mvar === undefined
            ? `${at} (der-setpoint ${a.id}): no p_mw or q_mvar`
            : undefined))
        : a.kind === 'fid-setpoint'
          ? (finite('p_mw', true) ??
            finite('ramp_s', false) ??
            (((a.ramp_s as number | undefined) ?? 0) < 0
              ? `${at} (fid-setpoint ${a.id}): ramp_s must be ≥ 0`
              : undefined))
          : a.kind === 'breaker'
            ? typeof a.closed === 'boolean'
              ? undefined
              : `${at} (breaker ${a.id}): closed must be true or false`
            : (finite('fraction', true) ??
              ((a.fraction as number) >= 0 && (a.fraction as number) <= 1
                ? undefined
                : `${at} (load-curtail ${a.id}): fraction must be within 0…1`));
    if (problem) return problem;
  }
  return undefined;
}

class HostedController {
  readonly stats: HostedControllerStats;
  private seq = 0;
  /** Wall time the decision in flight was asked for; undefined while idle. */
  private askedAt: number | undefined;
  private nextDue_s = 0;
  private answer: Extract<ControllerToHost, { type: 'decided' | 'threw' }> | undefined;
  private readonly lastReport = new Map<string, { at: number; suppressed: number }>();
  private readonly onExit = (code: number) =>
    this.stop('controller-failed', `its worker exited (code ${code})`);

  constructor(
    readonly spec: ControllerSpec,
    private readonly worker: Worker,
    readonly period_s: number,
    readonly claims: readonly ActuatorRef[],
    private readonly timeout_ms: number,
    private readonly notices: TwinEvent[],
    private readonly now_s: () => number,
    private readonly telemetry: HostedTelemetry[],
  ) {
    this.stats = {
      id: spec.id,
      decisions: 0,
      applied: 0,
      skipped: 0,
      dropped: 0,
      refused: 0,
      decide_ms_max: 0,
    };
    worker.on('message', (message: ControllerToHost) => {
      if (this.stats.stopped) return;
      if (message.type === 'input-refused') {
        this.report('controller-input-refused', `input refused: ${message.message}`);
        return;
      }
      if ((message.type === 'decided' || message.type === 'threw') && message.seq === this.seq) {
        this.answer = message;
        this.askedAt = undefined;
      }
    });
    worker.on('error', (err) => this.stop('controller-failed', `its worker failed: ${err.message}`));
    worker.on('exit', this.onExit);
  }

  get hasAnswer(): boolean {
    return this.answer !== undefined;
  }

  /** Asks for a decision when one is due and none is running; declares the controller hung. */
  afterStep(state: TwinState): void {
    if (this.stats.stopped) return;
    if (this.askedAt !== undefined) {
      if (performance.now() - this.askedAt > this.timeout_ms) {
        this.stop(
          'controller-hung',
          `no decision within ${this.timeout_ms / 1000} s: stopped, its actions dropped`,
        );
      } else if (state.t_s + 1e-9 >= this.nextDue_s) {
        this.stats.skipped++;
        this.nextDue_s = state.t_s + this.period_s;
      }
      return;
    }
    if (state.t_s + 1e-9 < this.nextDue_s || this.answer) return;
    this.nextDue_s = state.t_s + this.period_s;
    this.askedAt = performance.now();
    this.post({ type: 'decide', seq: ++this.seq, state });
  }

  /** Applies the decision that arrived since the last step, if any. */
  applyDecision(twin: ControllableTwin, onApplied: (action: ControllerAction) => void): void {
    const answer = this.answer;
    if (!answer || this.stats.stopped) return;
    this.answer = undefined;
    if (answer.type === 'threw') {
      this.stats.dropped++;
      this.report('controller-error', `decide() threw: ${answer.message}; its actions dropped`);
      return;
    }
    if (answer.decide_ms > this.stats.decide_ms_max) this.stats.decide_ms_max = answer.decide_ms;
    const problem = actionsProblem(answer.actions);
    if (problem) {
      this.stats.dropped++;
      this.report('controller-garbage', `${problem}; the decision dropped`);
      return;
    }
    this.stats.decisions++;
    // Bounded: at most one record per decision, drained with every batch (~50 Hz).
    if (answer.telemetry && this.telemetry.length < 1000)
      this.telemetry.push({ controller: this.spec.id, telemetry: answer.telemetry });
    if (answer.actions.length === 0) return;
    const refused = twin.applyActions(this.spec.id, answer.actions);
    this.stats.applied += answer.actions.length - refused.length;
    if (refused.length === 0) {
      for (let i = 0; i < answer.actions.length; i++) onApplied(answer.actions[i]);
      return;
    }
    const refusedSet = new Set(refused.map((r) => r.action));
    for (const action of answer.actions) if (!refusedSet.has(action)) onApplied(action);
    this.stats.refused += refused.length;
    this.report(
      'controller-refused',
      refused
        .map((r: RefusedAction) => `${r.action.kind} ${r.action.id}: ${r.reason}: ${r.message}`)
        .join('; '),
    );
    this.post({ type: 'feedback', refused, events: [] });
  }

  /** Hands a message from outside the twin to the controller (`Controller.input`). */
  input(message: ControllerInput): void {
    if (!this.stats.stopped) this.post({ type: 'input', message });
  }

  /** Stops the controller for the rest of the run (hung, or its worker died) and says why. */
  stop(kind: string, why: string): void {
    if (this.stats.stopped) return;
    this.stats.stopped = why;
    this.answer = undefined;
    this.report(kind, why, true);
    this.worker.terminate().catch(() => {});
  }

  async close(): Promise<void> {
    if (this.stats.stopped) return;
    this.stats.stopped = 'run ended';
    this.worker.off('exit', this.onExit);
    // detach() gets a moment to begin; a controller still deciding is cut off. One that has begun
    // (an asynchronous detach: the market writing its chain) gets its decision timeout to finish.
    const exited = new Promise((resolve) => this.worker.once('exit', resolve));
    const terminate = () => this.worker.terminate().catch(() => {});
    let cut = setTimeout(terminate, 200);
    const onMessage = (m: ControllerToHost) => {
      if (m.type !== 'detaching') return;
      clearTimeout(cut);
      cut = setTimeout(terminate, this.timeout_ms);
    };
    this.worker.on('message', onMessage);
    this.post({ type: 'detach' });
    await exited;
    clearTimeout(cut);
    this.worker.off('message', onMessage);
  }

  private post(message: HostToController): void {
    try {
      this.worker.postMessage(message);
    } catch (err) {
      this.stop('controller-failed', `cannot be sent the state: ${(err as Error).message}`);
    }
  }

  /** One event now, unless one of this kind went out less than REPORT_EVERY_MS ago (counted then). */
  private report(kind: string, message: string, always = false): void {
    const now = performance.now();
    const last = this.lastReport.get(kind);
    if (!always && last && now - last.at < REPORT_EVERY_MS) {
      last.suppressed++;
      return;
    }
    const more = last && last.suppressed > 0 ? ` (${last.suppressed} more like it not reported)` : '';
    this.lastReport.set(kind, { at: now, suppressed: 0 });
    this.notices.push({
      t_s: this.now_s(),
      kind,
      message: `controller ${this.spec.id}: ${message}${more}`,
      target: this.spec.id,
    });
  }
}

/** Starts one controller's worker and waits until it is built and attached. */
async function startWorker(
  spec: ControllerSpec,
  twin: ControllableTwin,
  runDir: string | undefined,
): Promise<{ worker: Worker; period_s: number; claims: ActuatorRef[] }> {
  const workerData: ControllerWorkerData = {
    module: spec.module,
    id: spec.id,
    options: spec.options ?? {},
    catalog: twin.catalog(),
    ...(runDir ? { runDir } : {}),
  };
  const worker = new Worker(new URL('./worker.mjs', import.meta.url), { workerData });
  worker.unref();
  const ready = await new Promise<Extract<ControllerToHost, { type: 'ready' }>>((resolve, reject) => {
    const onMessage = (m: ControllerToHost) => {
      if (m.type === 'ready') settle(undefined, m);
      else if (m.type === 'failed') settle(new Error(m.message));
    };
    const onError = (err: Error) => settle(err);
    const onExit = (code: number) =>
      settle(new Error(`its worker exited (code ${code}) before it was ready`));
    const timer = setTimeout(
      () => settle(new Error(`not ready within ${START_TIMEOUT_MS / 1000} s`)),
      START_TIMEOUT_MS,
    );
    // Only our own listeners come off: removeAllListeners() would also cut the worker's message port.
    const settle = (err?: Error, message?: Extract<ControllerToHost, { type: 'ready' }>) => {
      clearTimeout(timer);
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
      if (err) reject(err);
      else resolve(message!);
    };
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
  }).catch(async (err: Error) => {
    await worker.terminate();
    throw err;
  });
  return { worker, period_s: ready.period_s, claims: ready.claims };
}

export class ControllerHost {
  private readonly notices: TwinEvent[] = [];
  private readonly telemetry: HostedTelemetry[] = [];
  private readonly hosted: HostedController[] = [];
  private t_s = 0;

  private constructor(private readonly twin: ControllableTwin) {}

  /**
   * Loads every controller (each in its own worker) and claims its actuators. Throws, with every
   * worker stopped again, when one cannot be loaded or claims an actuator another one drives:
   * the run is refused before its first step.
   */
  static async start(
    specs: readonly ControllerSpec[],
    twin: ControllableTwin,
    context: { runDir?: string } = {},
  ): Promise<ControllerHost> {
    const host = new ControllerHost(twin);
    const started = await Promise.allSettled(specs.map((spec) => startWorker(spec, twin, context.runDir)));
    const stopAll = () =>
      Promise.all(started.map((s) => s.status === 'fulfilled' && s.value.worker.terminate()));
    for (let i = 0; i < specs.length; i++) {
      const spec = specs[i];
      const s = started[i];
      const name = `controller '${spec.id}' (${spec.module})`;
      if (s.status === 'rejected') {
        await stopAll();
        for (const h of host.hosted) twin.ownership.release(h.spec.id);
        throw new TypeError(`${name}: ${(s.reason as Error).message}`);
      }
      try {
        // As in `simulate` (twin.ts attachDeclared): a declared controller takes what it claims
        // from the built-ins (the microgrids' EMS, secondary control); from another declared one, never.
        for (const ref of s.value.claims) {
          const holder = twin.ownership.ownerOf(ref);
          if (holder === undefined || !isBuiltIn(holder)) continue;
          twin.ownership.handOver(ref, holder, spec.id);
          host.notices.push({
            t_s: 0,
            kind: 'hand-over',
            message: `${ref.kind}:${ref.id} handed over from ${holder} to ${spec.id}`,
            target: ref.id,
          });
        }
        twin.ownership.claim(spec.id, s.value.claims);
      } catch (err) {
        await stopAll();
        for (const h of host.hosted) twin.ownership.release(h.spec.id);
        throw new TypeError(`${name}: ${(err as Error).message}`);
      }
      const timeout_ms = (spec.timeout_s ?? Math.max(2, 10 * s.value.period_s)) * 1000;
      host.hosted.push(
        new HostedController(
          spec,
          s.value.worker,
          s.value.period_s,
          s.value.claims,
          timeout_ms,
          host.notices,
          () => host.t_s,
          host.telemetry,
        ),
      );
    }
    return host;
  }

  /**
   * Between two steps: applies every decision that has arrived (in declaration order), calls
   * `onApplied` for each action the twin accepted (the loop forwards set-points of linked
   * devices to them), and moves reports into `events`.
   */
  applyDecisions(events: TwinEvent[], onApplied: (action: ControllerAction) => void): void {
    for (let i = 0; i < this.hosted.length; i++) {
      if (this.hosted[i].hasAnswer) this.hosted[i].applyDecision(this.twin, onApplied);
    }
    if (this.notices.length > 0) {
      for (let i = 0; i < this.notices.length; i++) events.push(this.notices[i]);
      this.notices.length = 0;
    }
  }

  /** After a step: hands the state to every controller whose period has come. */
  afterStep(state: TwinState): void {
    this.t_s = state.t_s;
    for (let i = 0; i < this.hosted.length; i++) this.hosted[i].afterStep(state);
  }

  /** Moves the controllers' telemetry since the last call into `out` (the loop's next batch). */
  drainTelemetry(out: HostedTelemetry[]): void {
    for (let i = 0; i < this.telemetry.length; i++) out.push(this.telemetry[i]);
    this.telemetry.length = 0;
  }

  /** Hands a message from outside the twin to every controller (each ignores kinds it does not know). */
  input(message: ControllerInput): void {
    for (const h of this.hosted) h.input(message);
  }

  get stats(): HostedControllerStats[] {
    return this.hosted.map((h) => ({ ...h.stats }));
  }

  /** Detaches every controller and stops its worker; reports still waiting go into `events`. */
  async close(events: TwinEvent[]): Promise<void> {
    await Promise.all(this.hosted.map((h) => h.close()));
    for (const h of this.hosted) this.twin.ownership.release(h.spec.id);
    events.push(...this.notices.splice(0));
  }
}
