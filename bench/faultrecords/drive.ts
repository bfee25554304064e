/**
 * Turns a fault record (COMTRADE or CSV) into the time series that drive the twin: the main
 * grid's frequency and voltage (`GridTrace`, replayed by twin/dynamics/main-grid.ts), or the
 * voltage and frequency one bus's devices see (`BusDrive`, applied by `withBusDrive`).
 *
 * A channel is used either as a value (already Hz, or an RMS / phasor magnitude) or as a
 * waveform: frequency then comes from positive-going zero crossings, voltage from a one-cycle
 * RMS (trapezoidal integral of v², so non-uniform sampling is fine).
 */
import type {
  BusMeasurement,
  DeviceInput,
  TwinCommand,
  TwinEvent,
  TwinLike,
  TwinState,
} from '../../twin/api.ts';
import type { ComtradeRecord } from './comtrade.ts';

/** One named signal over time. */
export interface Signal {
  name: string;
  unit: string;
  /** Seconds from the record's first sample, non-decreasing. */
  time_s: Float64Array;
  values: Float64Array;
  /** Sample ranges [start, end) each recorded at one rate (a COMTRADE rate table), when known. */
  segments?: readonly { start: number; end: number }[];
}

export class FaultRecordError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FaultRecordError';
  }
}

/** Signals of a COMTRADE record's analog channels, named by channel id (also `A<n>` by index). */
export function comtradeSignals(record: ComtradeRecord): Map<string, Signal> {
  const signals = new Map<string, Signal>();
  const { rates } = record.config;
  let start = 0;
  const segments = rates.every((r) => r.rate_hz > 0)
    ? rates.map(({ endSample }) => {
        const segment = { start, end: Math.min(endSample, record.time_s.length) };
        start = segment.end;
        return segment;
      })
    : undefined;
  record.config.analog.forEach((channel, i) => {
    const signal: Signal = {
      name: channel.id,
      unit: channel.unit,
      time_s: record.time_s,
      values: record.analog[i],
      ...(segments ? { segments } : {}),
    };
    signals.set(`A${i + 1}`, signal);
    if (!signals.has(channel.id)) signals.set(channel.id, signal);
  });
  return signals;
}

export interface ChannelUse {
  /** Channel id (COMTRADE channel name or `A<n>`, CSV column). */
  channel: string;
  /** `value`: already Hz / RMS / magnitude. `waveform`: instantaneous samples. @default 'value' */
  from?: 'value' | 'waveform';
}

export interface DriveSpec {
  frequency?: ChannelUse & {
    /** Multiply values by this (e.g. 1 when in Hz). @default 1 */
    scale?: number;
  };
  voltage?: ChannelUse & {
    /** Value that means 1 pu, in the channel's unit (RMS for waveforms). */
    base: number;
  };
  /** Nominal frequency for RMS windows and to fill frequency when not driven. @default record's or 50 */
  nominal_hz?: number;
  /** Record time that becomes scenario time 0. @default 0 (first sample) */
  offset_s?: number;
}

export interface DriveSeries {
  /** Uniform times 0, dt, 2dt … covering the record. */
  t_s: Float64Array;
  f_hz: Float64Array;
  v_pu: Float64Array;
}

function lookup(signals: Map<string, Signal>, channel: string, role: string): Signal {
  const signal = signals.get(channel);
  if (!signal) {
    const names = [...signals.keys()].filter((k) => !/^A\d+$/.test(k)).slice(0, 20);
    throw new FaultRecordError(`${role} channel '${channel}' not found; channels: ${names.join(', ')}`);
  }
  return signal;
}

/** Linear interpolation of (time, values) at t, holding the end values outside; NaNs are skipped. */
export function interpolate(time: Float64Array, values: Float64Array, t: number, hint = { i: 0 }): number {
  const n = time.length;
  if (n === 0) return Number.NaN;
  let i = Math.min(hint.i, n - 1);
  while (i + 1 < n && time[i + 1] <= t) i++;
  while (i > 0 && time[i] > t) i--;
  hint.i = i;
  if (t <= time[0]) return values[0];
  if (i + 1 >= n) return values[n - 1];
  const span = time[i + 1] - time[i];
  if (span <= 0) return values[i + 1];
  const a = (t - time[i]) / span;
  return values[i] + a * (values[i + 1] - values[i]);
}

