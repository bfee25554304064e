/**
 * Line noise for a serial link: a stream of small garbage frames (each ends with the 0x00
 * delimiter, so every one reaches the decoder and is rejected), written into one end of a
 * pseudo-terminal at line rate.
 *
 *   const noise = startLineNoise(pair.b);            // 92,160 B/s: a full 921,600-baud line (8N1)
 *   …
 *   noise.stop(); noise.bytesWritten; noise.framesWritten;
 *
 * The mix is mostly the tiniest frames (one byte and a delimiter: rejected by the COBS check or as
 * too short, the cheapest kind and so the most per second), with some that get further: random
 * bytes COBS-stuffed (rejected by the CRC) and CRC-valid frames with a bad header (version,
 * incompatible flags, length, message id). None can be taken for a valid frame.
 */
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { cobsEncode } from '../ts/cobs.ts';
import { CRC_LENGTH, HEADER_LENGTH, PROTOCOL_VERSION } from '../ts/constants.ts';
import { crc32c } from '../ts/crc32c.ts';

/** A full 921,600-baud line: 10 bits on the wire per byte (start, 8 data, stop). */
export const LINE_RATE_921600 = 92_160;

export interface GarbageFrames {
  bytes: Uint8Array;
  frames: number;
}

/** A deterministic 32-bit LCG, so a failing run can be repeated. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 32;
  };
}

/** CRC-valid raw frame (header ‖ payload ‖ CRC) with one header field wrong, COBS-stuffed. */
function badHeaderFrame(rand: () => number): Uint8Array {
  const payload = Math.floor(rand() * 16);
  const raw = new Uint8Array(HEADER_LENGTH + payload + CRC_LENGTH);
  for (let i = 0; i < raw.length; i++) raw[i] = Math.floor(rand() * 256);
  raw[0] = PROTOCOL_VERSION;
  raw[1] = 0;
  raw[8] = payload;
  const fault = Math.floor(rand() * 4);
  if (fault === 0)
    raw[0] = PROTOCOL_VERSION + 1 + Math.floor(rand() * 200); // BAD_VERSION
  else if (fault === 1)
    raw[1] = 0x80; // UNKNOWN_INCOMPAT_FLAG
  else if (fault === 2)
    raw[8] = payload + 1 + Math.floor(rand() * 50); // LENGTH_MISMATCH
  else raw[3] = 0xf0 + Math.floor(rand() * 15); // UNKNOWN_MESSAGE (no message id ≥ 0xf0)
  const crcAt = raw.length - CRC_LENGTH;
  new DataView(raw.buffer).setUint32(crcAt, crc32c(raw, 0, crcAt), true);
  return cobsEncode(raw);
}

/** At least `length` bytes of garbage frames (whole frames, each ending with 0x00). */
export function garbageFrames(length: number, seed = 1): GarbageFrames {
  const rand = lcg(seed);
  const parts: Uint8Array[] = [];
  let total = 0;
  let frames = 0;
  while (total < length) {
    const r = rand();
    let body: Uint8Array;
    if (r < 0.92) {
      body = Uint8Array.of(1 + Math.floor(rand() * 255));
    } else if (r < 0.96) {
      const random = new Uint8Array(13 + Math.floor(rand() * 28));
      for (let i = 0; i < random.length; i++) random[i] = Math.floor(rand() * 256);
      body = cobsEncode(random); // COBS-valid, CRC wrong (a 2^-32 chance aside)
    } else {
      body = badHeaderFrame(rand);
    }
    const frame = new Uint8Array(body.length + 1);
    frame.set(body);
    parts.push(frame);
    total += frame.length;
    frames++;
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return { bytes, frames };
}

export interface LineNoiseOptions {
  /** @default LINE_RATE_921600 */
  bytesPerSecond?: number;
  /** @default 1 */
  seed?: number;
  /** How often the writer wakes, ms. @default 5 */
  period_ms?: number;
}

export interface LineNoise {
  /** Bytes handed to the pseudo-terminal so far. */
  readonly bytesWritten: number;
  /** Whole garbage frames written so far. */
  readonly framesWritten: number;
  /** Times the tty was full (its reader behind) and a write was put off to the next turn. */
  readonly refusals: number;
  stop(): void;
}

/**
 * Writes garbage frames into `path` (a tty: the far end of the link under test) at
 * `bytesPerSecond`, in whole frames, until stopped. Paced by elapsed time, so a late timer writes
 * more at its next turn; bytes the tty refuses (its buffer full) are not counted as written.
 */
export function startLineNoise(path: string, options: LineNoiseOptions = {}): LineNoise {
  const rate = options.bytesPerSecond ?? LINE_RATE_921600;
  // One second of frames, written round and round.
  const { bytes } = garbageFrames(rate, options.seed ?? 1);
  const frameEnds: number[] = [];
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0) frameEnds.push(i + 1);
  const fd = openSync(path, constants.O_WRONLY | constants.O_NOCTTY | constants.O_NONBLOCK);
  const start = performance.now();
  let bytesWritten = 0;
  let framesWritten = 0;
  let offset = 0; // into bytes, always at a frame boundary
  let frameIndex = 0;
  let refusals = 0;
  const tick = () => {
    let due = Math.floor(((performance.now() - start) / 1000) * rate) - bytesWritten;
    // Never more than a quarter of a second at once (after a longer stall, the rest is skipped).
    due = Math.min(due, Math.ceil(rate / 4));
    while (due > 0) {
      // Whole frames up to `due` bytes, not past the end of the buffer.
      let endIndex = frameIndex;
      while (endIndex < frameEnds.length && frameEnds[endIndex] - offset <= due) endIndex++;
      if (endIndex === frameIndex) break;
      const end = frameEnds[endIndex - 1];
      let n: number;
      try {
        n = writeSync(fd, bytes, offset, end - offset);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          refusals++;
          return;
        }
        throw err;
      }
      if (n < end - offset) {
        // A partial write: finish that frame's bytes so the stream stays in whole frames.
        // (A tty takes a short write only when nearly full; the remainder is tiny.)
        const rest = bytes.subarray(offset + n, end);
        try {
          writeSync(fd, rest);
        } catch {
          // The frame is cut short: the next delimiter ends it; it is garbage either way.
        }
      }
      bytesWritten += end - offset;
      framesWritten += endIndex - frameIndex;
      due -= end - offset;
      offset = end;
      frameIndex = endIndex;
      if (frameIndex === frameEnds.length) {
        offset = 0;
        frameIndex = 0;
      }
    }
  };
  const timer = setInterval(tick, options.period_ms ?? 5);
  let stopped = false;
  return {
    get bytesWritten() {
      return bytesWritten;
    },
    get framesWritten() {
      return framesWritten;
    },
    get refusals() {
      return refusals;
    },
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      closeSync(fd);
    },
  };
}
