/*
 * The real-time loop runs in a process of its own, forked by RealtimeRun. Not a worker thread:
 * serialport's native poller delivers data on the process's default event loop, which aborts
 * Node when the port was opened from a worker. A process also keeps the bench's garbage
 * collection and page serving off the loop's core.
 *
 * `runLoop` composes the parts, each in its own module: the twin (twin-factory.ts), the devices
 * (loop-devices.ts), scenarios (loop-scenarios.ts), hosted controllers (controllers/host.ts), the
 * batches to the host (loop-outbox.ts) and the timing (loop-timing.ts). `stepOnce` is the step.
 */
import { resolve } from 'node:path';
import type { TwinCommand, TwinEvent, TwinState } from '../../twin/api.ts';
import { endedLiveAttacks } from '../../twin/attacks/live.ts';
import type { ControllerAction } from '../../twin/control/contract.ts';
import type { Twin, TwinAction } from '../../twin/twin.ts';
import { LiveDetectors } from '../attacks/live-detectors.ts';
import { ReplayLogWriter } from '../recording/replay-log.ts';
import { ControllerHost } from './controllers/host.ts';
import { twinActionOf } from './controllers/twin-action.ts';
import { LoopDevices } from './loop-devices.ts';
import { LoopOutbox } from './loop-outbox.ts';
import { LoopScenarios } from './loop-scenarios.ts';
import { applyRealtimeScheduling, warmUp } from './loop-startup.ts';
import { LoopTiming } from './loop-timing.ts';
import type { HostToLoop, LoopConfig, LoopToHost } from './messages.ts';
import { Pacer } from './pacer.ts';
import { createRunTwin } from './twin-factory.ts';

if (!process.send) throw new Error('loop-process must be forked with an IPC channel (RealtimeRun does this)');
const post = (message: LoopToHost) => process.send?.(message);

type StopReason = 'requested' | 'duration' | 'overrun';

/**
 * Live attack detectors for the run. Built before any command can launch an attack, so live
 * attacks may target their telemetry. A detector that cannot be built (an island it cannot
 * estimate) is reported, never fatal.
 */
function startDetectors(twin: Twin, config: LoopConfig): { detectors?: LiveDetectors; problem?: string } {
  try {
    return config.detectors?.estimation ? { detectors: new LiveDetectors(twin, config.detectors) } : {};
  } catch (err) {
    return { problem: (err as Error).message };
  }
}

/**
 * Operator commands from the host. They wait for the next step boundary, so a step never sees a
 * half-applied change; each one's result goes back to the host by its id.
 */
class CommandQueue {
  private readonly pending: { id: number; command: TwinCommand }[] = [];

  constructor(
    private readonly twin: Twin,
    private readonly toDevices: (action: TwinAction) => ReturnType<LoopDevices['apply']>,
    private readonly replayLog: ReplayLogWriter,
  ) {}

  push(message: { id: number; command: TwinCommand }): void {
    this.pending.push(message);
  }

  get hasPending(): boolean {
    return this.pending.length > 0;
  }

  /** Applies the queued commands before step `step`: devices first, then the twin. */
  applyPending(step: number, events: TwinEvent[]): void {
    for (const { id, command } of this.pending) {
      try {
        const result = this.toDevices(command);
        const event = this.twin.command(command);
        if (result && result.limited.length > 0) event.message += ` (safety: ${result.limited.join('; ')})`;
        this.replayLog.command(step, command);
        events.push(event);
        post({ type: 'command-result', id, ok: true, event });
      } catch (err) {
        post({ type: 'command-result', id, ok: false, error: (err as Error).message });
      }
    }
    this.pending.length = 0;
  }
}

