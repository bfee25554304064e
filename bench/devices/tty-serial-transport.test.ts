import { execFileSync } from 'node:child_process';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openPtyPair, type PtyPair } from './transport.ts';
import { createSerialTransport, TtySerialTransport } from './tty-serial-transport.ts';

const bytes = (...b: number[]) => Uint8Array.from(b);

/** Collects what arrives on `t` until `n` bytes are there. */
function receive(t: TtySerialTransport, n: number, ms = 5000): Promise<number[]> {
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
