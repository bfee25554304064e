/**
 * Paces fixed steps against the monotonic clock without blocking the event loop for long.
 *
 * Node timers are ~1 ms coarse, so a timer alone cannot hold a 1 kHz loop. A pure spin-wait holds
 * sub-microsecond lateness but starves serial I/O, which is delivered by the same event loop. The
 * pacer sleeps with a timer while the deadline is far, then polls with setImmediate (each turn lets
 * libuv deliver pending I/O) until the last few tens of microseconds, which it busy-waits so the
 * step starts on time even when a poll turn is slow to come back.
 */
export type OverrunPolicy = 'continue' | 'freeze' | 'stop';

export interface PacerOptions {
  /** Step period, milliseconds. */
  period_ms: number;
  /** What to do when a step starts later than a whole period: catch up, re-anchor, or stop. */
  overrunPolicy?: OverrunPolicy;
  /** Below this remaining time the pacer stops sleeping and polls. @default 1.5 */
  spinThreshold_ms?: number;
  /** Below this remaining time the pacer busy-waits (no I/O is serviced then). @default 40 */
  busySpin_us?: number;
  /**
   * While polling, block the thread for up to this long per turn (Atomics.wait, µs-resolution
   * futex sleep) instead of spinning through setImmediate turns. Saves most of a core; I/O that
   * arrives during a slice waits for its end. 0 = pure polling. @default 0
   */
  idleSlice_us?: number;
  /**
   * No idle slice starts this close to the deadline: waking from one takes time (tens of µs on a
   * virtual machine, whose CPU halts), so the last stretch is polled. @default 150
   */
  idleStop_us?: number;
  /** Monotonic clock in milliseconds. @default performance.now */
  now?: () => number;
}

export interface StepTiming {
  /** Index of the step, from 0. */
  step: number;
  /** How late the step started after its deadline, microseconds. */
  lateness_us: number;
  /** How long the step's work took, microseconds. */
  work_us: number;
  /** Overruns so far (steps that started more than one period late). */
  overruns: number;
}

/**
 * Runs `work(step)` once per period until `stop()` is called or `work` returns false.
 * `onTiming` receives each step's timing right after it (keep it cheap).
 */
export class Pacer {
  private readonly period: number;
  private readonly spinThreshold: number;
  private readonly busySpin: number;
  private readonly idleSlice: number;
  private readonly idleStop: number;
  private readonly sleeper = new Int32Array(new SharedArrayBuffer(4));
  private readonly now: () => number;
  private readonly policy: OverrunPolicy;
  private running = false;
  private deadline = 0;
  private stepIndex = 0;
  private overruns = 0;
  private readonly timing: StepTiming = { step: 0, lateness_us: 0, work_us: 0, overruns: 0 };
  private timer: NodeJS.Timeout | undefined;
  private done: (() => void) | undefined;

  constructor(options: PacerOptions) {
    if (!(options.period_ms > 0) || !Number.isFinite(options.period_ms)) {
      throw new TypeError(`Pacer: period_ms must be a positive number, got ${options.period_ms}`);
    }
    this.period = options.period_ms;
    this.spinThreshold = options.spinThreshold_ms ?? 1.5;
    const busySpin_us = options.busySpin_us ?? 40;
    if (!(busySpin_us >= 0)) throw new TypeError(`Pacer: busySpin_us must be ≥ 0, got ${busySpin_us}`);
    this.busySpin = Math.min(busySpin_us / 1000, this.spinThreshold);
    const idleSlice_us = options.idleSlice_us ?? 0;
    if (!(idleSlice_us >= 0)) throw new TypeError(`Pacer: idleSlice_us must be ≥ 0, got ${idleSlice_us}`);
    this.idleSlice = idleSlice_us / 1000;
    const idleStop_us = options.idleStop_us ?? 150;
    if (!(idleStop_us >= 0)) throw new TypeError(`Pacer: idleStop_us must be ≥ 0, got ${idleStop_us}`);
    this.idleStop = Math.max(idleStop_us / 1000, this.busySpin);
    this.now = options.now ?? (() => performance.now());
    this.policy = options.overrunPolicy ?? 'continue';
  }

  /** Starts pacing; resolves when stopped. */
  run(work: (step: number) => boolean | undefined, onTiming?: (t: StepTiming) => void): Promise<void> {
    if (this.running) throw new Error('Pacer: already running');
    this.running = true;
    this.deadline = this.now() + this.period;
    return new Promise<void>((resolve) => {
      this.done = resolve;
      const tick = (): void => {
        if (!this.running) {
          this.finish();
          return;
        }
        let start = this.now();
        const remaining = this.deadline - start;
        if (remaining > this.spinThreshold) {
          this.timer = setTimeout(tick, remaining - this.spinThreshold);
          return;
        }
        if (remaining > this.busySpin) {
          if (this.idleSlice > 0 && remaining > this.idleStop) {
            const slice = Math.min(this.idleSlice, remaining - this.idleStop);
            Atomics.wait(this.sleeper, 0, 0, slice);
          }
          setImmediate(tick);
          return;
        }
        while (start < this.deadline) start = this.now();
        const lateness = start - this.deadline;
        if (lateness >= this.period) {
          this.overruns++;
          if (this.policy === 'stop') {
            this.running = false;
            this.finish();
            return;
          }
          // freeze: the twin does not try to catch up; the schedule restarts from now.
          if (this.policy === 'freeze') this.deadline = start;
        }
        const keepGoing = work(this.stepIndex);
        const end = this.now();
        this.timing.step = this.stepIndex;
        this.timing.lateness_us = lateness * 1000;
        this.timing.work_us = (end - start) * 1000;
        this.timing.overruns = this.overruns;
        onTiming?.(this.timing);
        this.stepIndex++;
        this.deadline += this.period;
        if (keepGoing === false) this.running = false;
        setImmediate(tick);
      };
      tick();
    });
  }

  get stats() {
    return { steps: this.stepIndex, overruns: this.overruns };
  }

  stop(): void {
    this.running = false;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.finish();
    }
  }

  private finish(): void {
    const done = this.done;
    this.done = undefined;
    done?.();
  }
}
