/** Typed decode errors. Every bad frame yields exactly one of these, so receivers can count them. */
import { messageTypeOf } from './messages/index.ts';

export type FrameErrorCode =
  /** A code byte points past the end of the frame, or a 0x00 appears inside it. */
  | 'COBS_INVALID'
  /** More bytes than the largest legal frame arrived before a delimiter. */
  | 'OVERSIZE'
  /** Shorter than header + CRC. */
  | 'TOO_SHORT'
  | 'CRC_MISMATCH'
  /** Header major version is not PROTOCOL_VERSION. */
  | 'BAD_VERSION'
  /** An incompatible flag this receiver does not know is set. */
  | 'UNKNOWN_INCOMPAT_FLAG'
  /** Header payload length disagrees with the frame length. */
  | 'LENGTH_MISMATCH'
  /** Payload shorter than its message's layout. */
  | 'PAYLOAD_TOO_SHORT'
  /** Message id this receiver does not know: counted and ignored. */
  | 'UNKNOWN_MESSAGE'
  /** Signing is required for this device and the frame is unsigned. */
  | 'UNSIGNED'
  /** Signed by a device for which no key is provisioned. */
  | 'NO_KEY'
  /** HMAC does not match: tampered frame or wrong key. */
  | 'BAD_SIGNATURE'
  /** Timestamp already accepted on this stream (duplicate frame). */
  | 'REPLAY'
  /** Timestamp older than the newest accepted on this stream. */
  | 'REORDERED'
  /** First frame of a stream with a timestamp older than the acceptance window. */
  | 'STALE';

export const FRAME_ERROR_CODES: readonly FrameErrorCode[] = [
  'COBS_INVALID',
  'OVERSIZE',
  'TOO_SHORT',
  'CRC_MISMATCH',
  'BAD_VERSION',
  'UNKNOWN_INCOMPAT_FLAG',
  'LENGTH_MISMATCH',
  'PAYLOAD_TOO_SHORT',
  'UNKNOWN_MESSAGE',
  'UNSIGNED',
  'NO_KEY',
  'BAD_SIGNATURE',
  'REPLAY',
  'REORDERED',
  'STALE',
];

/** Header fields known when the error was detected (after the CRC passed). */
export interface FrameErrorHeader {
  messageId: number;
  seq: number;
  deviceId: number;
}

export class FrameError extends Error {
  override readonly name = 'FrameError';
  constructor(
    readonly code: FrameErrorCode,
    detail: string,
    /** Byte offset of the frame's first byte in the stream given to the deframer (0 for one-shot decodes). */
    readonly streamOffset = 0,
    /** Header, when the frame got far enough to trust it. */
    readonly header: FrameErrorHeader | null = null,
  ) {
    super(`${code} at byte ${streamOffset}: ${detail}`);
  }
}

/**
 * Why the latest frame was rejected, written in place by the decoder: rejecting costs no
 * allocation, no string and no stack trace (a line flooded with garbage delivers tens of thousands
 * of bad frames a second, and building an `Error` for each would stall the real-time loop). The
 * figures the message quotes are kept as numbers; `toError()` builds the `FrameError` and its text
 * only where a person will read it. Overwritten by the next rejection: read it or copy it first.
 */
export class FrameRejection {
  code: FrameErrorCode = 'COBS_INVALID';
  streamOffset = 0;
  /** Header fields, valid when `hasHeader` (the CRC passed). */
  hasHeader = false;
  messageId = 0;
  seq = 0;
  deviceId = 0;
  /** Figures quoted by the message, meaning by code (see `describeRejection`). */
  actual = 0;
  expected = 0;
  extra = 0;

  /** Sets the code and figures, clears the header; returns `this` for the decoder's `return`. */
  set(code: FrameErrorCode, streamOffset: number, actual = 0, expected = 0, extra = 0): this {
    this.code = code;
    this.streamOffset = streamOffset;
    this.hasHeader = false;
    this.actual = actual;
    this.expected = expected;
    this.extra = extra;
    return this;
  }

  /** The rejection as a typed error with its human-readable message (allocates; not for hot paths). */
  toError(): FrameError {
    const header = this.hasHeader
      ? { messageId: this.messageId, seq: this.seq, deviceId: this.deviceId }
      : null;
    return new FrameError(this.code, describeRejection(this), this.streamOffset, header);
  }
}

const hex = (n: number, digits = 0) => `0x${n.toString(16).padStart(digits, '0')}`;

/** What a person reads about a rejection: the detail of `FrameError`'s message. */
export function describeRejection(r: FrameRejection): string {
  switch (r.code) {
    case 'COBS_INVALID':
      return 'malformed COBS block';
    case 'OVERSIZE':
      // extra: 0 = stuffed bytes seen before a delimiter, 1 = bytes the frame decodes to.
      return r.extra === 1
        ? `decodes to more than ${r.expected} bytes`
        : `more than ${r.expected} bytes before a delimiter`;
    case 'TOO_SHORT':
      return `${r.actual} bytes, minimum ${r.expected}`;
    case 'CRC_MISMATCH':
      return `CRC-32C ${hex(r.actual, 8)}, frame says ${hex(r.expected, 8)}`;
    case 'BAD_VERSION':
      return `version ${r.actual}, expected ${r.expected}`;
    case 'UNKNOWN_INCOMPAT_FLAG':
      return `incompatible flags ${hex(r.actual)}`;
    case 'LENGTH_MISMATCH':
      // extra: payload length declared by the header, plus 256 when the frame is signed.
      return `frame is ${r.actual} bytes, header declares ${r.expected} (payload ${r.extra & 0xff}${r.extra >= 256 ? ', signed' : ''})`;
    case 'PAYLOAD_TOO_SHORT':
      return `${messageTypeOf(r.messageId) ?? hex(r.messageId)} payload is ${r.actual} bytes, layout needs ${r.expected}`;
    case 'UNKNOWN_MESSAGE':
      return `message id ${hex(r.messageId)}`;
    case 'UNSIGNED':
      return `device ${r.deviceId} requires signed frames`;
    case 'NO_KEY':
      return `no signing key provisioned for device ${r.deviceId}`;
    case 'BAD_SIGNATURE':
      return 'HMAC mismatch (tampered frame or wrong key)';
    case 'REPLAY':
      return `timestamp ${r.actual} already accepted on link ${r.extra}`;
    case 'REORDERED':
      return `timestamp ${r.actual} older than newest ${r.expected} on link ${r.extra}`;
    case 'STALE':
      return `first timestamp ${r.actual} is more than ${r.expected} old`;
  }
}
