import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { budget } from '../../test/support/machine-speed.ts';
import {
  crc16modbus,
  hasValidCrc,
  ModbusException,
  ModbusLinkError,
  ModbusRtuMaster,
  rtuFrame,
} from './modbus-rtu.ts';
import { MockTransport } from './transport.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const bytes = (...b: number[]) => Uint8Array.from(b);

/** Waits until the mock has seen `n` writes. */
async function written(mock: MockTransport, n: number, timeoutMs = 2000): Promise<Uint8Array> {
  const end = performance.now() + timeoutMs;
  while (mock.written.length < n) {
    if (performance.now() > end) throw new Error(`only ${mock.written.length} of ${n} writes`);
    await sleep(1);
  }
  return mock.written[n - 1];
}

/** A read-holding-registers answer built by hand from the specification's layout. */
function readAnswer(unit: number, values: number[]): Uint8Array {
  const pdu = [3, values.length * 2];
  for (const v of values) pdu.push(v >> 8, v & 0xff);
  return rtuFrame(unit, pdu);
}

describe('Modbus RTU master over a Transport', () => {
  let mock: MockTransport;
  let master: ModbusRtuMaster;
  const frames: { direction: string; bytes: Uint8Array }[] = [];
  const setup = async (baud = 19200, timeout_ms = 100) => {
    mock = new MockTransport('mock-rtu');
    await mock.open();
    frames.length = 0;
    master = new ModbusRtuMaster({
      baud,
      timeout_ms,
      onFrame: (direction, b) => frames.push({ direction, bytes: b }),
    });
    master.attach(mock);
  };
  afterEach(async () => {
    await mock?.close();
  });

  it('frames the specification example and decodes an answer that arrives one byte at a time', async () => {
    await setup();
    const reading = master.readHoldingRegisters(1, 0, 10);
    // Modbus over serial line, §6.2.2 example: 01 03 00 00 00 0A, CRC C5 CD.
    expect([...(await written(mock, 1))]).toEqual([0x01, 0x03, 0x00, 0x00, 0x00, 0x0a, 0xc5, 0xcd]);
    const answer = readAnswer(1, [1, 2, 3, 4, 5, 6, 7, 8, 9, 0xfffe]);
    for (const b of answer) mock.emitData(bytes(b));
    expect(await reading).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 0xfffe]);
    expect(master.counters).toMatchObject({ framesTx: 1, framesRx: 1, crcErrors: 0, badFrames: 0, late: 0 });
    // Captured whole: the request and the answer reassembled from its 25 chunks.
    expect(frames.map((f) => [f.direction, f.bytes.length])).toEqual([
      ['tx', 8],
      ['rx', 25],
    ]);
  });

  it('keeps t3.5 of silence after an answer before the next request (3.5 characters at 9600, 1.75 ms above 19200)', async () => {
    for (const [baud, gap_ms] of [
      [9600, (3.5 * 11 * 1000) / 9600],
      [38400, 1.75],
    ]) {
      await setup(baud);
      const first = master.readHoldingRegisters(1, 100, 1);
      await written(mock, 1);
      const second = master.readHoldingRegisters(1, 101, 1);
      mock.emitData(readAnswer(1, [7]));
      const answeredAt = performance.now();
      await first;
      await written(mock, 2);
      expect(performance.now() - answeredAt).toBeGreaterThanOrEqual(gap_ms);
      mock.emitData(readAnswer(1, [8]));
      expect(await second).toEqual([8]);
      await mock.close();
    }
  });

  it('an exception answer rejects with its code', async () => {
    await setup();
    const reading = master.readHoldingRegisters(1, 40000, 2);
    await written(mock, 1);
    mock.emitData(rtuFrame(1, [0x83, 2]));
    const err = await reading.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModbusException);
    expect((err as ModbusException).code).toBe(2);
    expect(master.exceptions).toBe(1);
  });

  it("refuses what does not answer the request: a bad CRC counts as a CRC error, a valid frame of another unit or shape (an earlier request's answer) as late; none is decoded", async () => {
    await setup();
    const cases: [string, () => Promise<unknown>, Uint8Array][] = [];
    const flipped = readAnswer(1, [1234]);
    flipped[3] ^= 0x40;
    cases.push(['bad CRC', () => master.readHoldingRegisters(1, 0, 1), flipped]);
    cases.push(['another unit', () => master.readHoldingRegisters(1, 0, 1), readAnswer(2, [1234])]);
    cases.push(['byte count', () => master.readHoldingRegisters(1, 0, 1), readAnswer(1, [1234, 5])]);
    cases.push(['echo', () => master.writeRegisters(1, 10, [5]), rtuFrame(1, [16, 0, 11, 0, 1])]);
    let n = 0;
    for (const [name, request, answer] of cases) {
      const pending = request();
      await written(mock, ++n);
      mock.emitData(answer);
      const err = await pending.catch((e: unknown) => e);
      expect(err, name).toBeInstanceOf(ModbusLinkError);
      expect((err as ModbusLinkError).reason, name).toBe('garbled');
    }
    await master.idle();
    await sleep(10);
    expect(master.counters.badFrames).toBe(1);
    expect(master.counters.crcErrors).toBe(1);
    expect(master.counters.late).toBe(3);
    expect(master.counters.framesRx).toBe(3);
    // The line still works.
    const ok = master.readHoldingRegisters(1, 0, 1);
    await written(mock, ++n);
    mock.emitData(readAnswer(1, [42]));
    expect(await ok).toEqual([42]);
  });

  it('an answer after its timeout is counted late, and the next request waits for the line to be quiet so it is not taken for the next answer', async () => {
    await setup(19200, 30);
    const first = master.readHoldingRegisters(1, 0, 1);
    await written(mock, 1);
    const err = await first.catch((e: unknown) => e);
    expect((err as ModbusLinkError).reason).toBe('timeout');
    // The next request is asked for at once; the late answer to the first arrives meanwhile.
    const second = master.readHoldingRegisters(1, 0, 1);
    await sleep(10);
    expect(mock.written.length).toBe(1);
    mock.emitData(readAnswer(1, [111]));
    await written(mock, 2);
    mock.emitData(readAnswer(1, [222]));
    expect(await second).toEqual([222]);
    expect(master.counters.late).toBe(1);
    expect(master.timeouts).toBe(1);
  });

  it('the answer timeout includes the time both frames take on the wire at the line speed', async () => {
    // 125 registers at 9600 baud: 8 + 255 bytes of 11 bits = 301 ms on the wire, beyond 250 ms.
    await setup(9600, 250);
    const reading = master.readHoldingRegisters(1, 0, 125);
    await written(mock, 1);
    const values = Array.from({ length: 125 }, (_, i) => i * 3);
    await sleep(300);
    mock.emitData(readAnswer(1, values));
    expect(await reading).toEqual(values);
    expect(master.timeouts).toBe(0);
  });

  it('bytes nobody asked for are noise: counted, captured, never an answer', async () => {
    await setup();
    mock.emitData(bytes(0xff, 0x00, 0x13));
    await sleep(10);
    expect(master.counters.badFrames).toBe(1);
    expect(frames.at(-1)).toEqual({ direction: 'rx', bytes: bytes(0xff, 0x00, 0x13) });
    const reading = master.readHoldingRegisters(1, 0, 1);
    await written(mock, 1);
    mock.emitData(readAnswer(1, [9]));
    expect(await reading).toEqual([9]);
  });

  it('a closed link fails the request in flight and refuses new ones', async () => {
    await setup();
    const reading = master.readHoldingRegisters(1, 0, 1);
    await written(mock, 1);
    mock.unplug();
    master.attach(undefined);
    expect(((await reading.catch((e: unknown) => e)) as ModbusLinkError).reason).toBe('closed');
    expect(
      ((await master.readHoldingRegisters(1, 0, 1).catch((e: unknown) => e)) as ModbusLinkError).reason,
    ).toBe('closed');
  });

  it('refuses register counts and values Modbus cannot carry', async () => {
    await setup();
    await expect(master.readHoldingRegisters(1, 0, 126)).rejects.toThrow(RangeError);
    await expect(master.writeRegisters(1, 0, [0x10000])).rejects.toThrow(RangeError);
    expect(mock.written.length).toBe(0);
  });

  it('CRC helpers: the check value of CRC-16/MODBUS over "123456789" is 0x4B37', () => {
    expect(crc16modbus(new TextEncoder().encode('123456789'))).toBe(0x4b37);
    expect(hasValidCrc(bytes(0x01, 0x03, 0x00, 0x00, 0x00, 0x0a, 0xc5, 0xcd))).toBe(true);
    expect(hasValidCrc(bytes(0x01, 0x03, 0x00, 0x00, 0x00, 0x0a, 0xcd, 0xc5))).toBe(false);
  });
});

