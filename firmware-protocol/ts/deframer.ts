/**
 * Incremental deframer: feed it whatever the serial port delivers, get whole decoded frames and
 * rejections back. Keeps leftovers between chunks, resynchronises on the next 0x00 after garbage,
 * and rejects a frame as OVERSIZE as soon as it outgrows the largest legal frame (then skips to the
 * next delimiter), so its memory is bounded whatever arrives.
 *
 * Two ways in, one implementation: `feed(chunk, sink)` is the hot path (a bad frame costs a counter
 * and a `FrameRejection` written in place: no allocation, so a flood of garbage cannot stall a
 * real-time loop); `push`/`pushInto` wrap it for tools and tests, turning each rejection into a
 * `FrameError` with its message.
 */
import { MAX_ENCODED_FRAME_LENGTH } from './constants.ts';
import { FRAME_ERROR_CODES, type FrameError, type FrameErrorCode, FrameRejection } from './errors.ts';
import { type DecodeOptions, decodeStuffed, type Frame } from './frame.ts';

export type DeframerEvent = { ok: true; frame: Frame } | { ok: false; error: FrameError };

/** Receives what `Deframer.feed` finds, in stream order. */
export interface FrameSink {
  /** A frame decoded and accepted. */
  frame(frame: Frame): void;
  /**
   * A frame rejected (already counted in `stats`). `rejection` is overwritten by the next one:
   * read what you need now, or keep `rejection.toError()`.
   */
  reject(rejection: FrameRejection): void;
}

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
  private readonly rejection = new FrameRejection();
  /** Where `pushInto` is collecting events. */
  private events: DeframerEvent[] = [];
  private readonly eventSink: FrameSink = {
    frame: (frame) => this.events.push({ ok: true, frame }),
    reject: (rejection) => this.events.push({ ok: false, error: rejection.toError() }),
  };
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

  /** Like push, appending to `events`. */
  pushInto(chunk: Uint8Array, events: DeframerEvent[]): void {
    this.events = events;
    this.feed(chunk, this.eventSink);
    this.events = [];
  }

  /** Feeds bytes; hands the frames and rejections they complete to `sink`, in stream order. */
  feed(chunk: Uint8Array, sink: FrameSink): void {
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
        const offset = this.pendingLength > 0 ? this.pendingStart : base + i;
        this.reject(sink, this.rejection.set('OVERSIZE', offset, 0, MAX_ENCODED_FRAME_LENGTH, 0));
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
        if (segmentLength > 0)
          this.deliver(sink, decodeStuffed(chunk, i, zero, base + i, this.options, this.rejection));
      } else {
        this.pending.set(chunk.subarray(i, zero), this.pendingLength);
        const total = this.pendingLength + segmentLength;
        this.pendingLength = 0;
        this.deliver(
          sink,
          decodeStuffed(this.pending, 0, total, this.pendingStart, this.options, this.rejection),
        );
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

  private deliver(sink: FrameSink, frame: Frame | null): void {
    if (frame === null) {
      this.reject(sink, this.rejection);
      return;
    }
    this.stats.frames++;
    sink.frame(frame);
  }

  private reject(sink: FrameSink, rejection: FrameRejection): void {
    this.stats.errors[rejection.code]++;
    this.stats.errorCount++;
    sink.reject(rejection);
  }
}
