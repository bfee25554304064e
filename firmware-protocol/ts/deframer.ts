/**
 * Incremental deframer: feed it whatever the serial port delivers, get whole decoded frames and
 * typed errors back. Keeps leftovers between chunks, resynchronises on the next 0x00 after garbage,
 * and rejects a frame as OVERSIZE as soon as it outgrows the largest legal frame (then skips to the
 * next delimiter), so its memory is bounded whatever arrives.
 */
import { MAX_ENCODED_FRAME_LENGTH } from './constants.ts';
import { FRAME_ERROR_CODES, FrameError, type FrameErrorCode } from './errors.ts';
import { type DecodeOptions, decodeStuffed, type Frame } from './frame.ts';

export type DeframerEvent = { ok: true; frame: Frame } | { ok: false; error: FrameError };

export interface DeframerStats {
  /** Bytes pushed in total. */
  bytes: number;
  /** Frames decoded and accepted. */
  frames: number;
  /** Rejected frames, by reason. Every bad frame is counted exactly once. */
  errors: Record<FrameErrorCode, number>;
  /** Sum of `errors`. */
  errorCount: number;
}

export type DeframerOptions = DecodeOptions;

export class Deframer {
  private readonly pending = new Uint8Array(MAX_ENCODED_FRAME_LENGTH);
  private pendingLength = 0;
  /** Stream offset of the first pending byte. */
  private pendingStart = 0;
  /** Discarding an oversize frame until the next delimiter. */
  private discarding = false;
  private readonly options: DeframerOptions | undefined;
  readonly stats: DeframerStats;

  constructor(options?: DeframerOptions) {
    this.options = options;
    const errors = {} as Record<FrameErrorCode, number>;
    for (const code of FRAME_ERROR_CODES) errors[code] = 0;
    this.stats = { bytes: 0, frames: 0, errors, errorCount: 0 };
  }

  /** Feeds bytes; returns the frames and errors they complete, in stream order. */
  push(chunk: Uint8Array): DeframerEvent[] {
    const events: DeframerEvent[] = [];
    this.pushInto(chunk, events);
    return events;
  }

  /** Like push, appending to `events` (lets a hot loop reuse one array). */
  pushInto(chunk: Uint8Array, events: DeframerEvent[]): void {
    const base = this.stats.bytes;
    this.stats.bytes += chunk.length;
    let i = 0;
    const n = chunk.length;
    while (i < n) {
      const zero = chunk.indexOf(0, i);
      const segmentEnd = zero === -1 ? n : zero;
      if (this.discarding) {
        if (zero === -1) return;
        this.discarding = false;
        this.pendingLength = 0;
        i = zero + 1;
        this.pendingStart = base + i;
        continue;
      }
      const segmentLength = segmentEnd - i;
      if (this.pendingLength + segmentLength > MAX_ENCODED_FRAME_LENGTH) {
        this.emitError(
          events,
          new FrameError(
            'OVERSIZE',
            `more than ${MAX_ENCODED_FRAME_LENGTH} bytes before a delimiter`,
            this.pendingLength > 0 ? this.pendingStart : base + i,
          ),
        );
        this.pendingLength = 0;
        if (zero === -1) {
          this.discarding = true;
          return;
        }
        i = zero + 1;
        this.pendingStart = base + i;
        continue;
      }
      if (zero === -1) {
        if (this.pendingLength === 0) this.pendingStart = base + i;
        this.pending.set(chunk.subarray(i, n), this.pendingLength);
        this.pendingLength += segmentLength;
        return;
      }
      if (this.pendingLength === 0) {
        // Whole frame inside this chunk: decode in place, no copy.
        if (segmentLength > 0) this.emit(events, decodeStuffed(chunk, i, zero, base + i, this.options));
      } else {
        this.pending.set(chunk.subarray(i, zero), this.pendingLength);
        const total = this.pendingLength + segmentLength;
        this.pendingLength = 0;
        this.emit(events, decodeStuffed(this.pending, 0, total, this.pendingStart, this.options));
      }
      i = zero + 1;
      this.pendingStart = base + i;
    }
  }

  /** Drops any partial frame (e.g. after the port was reopened). */
  reset(): void {
    this.pendingLength = 0;
    this.discarding = false;
  }

  private emit(events: DeframerEvent[], result: Frame | FrameError): void {
    if (result instanceof FrameError) this.emitError(events, result);
    else {
      this.stats.frames++;
      events.push({ ok: true, frame: result });
    }
  }

  private emitError(events: DeframerEvent[], error: FrameError): void {
    this.stats.errors[error.code]++;
    this.stats.errorCount++;
    events.push({ ok: false, error });
  }
}