async function runLoop(config: LoopConfig): Promise<void> {
  const { twin, scenario } = await createRunTwin(config.twin, config.devices);
  await warmUp(config);
  for (const item of config.schedule ?? []) twin.scheduleAt(item.t_s, item.action);
  const devices = new LoopDevices(config.devices);
  await devices.open(twin);
  const { detectors, problem: detectorProblem } = startDetectors(twin, config);
  let controllers: ControllerHost | undefined;
  try {
    if (config.controllers?.length)
      controllers = await ControllerHost.start(config.controllers, twin, {
        ...(config.runDir ? { runDir: config.runDir } : {}),
      });
  } catch (err) {
    await devices.close();
    await detectors?.close();
    throw err;
  }
  // What the twin was fed, stamped with steps, and hashes of its outputs: `gridloop replay`.
  const replayLog = new ReplayLogWriter();
  const outbox = new LoopOutbox(post, devices, replayLog, detectors, config.snapshotEvery, controllers);
  const pacer = new Pacer({
    period_ms: config.twin.dt_s * 1000,
    overrunPolicy: config.overrunPolicy,
    spinThreshold_ms: config.pacer?.sleepUntil_ms,
    busySpin_us: config.pacer?.spin_us,
    idleSlice_us: config.pacer?.idleSlice_us,
  });
  const scenarios = new LoopScenarios(
    twin,
    scenario && { scenario, file: config.twin.scenario ?? '' },
    resolve(config.twin.grid),
    post,
  );

  /** Every device request goes through here: an emergency stop also latches the controllers. */
  const toDevices = (action: TwinAction) => {
    if (action.kind === 'emergency-stop') twin.ownership.latch('emergency stop');
    return devices.apply(action);
  };
  const commands = new CommandQueue(twin, toDevices, replayLog);
  /** A scenario's action, due this step: the twin has it scheduled; its devices get it now. */
  const scenarioToDevices = (action: TwinAction) => {
    try {
      toDevices(action);
    } catch (err) {
      const target = action.kind === 'setpoint' ? action.deviceId : undefined;
      outbox.events.push({
        t_s: twin.state.t_s,
        kind: 'setpoint-refused',
        message: `${target}: ${(err as Error).message}`,
        target,
      });
    }
  };
  let step = 0;
  /**
   * A controller's action the twin accepted: logged for replay (as an action due this step), and
   * a linked device's set-point goes to the device too.
   */
  const controllerApplied = (action: ControllerAction) => {
    const twinAction = twinActionOf(action);
    replayLog.action(step, twin.state.t_s, twinAction);
    scenarioToDevices(twinAction);
  };

  let stopRequested = false;
  handleMessage = (message) => {
    if (message?.type === 'stop') {
      stopRequested = true;
      pacer.stop();
    } else if (message?.type === 'command') commands.push(message);
    else if (message?.type === 'scenario') scenarios.request(message);
    else if (message?.type === 'controller-input') controllers?.input(message.message);
  };
  for (const message of earlyMessages.splice(0)) handleMessage(message);

  for (const message of await applyRealtimeScheduling(config.realtime))
    outbox.events.push({ t_s: 0, kind: 'loop-scheduling', message });
  if (detectorProblem)
    outbox.events.push({
      t_s: 0,
      kind: 'detector-failed',
      message: `live detectors off: ${detectorProblem}`,
    });
  post({ type: 'ready' });
  scenarios.postStatus();

  // A scenario run ends with its scenario (which pauses can lengthen), unless given a duration.
  const maxSteps =
    config.duration_s === undefined ? Infinity : Math.round(config.duration_s / config.twin.dt_s);
  let stopReason = 'requested' as StopReason;
  let lastState: TwinState | undefined;
  const timing = new LoopTiming();

  /** One step: what waited for the boundary, the device inputs, the twin, the exchanges. */
  const stepOnce = (index: number): boolean => {
    step = index;
    const events = outbox.events;
    if (commands.hasPending) commands.applyPending(step, events);
    if (scenarios.hasPending) scenarios.applyPending(events);
    controllers?.applyDecisions(events, controllerApplied);
    scenarios.beforeStep(step, replayLog, scenarioToDevices);
    const inputs = devices.readInputs();
    replayLog.inputs(step, inputs);
    const state = twin.step(inputs);
    replayLog.state(step, state);
    lastState = state;
    for (let i = 0; i < state.events.length; i++) events.push(state.events[i]);
    const ended = endedLiveAttacks(twin, state.t_s);
    for (let i = 0; i < ended.length; i++) events.push(ended[i]);
    detectors?.afterStep(state);
    scenarios.afterStep(state, events);
    controllers?.afterStep(state);
    devices.exchange(step, twin);
    const ownEnded = scenarios.ownEnded;
    if (ownEnded) {
      stopReason = ownEnded === 'finished' ? 'duration' : 'requested';
      return false;
    }
    if (step + 1 >= maxSteps) {
      stopReason = 'duration';
      return false;
    }
    return true;
  };

  // A stop that came while the loop was starting ends the run before its first step.
  if (!stopRequested)
    await pacer.run(stepOnce, (stepTiming) => {
      timing.record(stepTiming);
      outbox.afterStep(lastState, stepTiming);
    });
  const summary = timing.finish(pacer.stats, config.twin.dt_s);
  if (config.overrunPolicy === 'stop' && pacer.stats.overruns > 0 && stopReason !== 'duration') {
    stopReason = 'overrun';
  }
  replayLog.finish();
  await detectors?.close();
  await controllers?.close(outbox.events);
  outbox.flush(lastState?.t_s ?? 0);
  const links = devices.stats();
  await devices.close();
  post({
    type: 'stopped',
    reason: stopReason,
    steps: pacer.stats.steps,
    overruns: pacer.stats.overruns,
    timing: summary,
    links,
    ...(controllers ? { controllers: controllers.stats } : {}),
    // Assertions judge a whole scenario: a run stopped early is reported without a verdict.
    assertions: scenarios.ownVerdict,
  });
}

/**
 * The first message is the config; the rest wait in `earlyMessages` until the loop can take them
 * (a message with no listener would be lost: a stop sent while the loop starts must still stop it).
 */
const earlyMessages: HostToLoop[] = [];
let handleMessage: ((message: HostToLoop) => void) | undefined;
let configured = false;
// The parent going away (even by SIGKILL) closes the IPC channel: never outlive it.
process.on('disconnect', () => process.exit(0));
process.on('message', (message: LoopConfig | HostToLoop) => {
  if (configured) {
    if (handleMessage) handleMessage(message as HostToLoop);
    else earlyMessages.push(message as HostToLoop);
    return;
  }
  configured = true;
  runLoop(message as LoopConfig)
    .catch((err: unknown) => {
      post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    })
    .finally(() => process.disconnect?.());
});
