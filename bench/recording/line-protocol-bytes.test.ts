/**
 * The byte encoder (encodeLineInto, used by the recorder since the throughput work of issue 7)
 * must write exactly what the string encoder it replaced wrote: points.lp.gz files stay identical
 * and importable by `influx -import`. `referenceEncodeLine` below is that earlier encoder, frozen
 * (git history: bench/recording/line-protocol.ts before "encode lines straight into bytes").
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeLine, encodeLineInto, type Fields, LineBuffer, type Tags } from './line-protocol.ts';
import { RunRecorder } from './run-recorder.ts';

function referenceEncodeLine(
  measurement: string,
  tags: Tags,
  fields: Fields,
  time_ns: bigint,
  skipped?: { nonFinite: number },
  fixedTags = '',
): string {
  const escapeKey = (name: string) =>
    /[,= \n\\]/.test(name)
      ? name.replace(/\\/g, '\\\\').replace(/[,= ]/g, '\\$&').replace(/\n/g, '\\n')
      : name;
  const escapeMeasurement = (name: string) =>
    /[, \n\\]/.test(name) ? name.replace(/\\/g, '\\\\').replace(/[, ]/g, '\\$&').replace(/\n/g, '\\n') : name;
  const quoteString = (value: string) =>
    /["\\\n]/.test(value) ? `"${value.replace(/[\\"]/g, '\\$&').replace(/\n/g, '\\n')}"` : `"${value}"`;
  if (measurement.length === 0) throw new Error('empty measurement name');
  let line = escapeMeasurement(measurement) + fixedTags;
  for (const key in tags) {
    const value = tags[key];
    if (value === undefined || value === '') continue;
    line += `,${escapeKey(key)}=${escapeKey(value)}`;
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
        text = String(value);
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
    line += `${separator}${escapeKey(key)}=${text}`;
    separator = ',';
  }
  if (separator === ' ') throw new Error(`point '${measurement}' has no writable field`);
  return `${line} ${time_ns}`;
}

type Args = [string, Tags, Fields, bigint];

/** Escaping edge cases and every field type, as the recorder sees them. */
const fixedPoints: Args[] = [
  [
    'island',
    { island: 'main' },
    { f_hz: 50.0123, rocof_hz_s: -0.05, energised: true, grid_connected: false },
    1n,
  ],
  ['bus', { bus: '17', island: 'mg2' }, { vm_pu: 0.98765432101, va_deg: -0 }, 1_700_000_000_123_456_789n],
  ['bus', { bus: '18', island: '' }, { vm_pu: Number.NaN, va_deg: 5e-324 }, 1_700_000_000_123_456_789n],
  ['loop', {}, { lateness_us: 1e21, work_us: 1e-7, overruns: Number.MAX_VALUE }, -5n],
  ['link', { device: 'bess-hw' }, { crc_errors: 0n, dropped: -12n, late: 2n ** 70n, state: 'online' }, 9n],
  [
    'my meas,x\\y\nz',
    { 'tag key': 'a=b,c d\\e\nf', 'k=,': ' ' },
    { 'f=1 ,\\\n': 'say "hi" \\ there\nnext' },
    5n,
  ],
  ['note', { kind: 'note' }, { message: 'Größe ✓ 🔋 日本', target: '' }, 6n],
  ['note', { kind: 'lone\ud800surrogate' }, { message: 'end\udc00', x: 'a\ud83d' }, 7n],
  ['ümlaut', { schlüssel: 'wert ä' }, { 'feld€': 1.5, ok: true, n: 1n, s: '' }, 8n],
  ['infinite', {}, { a: Number.POSITIVE_INFINITY, b: 3 }, 0n],
];

/** The reference lines as the old recorder put them in the file: joined by newlines, UTF-8. */
function referenceBytes(points: readonly Args[], fixedTags = ''): Buffer {
  return Buffer.from(
    points.map(([m, t, f, time]) => `${referenceEncodeLine(m, t, f, time, undefined, fixedTags)}\n`).join(''),
    'utf8',
  );
}

