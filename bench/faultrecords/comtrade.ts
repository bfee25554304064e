/**
 * IEEE C37.111 COMTRADE reader: configuration (.cfg) and data (.dat) in the 1991, 1999 and 2013
 * revisions, data as ASCII, BINARY (16-bit), BINARY32 and FLOAT32, and the 2013 single-file
 * container (.cff). Errors name the file and line (configuration, ASCII data) or byte offset
 * (binary data).
 *
 * What each revision changes, as far as reading goes:
 * - 1991: no revision field on line 1; analog lines end at `max` (10 fields), digital lines are
 *   `n,id,y` (3 fields); dates are mm/dd/yy; no `timemult` line.
 * - 1999: revision field; analog lines add primary, secondary, P/S; digital lines `n,id,ph,ccbm,y`;
 *   dates dd/mm/yyyy; `timemult` line; BINARY data only.
 * - 2013: BINARY32 and FLOAT32 data, `time_code,local_code` and `tmq_code,leapsec` lines,
 *   nanosecond date resolution (the data time stamps are then in ns), and the .cff container.
 */

export type ComtradeRevision = '1991' | '1999' | '2013';
export type ComtradeDataFormat = 'ASCII' | 'BINARY' | 'BINARY32' | 'FLOAT32';

export interface AnalogChannel {
  index: number;
  id: string;
  phase: string;
  circuit: string;
  unit: string;
  a: number;
  b: number;
  skew_s: number;
  min: number;
  max: number;
  primary: number;
  secondary: number;
  /** Whether scaled values are primary (P) or secondary (S) quantities. */
  ps: 'P' | 'S';
}

export interface DigitalChannel {
  index: number;
  id: string;
  phase: string;
  circuit: string;
  normalState: 0 | 1;
}

export interface ComtradeConfig {
  station: string;
  device: string;
  revision: ComtradeRevision;
  analog: AnalogChannel[];
  digital: DigitalChannel[];
  /** Nominal line frequency, Hz (0 when the record does not say). */
  lineFrequency_hz: number;
  /** Sampling rates: `rate_hz` up to sample number `endSample`. Rate 0: use the time stamps. */
  rates: { rate_hz: number; endSample: number }[];
  /** First sample time and trigger time, ns since the Unix epoch (record's local time as UTC). */
  start_ns: bigint;
  trigger_ns: bigint;
  format: ComtradeDataFormat;
  timeMultiplier: number;
  /** True when the dates have nanosecond resolution: data time stamps are then in ns, else µs. */
  nanosecondTimestamps: boolean;
  timeCode?: string;
  localCode?: string;
  /** What was read leniently (a non-standard revision year…), for the person replaying it. */
  warnings: string[];
}

export interface ComtradeRecord {
  config: ComtradeConfig;
  /** Sample times, seconds after the first sample's `start_ns`. */
  time_s: Float64Array;
  /** Scaled values (a·x + b), one array per analog channel; NaN where the sample is missing. */
  analog: Float64Array[];
  digital: Uint8Array[];
  /** Header (.hdr) text when one was found. */
  header?: string;
  /** What was read leniently (the configuration's warnings, then the data's). */
  warnings: string[];
}

export class ComtradeError extends Error {
  constructor(where: string, why: string) {
    super(`${where}: ${why}`);
    this.name = 'ComtradeError';
  }
}

/** Decodes configuration text: UTF-8 when valid, else Latin-1 so no byte is lost (names may be GBK, cp1251…). */
export function decodeText(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return new TextDecoder('latin1').decode(bytes);
  }
}

function parseNumber(raw: string, where: string, what: string): number {
  const value = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(value))
    throw new ComtradeError(where, `${what} '${raw.trim()}' is not a number`);
  return value;
}

