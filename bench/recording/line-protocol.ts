/**
 * InfluxDB line protocol: the one text format the recorder writes to files and sends to servers.
 * Reference: https://docs.influxdata.com/influxdb/v1/write_protocols/line_protocol_reference/
 *
 * Field types are chosen by the JavaScript type so a field never changes type between points
 * (InfluxDB rejects a write whose field type conflicts with what the shard already holds):
 * number → float, bigint → integer (`i` suffix), boolean → boolean, string → string.
 */

export type FieldValue = number | bigint | boolean | string;
export type Fields = Record<string, FieldValue>;
export type Tags = Record<string, string>;

export interface Point {
  measurement: string;
  tags: Tags;
  fields: Fields;
  /** Nanoseconds since the Unix epoch. */
  time_ns: bigint;
}

const MEASUREMENT_SPECIAL = /[, \n\\]/;
const KEY_SPECIAL = /[,= \n\\]/;
const STRING_SPECIAL = /["\\\n]/;

function escapeMeasurement(name: string): string {
  if (!MEASUREMENT_SPECIAL.test(name)) return name;
  return name.replace(/\\/g, '\\\\').replace(/[, ]/g, '\\$&').replace(/\n/g, '\\n');
}

/** Tag keys, tag values and field keys share the same escaping rules. */
export function escapeKey(name: string): string {
  if (!KEY_SPECIAL.test(name)) return name;
  return name.replace(/\\/g, '\\\\').replace(/[,= ]/g, '\\$&').replace(/\n/g, '\\n');
}

/**
 * Names and tag values repeat on every point (the same buses, devices, fields), so their escaped
 * forms are memoised; the cache is bounded so high-cardinality input cannot grow it forever.
 */
const keyCache = new Map<string, string>();
const KEY_CACHE_LIMIT = 50_000;
function cachedKey(name: string): string {
  let escaped = keyCache.get(name);
  if (escaped === undefined) {
    escaped = escapeKey(name);
    if (keyCache.size >= KEY_CACHE_LIMIT) keyCache.clear();
    keyCache.set(name, escaped);
  }
  return escaped;
}

/**
 * Float-to-text is the most expensive part of encoding (shortest round-trip digits), and recorded
 * values repeat a lot (set-points, steady states, constant angles). A direct-mapped cache keyed by
 * the float's bits returns the identical text for a repeated value.
 */
const FLOAT_CACHE_BITS = 12;
const floatKeys = new Float64Array(1 << FLOAT_CACHE_BITS).fill(Number.NaN);
const floatTexts: string[] = new Array(1 << FLOAT_CACHE_BITS).fill('');
const floatScratch = new Float64Array(1);
const floatWords = new Uint32Array(floatScratch.buffer);
function floatText(x: number): string {
  floatScratch[0] = x;
  const slot = Math.imul(floatWords[0] ^ floatWords[1], 0x9e3779b1) >>> (32 - FLOAT_CACHE_BITS);
  if (floatKeys[slot] === x) return floatTexts[slot];
  const text = String(x);
  floatKeys[slot] = x;
  floatTexts[slot] = text;
  return text;
}

/** Points of one snapshot share a timestamp; its decimal text is computed once. */
let lastTime = -1n;
let lastTimeText = '-1';
function timeText(time_ns: bigint): string {
  if (time_ns !== lastTime) {
    lastTime = time_ns;
    lastTimeText = time_ns.toString();
  }
  return lastTimeText;
}

function quoteString(value: string): string {
  if (!STRING_SPECIAL.test(value)) return `"${value}"`;
  // A newline would end the line, so it is stored as the two characters \n.
  return `"${value.replace(/[\\"]/g, '\\$&').replace(/\n/g, '\\n')}"`;
}

/** Thrown for points that cannot be written: no fields, bad names. Names the offending part. */
export class LineProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LineProtocolError';
  }
}

/**
 * Encodes one point as a line (without the trailing newline). Non-finite floats have no line
 * protocol form: they are left out and counted in `skipped.nonFinite` so the caller can report
 * them; a point left with no field at all throws.
 */
