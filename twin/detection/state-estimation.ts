/**
 * State-estimation bad-data detector for one island of the twin. Telemetry: voltage magnitude and
 * P/Q injection at every bus of the island, P/Q flow at the from-end of every in-service branch
 * inside it, each through its own channel (`se.vm_pu.<bus>`, `se.p_inj.<bus>`, `se.q_inj.<bus>`,
 * `se.p_flow.<branch>`, `se.q_flow.<branch>`) with Gaussian noise of the configured σ, so attacks
 * act on them like on any other channel. Every `every_steps` steps the WLS estimator
 * (twin/estimation/wls.ts) runs; the χ² test (m − n degrees of freedom, false-alarm probability
 * α) fails or passes, and a k-of-n persistence rule turns failures into the alarm: with the
 * defaults α = 0.05 and 3-of-5 the per-evaluation false-alarm probability is
 * Σ_{j≥3} C(5,j) αʲ(1 − α)^(5−j) ≈ 0.12 %, well under the 1 % target (2-of-3 gives ≈ 0.7 %, too
 * close to it on short runs), at the cost of three evaluations of delay. The largest normalised residual names the
 * measurement in the alarm.
 *
 * True values come from the twin's solved state through the estimator's own measurement functions
 * on the same compiled network the twin's power flow uses (topology frozen when the detector is
 * built), so they are the twin's injections and flows to the power-flow tolerance.
 */

import type { TwinAddOnHost as Twin } from '../addons.ts';
import type { TwinState } from '../api.ts';
import { type Channel, NoiseTransform, Channel as SignalChannel } from '../channels/channel.ts';
import { type SeMeasurement, type SeResult, StateEstimator } from '../estimation/wls.ts';
import { deriveSeed, Random } from '../random.ts';
import { type AlarmLog, Persistence } from './alarms.ts';

export interface SeDetectorOptions {
  /** Microgrid id whose buses form the island. */
  island: string;
  /** @default 100 */
  every_steps?: number;
  /** χ² false-alarm probability. @default 0.05 */
  alpha?: number;
  /** @default { k: 3, n: 5 } */
  persistence?: { k: number; n: number };
  /** Telemetry noise, pu. @default { vm_pu: 0.004, inj_pu: 0.002, flow_pu: 0.0015 } */
  sigma?: { vm_pu?: number; inj_pu?: number; flow_pu?: number };
  /** Reference bus id (angle 0). @default the island's first bus */
  refBus?: string;
}

/** What the alarm decision needs of an estimate (postable between threads). */
export type SeOutcome = Pick<
  SeResult,
  'converged' | 'alarm' | 'objective' | 'threshold' | 'degreesOfFreedom' | 'largestNormalisedResidual'
>;

export class SeDetector {
  readonly name = 'state-estimation';
  readonly estimator: StateEstimator;
  /** Telemetry channels in measurement order. */
  readonly channels: Channel[] = [];
  readonly busIndices: number[];
  readonly refIndex: number;
  readonly every_steps: number;
  readonly alpha: number;
  evaluations = 0;
  /** The last estimate (undefined before the first evaluation). */
  last?: SeResult;
  /** Twin time of the last evaluation. */
  lastTime_s = Number.NaN;
  private readonly persistence: Persistence;
  private readonly vmTrue: Float64Array;
  private readonly vaTrue: Float64Array;
  private readonly exact: Float64Array<ArrayBuffer>;
  private readonly z: Float64Array;
  private stepCounter = 0;

