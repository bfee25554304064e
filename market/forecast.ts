/**
 * Forecasts of the bidding agents (docs/market.md, "Forecasts"), made at an interval's gate closure
 * from observations stamped no later than it — the idea of the VPP's commercial forecaster
 * (vpp/commercial.ts), not its code: market/ imports only the twin's contract.
 *
 * Gate closure is structural: observations go into an `ObservationLog`; a forecast reads them only
 * through `closedAt(gate)`, a view that holds the samples stamped at or before the gate and refuses
 * to be asked about anything later, so a forecast cannot see the twin's future even by mistake.
 *
 * Model: shape-scaled persistence. A quantity that follows a known daily shape (PV: the clear-sky
 * half-sine between sunrise and sunset; loads: the daily load profile) is observed as a factor of
 * that shape over the last minutes before the gate (Σ value / Σ shape, which also averages the noise
 * out); the forecast is that factor × the shape's mean over the interval. Without a shape (wind) the
 * factor is the recent mean: persistence, smoothed.
 */

export interface Sample {
  t_s: number;
  value: number;
}

/** What the agents observed, by key (a DER id, `demand:<microgrid>`), stamped with twin time. */
export class ObservationLog {
  private readonly samples = new Map<string, Sample[]>();
  /** How long samples are kept, s (older ones are dropped as new ones arrive). */
  constructor(readonly keep_s = 3600) {}

  record(key: string, t_s: number, value: number): void {
    if (!Number.isFinite(t_s) || !Number.isFinite(value)) return;
    const list = this.samples.get(key) ?? [];
    list.push({ t_s, value });
    while (list.length > 0 && list[0].t_s < t_s - this.keep_s) list.shift();
    this.samples.set(key, list);
  }

  /** The view a forecast made at the gate closure `gate_s` may use. */
  closedAt(gate_s: number): GateClosedLog {
    return new GateClosedLog(gate_s, this.samples);
  }
}

export class GateClosedLog {
  constructor(
    readonly gate_s: number,
    private readonly samples: ReadonlyMap<string, readonly Sample[]>,
  ) {}

  /** Samples of `key` in [from_s, to_s]; asking past the gate is refused. */
  between(key: string, from_s: number, to_s: number): Sample[] {
    if (to_s > this.gate_s)
      throw new RangeError(`data up to ${to_s} s asked for, but the gate closed at ${this.gate_s} s`);
    return (this.samples.get(key) ?? []).filter((s) => s.t_s >= from_s && s.t_s <= to_s);
  }

  /** Samples of `key` in the last `window_s` before the gate. */
  recent(key: string, window_s: number): Sample[] {
    return this.between(key, this.gate_s - window_s, this.gate_s);
  }
}

/** A daily shape: value at an hour of day (any real hour; wraps at 24). */
export type DailyShape = (hourOfDay: number) => number;

/** Clear-sky shape of PV: a half-sine between sunrise and sunset, 0 at night (peak 1). */
export function clearSky(sunrise_h = 6, sunset_h = 18): DailyShape {
  return (hour) => {
    const h = ((hour % 24) + 24) % 24;
    return h <= sunrise_h || h >= sunset_h
      ? 0
      : Math.sin((Math.PI * (h - sunrise_h)) / (sunset_h - sunrise_h));
  };
}

/** A profile of n values over the day (24: hourly), linear between its points, wrapping at 24 h. */
export function dailyProfile(profile: readonly number[]): DailyShape {
  if (profile.length === 0 || profile.some((x) => !Number.isFinite(x)))
    throw new TypeError('a daily profile needs finite values');
  return (hour) => {
    const n = profile.length;
    const pos = ((((hour % 24) + 24) % 24) / 24) * n;
    const i = Math.floor(pos);
    const frac = pos - i;
    return profile[i % n] * (1 - frac) + profile[(i + 1) % n] * frac;
  };
}

/** Mean of a shape over [fromHour, fromHour + hours], by the midpoint rule on 1-minute slices. */
export function meanOver(shape: DailyShape, fromHour: number, hours: number): number {
  const n = Math.max(1, Math.round(hours * 60));
  let sum = 0;
  for (let k = 0; k < n; k++) sum += shape(fromHour + ((k + 0.5) * hours) / n);
  return sum / n;
}

/**
 * The forecast of one quantity over the interval starting at `from_s` (twin time; `startHour` is the
 * hour of day at t = 0): the factor observed over the last `window_s` before the gate × the shape's
 * mean over the interval. Undefined when nothing was observed (the caller falls back to what it sees
 * now); 0 when the shape is 0 over the whole window and interval (PV at night).
 */
export function shapeScaled(
  log: GateClosedLog,
  key: string,
  options: { from_s: number; interval_s: number; startHour: number; window_s: number; shape?: DailyShape },
): number | undefined {
  const samples = log.recent(key, options.window_s);
  if (samples.length === 0) return undefined;
  const hourOf = (t_s: number) => options.startHour + t_s / 3600;
  const shape = options.shape;
  if (!shape) return samples.reduce((s, x) => s + x.value, 0) / samples.length;
  const ahead = meanOver(shape, hourOf(options.from_s), options.interval_s / 3600);
  let seen = 0;
  let shapeSeen = 0;
  for (const x of samples) {
    seen += x.value;
    shapeSeen += shape(hourOf(x.t_s));
  }
  // The shape is (almost) 0 where we looked: nothing to scale (dawn): persistence of the mean.
  if (shapeSeen < 1e-3 * samples.length) return ahead > 0 ? seen / samples.length : 0;
  return (seen / shapeSeen) * ahead;
}
