import { describe, expect, it } from 'vitest';
import { Deframer, encodeFrame, type Message } from '../../firmware-protocol/ts/index.ts';
import { createLoopbackPair } from '../devices/transport.ts';
import { AttackedTransport } from './link-attack.ts';

const state = (step: number, p: number): Message => ({
  type: 'DEVICE_STATE',
  step,
  activePowerW: p,
  reactivePowerVar: 0,
  stateOfCharge: 0.5,
  mode: 0,
  inverterState: 0,
  chargeState: 0,
  inverterAlarms: 0,
  bmsEvents: 0,
});
const tick = () => new Promise((r) => setImmediate(r));

/** A board end and a bench end through the man in the middle; returns what the bench decodes. */
async function setup(random?: () => number) {
  const [bench, board] = createLoopbackPair('mitm');
  const mitm = new AttackedTransport(bench, random);
  await mitm.open();
  await board.open();
  const deframer = new Deframer();
  const received: { step: number; p: number }[] = [];
  let errors = 0;
  mitm.on('data', (chunk) => {
    for (const e of deframer.push(chunk)) {
      if (!e.ok) errors++;
      else if (e.frame.message.type === 'DEVICE_STATE')
        received.push({ step: e.frame.message.step, p: e.frame.message.activePowerW });
    }
  });
  let seq = 0;
  const send = async (step: number, p: number) => {
    const bytes = encodeFrame(state(step, p), { seq: seq++, deviceId: 1 });
    // Split across two writes: the attacker must reassemble frames at the delimiter.
    await board.write(bytes.subarray(0, 5));
    await board.write(bytes.subarray(5));
    await tick();
  };
  return { mitm, send, received, errors: () => errors };
}

describe('man in the middle on a device link', () => {
  it('records, then replays recorded payloads re-stamped with the live step', async () => {
    const { mitm, send, received } = await setup();
    mitm.mode = { kind: 'record' };
    for (let s = 1; s <= 3; s++) await send(s, 100 * s);
    mitm.mode = { kind: 'replay' };
    for (let s = 4; s <= 8; s++) await send(s, 999);
    expect(received.map((r) => r.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(received.map((r) => r.p)).toEqual([100, 200, 300, 100, 200, 300, 100, 200]);
    expect(mitm.counters).toMatchObject({ recordedFrames: 3, replayedFrames: 5, liveFrames: 8 });
  });

  it('drops with the given probability, delays, and floods with junk the deframer survives', async () => {
    const rolls = [0.1, 0.9, 0.1, 0.9];
    const { mitm, send, received, errors } = await setup(() => rolls.shift() ?? 0.5);
    mitm.mode = { kind: 'drop', probability: 0.5 };
    for (let s = 1; s <= 4; s++) await send(s, s);
    expect(received.map((r) => r.step)).toEqual([2, 4]);
    expect(mitm.counters.droppedFrames).toBe(2);

    mitm.mode = { kind: 'delay', ms: 30 };
    await send(5, 5);
    expect(received).toHaveLength(2);
    await new Promise((r) => setTimeout(r, 60));
    expect(received.map((r) => r.step)).toEqual([2, 4, 5]);

    mitm.mode = { kind: 'flood', bytes: 200 };
    for (let s = 6; s <= 8; s++) await send(s, s);
    expect(received.map((r) => r.step)).toEqual([2, 4, 5, 6, 7, 8]);
    expect(errors()).toBeGreaterThanOrEqual(3);
    expect(mitm.counters.floodBytes).toBe(3 * 201);
    await mitm.close();
  });
});
