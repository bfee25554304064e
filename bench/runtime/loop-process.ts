import type { DeviceInput, TwinCommand, TwinEvent, TwinState } from '../../twin/api.ts';
import type { DeviceLink } from '../devices/device-link.ts';
import { FirmwareLink } from '../devices/firmware-link.ts';
import type { CapturedFrame, LoopConfig, MainToWorker, Snapshot, WorkerToMain } from './messages.ts';
import { Pacer, type StepTiming } from './pacer.ts';
import { createTwin } from './twin-factory.ts';

/*
 * The real-time loop runs in a process of its own, forked by RealtimeRun. Not a worker thread:
 * serialport's native poller delivers data on the process's default event loop, which aborts
 * Node when the port was opened from a worker. A process also keeps the bench's garbage
 * collection and page serving off the loop's core.
 */
if (!process.send) throw new Error('loop-process must be forked with an IPC channel (RealtimeRun does this)');
const post = (message: WorkerToMain) => process.send?.(message);

/** Batches go to the main thread at ~50 Hz whatever the step. */
const BATCH_PERIOD_MS = 20;

function snapshotOf(state: TwinState, timing: StepTiming): Snapshot {
  const devices: Snapshot['devices'] = {};
  for (const [id, d] of Object.entries(state.devices)) devices[id] = { ...d };
  return {
    t_s: state.t_s,
    step: state.step,
    islands: state.islands.map((i) => ({
      id: i.id,
      f_hz: i.f_hz,
      rocof_hz_s: i.rocof_hz_s,
      energised: i.energised,
      gridConnected: i.gridConnected,
    })),
    vm_pu: Array.from(state.vm_pu),
    va_deg: Array.from(state.va_deg),
    devices,
    loop: { lateness_us: timing.lateness_us, work_us: timing.work_us, overruns: timing.overruns },
  };
}

async function run(config: LoopConfig): Promise<void> {
  const twin = await createTwin(config.twin);
  const links: { link: DeviceLink; every: number }[] = config.devices.map((d) => ({
    link: new FirmwareLink(d),
    every: Math.max(1, d.exchangeEvery ?? 10),
  }));
  await Promise.all(links.map(({ link }) => link.open()));

  const inputs: DeviceInput[] = links.map(({ link }) => link.input());
  let snapshots: Snapshot[] = [];
  let events: TwinEvent[] = [];
  let frames: CapturedFrame[] = [];
  let lastState: TwinState | undefined;
  let lastBatch = performance.now();
  const maxSteps =
    config.duration_s === undefined ? Infinity : Math.round(config.duration_s / config.twin.dt_s);

  const flush = () => {
    for (const { link } of links) link.drainFrames(frames);
    post({ type: 'batch', snapshots, events, frames, links: links.map(({ link }) => link.stats()) });
    snapshots = [];
    events = [];
    frames = [];
    lastBatch = performance.now();
  };

  const pacer = new Pacer({ period_ms: config.twin.dt_s * 1000, overrunPolicy: config.overrunPolicy });
  let stopReason = 'requested' as 'requested' | 'duration' | 'overrun';
  // Commands wait for the next step boundary, so a step never sees a half-applied change.
  const pendingCommands: { id: number; command: TwinCommand }[] = [];
  process.on('message', (message: MainToWorker) => {
    if (message?.type === 'stop') pacer.stop();
    else if (message?.type === 'command') pendingCommands.push(message);
  });
  const applyCommands = () => {
    for (const { id, command } of pendingCommands) {
      try {
        const event = twin.command(command);
        events.push(event);
        post({ type: 'command-result', id, ok: true, event });
      } catch (err) {
        post({ type: 'command-result', id, ok: false, error: (err as Error).message });
      }
    }
    pendingCommands.length = 0;
  };
  post({ type: 'ready' });
  let busIdsSent = false;
  // The twin replaces its islands array only when topology changed: send membership then.
  let islandsSent: unknown;

  await pacer.run(
    (step) => {
      if (pendingCommands.length > 0) applyCommands();
      for (let i = 0; i < links.length; i++) inputs[i] = links[i].link.input();
      const state = twin.step(inputs);
      lastState = state;
      if (state.events.length > 0) events.push(...state.events);
      for (let i = 0; i < links.length; i++) {
        const { link, every } = links[i];
        if (step % every === 0) link.exchange(twin.measurementFor(link.id));
      }
      if (step + 1 >= maxSteps) {
        stopReason = 'duration';
        return false;
      }
      return true;
    },
    (timing) => {
      if (lastState && timing.step % config.snapshotEvery === 0) {
        const snapshot = snapshotOf(lastState, timing);
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
  if (config.overrunPolicy === 'stop' && pacer.stats.overruns > 0 && stopReason !== 'duration') {
    stopReason = 'overrun';
  }
  flush();
  await Promise.all(links.map(({ link }) => link.close()));
  post({ type: 'stopped', reason: stopReason, steps: pacer.stats.steps, overruns: pacer.stats.overruns });
}

// The parent going away (even by SIGKILL) closes the IPC channel: never outlive it.
process.on('disconnect', () => process.exit(0));
process.once('message', (config: LoopConfig) => {
  run(config)
    .catch((err: unknown) => {
      post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
    })
    .finally(() => process.disconnect?.());
});
