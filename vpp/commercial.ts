/**
 * Commercial VPP (CVPP): forecasts made at a gate closure from data stamped before it, a bid
 * (price–quantity curve) from the members' cost curves, and the award against a price series.
 *
 * Gate closure is structural: the forecaster receives a `GateClosedHistory`, a view that holds only
 * samples stamped strictly before the gate and refuses to be asked about anything later — so a
 * forecast cannot see the twin's future even by mistake.
 *
 * Forecast model (weather-driven members): profile-scaled persistence. The last observed output
 * before the gate, divided by the member's availability profile at that time, gives a weather
 * factor; the forecast for a later time is that factor × the profile there × pmax, capped at pmax.
 * Forecast error, for studies that need one: multiplicative, Gaussian, σ = sigma0·√(lead in hours),
 * seeded (so a bid built on it is repeatable).
 */
import { readFileSync } from 'node:fs';
import { availabilityAt, memberLimits } from './aggregate.ts';
import { seededRandom } from './comms.ts';
import type { VppMember } from './portfolio.ts';

export interface Sample {
  t_s: number;
  p_mw: number;
  /** Storage state of charge then, 0..1. */
  soc?: number;
  /** False when the member was offline or tripped then. */
  online?: boolean;
}

/** Samples of each member's output as the VPP observed them, stamped with twin time. */
export class MeasurementHistory {
  private readonly samples = new Map<string, Sample[]>();

  record(memberId: string, t_s: number, p_mw: number, more: { soc?: number; online?: boolean } = {}): void {
    if (!Number.isFinite(t_s) || !Number.isFinite(p_mw)) return;
    const list = this.samples.get(memberId) ?? [];
    const soc = Number.isFinite(more.soc) ? more.soc : undefined;
    list.push({
      t_s,
      p_mw,
      ...(soc === undefined ? {} : { soc }),
      ...(more.online === false ? { online: false } : {}),
    });
    this.samples.set(memberId, list);
  }

  /** The view a forecast made at `gate_s` may use: samples stamped strictly before it. */
  closedAt(gate_s: number): GateClosedHistory {
    const view = new Map<string, readonly Sample[]>();
    for (const [id, list] of this.samples) view.set(id, Object.freeze(list.filter((s) => s.t_s < gate_s)));
    return new GateClosedHistory(gate_s, view);
  }
}

export class GateClosedHistory {
  constructor(
    readonly gate_s: number,
    private readonly view: ReadonlyMap<string, readonly Sample[]>,
  ) {}

  /** The last sample of a member before the gate (undefined when none). */
  last(memberId: string): Sample | undefined {
    const list = this.view.get(memberId);
    return list?.[list.length - 1];
  }

  /** Samples of a member in [from_s, to_s); asking for anything at or after the gate is refused. */
  between(memberId: string, from_s: number, to_s: number): readonly Sample[] {
    if (to_s > this.gate_s) {
      throw new RangeError(`data up to ${to_s} s asked for, but the gate closed at ${this.gate_s} s`);
    }
    return (this.view.get(memberId) ?? []).filter((s) => s.t_s >= from_s && s.t_s < to_s);
  }
}

export interface ForecastOptions {
  /** Hour of day at twin time 0. */
  startHour: number;
  /** Start of the first forecast interval, twin seconds (≥ the gate). */
  from_s: number;
  intervals: number;
  interval_s: number;
  /** Relative σ of the forecast error at one hour of lead time (0: none). @default 0 */
  sigma0?: number;
  seed?: number;
}

/** Forecast available power per member and interval (row-major: t·N + i), MW. */
export function forecastAvailability(
  members: readonly VppMember[],
  history: GateClosedHistory,
  options: ForecastOptions,
): Float64Array {
  if (options.from_s < history.gate_s) {
    throw new RangeError(
      `a forecast from ${options.from_s} s cannot start before its gate closure ${history.gate_s} s`,
    );
  }
  const N = members.length;
  const out = new Float64Array(options.intervals * N);
  const rand = seededRandom(options.seed ?? 1);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const hourAt = (t_s: number) => options.startHour + t_s / 3600;
  for (const [i, m] of members.entries()) {
    const last = history.last(m.id);
    let factor = 1;
    if (m.availability && last) {
      const shape = availabilityAt(m.availability, hourAt(last.t_s));
      if (shape > 0.05) factor = Math.max(last.p_mw, 0) / (shape * m.pmax_mw);
    }
    for (let t = 0; t < options.intervals; t++) {
      const mid = options.from_s + (t + 0.5) * options.interval_s;
      let p = m.availability ? factor * availabilityAt(m.availability, hourAt(mid)) * m.pmax_mw : m.pmax_mw;
      if (options.sigma0 && m.availability) {
        const lead_h = (mid - history.gate_s) / 3600;
        p *= 1 + options.sigma0 * Math.sqrt(Math.max(lead_h, 0)) * gauss();
      }
      out[t * N + i] = Math.min(Math.max(p, Math.min(m.pmin_mw, 0)), m.pmax_mw);
    }
  }
  return out;
}