/** Parses `dd/mm/yyyy,hh:mm:ss.ffffff[fff]` (1999+) or `mm/dd/yy,…` (1991) as ns since the epoch. */
function parseTimestamp(
  line: string,
  revision: ComtradeRevision,
  where: string,
): { ns: bigint; nanos: boolean } {
  const match =
    /^\s*(\d{1,2})\/(\d{1,2})\/(\d{2,4})\s*,\s*(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,9}))?\s*$/.exec(line);
  if (!match) throw new ComtradeError(where, `date/time '${line.trim()}' is not dd/mm/yyyy,hh:mm:ss.ssssss`);
  const [, p1, p2, y, hh, mi, ss, frac = ''] = match;
  const [day, month] = revision === '1991' ? [Number(p2), Number(p1)] : [Number(p1), Number(p2)];
  let year = Number(y);
  if (y.length === 2) year += year < 70 ? 2000 : 1900;
  if (month < 1 || month > 12 || day < 1 || day > 31) {
    throw new ComtradeError(where, `date '${line.trim()}' has month ${month}, day ${day}`);
  }
  const ms = Date.UTC(year, month - 1, day, Number(hh), Number(mi), Number(ss));
  const fraction = BigInt(frac.padEnd(9, '0'));
  return { ns: BigInt(ms) * 1_000_000n + fraction, nanos: frac.length > 6 };
}

const KNOWN_REVISIONS: readonly ComtradeRevision[] = ['1991', '1999', '2013'];

/**
 * The revision to read a record as. Recorders write years the standard never had (1997, 2000,
 * 2001…): those are read as the closest known revision, with a warning; an empty field is 1991.
 */
function revisionOf(field: string, where: string, warnings: string[]): ComtradeRevision {
  if (field === '') return '1991';
  if ((KNOWN_REVISIONS as readonly string[]).includes(field)) return field as ComtradeRevision;
  if (!/^\d{4}$/.test(field))
    throw new ComtradeError(where, `revision year '${field}' is not a year (1991, 1999 or 2013)`);
  const year = Number(field);
  // Ties go to the later revision (it reads everything the earlier one wrote).
  const closest = KNOWN_REVISIONS.reduce((best, r) =>
    Math.abs(Number(r) - year) <= Math.abs(Number(best) - year) ? r : best,
  );
  warnings.push(`${where}: revision year ${field} is not a standard one; read as ${closest}`);
  return closest;
}

