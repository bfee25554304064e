import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cobsDecode, cobsEncode } from './cobs.ts';
import { crc32c } from './crc32c.ts';
import { FrameError } from './errors.ts';
import { decodeFrame, encodeFrame, encodeRawFrame } from './frame.ts';
import { loadGoldenVectors, messageFromVector } from './test-support.ts';

const vectors = loadGoldenVectors();
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => new Uint8Array(Buffer.from(h, 'hex'));

function signingFromVector(s: { keyHex: string; linkId: number; timestamp: number } | null) {
  return s ? { key: bytes(s.keyHex), linkId: s.linkId, timestamp: s.timestamp } : undefined;
}

describe('golden vectors (generated independently by vectors/generate.py)', () => {
  it('CRC-32C matches the check value for "123456789" and the other vectors', () => {
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    for (const v of vectors.crc32c) {
      expect(crc32c(new TextEncoder().encode(v.ascii)).toString(16).padStart(8, '0')).toBe(v.crc);
    }
  });

  it('CRC-32C over unaligned ranges equals the CRC of the copied range', () => {
    const data = new Uint8Array(64).map((_, i) => (i * 37 + 11) & 0xff);
    for (let start = 0; start < 8; start++) {
      for (let end = start; end < 64; end += 7) {
        expect(crc32c(data, start, end)).toBe(crc32c(data.slice(start, end)));
      }
    }
  });

  it('COBS encodes and decodes every vector', () => {
    for (const v of vectors.cobs) {
      expect(hex(cobsEncode(bytes(v.decoded)))).toBe(v.encoded);
      expect(hex(cobsDecode(bytes(v.encoded)))).toBe(v.decoded);
    }
  });

  it('HMAC-SHA256 vector agrees with node:crypto', () => {
    for (const v of vectors.hmacSha256) {
      expect(createHmac('sha256', bytes(v.keyHex)).update(bytes(v.dataHex)).digest('hex')).toBe(v.macHex);
    }
  });

  for (const v of vectors.frames) {
    it(`encodes ${v.name} byte for byte`, () => {
      const message = messageFromVector(v.message);
      const options = {
        seq: v.seq,
        deviceId: v.deviceId,
        compatFlags: v.compatFlags,
        signing: signingFromVector(v.signing),
      };
      expect(hex(encodeRawFrame(message, options))).toBe(v.raw);
      expect(hex(encodeFrame(message, options))).toBe(v.wire);
    });

    it(`decodes ${v.name} to the vector's fields`, () => {
      const frame = decodeFrame(bytes(v.wire));
      expect(frame.message).toEqual(messageFromVector(v.message));
      expect(frame.seq).toBe(v.seq);
      expect(frame.deviceId).toBe(v.deviceId);
      expect(frame.compatFlags).toBe(v.compatFlags);
      if (v.signing) {
        expect(frame.signature?.linkId).toBe(v.signing.linkId);
        expect(frame.signature?.timestamp).toBe(v.signing.timestamp);
      } else {
        expect(frame.signature).toBeNull();
      }
    });
  }

  for (const v of vectors.bad) {
    it(`rejects ${v.name} as ${v.error}`, () => {
      let caught: unknown;
      try {
        decodeFrame(bytes(v.wire));
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(FrameError);
      expect((caught as FrameError).code).toBe(v.error);
    });
  }

  for (const v of vectors.compatible) {
    it(`accepts ${v.name}`, () => {
      expect(decodeFrame(bytes(v.wire)).message).toEqual(messageFromVector(v.message));
    });
  }
});
