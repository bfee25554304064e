/**
 * Rejecting a bad frame must build no Error: capturing a stack trace costs 10–15 µs, and a line
 * flooded with garbage delivers tens of thousands of bad frames a second, enough to stall the
 * real-time loop. Errors are counted by swapping the global Error constructors for counting
 * subclasses: before the codec is imported (so FrameError extends the counting Error), and around
 * each measured call (so a plain `new Error` anywhere is counted too).
 */
import { describe, expect, it } from 'vitest';

let constructed = 0;
const ORIGINAL = { Error, TypeError, RangeError };
type Constructors = typeof ORIGINAL;
function countingSubclass<K extends keyof Constructors>(name: K): Constructors[K] {
  const Base = ORIGINAL[name] as ErrorConstructor;
  return class extends Base {
    constructor(...args: ConstructorParameters<ErrorConstructor>) {
      super(...args);
      constructed++;
    }
  } as unknown as Constructors[K];
}
const COUNTING: Constructors = {
  Error: countingSubclass('Error'),
  TypeError: countingSubclass('TypeError'),
  RangeError: countingSubclass('RangeError'),
};
const install = (set: Constructors) => Object.assign(globalThis, set);

/** Errors constructed while `fn` runs (synchronously). */
function errorsBuiltBy(fn: () => void): number {
  const before = constructed;
  install(COUNTING);
  try {
    fn();
  } finally {
    install(ORIGINAL);
  }
  return constructed - before;
}

install(COUNTING);
const codec = await import('../../firmware-protocol/ts/index.ts');
const { garbageFrames } = await import('../../firmware-protocol/host/line-noise.ts');
const { FirmwareLink } = await import('./firmware-link.ts');
const { MockTransport } = await import('./transport.ts');
const { ModbusRtuMaster } = await import('./modbus-rtu.ts');
install(ORIGINAL);

const {
  CRC_LENGTH,
  cobsEncode,
  crc32c,
  Deframer,
  encodeFrame,
  encodeRawFrame,
  FRAME_ERROR_CODES,
  FrameError,
  SignatureVerifier,
  signingTimestampFromUnixMs,
} = codec;

const KEY = new Uint8Array(32).fill(0x11);
const OTHER_KEY = new Uint8Array(32).fill(0x22);
const DEVICE = 1;
const measurement = (step: number) =>
  ({
    type: 'MEASUREMENT',
    step,
    twinTimeS: step / 1000,
    voltagePu: 1,
    voltageAngleRad: 0,
    frequencyHz: 50,
    rocofHzPerS: 0,
  }) as const;

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A CRC-valid, unsigned MEASUREMENT (from a device with no key) whose payload is shorter than its layout. */
function payloadTooShort(): Uint8Array {
  const full = encodeRawFrame(measurement(1), { seq: 1, deviceId: DEVICE + 1 });
  const payload = 4;
  const raw = new Uint8Array(9 + payload + CRC_LENGTH);
  raw.set(full.subarray(0, 9 + payload));
  raw[8] = payload;
  new DataView(raw.buffer).setUint32(9 + payload, crc32c(raw, 0, 9 + payload), true);
  return concat([cobsEncode(raw), Uint8Array.of(0)]);
}

/**
 * A stream holding every kind of bad frame the receive path can meet, for a link that requires
 * signed frames from DEVICE (key KEY), as `[bytes, rejected frames in it]`.
 */
function everyKindOfBadFrame(): [Uint8Array, number] {
  const now = signingTimestampFromUnixMs(Date.now());
  const sign = (step: number, timestamp: number, key = KEY, deviceId = DEVICE, linkId = 0) =>
    encodeFrame(measurement(step), { seq: step, deviceId, signing: { key, linkId, timestamp } });
  const garbage = garbageFrames(4096, 3);
  const accepted = sign(1, now + 10);
  const parts = [
    garbage.bytes, // COBS_INVALID, TOO_SHORT, CRC_MISMATCH, BAD_VERSION, UNKNOWN_INCOMPAT_FLAG, LENGTH_MISMATCH, UNKNOWN_MESSAGE
    new Uint8Array(600).fill(0x41), // OVERSIZE …
    Uint8Array.of(0), // … ended by a delimiter
    payloadTooShort(),
    encodeFrame(measurement(2), { seq: 2, deviceId: DEVICE }), // UNSIGNED
    sign(3, now, KEY, 9), // NO_KEY
    sign(4, now, OTHER_KEY), // BAD_SIGNATURE
    accepted,
    accepted, // REPLAY
    sign(5, now + 5), // REORDERED
    sign(6, now - 60_000_000, KEY, DEVICE, 7), // STALE (new stream, ten minutes old)
  ];
  return [concat(parts), garbage.frames + 8];
}