  constructor(
    twin: Twin,
    options: SeDetectorOptions,
    private readonly log: AlarmLog,
  ) {
    const net = twin.pf.net;
    const buses = twin.grid.buses.flatMap((b, i) => (b.microgrid === options.island ? [i] : []));
    if (buses.length < 2)
      throw new TypeError(`state-estimation: island '${options.island}' has fewer than 2 buses`);
    this.busIndices = buses;
    const refIndex = options.refBus ? net.busIds.indexOf(options.refBus) : buses[0];
    if (!buses.includes(refIndex))
      throw new TypeError(`state-estimation: reference bus '${options.refBus}' is not in ${options.island}`);
    this.refIndex = refIndex;
    const sigma = { vm_pu: 0.004, inj_pu: 0.002, flow_pu: 0.0015, ...options.sigma };
    const inIsland = new Set(buses);
    const measurements: SeMeasurement[] = [];
    const names: string[] = [];
    for (const b of buses) {
      measurements.push({ kind: 'vm', index: b, sigma: sigma.vm_pu });
      names.push(`se.vm_pu.${net.busIds[b]}`);
      measurements.push({ kind: 'p_inj', index: b, sigma: sigma.inj_pu });
      names.push(`se.p_inj.${net.busIds[b]}`);
      measurements.push({ kind: 'q_inj', index: b, sigma: sigma.inj_pu });
      names.push(`se.q_inj.${net.busIds[b]}`);
    }
    for (let k = 0; k < net.branchFrom.length; k++) {
      if (!net.branchInService[k] || !inIsland.has(net.branchFrom[k]) || !inIsland.has(net.branchTo[k]))
        continue;
      measurements.push({ kind: 'p_flow', index: k, sigma: sigma.flow_pu });
      names.push(`se.p_flow.${net.branchIds[k]}`);
      measurements.push({ kind: 'q_flow', index: k, sigma: sigma.flow_pu });
      names.push(`se.q_flow.${net.branchIds[k]}`);
    }
    this.estimator = new StateEstimator(net, { buses, refBus: refIndex, measurements });
    measurements.forEach((m, i) => {
      const ch = new SignalChannel(names[i]);
      ch.insert(new NoiseTransform(m.sigma, new Random(deriveSeed(twin.seed, names[i]))));
      this.channels.push(ch);
    });
    this.every_steps = options.every_steps ?? 100;
    this.alpha = options.alpha ?? 0.05;
    const p = options.persistence ?? { k: 3, n: 5 };
    this.persistence = new Persistence(p.k, p.n);
    this.vmTrue = new Float64Array(buses.length);
    this.vaTrue = new Float64Array(buses.length);
    this.exact = new Float64Array(this.estimator.m);
    this.z = new Float64Array(this.estimator.m);
  }

  /** Channel by name (for the attack engine). */
  channel(name: string): Channel | undefined {
    return this.channels.find((c) => c.name === name);
  }

  /** Island-local position of a bus id, or −1. */
  localBus(busId: string, twin: Twin): number {
    return this.busIndices.indexOf(twin.pf.net.busIds.indexOf(busId));
  }

  /** The true measurement vector now (before noise and attacks), per unit. */
  trueMeasurements(state: TwinState): Float64Array {
    const ref = (state.va_deg[this.refIndex] * Math.PI) / 180;
    for (let i = 0; i < this.busIndices.length; i++) {
      this.vmTrue[i] = state.vm_pu[this.busIndices[i]];
      this.vaTrue[i] = (state.va_deg[this.busIndices[i]] * Math.PI) / 180 - ref;
    }
    return this.estimator.measure(this.vmTrue, this.vaTrue, this.exact);
  }

  /**
   * First half of `update`: every `every_steps` steps, the telemetry vector z (noise and attacks
   * applied, buffer reused) and the true state it was taken from (`sampledVm`, `sampledVa`, the
   * estimator's warm start before its first estimate); undefined on the other steps. The bench
   * calls this on the loop thread and estimates elsewhere (bench/attacks/live-detectors.ts).
   */
  sample(state: TwinState): Float64Array | undefined {
    if (++this.stepCounter < this.every_steps) return undefined;
    this.stepCounter = 0;
    const exact = this.trueMeasurements(state);
    for (let i = 0; i < exact.length; i++) this.z[i] = this.channels[i].process(exact[i], state.t_s);
    return this.z;
  }

  /** The true magnitudes and angles (rad, reference 0) of the last sample, island-local. */
  get sampledVm(): Float64Array {
    return this.vmTrue;
  }
  get sampledVa(): Float64Array {
    return this.vaTrue;
  }

  /** Runs after each twin step; estimates every `every_steps` steps. */
  update(state: TwinState): SeResult | undefined {
    const z = this.sample(state);
    if (!z) return undefined;
    const r = this.estimator.estimate(z, {
      alpha: this.alpha,
      vm0: this.last?.converged ? this.last.vm : this.vmTrue,
      va0: this.last?.converged ? this.last.va : this.vaTrue,
    });
    this.last = r;
    this.conclude(r, state.t_s);
    return r;
  }

  /**
   * Second half of `update`: the χ² outcome of the estimate of a sample taken at `t_s` through
   * the persistence rule into the alarm log. Outcomes must arrive in sample order.
   */
  conclude(r: SeOutcome, t_s: number): void {
    this.lastTime_s = t_s;
    this.evaluations++;
    const alarm = this.persistence.push(r.alarm || !r.converged);
    const lnr = r.largestNormalisedResidual;
    const suspect = lnr.index >= 0 ? this.channels[lnr.index].name : undefined;
    this.log.record(
      { t_s, detector: this.name, statistic: r.objective, threshold: r.threshold, alarm },
      suspect,
      `χ² ${r.objective.toFixed(1)} > ${r.threshold.toFixed(1)} (${r.degreesOfFreedom} dof)` +
        (suspect ? `; largest normalised residual ${lnr.value.toFixed(1)} at ${suspect}` : ''),
    );
  }
}