/** Parses configuration text. `name` (file name) prefixes errors with `name:line`. */
export function parseComtradeConfig(text: string, name = 'record.cfg'): ComtradeConfig {
  const lines = text.split(/\r?\n/);
  let lineNo = 0;
  const where = () => `${name}:${lineNo}`;
  const next = (what: string): string[] => {
    while (lineNo < lines.length) {
      const line = lines[lineNo++];
      if (line.trim() !== '') return line.split(',').map((f) => f.trim());
    }
    throw new ComtradeError(`${name}:${lines.length}`, `file ends before the ${what} line`);
  };
  const nextOptional = (): string[] | undefined => {
    while (lineNo < lines.length) {
      const line = lines[lineNo++];
      if (line.trim() !== '') return line.split(',').map((f) => f.trim());
    }
    return undefined;
  };

  const head = next('station');
  const station = head[0] ?? '';
  const device = head[1] ?? '';
  const rev = head[2] ?? '';
  const warnings: string[] = [];
  const revision = revisionOf(rev, where(), warnings);

  const counts = next('channel count');
  const total = parseNumber(counts[0] ?? '', where(), 'channel count');
  const nA = /^(\d+)A$/i.exec(counts[1] ?? '');
  const nD = /^(\d+)D$/i.exec(counts[2] ?? '');
  if (!nA || !nD)
    throw new ComtradeError(where(), `channel counts '${counts.join(',')}' are not 'TT,##A,##D'`);
  const analogCount = Number(nA[1]);
  const digitalCount = Number(nD[1]);
  if (analogCount + digitalCount !== total) {
    throw new ComtradeError(
      where(),
      `${analogCount}A + ${digitalCount}D does not add up to ${total} channels`,
    );
  }

  const analog: AnalogChannel[] = [];
  for (let i = 0; i < analogCount; i++) {
    const f = next(`analog channel ${i + 1}`);
    if (f.length < 10)
      throw new ComtradeError(where(), `analog channel line has ${f.length} fields, needs at least 10`);
    const ps = (f[12] ?? 'S').toUpperCase();
    analog.push({
      index: parseNumber(f[0], where(), 'channel index'),
      id: f[1],
      phase: f[2],
      circuit: f[3],
      unit: f[4],
      a: parseNumber(f[5], where(), 'multiplier a'),
      b: parseNumber(f[6], where(), 'offset b'),
      skew_s: (f[7] === '' ? 0 : parseNumber(f[7], where(), 'skew')) * 1e-6,
      min: parseNumber(f[8], where(), 'min'),
      max: parseNumber(f[9], where(), 'max'),
      primary: f[10] ? parseNumber(f[10], where(), 'primary') : 1,
      secondary: f[11] ? parseNumber(f[11], where(), 'secondary') : 1,
      ps: ps === 'P' ? 'P' : 'S',
    });
  }
  const digital: DigitalChannel[] = [];
  for (let i = 0; i < digitalCount; i++) {
    const f = next(`digital channel ${i + 1}`);
    // 1991: n,id,y — later: n,id,ph,ccbm,y
    const short = f.length <= 3;
    const y = short ? f[2] : f[4];
    digital.push({
      index: parseNumber(f[0], where(), 'channel index'),
      id: f[1] ?? '',
      phase: short ? '' : (f[2] ?? ''),
      circuit: short ? '' : (f[3] ?? ''),
      normalState: y === '1' ? 1 : 0,
    });
  }

  const lineFrequency_hz = parseNumber(next('line frequency')[0], where(), 'line frequency');
  const nrates = parseNumber(next('nrates')[0], where(), 'nrates');
  const rates: ComtradeConfig['rates'] = [];
  for (let i = 0; i < Math.max(1, nrates); i++) {
    const f = next('sampling rate');
    rates.push({
      rate_hz: parseNumber(f[0], where(), 'sampling rate'),
      endSample: parseNumber(f[1] ?? '', where(), 'last sample number'),
    });
  }
  const startLine = next('start time');
  const start = parseTimestamp(startLine.join(','), revision, where());
  const triggerLine = next('trigger time');
  const trigger = parseTimestamp(triggerLine.join(','), revision, where());
  const ft = (next('data file type')[0] ?? '').toUpperCase();
  if (ft !== 'ASCII' && ft !== 'BINARY' && ft !== 'BINARY32' && ft !== 'FLOAT32') {
    throw new ComtradeError(where(), `data file type '${ft}' is not ASCII, BINARY, BINARY32 or FLOAT32`);
  }
  let timeMultiplier = 1;
  let timeCode: string | undefined;
  let localCode: string | undefined;
  const tm = nextOptional();
  if (tm) {
    timeMultiplier = parseNumber(tm[0], where(), 'timemult');
    if (revision === '2013') {
      const codes = nextOptional();
      if (codes) [timeCode, localCode] = codes;
    }
  }
  return {
    station,
    device,
    revision,
    analog,
    digital,
    lineFrequency_hz,
    rates,
    start_ns: start.ns,
    trigger_ns: trigger.ns,
    format: ft,
    timeMultiplier: timeMultiplier === 0 ? 1 : timeMultiplier,
    nanosecondTimestamps: start.nanos,
    timeCode,
    localCode,
    warnings,
  };
}

function sampleCount(config: ComtradeConfig): number {
  return config.rates[config.rates.length - 1]?.endSample ?? 0;
}