const verifier = () =>
  new SignatureVerifier({
    keyFor: (id) => (id === DEVICE ? { key: KEY, required: true } : undefined),
    now: () => signingTimestampFromUnixMs(Date.now()),
  });

describe('the reject path builds no Error', () => {
  it('the counting works: a rejection turned into an error for a person is counted', () => {
    const d = new Deframer();
    expect(errorsBuiltBy(() => d.push(Uint8Array.of(5, 0)))).toBe(1);
    const [event] = d.push(Uint8Array.of(5, 0));
    expect(!event.ok && event.error).toBeInstanceOf(FrameError);
  });

  it('Deframer.feed rejects every kind of bad frame without constructing an Error', () => {
    const [stream, bad] = everyKindOfBadFrame();
    const d = new Deframer({ authenticator: verifier() });
    const codes = new Set<string>();
    let frames = 0;
    const built = errorsBuiltBy(() => {
      // In small reads, as a serial port delivers them.
      for (let at = 0; at < stream.length; at += 7) {
        d.feed(stream.subarray(at, at + 7), {
          frame: () => frames++,
          reject: (r) => codes.add(r.code),
        });
      }
    });
    expect(built).toBe(0);
    expect(frames).toBe(1);
    expect(d.stats.errorCount).toBe(bad);
    expect([...codes].sort()).toEqual([...FRAME_ERROR_CODES].sort());
  });

  it('push still hands tools a FrameError with its message for each of them', () => {
    const [stream, bad] = everyKindOfBadFrame();
    const events = new Deframer({ authenticator: verifier() }).push(stream);
    const errors = events.flatMap((e) => (e.ok ? [] : [e.error]));
    expect(errors).toHaveLength(bad);
    const stale = errors.find((e) => e.code === 'STALE');
    expect(stale?.message).toMatch(/^STALE at byte \d+: first timestamp \d+ is more than 6000000 old$/);
    expect(errors.find((e) => e.code === 'REPLAY')?.header).toMatchObject({ deviceId: DEVICE, seq: 1 });
  });

  it("a firmware link's receive path counts them all without constructing an Error", async () => {
    const transport = new MockTransport();
    const link = new FirmwareLink(
      {
        id: 'bess',
        bus: '18',
        protocolDeviceId: DEVICE,
        signing: { keyHex: '11'.repeat(32), linkId: 0, requireSigned: true },
      },
      { transport: () => transport },
    );
    await link.open();
    const [stream, bad] = everyKindOfBadFrame();
    const built = errorsBuiltBy(() => {
      for (let at = 0; at < stream.length; at += 64) transport.emit('data', stream.subarray(at, at + 64));
    });
    expect(built).toBe(0);
    const stats = link.stats();
    expect(stats.badFrames).toBe(bad);
    expect(stats.authErrors).toBe(6);
    expect(stats.framesRx).toBe(1);
    await link.close();
  });

  it('a Modbus RTU master counts line noise without constructing an Error, in bounded memory, capturing every byte', async () => {
    const transport = new MockTransport();
    await transport.open();
    let captured = 0;
    const master = new ModbusRtuMaster({ baud: 19200, onFrame: (_, bytes) => (captured += bytes.length) });
    master.attach(transport);
    const { bytes } = garbageFrames(40_000, 5);
    const built = errorsBuiltBy(() => {
      for (let at = 0; at < bytes.length; at += 64) transport.emit('data', bytes.subarray(at, at + 64));
    });
    expect(built).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 20)); // the burst ends after t3.5 of quiet
    // One burst with no quiet in it, accounted in pieces of 4 KiB (the master's bound).
    expect(master.counters.badFrames).toBe(Math.ceil(bytes.length / 4096));
    expect(captured).toBe(bytes.length);
    master.attach(undefined);
  });
});
