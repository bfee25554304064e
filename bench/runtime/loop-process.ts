import { resolve } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import type { DeviceInput, TwinCommand, TwinEvent, TwinState } from '../../twin/api.ts';
import { endedLiveAttacks } from '../../twin/attacks/live.ts';
import type { DetectorSample } from '../../twin/detection/alarms.ts';
import type { TwinAction } from '../../twin/twin.ts';
import { LiveDetectors } from '../attacks/live-detectors.ts';
import { createDeviceLink } from '../devices/create-link.ts';
import type { DeviceLink } from '../devices/device-link.ts';
import type { LimitResult } from '../devices/safety.ts';
import { SimulatedLink } from '../devices/simulated-link.ts';
import { ReplayLogWriter } from '../recording/replay-log.ts';
import { LoopScenarios } from './loop-scenarios.ts';
import type {
  CapturedFrame,
  HostToLoop,
  LinkEvent,
  LoopConfig,
  LoopToHost,
  Snapshot,
  TimingSummary,
} from './messages.ts';
import { Pacer } from './pacer.ts';
import { copySnapshotOfState } from './snapshot-points.ts';
import { MicrosecondHistogram } from './timing-histogram.ts';
import { createRunTwin } from './twin-factory.ts';

/*
 * The real-time loop runs in a process of its own, forked by RealtimeRun. Not a worker thread:
 * serialport's native poller delivers data on the process's default event loop, which aborts
 * Node when the port was opened from a worker. A process also keeps the bench's garbage
 * collection and page serving off the loop's core.
 */
if (!process.send) throw new Error('loop-process must be forked with an IPC channel (RealtimeRun does this)');
const post = (message: LoopToHost) => process.send?.(message);

/** Batches go to the bench process at ~50 Hz whatever the step. */
const BATCH_PERIOD_MS = 20;

/** chrt/taskset on this process; returns what was done or why not. */
async function applyRealtimeScheduling(realtime: LoopConfig['realtime']): Promise<string[]> {
  if (!realtime || process.platform !== 'linux') return [];
  const { execFile } = await import('node:child_process');
  const run = (cmd: string, args: string[]) =>
    new Promise<string>((resolve) =>
      execFile(cmd, args, (err, _out, stderr) =>
        resolve(err ? `${cmd} failed: ${(stderr || err.message).trim()}` : `${cmd} ${args.join(' ')}: ok`),
      ),
    );
  const notes: string[] = [];
  if (realtime.cpu !== undefined)
    notes.push(await run('taskset', ['-p', '-c', String(realtime.cpu), String(process.pid)]));
  if (realtime.priority !== undefined) {
    notes.push(await run('chrt', ['-f', '-p', String(realtime.priority), String(process.pid)]));
  }
  return notes;
}

/**
 * Steps a throwaway copy of the twin before the clock starts, so V8 compiles the hot paths (power
 * flow, dynamics) then rather than during the first real-time steps, which would otherwise start
 * hundreds of milliseconds late. The run's own twin is untouched (determinism).
 */
async function warmUp(config: LoopConfig): Promise<void> {
  const steps = config.warmupSteps ?? 500;
  if (steps <= 0) return;
  const { twin } = await createRunTwin(config.twin, config.devices);
  const inputs: DeviceInput[] = config.devices.map((d) => ({
    deviceId: d.id,
    p_mw: 0,
    q_mvar: 0,
    online: false,
  }));
  for (let i = 0; i < steps; i++) twin.step(inputs);
}

interface LoopDevice {
  link: DeviceLink;
  every: number;
  /** Runs alongside the link and feeds the twin while the link is down ('simulated' fallback). */
  shadow: SimulatedLink | undefined;
}

