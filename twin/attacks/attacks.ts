/**
 * Attack transforms for the twin's channel pipelines (twin/channels/channel.ts). Each attack is a
 * `ChannelTransform` with an activity window [start_s, stop_s): outside it the value passes
 * unchanged (a replay attack still records before its start). The engine (engine.ts) inserts them
 * into the named channels when a scenario or an operator declares the attack, so the ground truth
 * of every run is known by construction.
 *
 * Kinds (parameters in AttackSpec):
 *   bias        value + bias
 *   ramp        value + rate_per_s · (t − start)
 *   scale       value · factor
 *   vector      value + a fixed offset filled in at start (one component of a stealthy a = H·c)
 *   replay      plays back what the channel carried during [start − record_s, start), cyclically
 *   spoof       replaces the value with `value` (an unauthorised set-point or reading)
 *   dos-drop    loses samples with probability p; the receiver holds the last one (p = 1: blackout)
 *   dos-delay   delays by delay_s
 *   dos-jitter  delays by a random 0..jitter_s per sample (the receiver sees the newest it has)
 *   time-sync   a clock offset_s + drift_s_per_s·(t − start) turned into a phase-angle error
 *               360 · f_nominal · Δt degrees (applied to an angle channel)
 *
 * On a controller's communication network (target `comms:<controller id>`, engine.ts): dos-drop
 * (message loss), dos-delay / dos-jitter (latency), link-failure (`link`: two agents) and byzantine
 * (`agent` broadcasts its value + `bias`).
 */

import type { ChannelTransform } from '../channels/channel.ts';
import type { Random } from '../random.ts';

export const ATTACK_KINDS = [
  'bias',
  'ramp',
  'scale',
  'stealthy',
  'replay',
  'spoof',
  'dos-drop',
  'dos-delay',
  'dos-jitter',
  'time-sync',
  'compromised-device',
  'link-failure',
  'byzantine',
] as const;
export type AttackKind = (typeof ATTACK_KINDS)[number];
/**
 * A kind a host target understands (engine.ts, HostAttackTarget: e.g. the bench's `ledger.*` attacks
 * on the market's chain); the twin checks only that some host owns the target.
 */
export type HostAttackKind = string & {};

/** The numeric parameters an attack kind may take (docs/security.md says which kind uses which). */
export const ATTACK_PARAMETERS = [
  'bias',
  'rate_per_s',
  'factor',
  'value',
  'record_s',
  'probability',
  'delay_s',
  'jitter_s',
  'offset_s',
  'drift_s_per_s',
] as const;
export type AttackParameters = { [K in (typeof ATTACK_PARAMETERS)[number]]?: number };

/** One attack, as a scenario declares it or an operator launches it. */
export interface AttackSpec extends AttackParameters {
  /** Label in recordings and reports (default: `kind@target`). */
  id?: string;
  kind: AttackKind | HostAttackKind;
  /**
   * Channel name (`device.signal`, e.g. `bess-hw.f_hz`, `bess-hw.p_mw`, or a state-estimation
   * telemetry channel `se.vm_pu.14`, `se.p_inj.14`, `se.p_flow.L13-14`); for `stealthy` the SE
   * island; for `compromised-device` the hardware device id; `comms:<controller id>` for an
   * attached controller's communication network (e.g. `comms:vpp:demo`); a host target's name
   * (`ledger.chain`, `ledger.authority1`, `ledger.meter.pv-24`: engine.ts, HostAttackTarget).
   */
  target: string;
  start_s: number;
  /** @default end of run */
  stop_s?: number;
  /** Stealthy: the estimate shift c, as per-bus magnitude (pu) and angle (deg) changes. */
  shift?: { bus: string; dvm_pu?: number; dva_deg?: number }[];
  /** Compromised device: what it reports instead of the truth. */
  report?: { soc?: number; p_mw?: number };
  /** link-failure on a communication network: the two agents whose link fails. */
  link?: [string, string];
  /** byzantine: the agent that lies. */
  agent?: string;
}

export function attackLabel(spec: AttackSpec): string {
  return spec.id ?? `${spec.kind}@${spec.target}`;
}

/** Common window logic. */
export abstract class WindowedAttack implements ChannelTransform {
  abstract readonly kind: string;
  constructor(
    readonly start_s: number,
    /** Mutable: an operator may end a live attack early. */
    public stop_s: number,
  ) {}
  active(t_s: number): boolean {
    return t_s >= this.start_s && t_s < this.stop_s;
  }
  apply(value: number, t_s: number): number {
    return this.active(t_s) ? this.attack(value, t_s) : value;
  }
  protected abstract attack(value: number, t_s: number): number;
  reset(): void {}
}

export class BiasAttack extends WindowedAttack {
  readonly kind = 'bias';
  constructor(
    start_s: number,
    stop_s: number,
    public bias: number,
  ) {
    super(start_s, stop_s);
  }
  protected attack(value: number): number {
    return value + this.bias;
  }
}

export class RampAttack extends WindowedAttack {
  readonly kind = 'ramp';
  constructor(
    start_s: number,
    stop_s: number,
    readonly rate_per_s: number,
  ) {
    super(start_s, stop_s);
  }
  protected attack(value: number, t_s: number): number {
    return value + this.rate_per_s * (t_s - this.start_s);
  }
}

