/**
 * Worker thread of the live detectors (live-detectors.ts): runs the WLS estimate of each telemetry
 * sample the loop thread takes, so the ~2 ms of Gauss–Newton never sits inside a 1 ms step. It
 * holds its own StateEstimator built from the same network data and measurement list, and warm-
 * starts each estimate from its previous converged one exactly like SeDetector.update.
 */
import { parentPort, workerData } from 'node:worker_threads';
import {
  type SeMeasurement,
  type SeNetwork,
  type SeResult,
  StateEstimator,
} from '../../twin/estimation/wls.ts';

export interface SeWorkerData {
  net: SeNetwork;
  buses: number[];
  refBus: number;
  measurements: SeMeasurement[];
  alpha: number;
}

/** One sample: telemetry z and the true state (warm start before the first estimate). */
export interface SeWorkerRequest {
  t_s: number;
  z: Float64Array;
  vm: Float64Array;
  va: Float64Array;
}

export interface SeWorkerAnswer {
  t_s: number;
  outcome: Pick<
    SeResult,
    'converged' | 'alarm' | 'objective' | 'threshold' | 'degreesOfFreedom' | 'largestNormalisedResidual'
  >;
  estimate_ms: number;
}

if (parentPort) {
  const data = workerData as SeWorkerData;
  const estimator = new StateEstimator(data.net, {
    buses: data.buses,
    refBus: data.refBus,
    measurements: data.measurements,
  });
  let last: SeResult | undefined;
  const port = parentPort;
  port.on('message', (request: SeWorkerRequest) => {
    const started = performance.now();
    const r = estimator.estimate(request.z, {
      alpha: data.alpha,
      vm0: last?.converged ? last.vm : request.vm,
      va0: last?.converged ? last.va : request.va,
    });
    last = r;
    const answer: SeWorkerAnswer = {
      t_s: request.t_s,
      outcome: {
        converged: r.converged,
        alarm: r.alarm,
        objective: r.objective,
        threshold: r.threshold,
        degreesOfFreedom: r.degreesOfFreedom,
        largestNormalisedResidual: { ...r.largestNormalisedResidual },
      },
      estimate_ms: performance.now() - started,
    };
    port.postMessage(answer);
  });
}
