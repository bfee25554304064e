/**
 * Detectors besides state estimation. Each evaluates every `every_steps` twin steps, records a
 * sample in the AlarmLog and raises an alarm at the rising edge of a k-of-n persistence rule.
 *
 *   frequency-consistency  physics: the change of a device's measured frequency over a window must
 *                          match the integral of its measured ROCOF (a false-data bias or ramp on
 *                          f moves one and not the other).
 *   soc-consistency        physics: the change of a battery's reported SoC must match the energy its
 *                          reported power moved (−∫P dt / E), within a tolerance.
 *   cross-check            redundancy: a device's own measurement of V or θ at its bus against the
 *                          state estimate there (θ relative to a GPS-synchronised reference PMU at
 *                          the estimator's reference bus). Catches what passes the χ² test when
 *                          the attacker cannot also reach the device's meter: a stealthy a = H·c
 *                          on that bus, a time-synchronisation attack on the device's phasor.
 *   setpoint-rate          set-point rate limit: a command faster than limit_per_s raises the alarm
 *                          (and `RateLimitTransform`, inserted last in the command pipeline, holds
 *                          the value the device receives to that rate).
 *   watchdog               a channel whose value has not changed for timeout_s (a noisy signal
 *                          always changes, so a frozen one means no fresh samples: DoS, a lost link).
 */

import type { TwinAddOnHost as Twin } from '../addons.ts';
import type { TwinState } from '../api.ts';
import type { Channel, ChannelTransform } from '../channels/channel.ts';
import { type AlarmLog, Persistence } from './alarms.ts';
import type { SeDetector } from './state-estimation.ts';

export interface CheckBase {
  /** Name in alarms (default: the kind). */
  name?: string;
  /** @default 10 */
  every_steps?: number;
  /** @default { k: 1, n: 1 } */
  persistence?: { k: number; n: number };
}

export type CheckSpec = CheckBase &
  (
    | { kind: 'frequency-consistency'; device: string; window_s?: number; tolerance_hz?: number }
    | { kind: 'soc-consistency'; device: string; energy_mwh: number; window_s?: number; tolerance?: number }
    | { kind: 'cross-check'; device: string; signal: 'vm_pu' | 'va_deg'; tolerance: number }
    | { kind: 'setpoint-rate'; channel: string; limit_per_s: number; clamp?: boolean }
    | { kind: 'watchdog'; channel: string; timeout_s?: number }
  );

/** What a check can see: the twin, its channels, the last reported device telemetry, the SE. */
export interface CheckContext {
  twin: Twin;
  channel(name: string): Channel | undefined;
  /** Telemetry the device last reported (after any compromise). */
  reported(device: string): { p_mw: number; soc?: number } | undefined;
  se?: SeDetector;
}

/** Limits how fast a command may change; sits at the end of a command pipeline. */
export class RateLimitTransform implements ChannelTransform {
  readonly kind = 'rate-limit';
  private last = Number.NaN;
  private lastT = Number.NaN;
  /** The last value before limiting: what was commanded. */
  input = Number.NaN;
  constructor(readonly limit_per_s: number) {}
  apply(value: number, t_s: number): number {
    this.input = value;
    if (Number.isNaN(this.last)) {
      this.last = value;
      this.lastT = t_s;
      return value;
    }
    const maxStep = this.limit_per_s * Math.max(0, t_s - this.lastT);
    this.last += Math.max(-maxStep, Math.min(maxStep, value - this.last));
    this.lastT = t_s;
    return this.last;
  }
  reset(): void {
    this.last = Number.NaN;
  }
}

/** A history ring of (t, value) pairs for window comparisons. */
class History {
  private readonly t: Float64Array;
  private readonly v: Float64Array;
  private head = 0;
  private count = 0;
  constructor(size: number) {
    this.t = new Float64Array(size);
    this.v = new Float64Array(size);
  }
  push(t: number, v: number): void {
    this.t[this.head] = t;
    this.v[this.head] = v;
    this.head = (this.head + 1) % this.t.length;
    if (this.count < this.t.length) this.count++;
  }
  /** Oldest entry (the window's start), or undefined until full. */
  oldest(): { t: number; v: number } | undefined {
    if (this.count < this.t.length) return undefined;
    return { t: this.t[this.head], v: this.v[this.head] };
  }
}

export class Check {
  readonly name: string;
  readonly every_steps: number;
  evaluations = 0;
  private counter = 0;
  private readonly persistence: Persistence;
  private readonly history?: History;
  private readonly history2?: History;
  private rocofIntegral = 0;
  private lastValue = Number.NaN;
  private lastChange_s = 0;
  private readonly limiter?: RateLimitTransform;