/** One-cycle RMS of a waveform at each sample time (window [t − 1/f, t], clipped at the start). */
export function slidingRms(signal: Signal, nominal_hz: number): Signal {
  const { time_s: t, values: v } = signal;
  const n = t.length;
  // integral[i] = ∫ v² dt from t[0] to t[i] (trapezoids); NaN samples count as 0.
  const integral = new Float64Array(n);
  for (let i = 1; i < n; i++) {
    const a = Number.isNaN(v[i - 1]) ? 0 : v[i - 1];
    const b = Number.isNaN(v[i]) ? 0 : v[i];
    integral[i] = integral[i - 1] + ((a * a + b * b) / 2) * (t[i] - t[i - 1]);
  }
  const window = 1 / nominal_hz;
  const rms = new Float64Array(n);
  const hint = { i: 0 };
  for (let i = 0; i < n; i++) {
    const from = Math.max(t[0], t[i] - window);
    const span = t[i] - from;
    if (span <= 0) {
      rms[i] = Math.abs(v[i]);
      continue;
    }
    const area = integral[i] - interpolate(t, integral, from, hint);
    rms[i] = Math.sqrt(Math.max(0, area / span));
  }
  // Before one full cycle exists, the RMS of a partial cycle is meaningless: hold the first full one.
  const firstFull = t.findIndex((x) => x - t[0] >= window);
  if (firstFull > 0) rms.fill(rms[firstFull], 0, firstFull);
  return { name: `rms(${signal.name})`, unit: signal.unit, time_s: t, values: rms };
}

/**
 * Frequency of a waveform from the times of its positive-going zero crossings (interpolated
 * linearly), one value per cycle, placed at the crossing. A crossing counts only after the
 * signal went below −10 % of its peak since the last one (hysteresis against noise); cycles
 * shorter than half or longer than twice nominal are ignored (collapsed or distorted voltage),
 * and the last good frequency is held.
 */
export function zeroCrossingFrequency(signal: Signal, nominal_hz: number): Signal {
  const { time_s: t, values: v } = signal;
  let peak = 0;
  for (let i = 0; i < v.length; i++) if (Math.abs(v[i]) > peak) peak = Math.abs(v[i]);
  const threshold = 0.1 * peak;
  const times: number[] = [];
  const freqs: number[] = [];
  let armed = false;
  let lastCrossing = Number.NaN;
  for (let i = 1; i < v.length; i++) {
    if (v[i - 1] < -threshold) armed = true;
    if (!armed || !(v[i - 1] < 0 && v[i] >= 0)) continue;
    armed = false;
    const crossing = t[i - 1] + ((0 - v[i - 1]) * (t[i] - t[i - 1])) / (v[i] - v[i - 1]);
    const period = crossing - lastCrossing;
    lastCrossing = crossing;
    if (!(period > 0.5 / nominal_hz && period < 2 / nominal_hz)) continue;
    times.push(crossing);
    freqs.push(1 / period);
  }
  if (times.length === 0) {
    throw new FaultRecordError(`no usable zero crossings in '${signal.name}' to measure frequency from`);
  }
  return {
    name: `f(${signal.name})`,
    unit: 'Hz',
    time_s: Float64Array.from(times),
    values: Float64Array.from(freqs),
  };
}

/** Fewest samples per cycle a waveform needs for a one-cycle RMS and zero crossings to mean anything. */
export const MIN_SAMPLES_PER_CYCLE = 8;

/** A stretch of a signal sampled at one rate, without gaps: samples [start, end). */
export interface SignalPiece {
  start: number;
  end: number;
  /** Median sampling rate inside the piece, Hz (0 for a lone sample). */
  rate_hz: number;
}

/**
 * Splits a signal's samples into its recorded segments (the rate table, when the record has one),
 * and further where the sampling step changes by more than 20 % or jumps over a gap: a one-cycle
 * window must never straddle two rates or a gap.
 */
export function samplingPieces(
  time_s: Float64Array,
  segments: readonly { start: number; end: number }[] = [{ start: 0, end: time_s.length }],
): SignalPiece[] {
  return segments.flatMap((segment) =>
    splitByStep(time_s.subarray(segment.start, segment.end)).map((p) => ({
      ...p,
      start: p.start + segment.start,
      end: p.end + segment.start,
    })),
  );
}

