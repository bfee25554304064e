/**
 * A serial device read and written on the event-loop thread through libuv's tty handle, instead of
 * through libuv's thread pool.
 *
 * `serialport` (bindings-cpp 13, unix-read.js / unix-write.js) reads with `fs.read`, which runs on
 * the thread pool; on EAGAIN it waits for its poller (epoll on the loop thread) and then reads again
 * through the pool, and it writes with `fs.write` on the pool too. Every frame costs a hand-off to
 * a pool thread and back, which a loaded 2-core machine makes slow (benchmarks/serial-read.ts).
 *
 * Here serialport's own binding still opens and configures the port (termios raw mode, baud rate,
 * parity, hupcl) and keeps it open, holding its advisory lock. The bytes move through a second
 * descriptor on the same device, given to Node's `tty.ReadStream` (uv_tty: epoll readiness, then
 * read() and write() on the loop thread). libuv reopens that descriptor by its tty name so its
 * non-blocking mode is private to us; the termios settings belong to the device, so they hold.
 *
 * Unix only; `createSerialTransport` picks serialport's stream (`SerialTransport`) elsewhere.
 */
import { EventEmitter } from 'node:events';
import { closeSync, constants, openSync } from 'node:fs';
import { isatty, ReadStream } from 'node:tty';
import { SerialPort } from 'serialport';
import { SerialTransport, type Transport, TransportError, type TransportEvents } from './transport.ts';

export interface TtySerialTransportOptions {
  path: string;
  /** @default 921600 (a pseudo-terminal ignores it) */
  baudRate?: number;
}

interface OpenLink {
  /** serialport's binding: configured the port, holds the lock. */
  config: { close(): Promise<void> };
  stream: ReadStream;
}

export class TtySerialTransport extends EventEmitter<TransportEvents> implements Transport {
  readonly path: string;
  private readonly baudRate: number;
  private link: OpenLink | undefined;
  private opening = false;
  private writing = false;

  constructor(options: TtySerialTransportOptions) {
    super();
    this.path = options.path;
    this.baudRate = options.baudRate ?? 921600;
  }

  get isOpen(): boolean {
    return this.link !== undefined;
  }

  async open(): Promise<void> {
    if (this.link || this.opening) throw new TransportError(this.path, 'already open');
    this.opening = true;
    try {
      let config: { close(): Promise<void> };
      try {
        config = await SerialPort.binding.open({ path: this.path, baudRate: this.baudRate });
      } catch (err) {
        throw new TransportError(this.path, `cannot open: ${(err as Error).message}`);
      }
      let fd = -1;
      try {
        fd = openSync(this.path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
        if (!isatty(fd)) throw new Error('not a terminal device');
        const stream = new ReadStream(fd);
        fd = -1; // the stream owns it now
        const link: OpenLink = { config, stream };
        this.link = link;
        stream.on('data', (chunk: Buffer) => {
          if (this.link === link) this.emit('data', chunk);
        });
        // EIO: the far end of a pty closed; ENXIO/ENODEV: a USB adapter pulled. A hung-up tty
        // may also read as end of file.
        stream.on('error', (error: Error) => this.lost(link, error));
        stream.on('end', () => this.lost(link, new TransportError(this.path, 'hang-up (end of file)')));
        stream.on('close', () => this.lost(link, new TransportError(this.path, 'closed')));
      } catch (err) {
        if (fd >= 0) closeSync(fd);
        await config.close().catch(() => {});
        throw new TransportError(this.path, `cannot open: ${(err as Error).message}`);
      }
    } finally {
      this.opening = false;
    }
  }

  write(bytes: Uint8Array): Promise<void> {
    const link = this.link;
    if (!link) return Promise.reject(new TransportError(this.path, 'write while closed'));
    if (this.writing) return Promise.reject(new TransportError(this.path, 'overlapping write'));
    this.writing = true;
    return new Promise<void>((resolve, reject) => {
      // libuv writes at once when nothing is queued, and finishes on writability otherwise.
      link.stream.write(bytes, (err) => {
        if (this.link === link) this.writing = false;
        if (err) reject(new TransportError(this.path, `write failed: ${err.message}`));
        else resolve();
      });
    });
  }

  /** The link went away under us: tell the driver once, then release both descriptors. */
  private lost(link: OpenLink, error: Error): void {
    if (this.link !== link) return;
    this.link = undefined;
    this.writing = false;
    this.emit(
      'close',
      error instanceof TransportError ? error : new TransportError(this.path, error.message),
    );
    link.stream.destroy();
    link.config.close().catch(() => {});
  }

  async close(): Promise<void> {
    const link = this.link;
    if (!link) return;
    this.link = undefined;
    this.writing = false;
    if (!link.stream.destroyed) {
      const closed = new Promise((resolve) => link.stream.once('close', resolve));
      link.stream.destroy();
      await closed;
    }
    await link.config.close().catch(() => {});
    this.emit('close', undefined);
  }
}

/**
 * The transport for a serial device: reads and writes on the loop thread (`TtySerialTransport`)
 * on Linux and macOS, serialport's own stream elsewhere.
 */
export function createSerialTransport(options: TtySerialTransportOptions): Transport {
  return process.platform === 'win32' ? new SerialTransport(options) : new TtySerialTransport(options);
}
