/** Frame encode/decode: header ‖ payload ‖ [signature block] ‖ CRC-32C, COBS-stuffed, 0x00-terminated. */
import { cobsDecodeInto, cobsEncodeInto, cobsMaxEncodedLength } from './cobs.ts';
import {
  CRC_LENGTH,
  HEADER_LENGTH,
  IncompatFlag,
  KNOWN_INCOMPAT_FLAGS,
  MAX_ENCODED_FRAME_LENGTH,
  MAX_PAYLOAD_LENGTH,
  MAX_RAW_FRAME_LENGTH,
  MessageId,
  MIN_RAW_FRAME_LENGTH,
  PROTOCOL_VERSION,
  SIGNATURE_BLOCK_LENGTH,
} from './constants.ts';
import { crc32c } from './crc32c.ts';
import { FrameError, FrameRejection } from './errors.ts';
import { type Message, messageTypeOf, PAYLOAD_LENGTH, readPayload, writePayload } from './messages/index.ts';
import {
  computeSignature,
  type FrameAuthenticator,
  MAX_SIGNING_TIMESTAMP,
  readSignatureBlock,
  type SignatureBlock,
  type SigningParams,
} from './signing.ts';

export interface EncodeOptions {
  /** Sender's frame counter, 0…65535 (wraps). */
  seq: number;
  /** Device the frame comes from (device → bench) or is addressed to (bench → device). */
  deviceId: number;
  /** `CompatFlag` bits. @default 0 */
  compatFlags?: number;
  /** Sign the frame (sets the SIGNED incompatible flag). */
  signing?: SigningParams;
}

export interface Frame {
  version: number;
  incompatFlags: number;
  compatFlags: number;
  messageId: number;
  seq: number;
  deviceId: number;
  message: Message;
  /** Signature block of a signed frame (already verified when an authenticator was given). */
  signature: SignatureBlock | null;
  /** Byte offset of the frame's first byte in the deframer's stream (0 for one-shot decodes). */
  streamOffset: number;
  /** Decoded bytes header…CRC, when the decoder was asked to keep them. */
  raw?: Uint8Array;
}

export interface DecodeOptions {
  /** Signature policy; without one, signed frames are accepted unverified. */
  authenticator?: FrameAuthenticator;
  /** Keep a copy of the decoded bytes in `frame.raw` (frame capture). @default false */
  keepRaw?: boolean;
}

const RAW = new Uint8Array(MAX_RAW_FRAME_LENGTH);
const RAW_VIEW = new DataView(RAW.buffer);
const ENCODED = new Uint8Array(MAX_ENCODED_FRAME_LENGTH + 1);

/** Largest output of encodeFrame for any message: COBS worst case plus the delimiter. */
export const MAX_WIRE_FRAME_LENGTH = MAX_ENCODED_FRAME_LENGTH + 1;

/** Builds the decoded form (header…CRC) into RAW; returns its length. */
function buildRaw(message: Message, options: EncodeOptions): number {
  const id = MessageId[message.type];
  if (id === undefined) throw new TypeError(`unknown message type ${String(message.type)}`);
  const payloadLength = writePayload(RAW_VIEW, HEADER_LENGTH, message);
  if (payloadLength > MAX_PAYLOAD_LENGTH) throw new RangeError('payload too long');
  const signing = options.signing;
  RAW[0] = PROTOCOL_VERSION;
  RAW[1] = signing ? IncompatFlag.SIGNED : 0;
  RAW[2] = options.compatFlags ?? 0;
  RAW[3] = id;
  RAW_VIEW.setUint16(4, options.seq & 0xffff, true);
  RAW_VIEW.setUint16(6, options.deviceId & 0xffff, true);
  RAW[8] = payloadLength;
  let end = HEADER_LENGTH + payloadLength;
  if (signing) {
    const ts = signing.timestamp;
    if (!Number.isInteger(ts) || ts < 0 || ts > MAX_SIGNING_TIMESTAMP) {
      throw new RangeError(`signing timestamp ${ts} is not a 48-bit unsigned integer`);
    }
    RAW[end] = signing.linkId & 0xff;
    RAW_VIEW.setUint32(end + 1, ts % 0x100000000, true);
    RAW_VIEW.setUint16(end + 5, Math.floor(ts / 0x100000000), true);
    const mac = computeSignature(signing.key, RAW.subarray(0, end + 7));
    RAW.set(mac, end + 7);
    end += SIGNATURE_BLOCK_LENGTH;
  }
  RAW_VIEW.setUint32(end, crc32c(RAW, 0, end), true);
  return end + CRC_LENGTH;
}

