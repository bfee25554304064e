import { describe, expect, it } from 'vitest';
import {
  cobsEncode,
  Deframer,
  encodeFrame,
  encodeRawFrame,
  type Message,
  OperatingMode,
  signingTimestampFromUnixMs,
} from '../../firmware-protocol/ts/index.ts';
import type { BusMeasurement } from '../../twin/api.ts';
import { FirmwareLink } from './firmware-link.ts';
import type { LinkEvent } from './link-config.ts';
import { createLoopbackPair, type LoopbackTransport, MockTransport } from './transport.ts';

const KEY_HEX = '11'.repeat(32);
const KEY = new Uint8Array(32).fill(0x11);
/** Lets the loopback deliver: a write and its answer each take one event-loop turn (setImmediate). */
const tick = async () => {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
};
const measurement = (step: number): BusMeasurement => ({
  step,
  t_s: step / 1000,
  vm_pu: 1,
  va_deg: 0,
  f_hz: 49.9,
  rocof_hz_s: 0,
});

/** A board on the far end of a loopback: answers MEASUREMENT with DEVICE_STATE when `answering`. */
function fakeBoard(end: LoopbackTransport, opts: { p_w: number; signed?: boolean }) {
  const deframer = new Deframer();
  const received: Message[] = [];
  let seq = 0;
  let ts = signingTimestampFromUnixMs(Date.now());
  const board = { answering: true, received };
  const send = (m: Message) =>
    end.write(
      encodeFrame(m, {
        seq: seq++,
        deviceId: 1,
        signing: opts.signed ? { key: KEY, linkId: 0, timestamp: ++ts } : undefined,
      }),
    );
  end.on('data', (chunk) => {
    for (const e of deframer.push(chunk)) {
      if (!e.ok) continue;
      received.push(e.frame.message);
      const m = e.frame.message;
      if (m.type === 'MEASUREMENT' && board.answering) {
        void send({
          type: 'DEVICE_STATE',
          step: m.step,
          activePowerW: opts.p_w,
          reactivePowerVar: 100,
          stateOfCharge: 0.7,
          mode: OperatingMode.GRID_FOLLOWING,
          inverterState: 3,
          chargeState: 0,
          inverterAlarms: 0,
          bmsEvents: 0,
        } as Message);
      }
    }
  });
  return board;
}

