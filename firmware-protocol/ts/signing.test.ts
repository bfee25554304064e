import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cobsDecode, cobsEncode } from './cobs.ts';
import { HEADER_LENGTH, IncompatFlag } from './constants.ts';
import { crc32c } from './crc32c.ts';
import { Deframer } from './deframer.ts';
import { decodeFrame, encodeFrame } from './frame.ts';
import type { Measurement } from './messages/measurement.ts';
import {
  type DeviceKey,
  SIGNING_EPOCH_UNIX_MS,
  SignatureVerifier,
  signingTimestampFromUnixMs,
} from './signing.ts';

const KEY = new Uint8Array(32).map((_, i) => i);
const OTHER_KEY = new Uint8Array(32).map((_, i) => 255 - i);
const DEVICE = 3;

const m = (step: number): Measurement => ({
  type: 'MEASUREMENT',
  step,
  twinTimeS: step / 1000,
  voltagePu: 1,
  voltageAngleRad: 0,
  frequencyHz: 50,
  rocofHzPerS: 0,
});

function signed(step: number, timestamp: number, key = KEY, linkId = 1): Uint8Array {
  return encodeFrame(m(step), { seq: step, deviceId: DEVICE, signing: { key, linkId, timestamp } });
}

function verifierFor(keys: Record<number, DeviceKey>, now?: () => number) {
  return new SignatureVerifier({ keyFor: (id) => keys[id], now });
}

function outcome(d: Deframer, wire: Uint8Array): string {
  const events = d.push(wire);
  expect(events).toHaveLength(1);
  const e = events[0];
  return e.ok ? 'ok' : e.error.code;
}

describe('frame signing (MAVLink 2 style, truncated HMAC-SHA256)', () => {
  it('signature block holds link id, 48-bit timestamp and the first 6 bytes of HMAC-SHA256 over header ‖ payload ‖ link id ‖ timestamp', () => {
    const ts = 0x0102_0304_0506;
    const raw = cobsDecode(signed(1, ts).subarray(0, -1));
    expect(raw[1] & IncompatFlag.SIGNED).toBe(IncompatFlag.SIGNED);
    const payloadEnd = HEADER_LENGTH + raw[8];
    expect(raw[payloadEnd]).toBe(1);
    expect([...raw.subarray(payloadEnd + 1, payloadEnd + 7)]).toEqual([6, 5, 4, 3, 2, 1]);
    const mac = createHmac('sha256', KEY)
      .update(raw.subarray(0, payloadEnd + 7))
      .digest();
    expect([...raw.subarray(payloadEnd + 7, payloadEnd + 13)]).toEqual([...mac.subarray(0, 6)]);
  });

  it('accepts a valid signed frame', () => {
    const d = new Deframer({ authenticator: verifierFor({ [DEVICE]: { key: KEY, required: true } }) });
    expect(outcome(d, signed(1, 1000))).toBe('ok');
    expect(outcome(d, signed(2, 1001))).toBe('ok');
  });

  it('rejects a replayed frame as REPLAY', () => {
    const d = new Deframer({ authenticator: verifierFor({ [DEVICE]: { key: KEY, required: true } }) });
    const frame = signed(1, 1000);
    expect(outcome(d, frame)).toBe('ok');
    expect(outcome(d, signed(2, 1001))).toBe('ok');
    expect(outcome(d, frame)).toBe('REPLAY');
    expect(d.stats.errors.REPLAY).toBe(1);
  });

  it('rejects an older, never-seen timestamp as REORDERED', () => {
    const d = new Deframer({ authenticator: verifierFor({ [DEVICE]: { key: KEY, required: true } }) });
    const early = signed(1, 1000);
    expect(outcome(d, signed(2, 1005))).toBe('ok');
    expect(outcome(d, early)).toBe('REORDERED');
  });

  it('rejects a tampered frame (payload changed, CRC recomputed) as BAD_SIGNATURE', () => {
    const d = new Deframer({ authenticator: verifierFor({ [DEVICE]: { key: KEY, required: true } }) });
    const raw = cobsDecode(signed(1, 1000).subarray(0, -1)).slice();
    raw[HEADER_LENGTH + 20] ^= 0x40; // frequency field
    new DataView(raw.buffer).setUint32(raw.length - 4, crc32c(raw, 0, raw.length - 4), true);
    const wire = new Uint8Array([...cobsEncode(raw), 0]);
    expect(outcome(d, wire)).toBe('BAD_SIGNATURE');
  });

  it('rejects a frame signed with the wrong key as BAD_SIGNATURE', () => {
    const d = new Deframer({ authenticator: verifierFor({ [DEVICE]: { key: KEY, required: true } }) });
    expect(outcome(d, signed(1, 1000, OTHER_KEY))).toBe('BAD_SIGNATURE');
  });

  it('rejects and counts unsigned frames from a device that requires signing', () => {
    const d = new Deframer({ authenticator: verifierFor({ [DEVICE]: { key: KEY, required: true } }) });
    expect(outcome(d, encodeFrame(m(1), { seq: 1, deviceId: DEVICE }))).toBe('UNSIGNED');
    expect(outcome(d, encodeFrame(m(2), { seq: 2, deviceId: DEVICE }))).toBe('UNSIGNED');
    expect(d.stats.errors.UNSIGNED).toBe(2);
  });

  it('accepts unsigned frames when the key is optional, and rejects signed frames from a device without a key', () => {
    const d = new Deframer({ authenticator: verifierFor({ [DEVICE]: { key: KEY, required: false } }) });
    expect(outcome(d, encodeFrame(m(1), { seq: 1, deviceId: DEVICE }))).toBe('ok');
    const none = new Deframer({ authenticator: verifierFor({}) });
    expect(outcome(none, signed(1, 5))).toBe('NO_KEY');
  });

  it('rejects the first frame of a stream older than the window as STALE', () => {
    const now = 10_000_000_000;
    const d = new Deframer({
      authenticator: verifierFor({ [DEVICE]: { key: KEY, required: true } }, () => now),
    });
    expect(outcome(d, signed(1, now - 6_000_001))).toBe('STALE');
    expect(outcome(d, signed(2, now - 5_000_000))).toBe('ok');
  });

  it('keeps streams (device, link id) apart: each link has its own monotonic timestamps', () => {
    const d = new Deframer({ authenticator: verifierFor({ [DEVICE]: { key: KEY, required: true } }) });
    expect(outcome(d, signed(1, 1000, KEY, 1))).toBe('ok');
    expect(outcome(d, signed(2, 500, KEY, 2))).toBe('ok');
    expect(outcome(d, signed(3, 999, KEY, 1))).toBe('REORDERED');
  });

  it('rejects bad signing parameters when encoding', () => {
    expect(() => signed(1, -1)).toThrow(RangeError);
    expect(() => signed(1, 2 ** 48)).toThrow(RangeError);
    expect(() => signed(1, 1.5)).toThrow(RangeError);
  });

  it('decodes the signature block without verifying when no authenticator is given', () => {
    const frame = decodeFrame(signed(1, 2 ** 48 - 1));
    expect(frame.signature?.timestamp).toBe(2 ** 48 - 1);
  });

  it('signing timestamps count 10 µs units from 2015-01-01', () => {
    expect(signingTimestampFromUnixMs(SIGNING_EPOCH_UNIX_MS)).toBe(0);
    expect(signingTimestampFromUnixMs(Date.UTC(2015, 0, 1, 0, 0, 1))).toBe(100_000);
  });
});