/**
 * Sample times, from the time stamps when they are usable, else from the rate table.
 *
 * The standard makes time stamps authoritative only when nrates is 0, but real recorders
 * write segments with gaps between them (the rate table cannot express those) while some
 * writers leave stamps at 0 or in a unit that does not match the rate. So stamps are used when
 * the rate is 0, or when their median step inside each rate segment is within 10 % of 1/rate;
 * times count from the first sample (stamp offsets differ between writers).
 *
 * Stamps that go back are usually a counter that wrapped (16-bit counters at 65,535; 32-bit
 * nanosecond stamps after ≈ 4.29 s). The standard makes stamps optional when the rate table is
 * valid, so the rate table is used then, with a warning; without one, the wrap is undone.
 */
function sampleTimes(
  config: ComtradeConfig,
  stamps: Float64Array,
  name: string,
  warnings: string[],
): Float64Array {
  const n = stamps.length;
  const unit = (config.nanosecondTimestamps ? 1e-9 : 1e-6) * config.timeMultiplier;
  const rateTableValid = config.rates.length > 0 && config.rates.every((r) => r.rate_hz > 0);
  if (!rateTableValid || stampsMatchRates(config, stamps, unit)) {
    const back = firstStepBack(stamps);
    if (back < 0) return timesFromStamps(stamps, unit);
    if (rateTableValid) {
      warnings.push(
        `${name}: sample ${back + 1}: time stamp ${stamps[back]} goes back from ${stamps[back - 1]} (a wrapped counter?); times taken from the sampling-rate table`,
      );
    } else {
      const unwrapped = unwrap(stamps);
      const again = unwrapped ? firstStepBack(unwrapped.stamps) : back;
      if (!unwrapped || again >= 0) {
        const i = again >= 0 ? again : back;
        throw new ComtradeError(
          `${name}: sample ${i + 1}`,
          `time stamp ${stamps[i]} goes back from ${stamps[i - 1]}, and there is no sampling-rate table to fall back on`,
        );
      }
      warnings.push(
        `${name}: sample ${back + 1}: time stamps wrap at ${unwrapped.modulus} (a ${unwrapped.modulus === 65536 ? 16 : 32}-bit counter); unwrapped`,
      );
      return timesFromStamps(unwrapped.stamps, unit);
    }
  }
  const time = new Float64Array(n);
  let t = 0;
  let segment = 0;
  for (let i = 0; i < n; i++) {
    while (segment < config.rates.length - 1 && i >= config.rates[segment].endSample) segment++;
    time[i] = t;
    t += 1 / config.rates[segment].rate_hz;
  }
  return time;
}

function timesFromStamps(stamps: Float64Array, unit: number): Float64Array {
  const time = new Float64Array(stamps.length);
  for (let i = 0; i < stamps.length; i++) time[i] = (stamps[i] - stamps[0]) * unit;
  return time;
}

/** Index of the first stamp that is lower than (or not comparable with) the one before, else −1. */
function firstStepBack(stamps: Float64Array): number {
  for (let i = 1; i < stamps.length; i++) if (!(stamps[i] >= stamps[i - 1])) return i;
  return -1;
}

/** Undoes counter wrap-around: 16-bit when every stamp fits in 16 bits, else 32-bit. */
function unwrap(stamps: Float64Array): { stamps: Float64Array; modulus: number } | undefined {
  let max = 0;
  for (const s of stamps) {
    if (!Number.isFinite(s) || s < 0) return undefined;
    if (s > max) max = s;
  }
  const modulus = max < 65536 ? 65536 : 2 ** 32;
  const out = new Float64Array(stamps.length);
  let offset = 0;
  out[0] = stamps[0];
  for (let i = 1; i < stamps.length; i++) {
    if (stamps[i] < stamps[i - 1]) offset += modulus;
    out[i] = stamps[i] + offset;
  }
  return { stamps: out, modulus };
}

