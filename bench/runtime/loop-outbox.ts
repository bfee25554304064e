/**
 * What the loop sends the bench process (the host): snapshots, events, captured frames, link
 * statistics, replay records and detector samples, collected between batches and posted at ~50 Hz
 * whatever the step, so IPC costs the loop a few sends a second rather than one per step.
 */
import type { TwinEvent, TwinState } from '../../twin/api.ts';
import type { DetectorSample } from '../../twin/detection/alarms.ts';
import type { LiveDetectors } from '../attacks/live-detectors.ts';
import type { ReplayLogWriter } from '../recording/replay-log.ts';
import type { ControllerHost, HostedTelemetry } from './controllers/host.ts';
import type { LoopDevices } from './loop-devices.ts';
import type { CapturedFrame, LoopToHost, Snapshot } from './messages.ts';
import type { StepTiming } from './pacer.ts';
import { copySnapshotOfState } from './snapshot-points.ts';

/** Batches go to the bench process at ~50 Hz whatever the step. */
const BATCH_PERIOD_MS = 20;

export class LoopOutbox {
  /**
   * Events of the current batch: anything in the loop that raises one pushes it here. This and the
   * other lists are emptied, not replaced, after each post: process.send() serialises at once, so
   * they and the snapshots in `pool` are free again as soon as it returns.
   */
  readonly events: TwinEvent[] = [];
  private readonly snapshots: Snapshot[] = [];
  private readonly frames: CapturedFrame[] = [];
  private readonly detectorSamples: DetectorSample[] = [];
  private readonly controllerTelemetry: HostedTelemetry[] = [];
  /** Snapshots reused batch after batch (the first `snapshots.length` are in the current one). */
  private readonly pool: Snapshot[] = [];
  private lastBatch = performance.now();
  private busIdsSent = false;
  // The twin replaces its islands array only when topology changed: send membership then.
  private islandsSent: unknown;

  constructor(
    private readonly post: (message: LoopToHost) => void,
    private readonly devices: LoopDevices,
    private readonly replayLog: ReplayLogWriter,
    private readonly detectors: LiveDetectors | undefined,
    /** Take a snapshot every this many steps. */
    private readonly snapshotEvery: number,
    private readonly controllers?: ControllerHost,
  ) {}

  /** After a step's timing is known: takes the step's snapshot when one is due, posts when due. */
  afterStep(state: TwinState | undefined, timing: StepTiming): void {
    if (state && timing.step % this.snapshotEvery === 0) this.snapshots.push(this.snapshotOf(state, timing));
    if (performance.now() - this.lastBatch >= BATCH_PERIOD_MS) this.flush(state?.t_s ?? 0);
  }

  private snapshotOf(state: TwinState, timing: StepTiming): Snapshot {
    const used = this.snapshots.length;
    const snapshot = copySnapshotOfState(state, timing, this.pool[used]);
    if (used === this.pool.length) this.pool.push(snapshot);
    if (state.islands !== this.islandsSent) {
      snapshot.islandBuses = state.islands.map((island) => [...island.buses]);
      this.islandsSent = state.islands;
    }
    if (!this.busIdsSent) {
      snapshot.busIds = [...state.busIds];
      this.busIdsSent = true;
    }
    return snapshot;
  }

  /** Posts everything collected since the last batch (stamping link events with `t_s`). */
  flush(t_s: number): void {
    this.devices.drainEvents(this.events, t_s);
    this.devices.drainFrames(this.frames);
    const detectors = this.detectors;
    detectors?.drain(this.events, this.detectorSamples, t_s);
    this.controllers?.drainTelemetry(this.controllerTelemetry);
    this.post({
      type: 'batch',
      snapshots: this.snapshots,
      events: this.events,
      frames: this.frames,
      links: this.devices.stats(),
      replay: this.replayLog.drain(),
      ...(detectors ? { detectorSamples: this.detectorSamples } : {}),
      ...(this.controllerTelemetry.length > 0 ? { controllerTelemetry: this.controllerTelemetry } : {}),
    });
    this.controllerTelemetry.length = 0;
    this.snapshots.length = 0;
    this.events.length = 0;
    this.frames.length = 0;
    this.detectorSamples.length = 0;
    this.lastBatch = performance.now();
  }
}
