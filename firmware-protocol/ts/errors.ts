/** Typed decode errors. Every bad frame yields exactly one of these, so receivers can count them. */

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
