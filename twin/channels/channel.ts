import { deriveSeed, Random } from '../random.ts';

/**
 * One transform of a channel pipeline: gets the value the previous stage produced this step and
 * returns what it passes on. Stateful transforms (delay, drop) keep their state in preallocated
 * storage. Attacks (false data, replay) implement the same interface and are inserted into a
 * channel's pipeline at run time.
 */
export interface ChannelTransform {
  readonly kind: string;
  apply(value: number, t_s: number): number;
  reset(): void;
}

/** Additive white Gaussian noise. */
export class NoiseTransform implements ChannelTransform {
  readonly kind = 'noise';
  constructor(
    readonly std: number,
    private readonly random: Random,
  ) {}
  apply(value: number): number {
    return value + this.std * this.random.normal();
  }
  reset(): void {}
}

/** Rounds to the nearest multiple of `step` (an ADC or a fixed-point field). */
export class QuantiseTransform implements ChannelTransform {
  readonly kind = 'quantise';
  constructor(readonly step: number) {}
  apply(value: number): number {
    return Math.round(value / this.step) * this.step;
  }
  reset(): void {}
}

/** Fixed transport delay of a whole number of steps (ring buffer; the first outputs repeat the first input). */
export class DelayTransform implements ChannelTransform {
  readonly kind = 'delay';
  private readonly buffer: Float64Array;
  private head = 0;
  private filled = false;
  constructor(readonly steps: number) {
    this.buffer = new Float64Array(Math.max(1, steps + 1));
  }
  apply(value: number): number {
    if (this.steps <= 0) return value;
    const buf = this.buffer;
    if (!this.filled) {
      buf.fill(value);
      this.filled = true;
    }
    buf[this.head] = value;
    this.head = (this.head + 1) % buf.length;
    return buf[this.head];
  }
  reset(): void {
    this.filled = false;
    this.head = 0;
  }
}

/** Loses a sample with probability p; the receiver keeps the last value it got (sample-and-hold). */
export class DropTransform implements ChannelTransform {
  readonly kind = 'drop';
  private last = Number.NaN;
  /** Whether the last sample was dropped. */
  dropped = false;
  dropCount = 0;
  constructor(
    readonly probability: number,
    private readonly random: Random,
  ) {}
  apply(value: number): number {
    this.dropped = this.random.next() < this.probability && !Number.isNaN(this.last);
    if (this.dropped) {
      this.dropCount++;
      return this.last;
    }
    this.last = value;
    return value;
  }
  reset(): void {
    this.last = Number.NaN;
    this.dropped = false;
  }
}

/** Declarative description of a channel's impairments (scenario `channels:` section). */
export interface ChannelSpec {
  noise_std?: number;
  quantum?: number;
  delay_s?: number;
  drop_probability?: number;
}

/** A named signal path: value in, transforms in order, value out. */
export class Channel {
  readonly transforms: ChannelTransform[] = [];
  /** Last value delivered. */
  output = Number.NaN;

  constructor(readonly name: string) {}

  process(value: number, t_s: number): number {
    let v = value;
    const ts = this.transforms;
    for (let i = 0; i < ts.length; i++) v = ts[i].apply(v, t_s);
    this.output = v;
    return v;
  }

  /** Inserts a transform (e.g. an attack) at `index` (default: the end of the pipeline). */
  insert(transform: ChannelTransform, index = this.transforms.length): void {
    this.transforms.splice(index, 0, transform);
  }

  remove(transform: ChannelTransform): boolean {
    const i = this.transforms.indexOf(transform);
    if (i < 0) return false;
    this.transforms.splice(i, 1);
    return true;
  }
}

/** Builds the standard pipeline noise → quantise → delay → drop from a spec. */
export function buildChannel(name: string, spec: ChannelSpec, seed: number, dt_s: number): Channel {
  const channel = new Channel(name);
  if (spec.noise_std && spec.noise_std > 0) {
    channel.insert(new NoiseTransform(spec.noise_std, new Random(deriveSeed(seed, `${name}/noise`))));
  }
  if (spec.quantum && spec.quantum > 0) channel.insert(new QuantiseTransform(spec.quantum));
  if (spec.delay_s && spec.delay_s > 0) channel.insert(new DelayTransform(Math.round(spec.delay_s / dt_s)));
  if (spec.drop_probability && spec.drop_probability > 0) {
    channel.insert(new DropTransform(spec.drop_probability, new Random(deriveSeed(seed, `${name}/drop`))));
  }
  return channel;
}

/**
 * Finds the spec for channel `device.signal` among patterns: exact name, `device.*`, `*.signal`,
 * then `*` (most specific wins).
 */
export function specFor(
  specs: Record<string, ChannelSpec> | undefined,
  device: string,
  signal: string,
): ChannelSpec {
  if (!specs) return {};
  return specs[`${device}.${signal}`] ?? specs[`${device}.*`] ?? specs[`*.${signal}`] ?? specs['*'] ?? {};
}

export const MEASUREMENT_SIGNALS = ['vm_pu', 'va_deg', 'f_hz', 'rocof_hz_s'] as const;
export const COMMAND_SIGNALS = ['p_mw', 'q_mvar'] as const;