function stampsMatchRates(config: ComtradeConfig, stamps: Float64Array, unit: number): boolean {
  let begin = 0;
  for (const { rate_hz, endSample } of config.rates) {
    const end = Math.min(endSample, stamps.length);
    const steps: number[] = [];
    for (let i = begin + 1; i < end; i++) steps.push((stamps[i] - stamps[i - 1]) * unit);
    begin = end;
    if (steps.length === 0) continue;
    steps.sort((a, b) => a - b);
    const median = steps[steps.length >> 1];
    if (!(Math.abs(median * rate_hz - 1) <= 0.1)) return false;
  }
  return true;
}

function allocate(config: ComtradeConfig, n: number) {
  return {
    stamps: new Float64Array(n),
    analog: config.analog.map(() => new Float64Array(n)),
    digital: config.digital.map(() => new Uint8Array(n)),
  };
}

/** Parses ASCII data (`n,timestamp,A1..Ak,D1..Dm` per line). */
export function parseComtradeAsciiData(
  config: ComtradeConfig,
  text: string,
  name = 'record.dat',
): ComtradeRecord {
  const rows = text.split(/\r?\n/);
  while (rows.length > 0 && rows[rows.length - 1].trim() === '') rows.pop();
  // A trailing end-of-file marker (0x1A) is allowed by the 1991 revision.
  if (rows.length > 0 && rows[rows.length - 1].trim() === '\x1a') rows.pop();
  const n = rows.length;
  const expected = sampleCount(config);
  if (expected > 0 && n !== expected) {
    throw new ComtradeError(`${name}:${n + 1}`, `${n} samples, but the configuration announces ${expected}`);
  }
  const out = allocate(config, n);
  const width = 2 + config.analog.length + config.digital.length;
  for (let i = 0; i < n; i++) {
    const where = `${name}:${i + 1}`;
    const f = rows[i].split(',');
    if (f.length < width) throw new ComtradeError(where, `${f.length} fields, needs ${width}`);
    out.stamps[i] = f[1].trim() === '' ? Number.NaN : parseNumber(f[1], where, 'time stamp');
    for (let c = 0; c < config.analog.length; c++) {
      const raw = f[2 + c].trim();
      // Missing analog data is marked 99999 (1999+) or left empty.
      if (raw === '' || raw === '99999') out.analog[c][i] = Number.NaN;
      else
        out.analog[c][i] =
          config.analog[c].a * parseNumber(raw, where, `analog ${c + 1}`) + config.analog[c].b;
    }
    for (let d = 0; d < config.digital.length; d++) {
      const raw = f[2 + config.analog.length + d].trim();
      if (raw !== '0' && raw !== '1')
        throw new ComtradeError(where, `digital ${d + 1} is '${raw}', not 0 or 1`);
      out.digital[d][i] = raw === '1' ? 1 : 0;
    }
  }
  const warnings = [...config.warnings];
  const time_s = sampleTimes(config, out.stamps, name, warnings);
  return { config, time_s, analog: out.analog, digital: out.digital, warnings };
}