function splitByStep(time_s: Float64Array): SignalPiece[] {
  const pieces: SignalPiece[] = [];
  const n = time_s.length;
  let start = 0;
  const close = (end: number) => {
    const steps: number[] = [];
    for (let i = start + 1; i < end; i++) steps.push(time_s[i] - time_s[i - 1]);
    steps.sort((a, b) => a - b);
    const median = steps[steps.length >> 1];
    pieces.push({ start, end, rate_hz: median && median > 0 ? 1 / median : 0 });
    start = end;
  };
  for (let i = 2; i < n; i++) {
    if (i - 1 <= start) continue;
    const reference = time_s[start + 1] - time_s[start];
    const step = time_s[i] - time_s[i - 1];
    if (Math.abs(step / reference - 1) > 0.2) close(i);
  }
  if (n > 0) close(n);
  return pieces;
}

/**
 * Refuses a waveform analysis over a record stretch sampled too slowly for it (a multi-rate
 * record's slow segments, e.g. one sample per cycle), naming the stretch and what to do instead.
 */
function checkWaveformRate(signal: Signal, pieces: readonly SignalPiece[], nominal_hz: number, role: string) {
  const slow = pieces.filter((p) => p.end - p.start > 1 && p.rate_hz / nominal_hz < MIN_SAMPLES_PER_CYCLE);
  if (slow.length === 0) return;
  const t = signal.time_s;
  const list = slow
    .slice(0, 3)
    .map(
      (p) =>
        `samples ${p.start + 1}-${p.end} (${t[p.start]!.toFixed(3)}-${t[p.end - 1]!.toFixed(3)} s) at ${p.rate_hz.toFixed(p.rate_hz < 10 ? 2 : 0)} Hz = ${(p.rate_hz / nominal_hz).toFixed(1)} samples per cycle`,
    )
    .join('; ');
  throw new FaultRecordError(
    `${role} from waveform '${signal.name}' needs at least ${MIN_SAMPLES_PER_CYCLE} samples per ${nominal_hz} Hz cycle, but the record has ${slow.length} slower stretch(es): ${list}${slow.length > 3 ? '; …' : ''}. A waveform sampled that slowly cannot give RMS or frequency: drive from a channel that holds them ('value' mode), or replay a record of the fast segments only`,
  );
}

/** Applies a waveform analysis piece by piece (each at its own rate), holding values over lone samples. */
function perPiece(
  signal: Signal,
  pieces: readonly SignalPiece[],
  analyse: (piece: Signal) => Signal,
): Signal {
  const times: number[] = [];
  const values: number[] = [];
  let name = signal.name;
  let failure: unknown;
  for (const p of pieces) {
    if (p.end - p.start < 2) continue;
    let part: Signal;
    try {
      part = analyse({
        ...signal,
        time_s: signal.time_s.subarray(p.start, p.end),
        values: signal.values.subarray(p.start, p.end),
      });
    } catch (err) {
      // A piece too short for a cycle gives nothing; the values around it are held.
      if (!(err instanceof FaultRecordError)) throw err;
      failure ??= err;
      continue;
    }
    name = part.name;
    for (let i = 0; i < part.time_s.length; i++) {
      times.push(part.time_s[i]!);
      values.push(part.values[i]!);
    }
  }
  if (times.length === 0)
    throw failure ?? new FaultRecordError(`'${signal.name}' has no two samples in a row`);
  return { name, unit: signal.unit, time_s: Float64Array.from(times), values: Float64Array.from(values) };
}

/**
 * What a grid replay may plausibly ask of the twin. Beyond these the record was almost certainly
 * read wrong (wrong channel, base, nominal frequency or sampling rate), and replaying it would
 * only trip every DER: the replay stops with the reason instead.
 */
export const PLAUSIBLE_DRIVE = {
  /** Frequency within ± this fraction of nominal. */
  frequencyBand: 0.15,
  /** Voltage never above this, pu. */
  vMax_pu: 2,
  /** Voltage above vHigh_pu for no longer than vHighFor_s at a stretch. */
  vHigh_pu: 1.3,
  vHighFor_s: 0.5,
} as const;

