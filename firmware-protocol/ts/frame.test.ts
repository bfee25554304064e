import { describe, expect, it } from 'vitest';
import { cobsEncode } from './cobs.ts';
import { CompatFlag, MAX_ENCODED_FRAME_LENGTH, MAX_RAW_FRAME_LENGTH, MessageId } from './constants.ts';
import { crc32c } from './crc32c.ts';
import { Deframer } from './deframer.ts';
import { FrameError } from './errors.ts';
import {
  decodeFrame,
  decodeRawFrame,
  encodeFrame,
  encodeFrameInto,
  encodeRawFrame,
  MAX_WIRE_FRAME_LENGTH,
} from './frame.ts';
import type { Measurement } from './messages/measurement.ts';
import { SignatureVerifier } from './signing.ts';

const m: Measurement = {
  type: 'MEASUREMENT',
  step: 3,
  twinTimeS: 0.003,
  voltagePu: 1,
  voltageAngleRad: 0,
  frequencyHz: 50,
  rocofHzPerS: 0,
};

function withCrc(raw: Uint8Array): Uint8Array {
  const out = raw.slice();
  new DataView(out.buffer).setUint32(out.length - 4, crc32c(out, 0, out.length - 4), true);
  return out;
}

describe('frame encode/decode', () => {
  it('lays out the header as SPEC §3 says', () => {
    const raw = encodeRawFrame(m, { seq: 0x1234, deviceId: 0xbeef, compatFlags: CompatFlag.ACK_REQUESTED });
    expect([...raw.subarray(0, 9)]).toEqual([1, 0, 1, MessageId.MEASUREMENT, 0x34, 0x12, 0xef, 0xbe, 28]);
    expect(raw.length).toBe(9 + 28 + 4);
  });

  it('encodeFrameInto writes at an offset and refuses a buffer that is too small', () => {
    const out = new Uint8Array(100).fill(0xaa);
    const n = encodeFrameInto(m, { seq: 1, deviceId: 2 }, out, 10);
    expect(out[9]).toBe(0xaa);
    expect(out.subarray(10, 10 + n)).toEqual(encodeFrame(m, { seq: 1, deviceId: 2 }));
    expect(() => encodeFrameInto(m, { seq: 1, deviceId: 2 }, new Uint8Array(20))).toThrow(RangeError);
    expect(MAX_WIRE_FRAME_LENGTH).toBe(284);
  });

  it('rejects an unknown message type when encoding', () => {
    expect(() => encodeFrame({ type: 'REBOOT' } as unknown as Measurement, { seq: 0, deviceId: 0 })).toThrow(
      TypeError,
    );
  });

  it('ignores unknown compatible flags', () => {
    const raw = encodeRawFrame(m, { seq: 1, deviceId: 2, compatFlags: 0xfe });
    expect(decodeRawFrame(raw).message).toEqual(m);
  });

  it('decodes a frame given with or without its delimiter, and rejects oversize input', () => {
    const wire = encodeFrame(m, { seq: 1, deviceId: 2 });
    expect(decodeFrame(wire).message).toEqual(m);
    expect(decodeFrame(wire.subarray(0, -1)).message).toEqual(m);
    expect(() => decodeFrame(new Uint8Array(MAX_ENCODED_FRAME_LENGTH + 1).fill(1))).toThrow(/OVERSIZE/);
    expect(() => decodeRawFrame(new Uint8Array(MAX_RAW_FRAME_LENGTH + 1))).toThrow(/OVERSIZE/);
  });

  it('a COBS frame decoding to more than the largest frame is OVERSIZE, not a crash', () => {
    // 283 stuffed bytes of 0x01 decode to 282 zero bytes: one more than any legal frame.
    const stuffed = new Uint8Array(MAX_ENCODED_FRAME_LENGTH).fill(1);
    expect(() => decodeFrame(stuffed)).toThrow(/OVERSIZE/);
  });

  it('errors carry the header once the CRC passed, and the stream offset', () => {
    const raw = encodeRawFrame(m, { seq: 77, deviceId: 9 });
    raw[3] = 0x70;
    const wire = new Uint8Array([...cobsEncode(withCrc(raw)), 0]);
    const d = new Deframer();
    const [event] = d.push(new Uint8Array([0x00, 0x00, ...wire]));
    expect(event.ok).toBe(false);
    if (!event.ok) {
      expect(event.error).toBeInstanceOf(FrameError);
      expect(event.error.code).toBe('UNKNOWN_MESSAGE');
      expect(event.error.header).toEqual({ messageId: 0x70, seq: 77, deviceId: 9 });
      expect(event.error.streamOffset).toBe(2);
      expect(event.error.message).toMatch(/^UNKNOWN_MESSAGE at byte 2: message id 0x70/);
    }
    expect(d.stats.errors.UNKNOWN_MESSAGE).toBe(1);
  });

  it('keepRaw keeps a copy of the decoded bytes (frame capture)', () => {
    const wire = encodeFrame(m, { seq: 5, deviceId: 6 });
    const [event] = new Deframer({ keepRaw: true }).push(wire);
    expect(event.ok && event.frame.raw).toEqual(encodeRawFrame(m, { seq: 5, deviceId: 6 }));
  });

  it('reset drops a partial frame', () => {
    const wire = encodeFrame(m, { seq: 5, deviceId: 6 });
    const d = new Deframer();
    d.push(wire.subarray(0, 10));
    d.reset();
    const events = d.push(wire);
    expect(events).toHaveLength(1);
    expect(events[0].ok).toBe(true);
  });
});

describe('SignatureVerifier bounds', () => {
  it('forgets the least recently used stream beyond maxStreams', () => {
    const key = new Uint8Array(32).fill(7);
    const verifier = new SignatureVerifier({ keyFor: () => ({ key, required: true }), maxStreams: 2 });
    const d = new Deframer({ authenticator: verifier });
    const frame = (linkId: number, timestamp: number) =>
      encodeFrame(m, { seq: 0, deviceId: 1, signing: { key, linkId, timestamp } });
    const old = frame(1, 100);
    expect(d.push(old)[0].ok).toBe(true);
    expect(d.push(frame(2, 100))[0].ok).toBe(true);
    expect(d.push(old)[0].ok).toBe(false); // still remembered: replay
    expect(d.push(frame(3, 100))[0].ok).toBe(true); // evicts link 1
    // Link 1 was forgotten: its replay is accepted again. The table is bounded by design; the
    // STALE check (receiver clock) is what limits how old such a frame can be.
    expect(d.push(old)[0].ok).toBe(true);
  });
});
