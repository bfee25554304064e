/**
 * The embedded default: a pool of worker processes on this machine (one per core unless told
 * otherwise), each running one campaign run at a time. A worker that dies mid-run (crash, OOM,
 * SIGKILL) is replaced and its run tried again, up to the campaign's retries; a run that kills its
 * worker every time becomes an error result saying so.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { errorResult, type RunResult } from './execute.ts';
import type { RunSpec } from './load.ts';

export interface PoolRequest {
  spec: RunSpec;
  workDir: string;
  columns: string[];
  attempt: number;
}
export type PoolReply = { id: string; result: RunResult } | { ready: true };

/** How a campaign's runs get done: the embedded pool or BullMQ (bench/campaigns/redis.ts). */
export interface RunBackend {
  /** Runs every spec; `onResult` once per run with its final result. Resolves when all are in. */
  run(
    specs: readonly RunSpec[],
    hooks: { onStart(id: string): void; onResult(result: RunResult): Promise<void> },
  ): Promise<void>;
  close(): Promise<void>;
}

export interface PoolOptions {
  workDir: string;
  columns: string[];
  /** Worker processes. @default the machine's available parallelism */
  workers?: number;
  /** Further attempts after a worker died mid-run. @default 2 */
  retries?: number;
}

interface Slot {
  child: ChildProcess;
  ready: Promise<void>;
  busy?: { spec: RunSpec; attempt: number; done: (reply: RunResult | { died: string }) => void };
  /** Taken by a runOne call (between choosing the slot and handing it the run). */
  claimed?: boolean;
}

export class WorkerPool implements RunBackend {
  readonly size: number;
  private readonly slots: Slot[] = [];
  private closed = false;
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly options: PoolOptions) {
    this.size = Math.max(1, options.workers ?? availableParallelism());
  }

  private spawn(): Slot {
    const child = fork(new URL('./worker-process.mjs', import.meta.url), [], {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      execArgv: [],
    });
    const slot: Slot = { child, ready: Promise.resolve() };
    slot.ready = new Promise((resolve, reject) => {
      child.once('error', reject);
      child.on('message', (m: PoolReply) => {
        if ('ready' in m) return resolve();
        const busy = slot.busy;
        slot.busy = undefined;
        busy?.done(m.result);
      });
      child.once('exit', (code, signal) => {
        reject(new Error(`campaign worker exited with ${signal ?? code} before it was ready`));
        const busy = slot.busy;
        slot.busy = undefined;
        busy?.done({ died: `worker process ${child.pid} died (${signal ?? `exit ${code}`})` });
        const i = this.slots.indexOf(slot);
        if (i >= 0 && !this.closed) this.slots[i] = this.spawn();
        this.waiting.shift()?.();
      });
    });
    slot.ready.catch(() => {});
    return slot;
  }

  /** Starts every worker process and waits until each is ready (tsx has compiled the sources). */
  async warm(): Promise<void> {
    while (this.slots.length < this.size) this.slots.push(this.spawn());
    await Promise.all(this.slots.map((s) => s.ready));
  }

  /** The pool's worker processes (tests kill one to see its run retried). */
  get pids(): number[] {
    return this.slots.map((s) => s.child.pid!).filter(Boolean);
  }

  /**
   * Runs one spec on a free worker process: its result, or why the process died under it.
   * At most `size` at once; callers beyond that wait for a process.
   */
  async runOne(
    spec: RunSpec,
    attempt: number,
    where: { workDir: string; columns: string[] } = this.options,
    onHandedOver?: () => void,
  ): Promise<RunResult | { died: string }> {
    while (this.slots.length < this.size) this.slots.push(this.spawn());
    for (;;) {
      if (this.closed) return { died: 'pool closed' };
      const slot = this.slots.find((s) => !s.busy && !s.claimed);
      if (!slot) {
        await new Promise<void>((resolve) => this.waiting.push(resolve));
        continue;
      }
      slot.claimed = true;
      try {
        await slot.ready;
      } catch {
        // Died before it was ready: its replacement is in the slot now.
        slot.claimed = false;
        continue;
      }
      try {
        return await new Promise<RunResult | { died: string }>((done) => {
          slot.busy = { spec, attempt, done };
          slot.child.send({
            spec,
            workDir: where.workDir,
            columns: where.columns,
            attempt,
          } satisfies PoolRequest);
          onHandedOver?.();
        });
      } finally {
        slot.claimed = false;
        this.waiting.shift()?.();
      }
    }
  }

  async run(
    specs: readonly RunSpec[],
    hooks: { onStart(id: string): void; onResult(result: RunResult): Promise<void> },
  ): Promise<void> {
    const retries = this.options.retries ?? 2;
    const queue = specs.map((spec) => ({ spec, attempt: 1 }));
    // Results are stored while the worker process already runs its next run: storing one (a file
    // write, the progress line) must not leave a core idle.
    const storing: Promise<void>[] = [];
    const lane = async (): Promise<void> => {
      for (;;) {
        const next = queue.shift();
        if (!next || this.closed) return;
        const reply = await this.runOne(next.spec, next.attempt, this.options, () =>
          hooks.onStart(next.spec.id),
        );
        if (this.closed) return;
        if (!('died' in reply)) {
          storing.push(hooks.onResult(reply));
        } else if (next.attempt <= retries) {
          queue.push({ spec: next.spec, attempt: next.attempt + 1 });
        } else {
          await hooks.onResult(
            errorResult(
              next.spec,
              this.options.columns,
              `${reply.died} on each of ${next.attempt} attempts`,
              'pool',
              next.attempt,
            ),
          );
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.size, specs.length) }, lane));
    await Promise.all(storing);
  }

  /** Stops at once: every worker process is killed, runs in progress with it. */
  kill(): void {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake();
    for (const s of this.slots)
      if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.waiting.splice(0)) wake();
    await Promise.all(
      this.slots.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (s.child.exitCode !== null || s.child.signalCode !== null) return resolve();
            s.child.once('exit', () => resolve());
            s.child.disconnect?.();
            setTimeout(() => s.child.kill('SIGKILL'), 5000).unref();
          }),
      ),
    );
  }
}
