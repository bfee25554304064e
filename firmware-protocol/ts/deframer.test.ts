import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_ENCODED_FRAME_LENGTH, MAX_RAW_FRAME_LENGTH } from './constants.ts';
import { Deframer, type DeframerEvent } from './deframer.ts';
import { FrameError } from './errors.ts';
import { decodeFrame, encodeFrame, type Frame } from './frame.ts';
import type { Measurement } from './messages/measurement.ts';
import { arbitraryMessage } from './test-support.ts';

const measurement = (step: number): Measurement => ({
  type: 'MEASUREMENT',
  step,
  twinTimeS: step * 0.001,
  voltagePu: 1,
  voltageAngleRad: 0,
  frequencyHz: 50,
  rocofHzPerS: 0,
});

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Splits `bytes` at the given cut points. */
function chunk(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const p of points) {
    chunks.push(bytes.subarray(start, p));
    start = p;
  }
  chunks.push(bytes.subarray(start));
  return chunks;
}

function pushAll(d: Deframer, chunks: Uint8Array[]): DeframerEvent[] {
  return chunks.flatMap((c) => d.push(c));
}

const frames = (events: DeframerEvent[]): Frame[] =>
  events.filter((e): e is { ok: true; frame: Frame } => e.ok).map((e) => e.frame);
const errors = (events: DeframerEvent[]): FrameError[] =>
  events.filter((e): e is { ok: false; error: FrameError } => !e.ok).map((e) => e.error);

describe('Deframer', () => {
  it('returns a frame split across byte-sized chunks once, when its delimiter arrives', () => {
    const wire = encodeFrame(measurement(7), { seq: 1, deviceId: 2 });
    const d = new Deframer();
    for (let i = 0; i < wire.length - 1; i++) expect(d.push(wire.subarray(i, i + 1))).toEqual([]);
    const events = d.push(wire.subarray(wire.length - 1));
    expect(frames(events).map((f) => f.message)).toEqual([measurement(7)]);
    expect(d.stats.frames).toBe(1);
  });

  it('reports stream offsets of frames and errors', () => {
    const a = encodeFrame(measurement(1), { seq: 1, deviceId: 2 });
    const garbage = Uint8Array.of(0x55, 0x66, 0x00);
    const b = encodeFrame(measurement(2), { seq: 2, deviceId: 2 });
    const events = new Deframer().push(concat([a, garbage, b]));
    expect(events.map((e) => (e.ok ? e.frame.streamOffset : e.error.streamOffset))).toEqual([
      0,
      a.length,
      a.length + garbage.length,
    ]);
    expect(errors(events)[0].code).toBe('COBS_INVALID');
  });

  it('rejects an oversize frame as soon as it outgrows the limit, once, and resynchronises', () => {
    const d = new Deframer();
    const flood = new Uint8Array(MAX_ENCODED_FRAME_LENGTH * 3).fill(0x41);
    const events = [...d.push(flood.subarray(0, 100)), ...d.push(flood.subarray(100))];
    expect(errors(events).map((e) => e.code)).toEqual(['OVERSIZE']);
    const after = d.push(concat([Uint8Array.of(0), encodeFrame(measurement(3), { seq: 3, deviceId: 2 })]));
    expect(frames(after).map((f) => f.message)).toEqual([measurement(3)]);
    expect(d.stats.errors.OVERSIZE).toBe(1);
  });

  it('accepts a frame of exactly the maximum encoded length and rejects one byte more', () => {
    // A frame of MAX_ENCODED_FRAME_LENGTH non-zero COBS bytes passes the size gate (then fails CRC);
    // one byte more is OVERSIZE.
    const atLimit = new Uint8Array(MAX_ENCODED_FRAME_LENGTH + 1).fill(0x11);
    atLimit[MAX_ENCODED_FRAME_LENGTH] = 0;
    const e1 = errors(new Deframer().push(atLimit));
    expect(e1.map((e) => e.code)).not.toContain('OVERSIZE');
    const over = new Uint8Array(MAX_ENCODED_FRAME_LENGTH + 2).fill(0x11);
    over[MAX_ENCODED_FRAME_LENGTH + 1] = 0;
    expect(errors(new Deframer().push(over)).map((e) => e.code)).toEqual(['OVERSIZE']);
    expect(MAX_RAW_FRAME_LENGTH).toBe(281);
  });

  it('ignores empty frames (back-to-back delimiters are a legal resync)', () => {
    const d = new Deframer();
    expect(d.push(Uint8Array.of(0, 0, 0))).toEqual([]);
    expect(d.stats.errorCount).toBe(0);
  });

  it('property: any message sequence survives any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(arbitraryMessage(), { minLength: 1, maxLength: 8 }),
        fc.array(fc.nat(4000), { maxLength: 20 }),
        (messages, cuts) => {
          const wire = concat(messages.map((m, i) => encodeFrame(m, { seq: i, deviceId: 9 })));
          const d = new Deframer();
          const events = pushAll(d, chunk(wire, cuts));
          expect(errors(events)).toEqual([]);
          const got = frames(events);
          expect(got.map((f) => f.seq)).toEqual(messages.map((_, i) => i));
          got.forEach((f, i) => {
            expect(f.message).toEqual(decodeFrame(encodeFrame(messages[i], { seq: i, deviceId: 9 })).message);
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: garbage between frames costs at most the frames it touches, and is counted', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(arbitraryMessage(), fc.uint8Array({ maxLength: 400 })), {
          minLength: 1,
          maxLength: 6,
        }),
        fc.array(fc.nat(5000), { maxLength: 20 }),
        (items, cuts) => {
          // Each frame is preceded by garbage and a delimiter, so a resync point precedes every frame.
          const parts: Uint8Array[] = [];
          for (const [i, [m, junk]] of items.entries()) {
            parts.push(junk, Uint8Array.of(0), encodeFrame(m, { seq: i, deviceId: 1 }));
          }
          const d = new Deframer();
          const events = pushAll(d, chunk(concat(parts), cuts));
          expect(frames(events).map((f) => f.seq)).toEqual(items.map((_, i) => i));
          expect(d.stats.errorCount).toBe(errors(events).length);
          expect(d.stats.frames + d.stats.errorCount).toBe(events.length);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('property: arbitrary bytes never throw, and every event is a frame or a typed error', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 700 }), { maxLength: 10 }), (chunks) => {
        const d = new Deframer();
        const events = pushAll(d, chunks);
        for (const e of events) {
          if (!e.ok) expect(e.error).toBeInstanceOf(FrameError);
        }
        expect(d.stats.frames + d.stats.errorCount).toBe(events.length);
        const total = chunks.reduce((n, c) => n + c.length, 0);
        expect(d.stats.bytes).toBe(total);
      }),
      { numRuns: 500 },
    );
  });

  it('property: a single corrupted byte never yields a wrong frame', () => {
    fc.assert(
      fc.property(arbitraryMessage(), fc.nat(), fc.integer({ min: 1, max: 255 }), (m, at, xor) => {
        const wire = encodeFrame(m, { seq: 5, deviceId: 6 });
        const original = decodeFrame(wire);
        const corrupted = wire.slice();
        const i = at % (wire.length - 1); // keep the final delimiter
        corrupted[i] ^= xor;
        const d = new Deframer();
        const events = d.push(corrupted);
        // CRC-32C detects every single-byte error: no accepted frame may differ from the original.
        for (const f of frames(events)) expect(f.message).toEqual(original.message);
        expect(frames(events).length).toBe(0);
        expect(errors(events).length).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });
});