  constructor(
    readonly spec: CheckSpec,
    private readonly ctx: CheckContext,
    private readonly log: AlarmLog,
  ) {
    this.name = spec.name ?? spec.kind;
    this.every_steps = spec.every_steps ?? 10;
    const p = spec.persistence ?? { k: 1, n: 1 };
    this.persistence = new Persistence(p.k, p.n);
    const period_s = this.every_steps * ctx.twin.dt_s;
    if (spec.kind === 'frequency-consistency' || spec.kind === 'soc-consistency') {
      const size = Math.max(2, Math.round((spec.window_s ?? 0.2) / period_s) + 1);
      this.history = new History(size);
      this.history2 = new History(size);
    }
    if (spec.kind === 'cross-check' && !ctx.twin.channelsOf(spec.device))
      throw new TypeError(`${this.name}: '${spec.device}' is not a hardware device`);
    if ((spec.kind === 'watchdog' || spec.kind === 'setpoint-rate') && !ctx.channel(spec.channel))
      throw new TypeError(`${this.name}: unknown channel '${spec.channel}'`);
    if (spec.kind === 'setpoint-rate' && spec.clamp !== false) {
      this.limiter = new RateLimitTransform(spec.limit_per_s);
      ctx.channel(spec.channel)!.insert(this.limiter);
    }
    if (spec.kind === 'cross-check' && !ctx.se)
      throw new TypeError('cross-check needs a state-estimation detector');
  }

  /** Runs after each twin step. */
  update(state: TwinState): void {
    const spec = this.spec;
    const twin = this.ctx.twin;
    if (spec.kind === 'frequency-consistency') {
      // Integrate ROCOF every step (the window comparison is only as good as the integral).
      this.rocofIntegral += twin.measurementFor(spec.device).rocof_hz_s * twin.dt_s;
    }
    if (++this.counter < this.every_steps) return;
    this.counter = 0;
    const t = state.t_s;
    let statistic = Number.NaN;
    let threshold = Number.NaN;
    let target: string | undefined;
    switch (spec.kind) {
      case 'frequency-consistency': {
        const m = twin.measurementFor(spec.device);
        this.history!.push(t, m.f_hz);
        this.history2!.push(t, this.rocofIntegral);
        const a = this.history!.oldest();
        const b = this.history2!.oldest();
        threshold = spec.tolerance_hz ?? 0.05;
        statistic = a && b ? Math.abs(m.f_hz - a.v - (this.rocofIntegral - b.v)) : 0;
        target = `${spec.device}.f_hz`;
        break;
      }
      case 'soc-consistency': {
        const rep = this.ctx.reported(spec.device);
        if (!rep || rep.soc === undefined) return;
        // Energy moved by the reported power: integrate with the rectangle rule per evaluation.
        this.rocofIntegral -= (rep.p_mw * this.every_steps * twin.dt_s) / 3600 / spec.energy_mwh;
        this.history!.push(t, rep.soc);
        this.history2!.push(t, this.rocofIntegral);
        const a = this.history!.oldest();
        const b = this.history2!.oldest();
        threshold = spec.tolerance ?? 0.002;
        statistic = a && b ? Math.abs(rep.soc - a.v - (this.rocofIntegral - b.v)) : 0;
        target = `${spec.device}.soc`;
        break;
      }
      case 'cross-check': {
        const se = this.ctx.se!;
        const est = se.last;
        if (!est) return;
        const bus = twin.hardwareById.get(spec.device)!.busIndex;
        const local = se.busIndices.indexOf(bus);
        if (local < 0) throw new TypeError(`cross-check: ${spec.device} is not in the estimator's island`);
        const m = twin.measurementFor(spec.device);
        threshold = spec.tolerance;
        if (spec.signal === 'vm_pu') statistic = Math.abs(m.vm_pu - est.vm[local]);
        else {
          const estimated = (est.va[local] * 180) / Math.PI + state.va_deg[se.refIndex];
          statistic = Math.abs(wrapDeg(m.va_deg - estimated));
        }
        target = `${spec.device}.${spec.signal}`;
        break;
      }
      case 'setpoint-rate': {
        // The value before the limiter is what was commanded.
        const commanded = this.limiter ? this.limiter.input : this.ctx.channel(spec.channel)!.output;
        const dtEval = this.every_steps * twin.dt_s;
        statistic = Number.isNaN(this.lastValue) ? 0 : Math.abs(commanded - this.lastValue) / dtEval;
        this.lastValue = commanded;
        threshold = spec.limit_per_s;
        target = spec.channel;
        break;
      }
      case 'watchdog': {
        const v = this.ctx.channel(spec.channel)!.output;
        if (v !== this.lastValue) {
          this.lastValue = v;
          this.lastChange_s = t;
        }
        statistic = t - this.lastChange_s;
        threshold = spec.timeout_s ?? 0.2;
        target = spec.channel;
        break;
      }
    }
    this.evaluations++;
    const alarm = this.persistence.push(statistic > threshold);
    this.log.record(
      { t_s: t, detector: this.name, statistic, threshold, alarm },
      target,
      `${this.name}: ${statistic.toPrecision(4)} > ${threshold}${target ? ` on ${target}` : ''}`,
    );
  }
}

function wrapDeg(d: number): number {
  return ((((d + 180) % 360) + 360) % 360) - 180;
}
