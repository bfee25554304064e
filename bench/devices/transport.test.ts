import { describe, expect, it } from 'vitest';
import { createLoopbackPair, MockTransport, openPtyPair, SerialTransport, WriteQueue } from './transport.ts';

const bytes = (...b: number[]) => Uint8Array.from(b);
async function until(done: () => boolean, ms = 5000): Promise<void> {
  const end = performance.now() + ms;
  while (!done()) {
    if (performance.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('MockTransport enforces the transport contract', () => {
  it('rejects a write while another is in flight, and any write while closed', async () => {
    const t = new MockTransport('mock0', { writeDelay_ms: 5 });
    await expect(t.write(bytes(1))).rejects.toThrow(/write while closed/);
    await t.open();
    const first = t.write(bytes(1));
    await expect(t.write(bytes(2))).rejects.toThrow(/overlapping write/);
    await first;
    await t.write(bytes(3));
    expect(t.written).toEqual([bytes(1), bytes(3)]);
  });

  it('plays device bytes, and an unplug closes it with an error', async () => {
    const t = new MockTransport();
    await t.open();
    const seen: Uint8Array[] = [];
    const closed: (Error | undefined)[] = [];
    t.on('data', (d) => seen.push(d));
    t.on('close', (e) => closed.push(e));
    t.emitData(bytes(9, 8));
    t.unplug();
    expect(seen).toEqual([bytes(9, 8)]);
    expect(closed[0]?.message).toMatch(/unplugged/);
    expect(t.isOpen).toBe(false);
  });

  it('fails to open like a missing device', async () => {
    await expect(new MockTransport('ttyX', { openError: 'ENOENT' }).open()).rejects.toThrow(
      /ttyX: cannot open: ENOENT/,
    );
  });
});

describe('WriteQueue', () => {
  it('serialises writes so the transport never sees two at once', async () => {
    const t = new MockTransport('m', { writeDelay_ms: 2 });
    await t.open();
    const q = new WriteQueue(t);
    for (let i = 0; i < 5; i++) q.push(bytes(i));
    await until(() => t.written.length === 5);
    expect(t.written).toEqual([0, 1, 2, 3, 4].map((i) => bytes(i)));
    expect(q.failed).toBe(0);
    expect(q.dropped).toBe(0);
  });

  it('drops the oldest frames beyond its limit and anything while the link is closed', async () => {
    const t = new MockTransport('m', { writeDelay_ms: 20 });
    await t.open();
    const q = new WriteQueue(t, 2);
    for (let i = 0; i < 5; i++) q.push(bytes(i));
    await until(() => t.written.length === 3);
    await new Promise((r) => setTimeout(r, 60)); // nothing more arrives
    // 0 went out at once; of 1…4 waiting behind it only the newest two remain.
    expect(t.written).toEqual([bytes(0), bytes(3), bytes(4)]);
    expect(q.dropped).toBe(2);
    await t.close();
    expect(q.push(bytes(7))).toBe(false);
    expect(q.dropped).toBe(3);
  });
});

describe('LoopbackTransport', () => {
  it('delivers bytes written on one end to the other, and loses them when the peer is closed', async () => {
    const [a, b] = createLoopbackPair();
    await a.open();
    await b.open();
    const got: number[] = [];
    b.on('data', (d) => got.push(...d));
    const buf = bytes(1, 2, 3);
    const sent = a.write(buf);
    buf[0] = 99; // the transport copied what it was given
    await sent;
    expect(got).toEqual([1, 2, 3]);
    await b.close();
    await a.write(bytes(4));
    expect(got).toEqual([1, 2, 3]);
  });
});

describe('pseudo-terminal pair (socat) with SerialTransport ends', () => {
  it('carries bytes both ways, reports the unplug, and reopens under the same path after replug', async () => {
    const pair = await openPtyPair();
    const a = new SerialTransport({ path: pair.a });
    const b = new SerialTransport({ path: pair.b });
    try {
      await a.open();
      await b.open();
      const atB = new Promise<number[]>((resolve) => b.once('data', (d) => resolve([...d])));
      await a.write(bytes(0x47, 0x4c));
      expect(await atB).toEqual([0x47, 0x4c]);
      const lost = new Promise<void>((resolve) => a.once('close', () => resolve()));
      await pair.unplug();
      await lost;
      expect(a.isOpen).toBe(false);
      await b.close();
      await pair.replug();
      const a2 = new SerialTransport({ path: pair.a });
      const b2 = new SerialTransport({ path: pair.b });
      await a2.open();
      await b2.open();
      const back = new Promise<number[]>((resolve) => a2.once('data', (d) => resolve([...d])));
      await b2.write(bytes(7));
      expect(await back).toEqual([7]);
      await a2.close();
      await b2.close();
    } finally {
      await a.close();
      await b.close();
      await pair.stop();
    }
  });

  it('names the path when a device cannot be opened', async () => {
    await expect(new SerialTransport({ path: '/nonexistent/ttyGL0' }).open()).rejects.toThrow(
      /\/nonexistent\/ttyGL0: cannot open/,
    );
  });
});
