import { type ChildProcess, fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import type { TwinCommand, TwinEvent } from '../../twin/api.ts';
import type { ControllerInput } from '../../twin/control/contract.ts';
import type { HostToLoop, LoopConfig, LoopToHost, ScenarioAction } from './messages.ts';

/** A command or scenario request made before the loop is stepping: refused, nothing done. */
export class LoopNotReadyError extends Error {
  constructor() {
    super('the real-time loop is still starting: nothing was done; send it again once the run is running');
    this.name = 'LoopNotReadyError';
  }
}

export interface RealtimeRunEvents {
  message: [LoopToHost];
}

/**
 * The real-time loop as seen from the bench's main process: a child process that paces the twin
 * and talks to the devices (see loop-process.ts for why a process), posting batches of snapshots,
 * events and captured frames over IPC.
 */
export class RealtimeRun extends EventEmitter<RealtimeRunEvents> {
  private readonly child: ChildProcess;
  /** Resolves with the loop's final message ('stopped' or 'error'). */
  readonly finished: Promise<Extract<LoopToHost, { type: 'stopped' | 'error' }>>;
  /** Resolves once the twin is built and the device links are open. */
  readonly ready: Promise<void>;

  constructor(config: LoopConfig) {
    super();
    this.child = fork(new URL('./loop-process.mjs', import.meta.url), [], {
      serialization: 'advanced',
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.send(config);
    this.finished = new Promise((resolve) => {
      let settled = false;
      this.child.on('message', (raw) => {
        const message = raw as LoopToHost;
        this.emit('message', message);
        this.settleCommands(message);
        if (!settled && (message.type === 'stopped' || message.type === 'error')) {
          settled = true;
          resolve(message);
        }
      });
      this.child.on('error', (err) => {
        if (!settled) {
          settled = true;
          resolve({ type: 'error', message: err.message });
        }
      });
      this.child.on('exit', (code, signal) => {
        if (!settled) {
          settled = true;
          resolve({ type: 'error', message: `real-time loop process exited (${signal ?? `code ${code}`})` });
        }
      });
    });
    this.finished.then(() => this.failPendingCommands());
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (message: LoopToHost) => {
        if (message.type === 'ready') {
          this.off('message', onMessage);
          this.loopReady = true;
          resolve();
        }
      };
      this.on('message', onMessage);
      this.finished.then((end) =>
        reject(new Error(end.type === 'error' ? end.message : 'real-time loop stopped before it was ready')),
      );
    });
    this.ready.catch(() => {});
  }

  private nextCommandId = 1;
  private loopReady = false;
  private loopEnded = false;

  /** True once the loop is stepping (after `ready`): commands are taken from then on. */
  get isReady(): boolean {
    return this.loopReady;
  }
  private readonly pendingCommands = new Map<
    number,
    { resolve: (event: TwinEvent) => void; reject: (err: Error) => void }
  >();

  /**
   * Applies a command at the next step boundary. Resolves with the event the twin raised;
   * rejects with the twin's reason when it refuses (unknown id, value out of range), and at once
   * with a LoopNotReadyError before the loop is ready.
   */
  command(command: TwinCommand): Promise<TwinEvent> {
    return this.request((id) => ({ type: 'command', id, command }));
  }

  /**
   * Starts (from a scenario file), pauses, resumes or stops the loop's scenario player. Resolves
   * with the timeline event; rejects with the reason when refused (unreadable or unplayable file,
   * nothing playing, one already playing).
   */
  scenario(action: ScenarioAction, file?: string): Promise<TwinEvent> {
    return this.request((id) => ({ type: 'scenario', id, action, ...(file === undefined ? {} : { file }) }));
  }

  /**
   * Hands a message to the hosted controllers (`Controller.input`, e.g. a prosumer's preferences).
   * Not acknowledged: a controller that refuses it says so in the run's events. Ignored before the
   * loop is ready or after it ended (returns false then).
   */
  controllerInput(message: ControllerInput): boolean {
    if (!this.loopReady || this.loopEnded) return false;
    this.post({ type: 'controller-input', message });
    return true;
  }

  private request(message: (id: number) => HostToLoop): Promise<TwinEvent> {
    const id = this.nextCommandId++;
    return new Promise((resolve, reject) => {
      if (this.loopEnded) {
        reject(new Error('the real-time loop has stopped'));
        return;
      }
      // Refused at once rather than queued behind a start that may take seconds (or fail).
      if (!this.loopReady) {
        reject(new LoopNotReadyError());
        return;
      }
      this.pendingCommands.set(id, { resolve, reject });
      this.post(message(id));
    });
  }

  /** Settles the command a result belongs to; at the loop's end, fails every command still waiting. */
  private settleCommands(message: LoopToHost): void {
    if (message.type === 'command-result') {
      const pending = this.pendingCommands.get(message.id);
      if (!pending) return;
      this.pendingCommands.delete(message.id);
      if (message.ok) pending.resolve(message.event);
      else pending.reject(new TypeError(message.error));
    }
  }

  private failPendingCommands(): void {
    this.loopEnded = true;
    for (const pending of this.pendingCommands.values())
      pending.reject(new Error('the real-time loop has stopped'));
    this.pendingCommands.clear();
  }

  private post(message: HostToLoop): void {
    if (this.child.connected) this.child.send(message);
  }

  /**
   * Asks the loop to stop and waits for it; kills it if it does not stop within 5 s (30 s while
   * it is still starting: loading, building the twin and opening ports come before it can stop).
   */
  async stop(): Promise<void> {
    this.post({ type: 'stop' });
    const timeout = setTimeout(() => this.child.kill('SIGKILL'), this.loopReady ? 5000 : 30_000);
    await this.finished;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await new Promise((resolve) => this.child.once('exit', resolve));
    }
    clearTimeout(timeout);
  }
}