/** Throws FaultRecordError when a drive leaves PLAUSIBLE_DRIVE (see there). */
export function checkPlausibleDrive(series: DriveSeries, nominal_hz: number): void {
  const { frequencyBand, vMax_pu, vHigh_pu, vHighFor_s } = PLAUSIBLE_DRIVE;
  const [fLow, fHigh] = [nominal_hz * (1 - frequencyBand), nominal_hz * (1 + frequencyBand)];
  let highSince = -1;
  const hint =
    "check the channel, --voltage-base, the nominal frequency (--frequency-scale) and the record's sampling rates";
  for (let k = 0; k < series.t_s.length; k++) {
    const [t, f, v] = [series.t_s[k]!, series.f_hz[k]!, series.v_pu[k]!];
    if (f < fLow || f > fHigh) {
      throw new FaultRecordError(
        `implausible replay: frequency ${f.toFixed(2)} Hz at t = ${t.toFixed(3)} s is outside ${fLow.toFixed(1)}-${fHigh.toFixed(1)} Hz (nominal ${nominal_hz} Hz ± ${frequencyBand * 100} %); ${hint}`,
      );
    }
    if (v > vMax_pu) {
      throw new FaultRecordError(
        `implausible replay: voltage ${v.toFixed(3)} pu at t = ${t.toFixed(3)} s is above ${vMax_pu} pu; ${hint}`,
      );
    }
    if (v > vHigh_pu) {
      if (highSince < 0) highSince = t;
      if (t - highSince > vHighFor_s) {
        throw new FaultRecordError(
          `implausible replay: voltage above ${vHigh_pu} pu for more than ${vHighFor_s} s (from t = ${highSince.toFixed(3)} s, ${v.toFixed(3)} pu); ${hint}`,
        );
      }
    } else highSince = -1;
  }
}

/** Resamples the spec'd channels on a uniform grid of step dt_s into frequency (Hz) and voltage (pu). */
export function buildDriveSeries(
  signals: Map<string, Signal>,
  spec: DriveSpec,
  dt_s: number,
  nominal_hz = 50,
): DriveSeries {
  if (!(dt_s > 0)) throw new FaultRecordError(`step must be > 0 s, got ${dt_s}`);
  if (!spec.frequency && !spec.voltage)
    throw new FaultRecordError('drive neither frequency nor voltage: give at least one channel');
  const f0 = spec.nominal_hz ?? nominal_hz;
  const offset = spec.offset_s ?? 0;
  let frequency: Signal | undefined;
  // The drive covers the recorded channels' span (a crossing-based frequency ends earlier).
  let end = 0;
  if (spec.frequency) {
    const raw = lookup(signals, spec.frequency.channel, 'frequency');
    end = Math.max(end, raw.time_s[raw.time_s.length - 1] ?? 0);
    if (spec.frequency.from === 'waveform') {
      const pieces = samplingPieces(raw.time_s, raw.segments);
      checkWaveformRate(raw, pieces, f0, 'frequency');
      frequency = perPiece(raw, pieces, (piece) => zeroCrossingFrequency(piece, f0));
    } else frequency = raw;
  }
  let voltage: Signal | undefined;
  if (spec.voltage) {
    if (!(spec.voltage.base > 0))
      throw new FaultRecordError(`voltage base must be > 0, got ${spec.voltage.base}`);
    const raw = lookup(signals, spec.voltage.channel, 'voltage');
    end = Math.max(end, raw.time_s[raw.time_s.length - 1] ?? 0);
    if (spec.voltage.from === 'waveform') {
      const pieces = samplingPieces(raw.time_s, raw.segments);
      checkWaveformRate(raw, pieces, f0, 'voltage');
      voltage = perPiece(raw, pieces, (piece) => slidingRms(piece, f0));
    } else voltage = raw;
  }
  end -= offset;
  const n = Math.max(1, Math.floor(end / dt_s + 1e-9) + 1);
  const series: DriveSeries = {
    t_s: new Float64Array(n),
    f_hz: new Float64Array(n),
    v_pu: new Float64Array(n),
  };
  const fScale = spec.frequency?.scale ?? 1;
  const fHint = { i: 0 };
  const vHint = { i: 0 };
  for (let k = 0; k < n; k++) {
    const t = k * dt_s;
    series.t_s[k] = t;
    series.f_hz[k] = frequency
      ? interpolate(frequency.time_s, frequency.values, t + offset, fHint) * fScale
      : f0;
    series.v_pu[k] = voltage
      ? interpolate(voltage.time_s, voltage.values, t + offset, vHint) / spec.voltage!.base
      : 1;
  }
  for (let k = 0; k < n; k++) {
    if (!Number.isFinite(series.f_hz[k]) || !Number.isFinite(series.v_pu[k])) {
      throw new FaultRecordError(
        `drive has no finite value at t = ${series.t_s[k]} s (missing samples in the record?)`,
      );
    }
  }
  checkPlausibleDrive(series, f0 * fScale);
  return series;
}