/** Parses BINARY / BINARY32 / FLOAT32 data (little-endian, digital words of 16 channels). */
export function parseComtradeBinaryData(
  config: ComtradeConfig,
  data: Uint8Array,
  name = 'record.dat',
): ComtradeRecord {
  const analogBytes = config.format === 'BINARY' ? 2 : 4;
  const words = Math.ceil(config.digital.length / 16);
  const recordBytes = 8 + config.analog.length * analogBytes + words * 2;
  if (data.length % recordBytes !== 0) {
    throw new ComtradeError(
      `${name}: byte ${data.length - (data.length % recordBytes)}`,
      `${data.length} bytes is not a whole number of ${recordBytes}-byte samples (${config.analog.length}A/${config.digital.length}D ${config.format})`,
    );
  }
  const n = data.length / recordBytes;
  const expected = sampleCount(config);
  if (expected > 0 && n !== expected) {
    throw new ComtradeError(
      `${name}: byte ${data.length}`,
      `${n} samples, but the configuration announces ${expected}`,
    );
  }
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out = allocate(config, n);
  for (let i = 0; i < n; i++) {
    let p = i * recordBytes;
    out.stamps[i] = view.getUint32(p + 4, true);
    p += 8;
    for (let c = 0; c < config.analog.length; c++) {
      let raw: number;
      let missing: boolean;
      if (config.format === 'BINARY') {
        raw = view.getInt16(p, true);
        missing = raw === -32768;
      } else if (config.format === 'BINARY32') {
        raw = view.getInt32(p, true);
        missing = raw === -2147483648;
      } else {
        raw = view.getFloat32(p, true);
        missing = !Number.isFinite(raw);
      }
      out.analog[c][i] = missing ? Number.NaN : config.analog[c].a * raw + config.analog[c].b;
      p += analogBytes;
    }
    for (let d = 0; d < config.digital.length; d++) {
      const word = view.getUint16(p + (d >> 4) * 2, true);
      out.digital[d][i] = (word >> (d & 15)) & 1;
    }
  }
  const warnings = [...config.warnings];
  const time_s = sampleTimes(config, out.stamps, name, warnings);
  return { config, time_s, analog: out.analog, digital: out.digital, warnings };
}

export function parseComtrade(
  cfgText: string,
  dat: Uint8Array,
  names = { cfg: 'record.cfg', dat: 'record.dat' },
): ComtradeRecord {
  const config = parseComtradeConfig(cfgText, names.cfg);
  return config.format === 'ASCII'
    ? parseComtradeAsciiData(config, decodeText(dat), names.dat)
    : parseComtradeBinaryData(config, dat, names.dat);
}

/** Splits a 2013 .cff container into its CFG, INF, HDR and DAT sections. */
export function splitCff(
  bytes: Uint8Array,
  name = 'record.cff',
): { cfg: string; inf: string; hdr: string; dat: Uint8Array } {
  const text = new TextDecoder('latin1').decode(bytes);
  const marker =
    /^--- *file type: *(CFG|INF|HDR|DAT)(?: +(ASCII|BINARY|BINARY32|FLOAT32))?(?: *: *(\d+))? *---\r?$/gim;
  const sections: { type: string; bodyStart: number; headerStart: number; size?: number }[] = [];
  for (let m = marker.exec(text); m; m = marker.exec(text)) {
    let bodyStart = m.index + m[0].length;
    if (text[bodyStart] === '\n') bodyStart++;
    sections.push({
      type: m[1].toUpperCase(),
      bodyStart,
      headerStart: m.index,
      size: m[3] ? Number(m[3]) : undefined,
    });
    if (m[1].toUpperCase() === 'DAT') break; // binary data may contain anything after this
  }
  const find = (type: string) => sections.find((s) => s.type === type);
  const cfgSection = find('CFG');
  const datSection = find('DAT');
  if (!cfgSection) throw new ComtradeError(name, "no '--- file type: CFG ---' section");
  if (!datSection) throw new ComtradeError(name, "no '--- file type: DAT … ---' section");
  const body = (type: string) => {
    const s = find(type);
    if (!s) return '';
    const nextStart = sections.find((x) => x.headerStart > s.headerStart)?.headerStart ?? text.length;
    return decodeText(bytes.subarray(s.bodyStart, nextStart));
  };
  let dat = bytes.subarray(datSection.bodyStart);
  if (datSection.size !== undefined) {
    if (dat.length < datSection.size) {
      throw new ComtradeError(
        `${name}: byte ${bytes.length}`,
        `DAT section announces ${datSection.size} bytes, ${dat.length} present`,
      );
    }
    dat = dat.subarray(0, datSection.size);
  }
  return { cfg: body('CFG'), inf: body('INF'), hdr: body('HDR'), dat };
}