export function encodeLine(
  measurement: string,
  tags: Tags,
  fields: Fields,
  time_ns: bigint,
  skipped?: { nonFinite: number },
  /** Already-escaped tags written first, as `,key=value` (the recorder's `run` tag). */
  fixedTags = '',
): string {
  if (measurement.length === 0) throw new LineProtocolError('empty measurement name');
  let line =
    (MEASUREMENT_SPECIAL.test(measurement) ? escapeMeasurement(measurement) : measurement) + fixedTags;
  for (const key in tags) {
    const value = tags[key];
    // InfluxDB drops tags with empty values; leaving them out keeps files and servers the same.
    if (value === undefined || value === '') continue;
    line += `,${cachedKey(key)}=${cachedKey(value)}`;
  }
  let separator = ' ';
  for (const key in fields) {
    const value = fields[key];
    let text: string;
    switch (typeof value) {
      case 'number':
        if (!Number.isFinite(value)) {
          if (skipped) skipped.nonFinite++;
          continue;
        }
        text = floatText(value);
        break;
      case 'bigint':
        text = `${value}i`;
        break;
      case 'boolean':
        text = value ? 'true' : 'false';
        break;
      case 'string':
        text = quoteString(value);
        break;
      default:
        continue;
    }
    line += `${separator}${cachedKey(key)}=${text}`;
    separator = ',';
  }
  if (separator === ' ') {
    throw new LineProtocolError(`point '${measurement}' has no writable field`);
  }
  return `${line} ${timeText(time_ns)}`;
}

/** Sets a parsed key as an own property, also when it is `__proto__` (from outside data). */
function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}

/** Parses one line-protocol line. `where` (e.g. "points.lp.gz:12") prefixes error messages. */
export function parseLine(line: string, where = 'line'): Point {
  let i = 0;
  const n = line.length;
  const fail = (why: string): never => {
    throw new LineProtocolError(`${where}: ${why} at column ${i + 1}`);
  };
  // Reads up to an unescaped stop character; returns the unescaped text.
  const readToken = (stops: string): string => {
    let out = '';
    while (i < n) {
      const c = line[i];
      if (c === '\\' && i + 1 < n) {
        const next = line[i + 1];
        out += next === 'n' ? '\n' : next;
        i += 2;
        continue;
      }
      if (stops.includes(c)) break;
      out += c;
      i++;
    }
    return out;
  };

  const measurement = readToken(', ');
  if (measurement === '') fail('missing measurement');
  const tags: Tags = {};
  while (line[i] === ',') {
    i++;
    const key = readToken('=, ');
    if (line[i] !== '=') fail(`tag '${key}' has no value`);
    i++;
    setOwn(tags, key, readToken(', '));
  }
  if (line[i] !== ' ') fail('expected a space before the fields');
  i++;
  const fields: Fields = {};
  for (;;) {
    const key = readToken('=, ');
    if (line[i] !== '=') fail(`field '${key}' has no value`);
    i++;
    if (line[i] === '"') {
      i++;
      let value = '';
      while (i < n && line[i] !== '"') {
        if (line[i] === '\\' && i + 1 < n) {
          const next = line[i + 1];
          value += next === 'n' ? '\n' : next;
          i += 2;
        } else value += line[i++];
      }
      if (line[i] !== '"') fail(`unterminated string in field '${key}'`);
      i++;
      setOwn(fields, key, value);
    } else {
      const start = i;
      while (i < n && line[i] !== ',' && line[i] !== ' ') i++;
      const raw = line.slice(start, i);
      if (raw === 'true' || raw === 't' || raw === 'T' || raw === 'True' || raw === 'TRUE')
        setOwn(fields, key, true);
      else if (raw === 'false' || raw === 'f' || raw === 'F' || raw === 'False' || raw === 'FALSE')
        setOwn(fields, key, false);
      else if (/^-?\d+i$/.test(raw)) setOwn(fields, key, BigInt(raw.slice(0, -1)));
      else {
        const value = Number(raw);
        if (raw === '' || Number.isNaN(value)) fail(`field '${key}' has an unreadable value '${raw}'`);
        setOwn(fields, key, value);
      }
    }
    if (line[i] === ',') {
      i++;
      continue;
    }
    break;
  }
  let time_ns = 0n;
  if (line[i] === ' ') {
    i++;
    const raw = line.slice(i).trim();
    if (!/^-?\d+$/.test(raw)) fail(`unreadable timestamp '${raw}'`);
    time_ns = BigInt(raw);
  } else if (i < n) fail('unexpected text after the fields');
  return { measurement, tags, fields, time_ns };
}