/** One step of a bid: at `price_per_mwh` and above, the VPP offers `quantity_mw` in total. */
export interface BidStep {
  price_per_mwh: number;
  quantity_mw: number;
}

/**
 * The VPP's supply curve for one interval: at each price λ, Σ p_i(λ) with p_i = clamp((λ − b_i)/2a_i)
 * within the interval's limits (a linear member steps at b_i) — what the VPP would produce as a
 * price-taker. Sampled at `prices` (ascending).
 */
export function bidCurve(
  members: readonly { a: number; b: number }[],
  limits: readonly { pmin_mw: number; pmax_mw: number }[],
  prices: readonly number[],
): BidStep[] {
  return prices.map((lambda) => {
    let q = 0;
    for (const [i, m] of members.entries()) {
      const { pmin_mw, pmax_mw } = limits[i]!;
      q +=
        m.a > 0
          ? Math.min(Math.max((lambda - m.b) / (2 * m.a), pmin_mw), pmax_mw)
          : lambda >= m.b
            ? pmax_mw
            : pmin_mw;
    }
    return { price_per_mwh: lambda, quantity_mw: q };
  });
}

/**
 * The VPP's bid for one interval of a market, made at its gate closure: each member's limits over
 * the interval from data stamped before the gate only (weather-driven members: the forecast above;
 * storage: its state of charge at the last sample, over the interval's energy; a member last seen
 * offline: nothing), and the supply curve Σ p_i(λ) over them at `prices` (ascending). Net selling
 * is positive; a curve below zero at low prices is the VPP buying (its storage charging).
 */
export function intervalBid(
  members: readonly VppMember[],
  history: GateClosedHistory,
  options: { startHour: number; from_s: number; interval_s: number; prices: readonly number[] },
): { limits: { pmin_mw: number; pmax_mw: number }[]; curve: BidStep[] } {
  const forecast = forecastAvailability(members, history, { ...options, intervals: 1 });
  const hour = options.startHour + (options.from_s + options.interval_s / 2) / 3600;
  const limits = members.map((m, i) => {
    const last = history.last(m.id);
    if (last?.online === false) return { pmin_mw: 0, pmax_mw: 0 };
    const status = last ? { online: true, soc: last.soc } : undefined;
    const lim = memberLimits(m, hour, status, options.interval_s / 3600);
    if (!m.availability) return lim;
    const pmax = forecast[i]!;
    return { pmin_mw: Math.min(lim.pmin_mw, pmax), pmax_mw: pmax };
  });
  return { limits, curve: bidCurve(members, limits, options.prices) };
}

/** The quantity a bid curve is awarded at a clearing price: its last step at or below the price. */
export function awardAt(curve: readonly BidStep[], price_per_mwh: number): number {
  let q = curve[0]?.quantity_mw ?? 0;
  for (const step of curve) if (step.price_per_mwh <= price_per_mwh) q = step.quantity_mw;
  return q;
}

export class PriceFileError extends Error {
  constructor(
    readonly reason: string,
    readonly file: string,
    readonly line?: number,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}: ${reason}`);
    this.name = 'PriceFileError';
  }
}

/**
 * A price series: CSV with a header `hour,price_per_mwh` and one row per interval (hours ascending,
 * from 0, fractional hours allowed). Errors name the file and line.
 */
export function parsePriceSeries(text: string, file: string): { hour: number; price_per_mwh: number }[] {
  const lines = text.split(/\r?\n/);
  const header = lines[0]?.trim();
  if (header !== 'hour,price_per_mwh') {
    throw new PriceFileError(
      `the first line must be 'hour,price_per_mwh' (found '${header ?? ''}')`,
      file,
      1,
    );
  }
  const rows: { hour: number; price_per_mwh: number }[] = [];
  for (let k = 1; k < lines.length; k++) {
    const line = lines[k]!.trim();
    if (line === '' || line.startsWith('#')) continue;
    const cells = line.split(',');
    if (cells.length !== 2)
      throw new PriceFileError(`expected 2 columns, found ${cells.length}`, file, k + 1);
    const [hour, price] = cells.map((c) => Number(c.trim()));
    if (!Number.isFinite(hour) || !Number.isFinite(price)) {
      throw new PriceFileError(`'${line}' is not two finite numbers`, file, k + 1);
    }
    if (rows.length > 0 && hour! <= rows[rows.length - 1]!.hour) {
      throw new PriceFileError(`hour ${hour} does not follow ${rows[rows.length - 1]!.hour}`, file, k + 1);
    }
    rows.push({ hour: hour!, price_per_mwh: price! });
  }
  if (rows.length === 0) throw new PriceFileError('no prices', file);
  return rows;
}

export function loadPriceSeries(file: string): { hour: number; price_per_mwh: number }[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new PriceFileError(`cannot read: ${(err as Error).message}`, file);
  }
  return parsePriceSeries(text, file);
}
