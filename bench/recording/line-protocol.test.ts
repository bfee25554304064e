import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeLine, LineProtocolError, parseLine } from './line-protocol.ts';

describe('line protocol encoder', () => {
  it('writes floats, integers, booleans and strings as the InfluxDB reference shows', () => {
    // Expected text written by hand from the line protocol reference, not produced by the encoder.
    expect(
      encodeLine(
        'island',
        { island: 'mg1' },
        { f_hz: 50, energised: true, n: 3n, note: 'ok' },
        1700000000000000000n,
      ),
    ).toBe('island,island=mg1 f_hz=50,energised=true,n=3i,note="ok" 1700000000000000000');
  });

  it('escapes commas, spaces, equals signs, quotes and backslashes where the reference requires', () => {
    expect(encodeLine('my meas,x', { 'tag key': 'a=b,c' }, { 'f=1': 'say "hi" \\ there' }, 5n)).toBe(
      'my\\ meas\\,x,tag\\ key=a\\=b\\,c f\\=1="say \\"hi\\" \\\\ there" 5',
    );
  });

  it('prepends fixed tags, drops empty tag values, and leaves out non-finite floats counting them', () => {
    const skipped = { nonFinite: 0 };
    expect(
      encodeLine('bus', { bus: '3', empty: '' }, { vm_pu: Number.NaN, va_deg: -1.5 }, 1n, skipped, ',run=r1'),
    ).toBe('bus,run=r1,bus=3 va_deg=-1.5 1');
    expect(skipped.nonFinite).toBe(1);
  });

  it('refuses a point with no writable field', () => {
    expect(() => encodeLine('x', {}, { a: Number.POSITIVE_INFINITY }, 1n)).toThrow(LineProtocolError);
    expect(() => encodeLine('', {}, { a: 1 }, 1n)).toThrow(/empty measurement/);
  });

  it('round-trips any point through parseLine bit-exactly', () => {
    const key = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => !s.includes('\n'));
    fc.assert(
      fc.property(
        key,
        fc.dictionary(
          key,
          fc.string({ minLength: 1, maxLength: 8 }).filter((s) => !s.includes('\n')),
          {
            maxKeys: 3,
          },
        ),
        fc.dictionary(
          key,
          fc.oneof(
            fc.double({ noNaN: true, noDefaultInfinity: true }),
            fc.bigInt(),
            fc.boolean(),
            fc.string(),
          ),
          { minKeys: 1, maxKeys: 4 },
        ),
        fc.bigInt({ min: 0n, max: 2n ** 62n }),
        (measurement, tags, fields, time) => {
          // Measurement names are escaped differently from keys: a leading '#' would read as a comment.
          fc.pre(!measurement.startsWith('#'));
          const parsed = parseLine(encodeLine(measurement, tags, fields, time));
          expect(parsed.measurement).toBe(measurement);
          expect(parsed.tags).toEqual(tags);
          expect(parsed.time_ns).toBe(time);
          for (const [k, v] of Object.entries(fields)) {
            if (typeof v === 'number')
              expect(Object.is(parsed.fields[k], v === 0 ? 0 : v) || parsed.fields[k] === v).toBe(true);
            else expect(parsed.fields[k]).toBe(v);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps a field or tag named __proto__ as data, not as the prototype', () => {
    const parsed = parseLine('m,__proto__=x __proto__=1,constructor=2 3');
    expect(Object.keys(parsed.tags)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(parsed.fields, '__proto__')?.value).toBe(1);
    expect(parsed.fields.constructor).toBe(2);
    expect(Object.getPrototypeOf(parsed.fields)).toBe(Object.prototype);
  });

  it('names the line and column of unreadable input', () => {
    expect(() => parseLine('cpu value=abc 1', 'points.lp:7')).toThrow(
      /points\.lp:7: field 'value' has an unreadable value 'abc'/,
    );
    expect(() => parseLine('cpu', 'f:1')).toThrow(/f:1: expected a space/);
    expect(() => parseLine('cpu v="open 1', 'f:2')).toThrow(/unterminated string/);
  });
});