describe('byte line encoder', () => {
  it('writes the same bytes as the string encoder it replaced, escaping and all field types', () => {
    // A tiny buffer makes every point grow it, so growth cannot lose or reorder bytes.
    const out = new LineBuffer(8);
    for (const [m, t, f, time] of fixedPoints) encodeLineInto(out, m, t, f, time, undefined, ',run=r\\ 1');
    expect(out.bytes.subarray(0, out.length).equals(referenceBytes(fixedPoints, ',run=r\\ 1'))).toBe(true);
    // encodeLine returns the UTF-8 text decoded: a lone surrogate reads back as U+FFFD, as it
    // always did from the file (the old string kept it until the file's UTF-8 encoding).
    for (const [m, t, f, time] of fixedPoints) {
      const utf8 = Buffer.from(referenceEncodeLine(m, t, f, time), 'utf8').toString('utf8');
      expect(encodeLine(m, t, f, time)).toBe(utf8);
    }
    expect(encodeLine('m', {}, { s: 'a\ud800' }, 1n)).toBe('m s="a\ufffd" 1');
  });

  it('counts skipped non-finite fields like before and leaves the buffer untouched on a rejected point', () => {
    const out = new LineBuffer(64);
    const skipped = { nonFinite: 0 };
    encodeLineInto(out, 'a', {}, { x: 1 }, 1n, skipped);
    const before = out.length;
    expect(() =>
      encodeLineInto(out, 'b', {}, { x: Number.NaN, y: Number.NEGATIVE_INFINITY }, 1n, skipped),
    ).toThrow(/no writable field/);
    expect(out.length).toBe(before);
    expect(skipped.nonFinite).toBe(2);
    expect(out.bytes.subarray(0, out.length).toString()).toBe('a x=1 1\n');
  });

  it('matches the string encoder on arbitrary points, also when names repeat (cached bytes)', () => {
    const text = fc.string({ unit: 'binary', minLength: 1, maxLength: 10 });
    const pool = fc.constantFrom('bus', 'a b', 'x,y', 'k=v', 'ü', '\\');
    const name = fc.oneof(text, pool);
    const point = fc.tuple(
      name,
      fc.dictionary(name, fc.oneof(name, fc.constant('')), { maxKeys: 3 }),
      fc.dictionary(
        name,
        fc.oneof(fc.double(), fc.bigInt(), fc.boolean(), fc.string({ unit: 'binary', maxLength: 12 })),
        { minKeys: 1, maxKeys: 4 },
      ),
      fc.bigInt({ min: 0n, max: 2n ** 63n }),
    );
    fc.assert(
      fc.property(fc.array(point, { minLength: 1, maxLength: 20 }), (points) => {
        const writable = points.filter(([m, t, f, time]) => {
          try {
            referenceEncodeLine(m, t, f, time);
            return true;
          } catch {
            return false;
          }
        });
        const out = new LineBuffer(16);
        for (const [m, t, f, time] of writable) encodeLineInto(out, m, t, f, time, undefined, ',run=x');
        expect(out.bytes.subarray(0, out.length).equals(referenceBytes(writable, ',run=x'))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('gives points.lp.gz the same lines the string encoder gave, across chunk boundaries', async () => {
    const runsDir = await mkdtemp(join(tmpdir(), 'gridloop-rec-bytes-'));
    try {
      const rec = await RunRecorder.open({ runsDir, scenario: 'bytes' });
      const runTag = `,run=${rec.id}`;
      const points: Args[] = [];
      // ~3 MB of lines: several 1 MiB chunks, with the edge cases spread among them.
      for (let i = 0; i < 30_000; i++) {
        const p = fixedPoints[i % fixedPoints.length];
        points.push([p[0], p[1], { ...p[2], i: BigInt(i), v: i * 0.1 }, p[3] + BigInt(i)]);
      }
      for (const [m, t, f, time] of points) rec.line(m, t, f, time);
      await rec.close();
      const lines = gunzipSync(await readFile(join(rec.dir, 'points.lp.gz')))
        .toString('utf8')
        .split('\n');
      const recorded = lines.filter(
        (l) => l !== '' && !l.startsWith('#') && !/^(event|recorder|verdict),/.test(l),
      );
      const expected = referenceBytes(points, runTag)
        .toString('utf8')
        .split('\n')
        .filter((l) => l !== '');
      expect(recorded).toEqual(expected);
    } finally {
      await rm(runsDir, { recursive: true, force: true });
    }
  });
});
