/**
 * The bench side of one board link over a real serial port (serialport), for tests and tools:
 * frames out with a running sequence number, frames in through the Deframer, and waiting for a
 * frame that matches a predicate.
 *
 *   const link = await SerialBoardLink.open('/dev/pts/5', { deviceId: 3 });
 *   link.send({ type: 'MEASUREMENT', … });
 *   const state = await link.next('DEVICE_STATE', (m) => m.step === 1);
 *   await link.close();
 */
import { SerialPort } from 'serialport';
import type { MessageType } from '../ts/constants.ts';
import { Deframer, type DeframerEvent, type DeframerOptions } from '../ts/deframer.ts';
import type { FrameError } from '../ts/errors.ts';
import { type EncodeOptions, encodeFrame, type Frame } from '../ts/frame.ts';
import type { Message, MessageOf } from '../ts/messages/index.ts';
import type { SigningParams } from '../ts/signing.ts';

export interface SerialBoardLinkOptions extends DeframerOptions {
  /** Device id the bench addresses. */
  deviceId: number;
  /** @default 115200 (a pseudo-terminal ignores it) */
  baudRate?: number;
  /** Sign outgoing frames: key and link id; the timestamp comes from `signingTime`. */
  signing?: { key: Uint8Array; linkId: number };
  /** Signing clock (10 µs units since 2015). @default wall clock */
  signingTime?: () => number;
  /** How long next() waits when the call names no time (tests scale it to the machine). @default 3000 */
  nextTimeoutMs?: number;
}

type Waiter = { match: (f: Frame) => boolean; resolve: (f: Frame) => void };

export class SerialBoardLink {
  readonly frames: Frame[] = [];
  readonly errors: FrameError[] = [];
  private readonly deframer: Deframer;
  private readonly waiters = new Set<Waiter>();
  private seq = 0;
  private lastTimestamp = 0;

  private constructor(
    private readonly port: SerialPort,
    private readonly options: SerialBoardLinkOptions,
  ) {
    this.deframer = new Deframer(options);
    port.on('data', (chunk: Buffer) => this.onEvents(this.deframer.push(chunk)));
  }

  static open(path: string, options: SerialBoardLinkOptions): Promise<SerialBoardLink> {
    return new Promise((resolve, reject) => {
      const port = new SerialPort({ path, baudRate: options.baudRate ?? 115200, autoOpen: false });
      port.open((err) =>
        err
          ? reject(new Error(`cannot open ${path}: ${err.message}`))
          : resolve(new SerialBoardLink(port, options)),
      );
    });
  }

  get stats() {
    return this.deframer.stats;
  }

  /** Encodes and writes one frame; resolves when the port has drained it. */
  send(message: Message, extra: Partial<EncodeOptions> = {}): Promise<void> {
    let signing: SigningParams | undefined;
    if (this.options.signing) {
      const now = this.options.signingTime?.() ?? Math.round((Date.now() - Date.UTC(2015, 0, 1)) * 100);
      const timestamp = Math.max(now, this.lastTimestamp + 1);
      this.lastTimestamp = timestamp;
      signing = { ...this.options.signing, timestamp };
    }
    const frame = encodeFrame(message, {
      seq: this.seq++ & 0xffff,
      deviceId: this.options.deviceId,
      signing,
      ...extra,
    });
    return this.writeRaw(frame);
  }

  /** Writes bytes as they are (garbage, replays, hand-made frames). */
  writeRaw(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.port.write(Buffer.from(bytes), (err) => {
        if (err) reject(err);
        else this.port.drain((e) => (e ? reject(e) : resolve()));
      });
    });
  }

  /** Resolves with the first frame (already received or future) of `type` matching `match`. */
  next<T extends MessageType>(
    type: T,
    match: (m: MessageOf<T>, f: Frame) => boolean = () => true,
    timeoutMs = this.options.nextTimeoutMs ?? 3000,
    since = 0,
  ): Promise<MessageOf<T>> {
    const test = (f: Frame) => f.message.type === type && match(f.message as MessageOf<T>, f);
    const existing = this.frames.slice(since).find(test);
    if (existing) return Promise.resolve(existing.message as MessageOf<T>);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match: test,
        resolve: (f) => {
          clearTimeout(timer);
          resolve(f.message as MessageOf<T>);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(
          new Error(
            `no ${type} frame within ${timeoutMs} ms (received: ${this.frames.map((f) => f.message.type).join(', ') || 'nothing'})`,
          ),
        );
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** Index to pass as `since` to only consider frames received from now on. */
  mark(): number {
    return this.frames.length;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.port.isOpen) return resolve();
      this.port.close(() => resolve());
    });
  }

  private onEvents(events: DeframerEvent[]): void {
    for (const e of events) {
      if (!e.ok) {
        this.errors.push(e.error);
        continue;
      }
      this.frames.push(e.frame);
      for (const w of this.waiters) {
        if (w.match(e.frame)) {
          this.waiters.delete(w);
          w.resolve(e.frame);
        }
      }
    }
  }
}