/**
 * Encodes `message` into `out` at `offset` (COBS + trailing 0x00). `out` needs
 * MAX_WIRE_FRAME_LENGTH bytes of room in the worst case. Returns the bytes written.
 */
export function encodeFrameInto(
  message: Message,
  options: EncodeOptions,
  out: Uint8Array,
  offset = 0,
): number {
  const rawLength = buildRaw(message, options);
  if (out.length - offset < cobsMaxEncodedLength(rawLength) + 1)
    throw new RangeError('output buffer too small');
  const n = cobsEncodeInto(RAW, 0, rawLength, out, offset);
  out[offset + n] = 0;
  return n + 1;
}

/** Encodes `message` as one wire frame, delimiter included. */
export function encodeFrame(message: Message, options: EncodeOptions): Uint8Array {
  const rawLength = buildRaw(message, options);
  const n = cobsEncodeInto(RAW, 0, rawLength, ENCODED, 0);
  const out = new Uint8Array(n + 1);
  out.set(ENCODED.subarray(0, n));
  return out;
}

/** The decoded (un-stuffed) bytes of a message, header…CRC, for tests and vectors. */
export function encodeRawFrame(message: Message, options: EncodeOptions): Uint8Array {
  return RAW.slice(0, buildRaw(message, options));
}

const DECODE_SCRATCH = new Uint8Array(MAX_RAW_FRAME_LENGTH);
const DECODE_VIEW = new DataView(DECODE_SCRATCH.buffer);

/**
 * Decodes one COBS-stuffed frame `src[start, end)` (delimiter excluded). Returns the frame, or null
 * with the reason written into `rejection`; never throws on bad input and allocates nothing for a
 * bad frame, so a receiver can reject garbage at line rate (`rejection.toError()` when a person
 * is to read why).
 */
export function decodeStuffed(
  src: Uint8Array,
  start: number,
  end: number,
  streamOffset: number,
  options: DecodeOptions | undefined,
  rejection: FrameRejection,
): Frame | null {
  const rawLength = cobsDecodeInto(src, start, end, DECODE_SCRATCH);
  if (rawLength === -1) {
    rejection.set('COBS_INVALID', streamOffset);
    return null;
  }
  if (rawLength === -2) {
    rejection.set('OVERSIZE', streamOffset, 0, MAX_RAW_FRAME_LENGTH, 1);
    return null;
  }
  return decodeRaw(DECODE_SCRATCH, DECODE_VIEW, rawLength, streamOffset, options, rejection);
}

/** Marks a rejection of a frame whose header was trusted (its CRC passed). */
function withHeader(rejection: FrameRejection, messageId: number, seq: number, deviceId: number): null {
  rejection.hasHeader = true;
  rejection.messageId = messageId;
  rejection.seq = seq;
  rejection.deviceId = deviceId;
  return null;
}

