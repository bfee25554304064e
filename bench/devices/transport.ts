/**
 * Byte transports under the device drivers, one interface in the spirit of serialport's
 * BindingInterface: a driver opens a transport, writes whole frames one at a time, and is told of
 * arriving bytes and of the link going away. Implementations:
 *
 *   - `SerialTransport`   a serial device through `serialport` (USB-serial, /dev/ttyS*, a pty end);
 *   - `TtySerialTransport` (tty-serial-transport.ts) the same devices, opened and configured by
 *                          serialport but read and written on the loop thread: what the drivers use;
 *   - `openPtyPair()`     two linked pseudo-terminals (socat), each end opened as a SerialTransport;
 *   - `createLoopbackPair()`  two in-process ends, bytes written on one arrive on the other;
 *   - `MockTransport`     for unit tests: enforces the contract (no write while another is in flight,
 *                          none while closed) instead of hiding misuse, and records what was written.
 *
 * Drivers never call `write` directly in the real-time loop: they go through `WriteQueue`, which
 * serialises writes and drops (and counts) frames when the link cannot keep up, so the loop never
 * waits for a port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';

export interface TransportEvents {
  /** Bytes arrived (the transport does not keep them: copy what you hold on to). */
  data: [Uint8Array];
  /** The link went away (closed by us, unplugged, peer closed). `error` says why when known. */
  close: [Error | undefined];
}

export interface Transport extends EventEmitter<TransportEvents> {
  /** What the transport is connected to, for messages: a device path or a loopback name. */
  readonly path: string;
  readonly isOpen: boolean;
  open(): Promise<void>;
  /**
   * Hands `bytes` to the link; settles when they have been written. Contract: at most one write in
   * flight; writing while closed rejects.
   */
  write(bytes: Uint8Array): Promise<void>;
  /** Closes; idempotent. Emits 'close' once if the transport was open. */
  close(): Promise<void>;
}

export class TransportError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(`${path}: ${message}`);
    this.name = 'TransportError';
  }
}

// ----------------------------------------------------------------------------------- serial port

export interface SerialTransportOptions {
  path: string;
  /** @default 921600 (a pseudo-terminal ignores it) */
  baudRate?: number;
}

/** A serial device through `serialport`. */
export class SerialTransport extends EventEmitter<TransportEvents> implements Transport {
  readonly path: string;
  private readonly baudRate: number;
  private port: SerialPort | undefined;
  private writing = false;

  constructor(options: SerialTransportOptions) {
    super();
    this.path = options.path;
    this.baudRate = options.baudRate ?? 921600;
  }

  get isOpen(): boolean {
    return this.port?.isOpen ?? false;
  }

  open(): Promise<void> {
    if (this.port) return Promise.reject(new TransportError(this.path, 'already open'));
    const port = new SerialPort({ path: this.path, baudRate: this.baudRate, autoOpen: false });
    return new Promise((resolve, reject) => {
      port.open((err) => {
        if (err) {
          reject(new TransportError(this.path, `cannot open: ${err.message}`));
          return;
        }
        this.port = port;
        port.on('data', (chunk: Buffer) => this.emit('data', chunk));
        let closed = false;
        const onGone = (error?: Error | null) => {
          if (closed) return;
          closed = true;
          if (this.port === port) this.port = undefined;
          this.emit('close', error ?? undefined);
        };
        port.on('close', (error?: Error | null) => onGone(error));
        // An I/O error (EIO when the far end of a pty closes, a USB adapter pulled) ends the link.
        port.on('error', (error: Error) => {
          onGone(error);
          if (port.isOpen) port.close(() => {});
        });
        resolve();
      });
    });
  }

  write(bytes: Uint8Array): Promise<void> {
    const port = this.port;
    if (!port?.isOpen) return Promise.reject(new TransportError(this.path, 'write while closed'));
    if (this.writing) return Promise.reject(new TransportError(this.path, 'overlapping write'));
    this.writing = true;
    return new Promise((resolve, reject) => {
      port.write(bytes, (err) => {
        this.writing = false;
        if (err) reject(new TransportError(this.path, `write failed: ${err.message}`));
        else resolve();
      });
    });
  }