export class ScaleAttack extends WindowedAttack {
  readonly kind = 'scale';
  constructor(
    start_s: number,
    stop_s: number,
    readonly factor: number,
  ) {
    super(start_s, stop_s);
  }
  protected attack(value: number): number {
    return value * this.factor;
  }
}

export class SpoofAttack extends WindowedAttack {
  readonly kind = 'spoof';
  constructor(
    start_s: number,
    stop_s: number,
    readonly value: number,
  ) {
    super(start_s, stop_s);
  }
  protected attack(): number {
    return this.value;
  }
}

/** Records the channel for record_s before the start, then replays that window in a loop. */
export class ReplayAttack extends WindowedAttack {
  readonly kind = 'replay';
  private readonly buffer: Float64Array;
  private recorded = 0;
  private cursor = 0;
  constructor(
    start_s: number,
    stop_s: number,
    readonly record_s: number,
    dt_s: number,
  ) {
    super(start_s, stop_s);
    this.buffer = new Float64Array(Math.max(1, Math.round(record_s / dt_s)));
  }
  override apply(value: number, t_s: number): number {
    if (t_s < this.start_s) {
      if (t_s >= this.start_s - this.record_s) {
        // Ring buffer: if more samples arrive than fit, keep the newest.
        this.buffer[this.recorded % this.buffer.length] = value;
        this.recorded++;
      }
      return value;
    }
    if (!this.active(t_s) || this.recorded === 0) return value;
    const n = Math.min(this.recorded, this.buffer.length);
    const first = this.recorded > this.buffer.length ? this.recorded % this.buffer.length : 0;
    const v = this.buffer[(first + (this.cursor % n)) % this.buffer.length];
    this.cursor++;
    return v;
  }
  protected attack(value: number): number {
    return value;
  }
  override reset(): void {
    this.recorded = 0;
    this.cursor = 0;
  }
}

/** Sample loss with hold-last-value at the receiver. */
export class DropAttack extends WindowedAttack {
  readonly kind = 'dos-drop';
  private last = Number.NaN;
  dropCount = 0;
  constructor(
    start_s: number,
    stop_s: number,
    readonly probability: number,
    private readonly random: Random,
  ) {
    super(start_s, stop_s);
  }
  override apply(value: number, t_s: number): number {
    if (this.active(t_s) && !Number.isNaN(this.last) && this.random.next() < this.probability) {
      this.dropCount++;
      return this.last;
    }
    this.last = value;
    return value;
  }
  protected attack(value: number): number {
    return value;
  }
}

/**
 * Variable delay: each sample becomes visible `delay` after it was taken (fixed delay_s plus a
 * uniform 0..jitter_s); the receiver always uses the newest sample already visible.
 */
export class DelayJitterAttack extends WindowedAttack {
  readonly kind: string;
  private readonly values: Float64Array;
  private readonly visibleAt: Float64Array;
  private head = 0;
  private count = 0;
  private lastOut = Number.NaN;
  constructor(
    start_s: number,
    stop_s: number,
    readonly delay_s: number,
    readonly jitter_s: number,
    dt_s: number,
    private readonly random: Random,
  ) {
    super(start_s, stop_s);
    this.kind = jitter_s > 0 ? 'dos-jitter' : 'dos-delay';
    const size = Math.max(2, Math.ceil((delay_s + jitter_s) / dt_s) + 2);
    this.values = new Float64Array(size);
    this.visibleAt = new Float64Array(size);
  }
  override apply(value: number, t_s: number): number {
    const delay = this.delay_s + (this.jitter_s > 0 ? this.jitter_s * this.random.next() : 0);
    this.values[this.head] = value;
    this.visibleAt[this.head] = t_s + delay;
    this.head = (this.head + 1) % this.values.length;
    if (this.count < this.values.length) this.count++;
    if (!this.active(t_s)) {
      this.lastOut = value;
      return value;
    }
    // The newest sample already arrived (jitter reorders arrivals; an older one arriving late is stale).
    let out = this.lastOut;
    for (let k = 0; k < this.count; k++) {
      const i = (this.head - 1 - k + 2 * this.values.length) % this.values.length;
      if (this.visibleAt[i] <= t_s) {
        out = this.values[i];
        break;
      }
    }
    this.lastOut = Number.isNaN(out) ? value : out;
    return this.lastOut;
  }
  protected attack(value: number): number {
    return value;
  }
}

/** Clock offset and drift at a phasor unit, seen as an angle error of 360·f·Δt degrees. */
export class TimeSyncAttack extends WindowedAttack {
  readonly kind = 'time-sync';
  constructor(
    start_s: number,
    stop_s: number,
    readonly offset_s: number,
    readonly drift_s_per_s: number,
    readonly f_nominal_hz: number,
  ) {
    super(start_s, stop_s);
  }
  clockError_s(t_s: number): number {
    return this.offset_s + this.drift_s_per_s * (t_s - this.start_s);
  }
  protected attack(value: number, t_s: number): number {
    return value + 360 * this.f_nominal_hz * this.clockError_s(t_s);
  }
}