describe('FirmwareLink over an in-process loopback', () => {
  it('maps the device power through scale and sign, measures RTT, and goes offline after 3 missed exchanges', async () => {
    const [bench, far] = createLoopbackPair();
    await far.open();
    const board = fakeBoard(far, { p_w: 2000 });
    // A lab battery that reports in load convention (positive = charging), standing for 100× its size.
    const link = new FirmwareLink(
      { id: 'bess', powerScale: 100, signConvention: 'load' },
      { transport: () => bench },
    );
    await link.open();
    link.exchange(measurement(0));
    await tick();
    expect(link.input()).toMatchObject({
      online: true,
      p_mw: -0.2,
      q_mvar: -0.01,
      soc: expect.closeTo(0.7, 6),
    });
    expect(link.stats().rtt_us_p50).toBeGreaterThan(0);

    board.answering = false;
    for (let step = 1; step <= 3; step++) {
      link.exchange(measurement(step));
      await tick();
      expect(link.input().online).toBe(true);
    }
    link.exchange(measurement(4)); // exchange 3 counted missed when the 4th is sent
    expect(link.input().online).toBe(false);
    expect(link.stats().missed).toBe(3);

    board.answering = true;
    link.exchange(measurement(5));
    await tick();
    expect(link.input().online).toBe(true);
    const events: LinkEvent[] = [];
    link.drainEvents(events);
    expect(events.map((e) => e.kind)).toEqual(['link-online', 'link-offline', 'link-online']);
    expect(link.stats().outages).toBe(1);
    await link.close();
  });

  it('counts garbage and corrupted frames without misreading them', async () => {
    const t = new MockTransport();
    const link = new FirmwareLink({ id: 'inv' }, { transport: () => t });
    await link.open();
    link.exchange(measurement(7));
    const state = {
      type: 'DEVICE_STATE',
      step: 7,
      activePowerW: 1500,
      reactivePowerVar: 0,
      stateOfCharge: Number.NaN,
      mode: OperatingMode.GRID_FOLLOWING,
      inverterState: 3,
      chargeState: 0,
      inverterAlarms: 0,
      bmsEvents: 0,
    } as Message;
    const good = encodeFrame(state, { seq: 1, deviceId: 1 });
    // A payload bit flips on the line (before stuffing, so only the CRC can catch it).
    const raw = encodeRawFrame(state, { seq: 1, deviceId: 1 });
    raw[12] ^= 0x40;
    const corrupted = Uint8Array.from([...cobsEncode(raw), 0]);
    t.emitData(Uint8Array.from([0x13, 0x37, 0xff, 0x00])); // line noise, then a delimiter
    t.emitData(corrupted);
    expect(link.input().online).toBe(false);
    expect(link.stats().badFrames).toBe(2);
    expect(link.stats().crcErrors).toBe(1);
    // Split across chunk boundaries: the deframer keeps the leftovers.
    t.emitData(good.subarray(0, 5));
    t.emitData(good.subarray(5));
    expect(link.input()).toMatchObject({ online: true, p_mw: 0.0015 });
    await link.close();
  });

  it('signs what it sends and refuses unsigned answers when signing is required', async () => {
    const [bench, far] = createLoopbackPair();
    await far.open();
    const board = fakeBoard(far, { p_w: 1000, signed: false });
    const link = new FirmwareLink({ id: 'sec', signing: { keyHex: KEY_HEX } }, { transport: () => bench });
    await link.open();
    link.exchange(measurement(1));
    await tick();
    expect(link.input().online).toBe(false);
    expect(link.stats().authErrors).toBe(1);
    // The bench's own frame went out signed.
    const sniff = new Deframer();
    expect(board.received[0]?.type).toBe('MEASUREMENT');
    const resent: Uint8Array[] = [];
    far.on('data', (d) => resent.push(d));
    link.exchange(measurement(2));
    await tick();
    const frames = resent.flatMap((chunk) => sniff.push(chunk)).filter((e) => e.ok);
    expect(frames[0]?.ok && frames[0].frame.signature).not.toBeNull();
    await link.close();
  });

  it('accepts signed answers with the right key', async () => {
    const [bench, far] = createLoopbackPair();
    await far.open();
    fakeBoard(far, { p_w: 1000, signed: true });
    const link = new FirmwareLink({ id: 'sec', signing: { keyHex: KEY_HEX } }, { transport: () => bench });
    await link.open();
    link.exchange(measurement(1));
    await tick();
    expect(link.input()).toMatchObject({ online: true, p_mw: 0.001 });
    await link.close();
  });

  it('sends set-points after the limits and a mode-OFF zero set-point on emergency stop', async () => {
    const [bench, far] = createLoopbackPair();
    await far.open();
    const board = fakeBoard(far, { p_w: 0 });
    const link = new FirmwareLink(
      { id: 'bess', powerScale: 10, limits: { pMax_w: 3000 } },
      { transport: () => bench },
    );
    await link.open();
    expect(link.setpoint({ p_mw: 0.05 }).target.p_w).toBe(3000); // 50 kW twin = 5 kW device → 3 kW
    link.exchange(measurement(1));
    await tick();
    link.emergencyStop();
    await tick();
    const setpoints = board.received.filter((m) => m.type === 'SETPOINT');
    expect(setpoints.map((m) => m.type === 'SETPOINT' && [m.activePowerW, m.mode])).toEqual([
      [3000, OperatingMode.GRID_FOLLOWING],
      [0, OperatingMode.OFF],
    ]);
    expect(() => link.setpoint({ p_mw: 0.01 })).toThrow(/emergency stop/);
    await link.close();
  });

  it('reopens the port after an unplug and reports both', async () => {
    let current: MockTransport | undefined;
    const link = new FirmwareLink({ id: 'b' }, { transport: () => (current = new MockTransport()) });
    await link.open();
    current!.unplug();
    await new Promise((resolve) => setTimeout(resolve, 400));
    const events: LinkEvent[] = [];
    link.drainEvents(events);
    expect(events.map((e) => e.kind)).toEqual(['link-port-lost', 'link-port-reopened']);
    expect(current!.isOpen).toBe(true);
    await link.close();
  });
});