  async close(): Promise<void> {
    const port = this.port;
    if (!port?.isOpen) return;
    await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}

// ------------------------------------------------------------------------------ pseudo-terminals

export interface PtyPair {
  /** Stable paths (symlinks to the current /dev/pts/N), one per end. */
  a: string;
  b: string;
  /** Removes the pair, like pulling the cable out: both ends see their tty go away. */
  unplug(): Promise<void>;
  /** Creates the pair again under the same paths (after `unplug`). */
  replug(): Promise<void>;
  /** Stops socat and removes the paths. */
  stop(): Promise<void>;
  /** Process id of the socat relaying between the ends (-1 while unplugged). */
  readonly pid: number;
}

/**
 * Two linked pseudo-terminals from socat (`pty,raw,echo=0,link=…`), under stable symlink paths in
 * a private temporary directory, the way /dev/serial/by-id names stay put when a board is replugged.
 * socat is needed by tests and benchmarks only.
 */
export async function openPtyPair(timeoutMs = 5000): Promise<PtyPair> {
  const dir = await mkdtemp(join(tmpdir(), 'gridloop-pty-'));
  const a = join(dir, 'a');
  const b = join(dir, 'b');
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const start = () =>
    new Promise<void>((resolve, reject) => {
      const proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child = proc;
      exited = new Promise<void>((done) => proc.once('exit', () => done()));
      let stderr = '';
      const timer = setTimeout(() => {
        proc.kill('SIGKILL');
        reject(new Error(`socat did not start a pseudo-terminal pair within ${timeoutMs} ms: ${stderr}`));
      }, timeoutMs);
      proc.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`cannot start socat (apt-get install socat): ${err.message}`));
      });
      proc.stderr?.setEncoding('utf8');
      proc.stderr?.on('data', (text: string) => {
        if (stderr.length < 8192) stderr += text;
        if (/starting data transfer loop/.test(stderr)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
  const kill = async () => {
    const proc = child;
    child = undefined;
    if (proc && proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
    await exited;
  };
  try {
    await start();
  } catch (err) {
    await kill();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    a,
    b,
    get pid() {
      return child?.pid ?? -1;
    },
    unplug: kill,
    replug: async () => {
      await kill();
      await start();
    },
    stop: async () => {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------------------------- loopback

/** One end of an in-process link; bytes written here arrive at the peer on a later turn. */
export class LoopbackTransport extends EventEmitter<TransportEvents> implements Transport {
  peer: LoopbackTransport | undefined;
  private open_ = false;
  private writing = false;

  constructor(readonly path: string) {
    super();
  }

  get isOpen(): boolean {
    return this.open_;
  }

  async open(): Promise<void> {
    if (this.open_) throw new TransportError(this.path, 'already open');
    this.open_ = true;
  }

  write(bytes: Uint8Array): Promise<void> {
    if (!this.open_) return Promise.reject(new TransportError(this.path, 'write while closed'));
    if (this.writing) return Promise.reject(new TransportError(this.path, 'overlapping write'));
    this.writing = true;
    const copy = bytes.slice();
    return new Promise((resolve) => {
      setImmediate(() => {
        this.writing = false;
        // Like a wire: bytes to a closed end are lost.
        if (this.peer?.open_) this.peer.emit('data', copy);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    if (!this.open_) return;
    this.open_ = false;
    this.emit('close', undefined);
  }
}

/** Two in-process transports wired to each other. */
export function createLoopbackPair(name = 'loopback'): [LoopbackTransport, LoopbackTransport] {
  const a = new LoopbackTransport(`${name}:a`);
  const b = new LoopbackTransport(`${name}:b`);
  a.peer = b;
  b.peer = a;
  return [a, b];
}

// ----------------------------------------------------------------------------------------- mock

export interface MockTransportOptions {
  /** How long each write stays in flight, ms (0: settles on the next turn). @default 0 */
  writeDelay_ms?: number;
  /** Fail `open()` with this message (a missing device). */
  openError?: string;
}

/**
 * A transport for unit tests, like serialport's MockBinding: `emitData` plays bytes from the
 * device, `written` records every write, `unplug` drops the link. Misuse is an error, not
 * silently absorbed: a second write while one is in flight, or a write while closed, rejects.
 */
export class MockTransport extends EventEmitter<TransportEvents> implements Transport {
  readonly written: Uint8Array[] = [];
  opens = 0;
  private open_ = false;
  private inFlight = false;

  constructor(
    readonly path = 'mock',
    private readonly options: MockTransportOptions = {},
  ) {
    super();
  }

  get isOpen(): boolean {
    return this.open_;
  }

  async open(): Promise<void> {
    if (this.options.openError) throw new TransportError(this.path, `cannot open: ${this.options.openError}`);
    if (this.open_) throw new TransportError(this.path, 'already open');
    this.open_ = true;
    this.opens++;
  }

  write(bytes: Uint8Array): Promise<void> {
    if (!this.open_) return Promise.reject(new TransportError(this.path, 'write while closed'));
    if (this.inFlight) {
      return Promise.reject(
        new TransportError(this.path, 'overlapping write: the previous write has not settled'),
      );
    }
    this.inFlight = true;
    this.written.push(bytes.slice());
    return new Promise((resolve) => {
      const settle = () => {
        this.inFlight = false;
        resolve();
      };
      const delay = this.options.writeDelay_ms ?? 0;
      if (delay > 0) setTimeout(settle, delay);
      else setImmediate(settle);
    });
  }

  /** Delivers bytes as if the device had sent them. */
  emitData(bytes: Uint8Array): void {
    if (!this.open_) throw new TransportError(this.path, 'emitData while closed');
    this.emit('data', bytes.slice());
  }

  /** The cable is pulled: the transport closes with an error. */
  unplug(): void {
    if (!this.open_) return;
    this.open_ = false;
    this.inFlight = false;
    this.emit('close', new TransportError(this.path, 'device unplugged'));
  }

  async close(): Promise<void> {
    if (!this.open_) return;
    this.open_ = false;
    this.emit('close', undefined);
  }
}

// ---------------------------------------------------------------------------------- write queue

/**
 * Serialises writes to a transport without ever making the caller wait: frames queue behind the
 * write in flight, and when more than `limit` are waiting the oldest is dropped (and counted).
 * Stale frames are worse than missing ones on a real-time link.
 */
export class WriteQueue {
  private readonly queue: Uint8Array[] = [];
  private busy = false;
  /** Frames dropped because the queue was full or the link was closed. */
  dropped = 0;
  /** Writes the transport rejected. */
  failed = 0;

  constructor(
    private transport: Transport | undefined,
    private readonly limit = 8,
  ) {}

  /** Points the queue at a new transport (after a reopen); pending frames are dropped. */
  attach(transport: Transport | undefined): void {
    this.transport = transport;
    this.dropped += this.queue.length;
    this.queue.length = 0;
    this.busy = false;
  }

  /** Queues `bytes`; returns false if they were dropped at once (no open link). */
  push(bytes: Uint8Array): boolean {
    if (!this.transport?.isOpen) {
      this.dropped++;
      return false;
    }
    if (this.queue.length >= this.limit) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push(bytes);
    if (!this.busy) this.next();
    return true;
  }

  private next(): void {
    const transport = this.transport;
    const bytes = this.queue.shift();
    if (!bytes || !transport) {
      this.busy = false;
      return;
    }
    this.busy = true;
    transport.write(bytes).then(
      () => {
        if (this.transport === transport) this.next();
      },
      () => {
        this.failed++;
        if (this.transport === transport) this.next();
      },
    );
  }
}