function decodeRaw(
  raw: Uint8Array,
  view: DataView,
  length: number,
  streamOffset: number,
  options: DecodeOptions | undefined,
  rejection: FrameRejection,
): Frame | null {
  if (length < MIN_RAW_FRAME_LENGTH) {
    rejection.set('TOO_SHORT', streamOffset, length, MIN_RAW_FRAME_LENGTH);
    return null;
  }
  const crcEnd = length - CRC_LENGTH;
  const expected = view.getUint32(crcEnd, true);
  const actual = crc32c(raw, 0, crcEnd);
  if (expected !== actual) {
    rejection.set('CRC_MISMATCH', streamOffset, actual, expected);
    return null;
  }
  const version = raw[0];
  const incompatFlags = raw[1];
  const messageId = raw[3];
  const seq = view.getUint16(4, true);
  const deviceId = view.getUint16(6, true);
  if (version !== PROTOCOL_VERSION) {
    rejection.set('BAD_VERSION', streamOffset, version, PROTOCOL_VERSION);
    return withHeader(rejection, messageId, seq, deviceId);
  }
  if ((incompatFlags & ~KNOWN_INCOMPAT_FLAGS) !== 0) {
    rejection.set('UNKNOWN_INCOMPAT_FLAG', streamOffset, incompatFlags);
    return withHeader(rejection, messageId, seq, deviceId);
  }
  const payloadLength = raw[8];
  const signed = (incompatFlags & IncompatFlag.SIGNED) !== 0;
  const expectedLength = HEADER_LENGTH + payloadLength + (signed ? SIGNATURE_BLOCK_LENGTH : 0) + CRC_LENGTH;
  if (length !== expectedLength) {
    rejection.set(
      'LENGTH_MISMATCH',
      streamOffset,
      length,
      expectedLength,
      payloadLength + (signed ? 256 : 0),
    );
    return withHeader(rejection, messageId, seq, deviceId);
  }
  const payloadEnd = HEADER_LENGTH + payloadLength;
  const authenticator = options?.authenticator;
  if (authenticator && !authenticator.check(deviceId, raw, payloadEnd, signed, rejection)) {
    rejection.streamOffset = streamOffset;
    return withHeader(rejection, messageId, seq, deviceId);
  }
  const type = messageTypeOf(messageId);
  if (type === undefined) {
    rejection.set('UNKNOWN_MESSAGE', streamOffset);
    return withHeader(rejection, messageId, seq, deviceId);
  }
  const layoutLength = PAYLOAD_LENGTH[type];
  if (payloadLength < layoutLength) {
    rejection.set('PAYLOAD_TOO_SHORT', streamOffset, payloadLength, layoutLength);
    return withHeader(rejection, messageId, seq, deviceId);
  }
  const frame: Frame = {
    version,
    incompatFlags,
    compatFlags: raw[2],
    messageId,
    seq,
    deviceId,
    message: readPayload(type, view, HEADER_LENGTH),
    signature: signed ? readSignatureBlock(raw, payloadEnd) : null,
    streamOffset,
  };
  if (options?.keepRaw) frame.raw = raw.slice(0, length);
  return frame;
}

/**
 * Decodes one wire frame (COBS bytes, with or without the trailing 0x00). Throws FrameError.
 */
export function decodeFrame(bytes: Uint8Array, options?: DecodeOptions): Frame {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0) end--;
  if (end > MAX_ENCODED_FRAME_LENGTH) {
    throw new FrameError('OVERSIZE', `${end} stuffed bytes, maximum ${MAX_ENCODED_FRAME_LENGTH}`);
  }
  const rejection = new FrameRejection();
  const frame = decodeStuffed(bytes, 0, end, 0, options, rejection);
  if (frame === null) throw rejection.toError();
  return frame;
}

/** Decodes the un-stuffed bytes header…CRC. Throws FrameError. */
export function decodeRawFrame(raw: Uint8Array, options?: DecodeOptions): Frame {
  if (raw.length > MAX_RAW_FRAME_LENGTH) {
    throw new FrameError('OVERSIZE', `${raw.length} bytes, maximum ${MAX_RAW_FRAME_LENGTH}`);
  }
  const copy = raw.slice();
  const rejection = new FrameRejection();
  const frame = decodeRaw(copy, new DataView(copy.buffer), copy.length, 0, options, rejection);
  if (frame === null) throw rejection.toError();
  return frame;
}
