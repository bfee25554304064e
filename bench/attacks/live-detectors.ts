/**
 * Attack detectors on the running bench (docs/security.md, "Detectors on the running bench"): the
 * χ² state-estimation detector of `gridloop attack` (twin/detection/state-estimation.ts), wired to
 * the twin's live attack engine so operators' FDIA attacks on `se.*` telemetry reach it.
 *
 * Off the step path: the loop thread only takes the telemetry sample every `every_steps` steps
 * (true measurements from the solved state, then each channel's noise and attack transforms:
 * tens of µs); the WLS estimate (~2 ms, longer than a 1 ms step) runs in a worker thread
 * (se-worker.ts). Its answers come back in sample order between steps and go through the same
 * persistence rule and AlarmLog as offline, so an alarm is stamped with the twin time of the
 * sample that raised it, a few milliseconds of wall time after it was taken.
 */
import { Worker } from 'node:worker_threads';
import type { TwinEvent, TwinState } from '../../twin/api.ts';
import { attachLiveDetectors } from '../../twin/attacks/live.ts';
import {
  type AlarmClearedEvent,
  type AlarmEvent,
  AlarmLog,
  type DetectorSample,
} from '../../twin/detection/alarms.ts';
import { SeDetector, type SeDetectorOptions } from '../../twin/detection/state-estimation.ts';
import type { SeNetwork } from '../../twin/estimation/wls.ts';
import type { Twin } from '../../twin/twin.ts';
import type { SeWorkerAnswer, SeWorkerData, SeWorkerRequest } from './se-worker.ts';

/** Which detectors run live (LoopConfig.detectors). */
export interface LiveDetectorsConfig {
  /** χ² state estimation on one microgrid's buses; `every_steps` @default 100. */
  estimation?: SeDetectorOptions;
}

/** The twin event an alarm becomes (kind `alarm`, as `gridloop attack` records it). */
export function alarmEventOf(alarm: AlarmEvent): TwinEvent {
  return {
    t_s: alarm.t_s,
    kind: 'alarm',
    message: `${alarm.detector}: ${alarm.message}`,
    target: alarm.target,
    data: { detector: alarm.detector, statistic: alarm.statistic, threshold: alarm.threshold },
  };
}

/** The twin event an alarm's end becomes (kind `alarm-cleared`): the alarm period ends here. */
export function alarmClearedEventOf(cleared: AlarmClearedEvent): TwinEvent {
  return {
    t_s: cleared.t_s,
    kind: 'alarm-cleared',
    message: `${cleared.detector}: alarm cleared (${cleared.statistic.toFixed(1)} ≤ ${cleared.threshold.toFixed(1)})`,
    data: { detector: cleared.detector, statistic: cleared.statistic, threshold: cleared.threshold },
  };
}

export class LiveDetectors {
  readonly log = new AlarmLog();
  readonly se?: SeDetector;
  /** Samples sent to the worker and not answered yet. */
  pending = 0;
  /** Wall time of the worker's estimates, ms (last and largest). */
  estimate_ms = { last: 0, max: 0 };
  private readonly worker?: Worker;
  private failure?: Error;
  private stopped = false;

  constructor(twin: Twin, config: LiveDetectorsConfig) {
    if (config.estimation) {
      const se = new SeDetector(twin, { every_steps: 100, ...config.estimation }, this.log);
      this.se = se;
      attachLiveDetectors(twin, { se });
      const net = twin.pf.net;
      const seNet: SeNetwork = {
        baseMVA: net.baseMVA,
        busShuntG: net.busShuntG,
        busShuntB: net.busShuntB,
        branchFrom: net.branchFrom,
        branchTo: net.branchTo,
        branchR: net.branchR,
        branchX: net.branchX,
        branchB: net.branchB,
        branchTap: net.branchTap,
        branchShift_rad: net.branchShift_rad,
        branchInService: net.branchInService,
      };
      const workerData: SeWorkerData = {
        net: seNet,
        buses: [...se.busIndices],
        refBus: se.refIndex,
        measurements: se.estimator.measurements.map((m) => ({ ...m })),
        alpha: se.alpha,
      };
      this.worker = new Worker(new URL('./se-worker.mjs', import.meta.url), { workerData });
      this.worker.unref();
      this.worker.on('message', (answer: SeWorkerAnswer) => {
        this.pending--;
        this.estimate_ms.last = answer.estimate_ms;
        if (answer.estimate_ms > this.estimate_ms.max) this.estimate_ms.max = answer.estimate_ms;
        se.conclude(answer.outcome, answer.t_s);
      });
      this.worker.on('error', (err) => {
        this.failure = err;
      });
    }
  }

  /** Call after every twin step (loop thread): takes a sample when one is due. */
  afterStep(state: TwinState): void {
    const se = this.se;
    if (!se || this.failure || this.stopped) return;
    const z = se.sample(state);
    if (!z) return;
    const request: SeWorkerRequest = {
      t_s: state.t_s,
      z: z.slice(),
      vm: se.sampledVm.slice(),
      va: se.sampledVa.slice(),
    };
    this.pending++;
    this.worker!.postMessage(request);
  }

  /**
   * Moves the alarms and their clearing (as twin events) and samples recorded since the last call; a worker that
   * died becomes one `detector-failed` event (the loop runs on without the detector).
   */
  drain(events: TwinEvent[], samples: DetectorSample[], t_s: number): void {
    if (this.failure) {
      events.push({
        t_s,
        kind: 'detector-failed',
        message: `live state-estimation detector stopped: ${this.failure.message}`,
      });
      this.failure = undefined;
      this.stopped = true;
    }
    const log = this.log;
    // Rising and falling edges in twin-time order (an alarm can rise and clear in one batch).
    const edges = [...log.alarms.map(alarmEventOf), ...log.cleared.map(alarmClearedEventOf)];
    for (const edge of edges.sort((a, b) => a.t_s - b.t_s)) events.push(edge);
    for (const sample of log.samples) samples.push(sample);
    // The log is the live run's only copy of them: keep it from growing for hours.
    log.alarms.length = 0;
    log.cleared.length = 0;
    log.samples.length = 0;
  }

  /** Waits (at most `timeout_ms`) for the answers still in flight, then stops the worker. */
  async close(timeout_ms = 200): Promise<void> {
    const end = performance.now() + timeout_ms;
    while (this.pending > 0 && performance.now() < end) await new Promise((r) => setTimeout(r, 2));
    await this.worker?.terminate();
  }
}