/** Reads the drive at time t (linear between samples, held at the ends). */
export function driveAt(series: DriveSeries, t: number, hint = { i: 0 }): { f_hz: number; v_pu: number } {
  const f_hz = interpolate(series.t_s, series.f_hz, t, hint);
  const v_pu = interpolate(series.t_s, series.v_pu, t, hint);
  return { f_hz, v_pu };
}

/**
 * Drives the bus measurement that devices at one bus receive from a fault record, leaving the
 * rest of the twin as it is: the devices under test see the recorded voltage and frequency.
 * `deviceIds` are the devices at that bus.
 */
export function withBusDrive(twin: TwinLike, deviceIds: readonly string[], series: DriveSeries): TwinLike {
  const driven = new Set(deviceIds);
  const hint = { i: 0 };
  let previousF = series.f_hz[0];
  let previousT = 0;
  return {
    get dt_s() {
      return twin.dt_s;
    },
    step(inputs: readonly DeviceInput[]): TwinState {
      return twin.step(inputs);
    },
    command(command: TwinCommand): TwinEvent {
      return twin.command(command);
    },
    measurementFor(deviceId: string): BusMeasurement {
      const m = twin.measurementFor(deviceId);
      if (!driven.has(deviceId)) return m;
      const { f_hz, v_pu } = driveAt(series, m.t_s, hint);
      const rocof = m.t_s > previousT ? (f_hz - previousF) / (m.t_s - previousT) : 0;
      previousF = f_hz;
      previousT = m.t_s;
      return { ...m, vm_pu: v_pu, f_hz, rocof_hz_s: rocof };
    },
  };
}

/**
 * CSV fault records: a header row, then one row per sample. The time column is `t_s` (seconds
 * from the start) or `time` (ISO 8601, or seconds); every other column is a signal named by its
 * header (`f_hz`, `v_pu`, `Va`…; a unit may follow in brackets: `Va [kV]`). `#` lines are comments.
 */
export function parseCsvRecord(text: string, name = 'record.csv'): Map<string, Signal> {
  const lines = text.split(/\r?\n/);
  let lineNo = 0;
  let header: string[] | undefined;
  const rows: { line: number; cells: string[] }[] = [];
  for (const raw of lines) {
    lineNo++;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const cells = line.split(/[,;\t]/).map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
    if (!header) header = cells;
    else rows.push({ line: lineNo, cells });
  }
  if (!header) throw new FaultRecordError(`${name}: no header row`);
  const timeColumn = header.findIndex((h) => /^(t_s|time|t)(\s*\[.*\])?$/i.test(h));
  if (timeColumn < 0)
    throw new FaultRecordError(`${name}:1: no time column (t_s or time) in '${header.join(',')}'`);
  if (rows.length === 0) throw new FaultRecordError(`${name}: no data rows`);
  const time = new Float64Array(rows.length);
  const columns = header.map(() => new Float64Array(rows.length));
  let epoch: number | undefined;
  rows.forEach(({ line, cells }, r) => {
    if (cells.length !== header!.length) {
      throw new FaultRecordError(`${name}:${line}: ${cells.length} cells, the header has ${header!.length}`);
    }
    const rawTime = cells[timeColumn];
    let t = Number(rawTime);
    if (rawTime === '' || !Number.isFinite(t)) {
      const ms = Date.parse(rawTime);
      if (Number.isNaN(ms))
        throw new FaultRecordError(`${name}:${line}: time '${rawTime}' is neither seconds nor ISO 8601`);
      epoch ??= ms;
      t = (ms - epoch) / 1000;
    }
    if (r > 0 && t < time[r - 1])
      throw new FaultRecordError(`${name}:${line}: time ${t} goes back from ${time[r - 1]}`);
    time[r] = t;
    cells.forEach((cell, c) => {
      if (c === timeColumn) return;
      const value = Number(cell);
      if (cell === '' || !Number.isFinite(value)) {
        throw new FaultRecordError(`${name}:${line}: column '${header![c]}' value '${cell}' is not a number`);
      }
      columns[c][r] = value;
    });
  });
  if (time[0] !== 0) for (let r = rows.length - 1; r >= 0; r--) time[r] -= time[0];
  const signals = new Map<string, Signal>();
  header.forEach((h, c) => {
    if (c === timeColumn) return;
    const m = /^(.*?)\s*\[(.*)\]$/.exec(h);
    const signalName = m ? m[1] : h;
    signals.set(signalName, { name: signalName, unit: m ? m[2] : '', time_s: time, values: columns[c] });
  });
  return signals;
}
