/**
 * Optional per-device frame signing, modelled on MAVLink 2 message signing.
 *
 * Signature block (13 bytes, after the payload, before the CRC; incompatible flag SIGNED):
 *   link id u8 | timestamp u48 LE (10 µs units since 2015-01-01T00:00:00Z) | first 6 bytes of
 *   HMAC-SHA256(key, header ‖ payload ‖ link id ‖ timestamp).
 * A stream is (device id, link id). Its timestamps must increase strictly; the verifier remembers
 * the newest one and a bounded window of recent ones, so it can tell a duplicate (REPLAY) from an
 * older frame (REORDERED). Keys (32 bytes) are provisioned out of band.
 */
import { createHmac } from 'node:crypto';
import { SIGNATURE_LENGTH } from './constants.ts';
import type { FrameRejection } from './errors.ts';

/** MAVLink's signing epoch, 2015-01-01T00:00:00Z, in Unix milliseconds. */
export const SIGNING_EPOCH_UNIX_MS = Date.UTC(2015, 0, 1);
export const SIGNING_KEY_LENGTH = 32;
/** 2^48: timestamps are 48-bit. */
export const MAX_SIGNING_TIMESTAMP = 2 ** 48 - 1;

export interface SignatureBlock {
  linkId: number;
  /** 10 µs units since 2015-01-01T00:00:00Z. */
  timestamp: number;
  signature: Uint8Array;
}

export interface SigningParams {
  /** 32-byte secret shared with the device. */
  key: Uint8Array;
  linkId: number;
  timestamp: number;
}

/** Signing timestamp for a wall-clock time (Unix ms). */
export function signingTimestampFromUnixMs(unixMs: number): number {
  return Math.max(0, Math.round((unixMs - SIGNING_EPOCH_UNIX_MS) * 100));
}

/** Truncated HMAC over `signed` (header ‖ payload ‖ link id ‖ timestamp). */
export function computeSignature(key: Uint8Array, signed: Uint8Array): Uint8Array {
  const mac = createHmac('sha256', key).update(signed).digest();
  return new Uint8Array(mac.buffer, mac.byteOffset, SIGNATURE_LENGTH).slice();
}

/** Constant-time comparison of a computed signature with the one at `frame[at, at + SIGNATURE_LENGTH)`. */
export function signatureMatches(expected: Uint8Array, frame: Uint8Array, at: number): boolean {
  let diff = 0;
  for (let i = 0; i < SIGNATURE_LENGTH; i++) diff |= expected[i] ^ frame[at + i];
  return diff === 0;
}

export interface DeviceKey {
  key: Uint8Array;
  /** Reject this device's unsigned frames. */
  required: boolean;
}

/** What the frame decoder asks before accepting a frame. */
export interface FrameAuthenticator {
  /**
   * `raw[0, payloadEnd)` is header ‖ payload; when `signed`, the signature block (link id,
   * timestamp, truncated HMAC) follows it. Returns true to accept; to refuse, returns false after
   * `rejection.set(code, 0, …figures)` (see `describeRejection`). Runs for every frame, so it must
   * not allocate on refusal.
   */
  check(
    deviceId: number,
    raw: Uint8Array,
    payloadEnd: number,
    signed: boolean,
    rejection: FrameRejection,
  ): boolean;
}

/** The 48-bit little-endian signing timestamp at `raw[at, at + 6)`. */
function timestampAt(raw: Uint8Array, at: number): number {
  const low = (raw[at] | (raw[at + 1] << 8) | (raw[at + 2] << 16) | (raw[at + 3] << 24)) >>> 0;
  return low + (raw[at + 4] | (raw[at + 5] << 8)) * 0x100000000;
}

/** The signature block of a signed frame whose payload ends at `payloadEnd` (copies the HMAC). */
export function readSignatureBlock(raw: Uint8Array, payloadEnd: number): SignatureBlock {
  return {
    linkId: raw[payloadEnd],
    timestamp: timestampAt(raw, payloadEnd + 1),
    signature: raw.slice(payloadEnd + 7, payloadEnd + 7 + SIGNATURE_LENGTH),
  };
}

export interface SignatureVerifierOptions {
  /** Key and policy for a device id; undefined = no key (unsigned accepted, signed rejected). */
  keyFor(deviceId: number): DeviceKey | undefined;
  /**
   * Current signing timestamp, used to reject the first frame of a new stream when it is older than
   * `staleWindow`. Omit to accept any first timestamp.
   */
  now?: () => number;
  /** @default 6_000_000 (60 s, MAVLink's window) */
  staleWindow?: number;
  /** Recent timestamps remembered per stream to recognise duplicates. @default 64 */
  replayWindow?: number;
  /** Streams remembered at most; the least recently used is forgotten. @default 256 */
  maxStreams?: number;
}

interface StreamState {
  newest: number;
  recent: Float64Array;
  next: number;
}

export class SignatureVerifier implements FrameAuthenticator {
  private readonly streams = new Map<number, StreamState>();
  private readonly staleWindow: number;
  private readonly replayWindow: number;
  private readonly maxStreams: number;

  constructor(private readonly options: SignatureVerifierOptions) {
    this.staleWindow = options.staleWindow ?? 6_000_000;
    this.replayWindow = options.replayWindow ?? 64;
    this.maxStreams = options.maxStreams ?? 256;
  }

  check(
    deviceId: number,
    raw: Uint8Array,
    payloadEnd: number,
    signed: boolean,
    rejection: FrameRejection,
  ): boolean {
    const entry = this.options.keyFor(deviceId);
    if (!signed) {
      if (entry?.required) {
        rejection.set('UNSIGNED', 0);
        return false;
      }
      return true;
    }
    if (!entry) {
      rejection.set('NO_KEY', 0);
      return false;
    }
    const signedEnd = payloadEnd + 7;
    if (!signatureMatches(computeSignature(entry.key, raw.subarray(0, signedEnd)), raw, signedEnd)) {
      rejection.set('BAD_SIGNATURE', 0);
      return false;
    }
    const linkId = raw[payloadEnd];
    const ts = timestampAt(raw, payloadEnd + 1);
    const streamKey = deviceId * 256 + linkId;
    let stream = this.streams.get(streamKey);
    if (stream) {
      if (ts <= stream.newest) {
        rejection.set(stream.recent.includes(ts) ? 'REPLAY' : 'REORDERED', 0, ts, stream.newest, linkId);
        return false;
      }
      this.streams.delete(streamKey); // re-insert: Map order is the LRU order
    } else {
      const now = this.options.now?.();
      if (now !== undefined && ts < now - this.staleWindow) {
        rejection.set('STALE', 0, ts, this.staleWindow);
        return false;
      }
      if (this.streams.size >= this.maxStreams) {
        const oldest = this.streams.keys().next().value;
        if (oldest !== undefined) this.streams.delete(oldest);
      }
      stream = { newest: -1, recent: new Float64Array(this.replayWindow).fill(-1), next: 0 };
    }
    stream.newest = ts;
    stream.recent[stream.next] = ts;
    stream.next = (stream.next + 1) % stream.recent.length;
    this.streams.set(streamKey, stream);
    return true;
  }
}