async function run(config: LoopConfig): Promise<void> {
  const { twin, scenario } = await createRunTwin(config.twin, config.devices);
  await warmUp(config);
  for (const item of config.schedule ?? []) twin.scheduleAt(item.t_s, item.action);
  const devices: LoopDevice[] = config.devices.map((d) => ({
    link: createDeviceLink(d),
    every: Math.max(1, d.exchangeEvery ?? (d.driver === 'sunspec' ? 100 : 10)),
    shadow: d.fallback === 'simulated' ? new SimulatedLink({ ...d, driver: 'simulated' }) : undefined,
  }));
  for (const { link } of devices) twin.measurementFor(link.id); // unknown ids fail here, before any port opens
  const opened: DeviceLink[] = [];
  try {
    for (const { link, shadow } of devices) {
      await link.open();
      opened.push(link);
      await shadow?.open();
    }
  } catch (err) {
    await Promise.all(opened.map((link) => link.close()));
    throw err;
  }

  const inputs: DeviceInput[] = devices.map(({ link }) => link.input());
  // Built before any command can launch an attack, so live attacks may target their telemetry.
  // A detector that cannot be built (an island it cannot estimate) is reported, never fatal.
  let detectors: LiveDetectors | undefined;
  const detectorProblem = (() => {
    try {
      if (config.detectors?.estimation) detectors = new LiveDetectors(twin, config.detectors);
      return undefined;
    } catch (err) {
      return (err as Error).message;
    }
  })();
  let detectorSamples: DetectorSample[] = [];
  // What the twin was fed, stamped with steps, and hashes of its outputs: `gridloop replay`.
  const replayLog = new ReplayLogWriter();
  let snapshots: Snapshot[] = [];
  let events: TwinEvent[] = [];
  let frames: CapturedFrame[] = [];
  const linkEvents: LinkEvent[] = [];
  let lastState: TwinState | undefined;
  let lastBatch = performance.now();
  // A scenario run ends with its scenario (which pauses can lengthen), unless given a duration.
  const maxSteps =
    config.duration_s === undefined ? Infinity : Math.round(config.duration_s / config.twin.dt_s);

  const stampLinkEvents = (t_s: number) => {
    for (const { link } of devices) link.drainEvents(linkEvents);
    for (const e of linkEvents)
      events.push({ t_s, kind: e.kind, message: `${e.deviceId}: ${e.message}`, target: e.deviceId });
    linkEvents.length = 0;
  };
  const linkStats = () => devices.map(({ link }) => link.stats());
  const flush = () => {
    stampLinkEvents(lastState?.t_s ?? 0);
    for (const { link } of devices) link.drainFrames(frames);
    detectors?.drain(events, detectorSamples, lastState?.t_s ?? 0);
    post({
      type: 'batch',
      snapshots,
      events,
      frames,
      links: linkStats(),
      replay: replayLog.drain(),
      ...(detectors ? { detectorSamples } : {}),
    });
    snapshots = [];
    events = [];
    frames = [];
    detectorSamples = [];
    lastBatch = performance.now();
  };

  const pacer = new Pacer({
    period_ms: config.twin.dt_s * 1000,
    overrunPolicy: config.overrunPolicy,
    spinThreshold_ms: config.pacer?.sleepUntil_ms,
    busySpin_us: config.pacer?.spin_us,
    idleSlice_us: config.pacer?.idleSlice_us,
  });
  let stopReason = 'requested' as 'requested' | 'duration' | 'overrun';
  const scenarios = new LoopScenarios(
    twin,
    scenario && { scenario, file: config.twin.scenario ?? '' },
    resolve(config.twin.grid),
    post,
  );
  // Commands wait for the next step boundary, so a step never sees a half-applied change.
  const pendingCommands: { id: number; command: TwinCommand }[] = [];
  let stopRequested = false;
  handleMessage = (message) => {
    if (message?.type === 'stop') {
      stopRequested = true;
      pacer.stop();
    } else if (message?.type === 'command') pendingCommands.push(message);
    else if (message?.type === 'scenario') scenarios.request(message);
  };
  for (const message of earlyMessages.splice(0)) handleMessage(message);

  const byId = new Map(devices.map((d) => [d.link.id, d]));
  /**
   * The device side of an operator command or a scenario action, one path for both: set-points
   * to linked devices go to the link (limits enforced there) and its simulated shadow, the
   * emergency stop to every link. Throws a TypeError when a device refuses (latched stop).
   */
  const toDevices = (action: TwinAction): LimitResult | undefined => {
    if (action.kind === 'setpoint') {
      const device = byId.get(action.deviceId);
      if (!device) return undefined;
      const setpoint = { p_mw: action.p_mw, q_mvar: action.q_mvar };
      const result = device.link.setpoint(setpoint);
      device.shadow?.setpoint(setpoint);
      return result;
    }
    if (action.kind === 'emergency-stop') {
      for (const { link, shadow } of devices) {
        link.emergencyStop();
        shadow?.emergencyStop();
      }
    }
    return undefined;
  };
  const applyCommand = (command: TwinCommand): TwinEvent => {
    const result = toDevices(command);
    const event = twin.command(command);
    if (result && result.limited.length > 0) event.message += ` (safety: ${result.limited.join('; ')})`;
    return event;
  };
  /** A scenario's action, due this step: the twin has it scheduled; its devices get it now. */
  const scenarioToDevices = (action: TwinAction) => {
    try {
      toDevices(action);
    } catch (err) {
      const target = action.kind === 'setpoint' ? action.deviceId : undefined;
      const t_s = twin.state.t_s;
      events.push({ t_s, kind: 'setpoint-refused', message: `${target}: ${(err as Error).message}`, target });
    }
  };
  const applyCommands = (step: number) => {
    for (const { id, command } of pendingCommands) {
      try {
        const event = applyCommand(command);
        replayLog.command(step, command);
        events.push(event);
        post({ type: 'command-result', id, ok: true, event });
      } catch (err) {
        post({ type: 'command-result', id, ok: false, error: (err as Error).message });
      }
    }
    pendingCommands.length = 0;
  };
  for (const message of await applyRealtimeScheduling(config.realtime)) {
    events.push({ t_s: 0, kind: 'loop-scheduling', message });
  }
  if (detectorProblem)
    events.push({ t_s: 0, kind: 'detector-failed', message: `live detectors off: ${detectorProblem}` });
  post({ type: 'ready' });
  scenarios.postStatus();
  let busIdsSent = false;
  // The twin replaces its islands array only when topology changed: send membership then.
  let islandsSent: unknown;
  const lateness = new MicrosecondHistogram();
  const work = new MicrosecondHistogram();
  const gc = { count: 0, total_ms: 0, max_ms: 0 };
  // The latest-starting steps, to tell a slow step (its predecessor's work) from a stalled process.
  const worstSteps: TimingSummary['worstSteps'] = Array.from({ length: 10 }, () => ({
    step: -1,
    lateness_us: 0,
    work_us: 0,
    previousWork_us: 0,
  }));
  let previousWork_us = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      gc.count++;
      gc.total_ms += entry.duration;
      if (entry.duration > gc.max_ms) gc.max_ms = entry.duration;
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  const cpuStart = process.cpuUsage();
  const wallStart = performance.now();

  // A stop that came while the loop was starting ends the run before its first step.
  if (!stopRequested)
    await pacer.run(
      (step) => {
        if (pendingCommands.length > 0) applyCommands(step);
        if (scenarios.hasPending) scenarios.applyPending(events);
        scenarios.beforeStep(step, replayLog, scenarioToDevices);
        for (let i = 0; i < devices.length; i++) {
          const { link, shadow } = devices[i];
          const input = link.input();
          inputs[i] = input.online || !shadow ? input : shadow.input();
        }
        replayLog.inputs(step, inputs);
        const state = twin.step(inputs);
        replayLog.state(step, state);
        lastState = state;
        if (state.events.length > 0) events.push(...state.events);
        const ended = endedLiveAttacks(twin, state.t_s);
        for (let i = 0; i < ended.length; i++) events.push(ended[i]);
        detectors?.afterStep(state);
        scenarios.afterStep(state, events);
        for (let i = 0; i < devices.length; i++) {
          const { link, every, shadow } = devices[i];
          if (step % every !== 0) continue;
          const m = twin.measurementFor(link.id);
          link.exchange(m);
          shadow?.exchange(m);
        }
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
      },
      (timing) => {
        lateness.add(timing.lateness_us);
        work.add(timing.work_us);
        if (timing.lateness_us > worstSteps[worstSteps.length - 1].lateness_us) {
          worstSteps[worstSteps.length - 1] = {
            step: timing.step,
            lateness_us: timing.lateness_us,
            work_us: timing.work_us,
            previousWork_us: previousWork_us,
          };
          worstSteps.sort((a, b) => b.lateness_us - a.lateness_us);
        }
        previousWork_us = timing.work_us;
        if (lastState && timing.step % config.snapshotEvery === 0) {
          const snapshot = copySnapshotOfState(lastState, timing);
          if (lastState.islands !== islandsSent) {
            snapshot.islandBuses = lastState.islands.map((island) => [...island.buses]);
            islandsSent = lastState.islands;
          }
          if (!busIdsSent) {
            snapshot.busIds = [...lastState.busIds];
            busIdsSent = true;
          }
          snapshots.push(snapshot);
        }
        if (performance.now() - lastBatch >= BATCH_PERIOD_MS) flush();
      },
    );
  const wall_s = (performance.now() - wallStart) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  if (config.overrunPolicy === 'stop' && pacer.stats.overruns > 0 && stopReason !== 'duration') {
    stopReason = 'overrun';
  }
  replayLog.finish();
  await detectors?.close();
  flush();
  gcObserver.disconnect();
  const timing: TimingSummary = {
    steps: pacer.stats.steps,
    overruns: pacer.stats.overruns,
    lateness_us: { p50: lateness.quantile(0.5), p99: lateness.quantile(0.99), max: lateness.max },
    work_us: { p50: work.quantile(0.5), p99: work.quantile(0.99), max: work.max },
    realTimeFactor: wall_s > 0 ? (pacer.stats.steps * config.twin.dt_s) / wall_s : Number.NaN,
    wall_s,
    cpu_user_us: cpu.user,
    cpu_system_us: cpu.system,
    gc,
    worstSteps: worstSteps.filter((s) => s.step >= 0),
  };
  const links = linkStats();
  await Promise.all(devices.map(({ link }) => link.close()));
  post({
    type: 'stopped',
    reason: stopReason,
    steps: pacer.stats.steps,
    overruns: pacer.stats.overruns,
    timing,
    links,
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
  run(message as LoopConfig)
    .catch((err: unknown) => {
      post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    })
    .finally(() => process.disconnect?.());
});
