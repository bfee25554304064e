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
 * A growable byte buffer lines are encoded into. The recorder encodes straight into the chunk it
 * later hands to gzip: no line string, no rope of a second's worth of lines for V8 to flatten and
 * UTF-8-encode again (together they were a third of the recorder's time).
 */
export class LineBuffer {
  bytes: Buffer;
  /** End of the encoded data. */
  length = 0;
  constructor(capacity = 64 * 1024) {
    this.bytes = Buffer.allocUnsafe(capacity);
  }
  /** Makes room for `extra` more bytes, copying what is there into a larger buffer. */
  reserve(extra: number): void {
    const needed = this.length + extra;
    if (needed <= this.bytes.length) return;
    const grown = Buffer.allocUnsafe(Math.max(needed, 2 * this.bytes.length));
    this.bytes.copy(grown, 0, 0, this.length);
    this.bytes = grown;
  }
  /** Hands over the encoded bytes and starts again in a fresh buffer of `capacity` bytes. */
  take(capacity = this.bytes.length): Buffer {
    const done = this.bytes.subarray(0, this.length);
    this.bytes = Buffer.allocUnsafe(capacity);
    this.length = 0;
    return done;
  }
}

/** Appends bytes; a loop beats Buffer.copy's native call for the few bytes of a name. */
function putBytes(out: LineBuffer, source: Uint8Array): void {
  out.reserve(source.length);
  const bytes = out.bytes;
  let at = out.length;
  for (let i = 0; i < source.length; i++) bytes[at++] = source[i];
  out.length = at;
}

/** Appends an all-ASCII string (number texts): one byte per character. */
function putAscii(out: LineBuffer, text: string): void {
  out.reserve(text.length);
  const bytes = out.bytes;
  let at = out.length;
  for (let i = 0; i < text.length; i++) bytes[at++] = text.charCodeAt(i);
  out.length = at;
}

/** Appends any text as UTF-8 (string fields, which may hold any character). */
function putText(out: LineBuffer, text: string): void {
  // UTF-8 needs at most 3 bytes per UTF-16 unit.
  out.reserve(text.length * 3);
  out.length += out.bytes.write(text, out.length, 'utf8');
}

const SPACE = 0x20;
const TRUE_BYTES = Buffer.from('true');
const FALSE_BYTES = Buffer.from('false');

/**
 * Names and tag values repeat on every point (the same buses, devices, fields), so their escaped
 * UTF-8 forms are memoised; the caches are bounded so high-cardinality input cannot grow them
 * forever. Tag keys and field keys are kept with their leading `,` and their `=`.
 */
const CACHE_LIMIT = 50_000;
function memo(cache: Map<string, Buffer>, name: string, encode: (name: string) => string): Buffer {
  let bytes = cache.get(name);
  if (bytes === undefined) {
    bytes = Buffer.from(encode(name), 'utf8');
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(name, bytes);
  }
  return bytes;
}
const tagKeyCache = new Map<string, Buffer>();
const tagValueCache = new Map<string, Buffer>();
const fieldKeyCache = new Map<string, Buffer>();
const tagKeyText = (name: string) => `,${escapeKey(name)}=`;
const fieldKeyText = tagKeyText;
const tagKeyBytes = (name: string) => memo(tagKeyCache, name, tagKeyText);
const tagValueBytes = (name: string) => memo(tagValueCache, name, escapeKey);
const fieldKeyBytes = (name: string) => memo(fieldKeyCache, name, fieldKeyText);

/**
 * The measurement with the fixed tags after it, as one piece. The recorder passes the same fixed
 * tags (its run tag) on every point, so the cache holds one fixed-tag string at a time and starts
 * over when another comes.
 */
const headCache = new Map<string, Buffer>();
let headFixedTags = '';
const headText = (measurement: string) =>
  (MEASUREMENT_SPECIAL.test(measurement) ? escapeMeasurement(measurement) : measurement) + headFixedTags;
function headBytes(measurement: string, fixedTags: string): Buffer {
  if (fixedTags !== headFixedTags) {
    headCache.clear();
    headFixedTags = fixedTags;
  }
  return memo(headCache, measurement, headText);
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

/** Points of one snapshot share a timestamp: ` <decimal ns>\n` is encoded once. */
let lastTime = -1n;
let lastTimeBytes = Buffer.from(' -1\n');
function timeBytes(time_ns: bigint): Buffer {
  if (time_ns !== lastTime) {
    lastTime = time_ns;
    lastTimeBytes = Buffer.from(` ${time_ns}\n`, 'latin1');
  }
  return lastTimeBytes;
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

/** A point as encodeLineInto and encodeLine take it, after the output buffer. */
type PointArguments = Parameters<typeof encodeLineInto> extends [LineBuffer, ...infer Point] ? Point : never;

/**
 * Appends one point as a line, with its trailing newline, to `out`. Non-finite floats have no
 * line protocol form: they are left out and counted in `skipped.nonFinite` so the caller can
 * report them; a point left with no field at all throws, and `out` is left as it was.
 */
export function encodeLineInto(
  out: LineBuffer,
  measurement: string,
  tags: Tags,
  fields: Fields,
  time_ns: bigint,
  skipped?: { nonFinite: number },
  /** Already-escaped tags written first, as `,key=value` (the recorder's `run` tag). */
  fixedTags = '',
): void {
  if (measurement.length === 0) throw new LineProtocolError('empty measurement name');
  const lineStart = out.length;
  putBytes(out, headBytes(measurement, fixedTags));
  for (const key in tags) {
    const value = tags[key];
    // InfluxDB drops tags with empty values; leaving them out keeps files and servers the same.
    if (value === undefined || value === '') continue;
    putBytes(out, tagKeyBytes(key));
    putBytes(out, tagValueBytes(value));
  }
  // Field keys are cached as `,key=`; the first field's comma is then overwritten by a space.
  const firstField = out.length;
  for (const key in fields) {
    const value = fields[key];
    switch (typeof value) {
      case 'number':
        if (!Number.isFinite(value)) {
          if (skipped) skipped.nonFinite++;
          continue;
        }
        putBytes(out, fieldKeyBytes(key));
        putAscii(out, floatText(value));
        break;
      case 'bigint':
        putBytes(out, fieldKeyBytes(key));
        putAscii(out, `${value}i`);
        break;
      case 'boolean':
        putBytes(out, fieldKeyBytes(key));
        putBytes(out, value ? TRUE_BYTES : FALSE_BYTES);
        break;
      case 'string':
        putBytes(out, fieldKeyBytes(key));
        putText(out, quoteString(value));
        break;
      default:
        continue;
    }
  }
  if (out.length === firstField) {
    out.length = lineStart;
    throw new LineProtocolError(`point '${measurement}' has no writable field`);
  }
  out.bytes[firstField] = SPACE;
  putBytes(out, timeBytes(time_ns));
}

/** Scratch space of `encodeLine`. */
const single = new LineBuffer(4096);

/**
 * Encodes one point as a line (without the trailing newline); see `encodeLineInto`. The text is
 * the UTF-8 bytes decoded, so a lone surrogate comes back as U+FFFD, as it reads from a file.
 */
export function encodeLine(...point: PointArguments): string {
  single.length = 0;
  encodeLineInto(single, ...point);
  return single.bytes.toString('utf8', 0, single.length - 1);
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
