import { execFileSync } from 'node:child_process';
import { closeSync, constants, open as openAsync, openSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPtyPair, type PtyPair, SerialTransport, type Transport } from './transport.ts';
import { createSerialTransport, TtySerialTransport } from './tty-serial-transport.ts';

const bytes = (...b: number[]) => Uint8Array.from(b);

/** Collects what arrives on `t` until `n` bytes are there. */
function receive(t: Transport, n: number, ms = 5000): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const got: number[] = [];
    const timer = setTimeout(() => reject(new Error(`timed out with ${got.length}/${n} bytes`)), ms);
    const onData = (d: Uint8Array) => {
      got.push(...d);
      if (got.length >= n) {
        clearTimeout(timer);
        t.off('data', onData);
        resolve(got);
      }
    };
    t.on('data', onData);
  });
}

describe('TtySerialTransport over a socat pseudo-terminal pair', () => {
  let pair: PtyPair;
  const opened: TtySerialTransport[] = [];
  const open = async (path: string, baudRate?: number) => {
    const t = new TtySerialTransport({ path, baudRate });
    await t.open();
    opened.push(t);
    return t;
  };

  beforeEach(async () => {
    pair = await openPtyPair();
  });
  afterEach(async () => {
    for (const t of opened.splice(0)) await t.close();
    await pair.stop();
  });

  it('carries bytes both ways, in order, including a burst larger than one read', async () => {
    const a = await open(pair.a);
    const b = await open(pair.b);
    const atB = receive(b, 2);
    await a.write(bytes(0x47, 0x4c));
    expect(await atB).toEqual([0x47, 0x4c]);

    const burst = Uint8Array.from({ length: 20_000 }, (_, i) => (i * 7) & 0xff);
    const atA = receive(a, burst.length);
    const sent = burst.slice();
    await b.write(burst);
    expect(await atA).toEqual([...sent]);
  });

  it('configures the port through serialport (baud rate, raw mode) and holds its lock', async () => {
    await open(pair.a, 115200);
    const settings = execFileSync('stty', ['-F', pair.a, '-a'], { encoding: 'utf8' });
    expect(settings).toMatch(/speed 115200 baud/);
    expect(settings).toMatch(/-icanon/);
    expect(settings).toMatch(/-echo /);
    // A second opener is refused while the first holds the port, as with serialport.
    await expect(new TtySerialTransport({ path: pair.a }).open()).rejects.toThrow(
      new RegExp(`${pair.a}: cannot open: .*lock`, 'i'),
    );
  });

  it('keeps the contract: one write in flight, none while closed, close idempotent and announced once', async () => {
    const a = await open(pair.a);
    await open(pair.b);
    const closes: (Error | undefined)[] = [];
    a.on('close', (e) => closes.push(e));
    // Far more than the pty's buffer holds with nobody reading fast: the first write stays in flight.
    const first = a.write(new Uint8Array(256 * 1024));
    await expect(a.write(bytes(1))).rejects.toThrow(/overlapping write/);
    await a.close();
    await first.catch(() => {}); // settles (written or failed), never hangs
    await a.close();
    expect(a.isOpen).toBe(false);
    expect(closes).toEqual([undefined]);
    await expect(a.write(bytes(2))).rejects.toThrow(/write while closed/);
    await expect(a.open()).resolves.toBeUndefined(); // the same object can open the port again
  });

  it('reports an unplug as a close with an error, and reopens under the same path after replug', async () => {
    const a = await open(pair.a);
    const b = await open(pair.b);
    const lost = new Promise<Error | undefined>((resolve) => a.once('close', resolve));
    await pair.unplug();
    const error = await lost;
    expect(error?.message).toContain(pair.a);
    expect(a.isOpen).toBe(false);
    await expect(a.write(bytes(1))).rejects.toThrow(/write while closed/);
    await b.close();

    await pair.replug();
    await a.open();
    const b2 = await open(pair.b);
    const back = receive(a, 1);
    await b2.write(bytes(7));
    expect(await back).toEqual([7]);
  });

  it('names the path when a device cannot be opened, and refuses a second open', async () => {
    await expect(new TtySerialTransport({ path: '/nonexistent/ttyGL0' }).open()).rejects.toThrow(
      /\/nonexistent\/ttyGL0: cannot open/,
    );
    const a = await open(pair.a);
    await expect(a.open()).rejects.toThrow(/already open/);
  });

  it('is what createSerialTransport gives on this platform', () => {
    expect(createSerialTransport({ path: pair.a })).toBeInstanceOf(TtySerialTransport);
  });
});

/**
 * Occupies every thread of libuv's pool without using CPU: opening a FIFO for reading blocks until
 * a writer opens it. `release()` opens the writer and waits for every blocked open to finish.
 */
async function blockThreadPool(): Promise<{ release(): Promise<void> }> {
  let released: Promise<void> | undefined;
  const dir = await mkdtemp(join(tmpdir(), 'gridloop-pool-'));
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const threads = Number(process.env.UV_THREADPOOL_SIZE ?? 4) + 2;
  const readers = Array.from(
    { length: threads },
    () =>
      new Promise<number>((resolve, reject) =>
        openAsync(fifo, 'r', (err, fd) => (err ? reject(err) : resolve(fd))),
      ),
  );
  const release = async () => {
    let writer = -1;
    while (writer < 0) {
      try {
        writer = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
      } catch {
        await new Promise((r) => setTimeout(r, 5)); // no reader has reached open() yet
      }
    }
    for (const fd of await Promise.all(readers)) closeSync(fd);
    closeSync(writer);
    await rm(dir, { recursive: true, force: true });
  };
  return {
    release() {
      released ??= release();
      return released;
    },
  };
}

describe('reading without the thread pool', () => {
  it("delivers bytes while every libuv pool thread is busy; serialport's stream only once one is free", async () => {
    const ttyPair = await openPtyPair();
    const serialPair = await openPtyPair();
    const viaTty = new TtySerialTransport({ path: ttyPair.a });
    const viaSerialport = new SerialTransport({ path: serialPair.a });
    const ttyWriter = new TtySerialTransport({ path: ttyPair.b });
    const serialWriter = new TtySerialTransport({ path: serialPair.b });
    const order: string[] = [];
    let pool: { release(): Promise<void> } | undefined;
    try {
      // Opening goes through the pool (serialport's binding): done before it is blocked.
      for (const t of [viaTty, viaSerialport, ttyWriter, serialWriter]) await t.open();
      const atSerialport = receive(viaSerialport, 1, 20_000).then(() => order.push('serialport data'));
      await new Promise((r) => setTimeout(r, 50)); // serialport's first read has found nothing
      pool = await blockThreadPool();
      const atTty = receive(viaTty, 1).then(() => order.push('tty data'));
      await ttyWriter.write(bytes(1));
      await serialWriter.write(bytes(2));
      await atTty;
      await new Promise((r) => setTimeout(r, 100));
      order.push('pool released');
      await pool.release();
      await atSerialport;
      expect(order).toEqual(['tty data', 'pool released', 'serialport data']);
    } finally {
      await pool?.release(); // a blocked pool would hang every later test in this worker
      for (const t of [viaTty, viaSerialport, ttyWriter, serialWriter]) await t.close();
      await ttyPair.stop();
      await serialPair.stop();
    }
  });
});