describe('Modbus RTU master under line noise (property)', () => {
  it('never resolves a read with anything but the device’s true registers, whatever noise, corruption or stray frames surround the answers', {
    timeout: budget(60_000),
  }, async () => {
    const answerKind = fc.oneof(
      fc.record({ kind: fc.constant('clean' as const) }),
      fc.record({
        kind: fc.constant('noise-before' as const),
        noise: fc.uint8Array({ minLength: 1, maxLength: 12 }),
      }),
      fc.record({
        kind: fc.constant('noise-after' as const),
        noise: fc.uint8Array({ minLength: 1, maxLength: 12 }),
      }),
      fc.record({
        kind: fc.constant('flip' as const),
        at: fc.nat(),
        mask: fc.integer({ min: 1, max: 255 }),
      }),
      fc.record({ kind: fc.constant('split' as const), at: fc.nat() }),
      fc.record({ kind: fc.constant('other-frame' as const), value: fc.integer({ min: 0, max: 0xffff }) }),
    );
    const requests = fc.array(
      fc.record({
        count: fc.integer({ min: 1, max: 4 }),
        values: fc.array(fc.integer({ min: 0, max: 0xffff }), { minLength: 4, maxLength: 4 }),
        answer: answerKind,
      }),
      { minLength: 1, maxLength: 4 },
    );
    await fc.assert(
      fc.asyncProperty(requests, async (plan) => {
        const mock = new MockTransport('mock-noise');
        await mock.open();
        const master = new ModbusRtuMaster({ baud: 115200, timeout_ms: 40 });
        master.attach(mock);
        try {
          let writes = 0;
          for (const { count, values, answer } of plan) {
            const truth = values.slice(0, count);
            const pending = master.readHoldingRegisters(1, 0, count).then(
              (v) => ({ ok: true as const, v }),
              (e: Error) => ({ ok: false as const, e }),
            );
            await written(mock, ++writes);
            const frame = readAnswer(1, truth);
            switch (answer.kind) {
              case 'clean':
                mock.emitData(frame);
                break;
              case 'noise-before':
                mock.emitData(answer.noise);
                mock.emitData(frame);
                break;
              case 'noise-after':
                mock.emitData(frame);
                mock.emitData(answer.noise);
                break;
              case 'flip': {
                const bad = frame.slice();
                bad[answer.at % bad.length] ^= answer.mask;
                mock.emitData(bad);
                break;
              }
              case 'split': {
                const at = answer.at % frame.length;
                mock.emitData(frame.subarray(0, at));
                mock.emitData(frame.subarray(at));
                break;
              }
              case 'other-frame':
                // A valid frame of another shape first (an earlier request's answer), then ours.
                mock.emitData(readAnswer(1, new Array(count === 2 ? 3 : 2).fill(answer.value)));
                mock.emitData(frame);
                break;
            }
            const result = await pending;
            if (result.ok) expect(result.v).toEqual(truth);
            else expect(result.e).toBeInstanceOf(ModbusLinkError);
            if (answer.kind === 'clean' || answer.kind === 'split') expect(result.ok).toBe(true);
            if (answer.kind === 'flip') expect(result.ok).toBe(false);
          }
        } finally {
          await master.idle();
          master.attach(undefined);
          await mock.close();
        }
      }),
      { numRuns: 60 },
    );
  });
});
