/**
 * Both emulated boards (the C example firmware, host build) over real socat pseudo-terminals:
 * HELLO, measurement/state exchange, set-point changes, bad input, signing, watchdog, clean exit.
 * And the board's own pseudo-terminal mode (`--pty`), the one `npm start` uses.
 */

import { readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  buildEmulatedBoards,
  type EmulatedBoard,
  startEmulatedBoard,
} from '../firmware-protocol/host/boards.ts';
import { SerialBoardLink, type SerialBoardLinkOptions } from '../firmware-protocol/host/serial-link.ts';
import { type SocatPair, startSocatPair } from '../firmware-protocol/host/socat.ts';
import {
  BmsEventBit,
  ChargeState,
  DeviceFunction,
  DeviceType,
  encodeFrame,
  FRAME_ERROR_CODES,
  InverterState,
  type Measurement,
  NackReason,
  OperatingMode,
  type Setpoint,
  SetpointField,
  SignatureVerifier,
} from '../firmware-protocol/ts/index.ts';
import { budget } from './support/machine-speed.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const undo of cleanups.splice(0).reverse()) await undo().catch(() => {});
});

const measurement = (step: number, twinTimeS: number, frequencyHz: number, voltagePu = 1): Measurement => ({
  type: 'MEASUREMENT',
  step,
  twinTimeS,
  voltagePu,
  voltageAngleRad: 0,
  frequencyHz,
  rocofHzPerS: 0,
});

const setpoint = (fields: number, values: Partial<Setpoint>): Setpoint => ({
  type: 'SETPOINT',
  fields,
  mode: 0,
  enabledFunctions: 0,
  activePowerW: 0,
  reactivePowerVar: 0,
  activePowerMaxW: 0,
  activePowerMinW: 0,
  reactivePowerMaxVar: 0,
  ...values,
});

async function socat(): Promise<SocatPair> {
  const pair = await startSocatPair();
  cleanups.push(() => pair.stop());
  return pair;
}

async function board(kind: 'battery' | 'inverter', options: Parameters<typeof startEmulatedBoard>[1]) {
  const b = await startEmulatedBoard(kind, { startTimeoutMs: budget(10_000), ...options });
  cleanups.push(() => b.stop());
  return b;
}

async function link(path: string, options: SerialBoardLinkOptions) {
  const l = await SerialBoardLink.open(path, { nextTimeoutMs: budget(3000), ...options });
  cleanups.push(() => l.close());
  return l;
}

describe('emulated boards over socat pseudo-terminals', () => {
  it('battery and inverter (ASan + UBSan builds): HELLO, measurement/state exchange and a set-point change', async () => {
    const [batteryPair, inverterPair] = await Promise.all([socat(), socat()]);
    const [battery, inverter] = await Promise.all([
      board('battery', {
        device: batteryPair.a,
        deviceId: 11,
        helloIntervalMs: 100,
        initialSoc: 0.6,
        sanitize: true,
      }),
      board('inverter', {
        device: inverterPair.a,
        deviceId: 12,
        helloIntervalMs: 100,
        ratedPowerW: 10000,
        availablePowerW: 8000,
        sanitize: true,
      }),
    ]);
    expect(battery.path).toBe(batteryPair.a);
    const [bat, inv] = await Promise.all([
      link(batteryPair.b, { deviceId: 11 }),
      link(inverterPair.b, { deviceId: 12 }),
    ]);

    const [batHello, invHello] = await Promise.all([bat.next('HELLO'), inv.next('HELLO')]);
    expect(batHello.deviceType).toBe(DeviceType.BATTERY);
    expect(batHello.protocolMajor).toBe(1);
    expect(batHello.ratedEnergyWh).toBe(10000);
    expect(batHello.functions & DeviceFunction.SOC_MANAGEMENT).toBeTruthy();
    expect(invHello.deviceType).toBe(DeviceType.INVERTER);
    expect(invHello.ratedActivePowerW).toBe(10000);
    expect(invHello.functions & DeviceFunction.VOLT_VAR).toBeTruthy();

    // Battery: droop around P_set = 0 with R = 5 %, 5 kW rated: 0.1 Hz low → +200 W.
    await bat.send(measurement(1, 0.01, 49.9));
    const s1 = await bat.next('DEVICE_STATE', (m) => m.step === 1);
    expect(s1.activePowerW).toBeCloseTo((0.1 / (0.05 * 50)) * 5000, 0);
    expect(s1.stateOfCharge).toBeCloseTo(0.6, 6);
    expect(s1.chargeState).toBe(ChargeState.DISCHARGING);
    expect(s1.mode).toBe(OperatingMode.GRID_FOLLOWING);

    // Inverter: IEEE 1547 volt-var, category B, at 1.05 pu → −0.22 × 4400 var; all 8 kW available.
    await inv.send(measurement(1, 0.01, 50, 1.05));
    const v1 = await inv.next('DEVICE_STATE', (m) => m.step === 1);
    expect(v1.activePowerW).toBeCloseTo(8000, 0);
    expect(v1.reactivePowerVar).toBeCloseTo(-0.22 * 4400, 0);
    expect(Number.isNaN(v1.stateOfCharge)).toBe(true);

    // Set-point change: battery discharges 1 kW; inverter curtails to 6 kW (keeps headroom).
    const mark = bat.mark();
    await bat.send(setpoint(SetpointField.ACTIVE_POWER, { activePowerW: 1000 }));
    await inv.send(setpoint(SetpointField.ACTIVE_POWER, { activePowerW: 6000 }));
    const [batAck, invAck] = await Promise.all([bat.next('ACK'), inv.next('ACK')]);
    expect(batAck.messageId).toBe(0x04);
    expect(invAck.messageId).toBe(0x04);

    // One hour later at 50.1 Hz: SoC fell by 200 Wh / 0.95 over the hour (200 W held), P = 1000 − 200.
    await bat.send(measurement(2, 3600.01, 50.1));
    const s2 = await bat.next('DEVICE_STATE', (m) => m.step === 2);
    expect(s2.stateOfCharge).toBeCloseTo(0.6 - ((0.1 / 2.5) * 5000) / 0.95 / 10000, 5);
    expect(s2.activePowerW).toBeCloseTo(1000 - (0.1 / 2.5) * 5000, 0);
    // Under-frequency 49.8 Hz: inverter adds (49.964 − 49.8) / (0.05 × 50) × 10 kW to its 6 kW.
    await inv.send(measurement(2, 0.02, 49.8));
    const v2 = await inv.next('DEVICE_STATE', (m) => m.step === 2);
    expect(v2.activePowerW).toBeCloseTo(6000 + ((49.964 - 49.8) / 2.5) * 10000, 0);

    // Once the bench has talked, HELLO stops (it was repeating every 100 ms before).
    const helloCount = bat.frames.slice(mark).filter((f) => f.message.type === 'HELLO').length;
    await new Promise((r) => setTimeout(r, 350));
    expect(bat.frames.slice(mark).filter((f) => f.message.type === 'HELLO').length).toBe(helloCount);
    expect(bat.stats.errorCount).toBe(0);
    expect(inv.stats.errorCount).toBe(0);

    await Promise.all([battery.stop(), inverter.stop()]);
    expect(await battery.exited).toBe(0);
    expect(await inverter.exited).toBe(0);
  });

  it('rejects an out-of-range set-point with a NACK and counts garbage and frames for other devices', async () => {
    const pair = await socat();
    await board('battery', { device: pair.a, deviceId: 4, heartbeatIntervalMs: 100 });
    const bat = await link(pair.b, { deviceId: 4 });
    await bat.next('HELLO');
    await bat.send(setpoint(SetpointField.ACTIVE_POWER, { activePowerW: 9000 }));
    const nack = await bat.next('NACK');
    expect(nack.reason).toBe(NackReason.OUT_OF_RANGE);
    expect(nack.detail).toBe(SetpointField.ACTIVE_POWER);
    // Garbage (two bad frames), then a measurement: still answered.
    await bat.writeRaw(Uint8Array.of(0x13, 0x37, 0x00, 0x05, 0x01, 0x02, 0x00));
    await bat.send(measurement(9, 0.5, 50));
    await bat.next('DEVICE_STATE', (m) => m.step === 9);
    // A frame addressed to another device is ignored (not an error either).
    await bat.send(measurement(10, 0.6, 50), { deviceId: 5 });
    await bat.send(measurement(11, 0.7, 50));
    await bat.next('DEVICE_STATE', (m) => m.step === 11);
    expect(bat.frames.some((f) => f.message.type === 'DEVICE_STATE' && f.message.step === 10)).toBe(false);
    const hb = await bat.next('HEARTBEAT', (m) => m.rxErrors >= 2, 3000, bat.mark());
    expect(hb.rxErrors).toBe(2);
    expect(hb.rxFrames).toBeGreaterThanOrEqual(2);
  });

  it('signed board: answers signed frames, rejects unsigned, replayed and forged ones with a NACK reason, signs its own', async () => {
    const key = new Uint8Array(32).map((_, i) => (i * 7 + 3) & 0xff);
    const pair = await socat();
    await board('battery', {
      device: pair.a,
      deviceId: 21,
      key,
      linkId: 2,
      requireSigned: true,
      heartbeatIntervalMs: 150,
    });
    const verifier = new SignatureVerifier({
      keyFor: (id) => (id === 21 ? { key, required: true } : undefined),
    });
    const bat = await link(pair.b, { deviceId: 21, authenticator: verifier, signing: { key, linkId: 1 } });
    const hello = await bat.next('HELLO');
    expect(hello.linkFlags).toBe(0x03); // signing supported and required
    expect(bat.frames[0].signature?.linkId).toBe(2);

    await bat.send(measurement(1, 0.01, 50));
    await bat.next('DEVICE_STATE', (m) => m.step === 1);

    // Unsigned: rejected, counted, and answered with a NACK naming the reason.
    let mark = bat.mark();
    await bat.writeRaw(encodeFrame(measurement(2, 0.02, 50), { seq: 100, deviceId: 21 }));
    const unsignedNack = await bat.next('NACK', () => true, 3000, mark);
    expect(unsignedNack).toMatchObject({ reason: NackReason.UNSIGNED, seq: 100, messageId: 0x02 });
    expect(FRAME_ERROR_CODES[unsignedNack.detail - 1]).toBe('UNSIGNED');
    // Replay of a signed frame: the second copy is rejected as a replay.
    const replayed = encodeFrame(measurement(3, 0.03, 50), {
      seq: 101,
      deviceId: 21,
      signing: { key, linkId: 3, timestamp: Math.round((Date.now() - Date.UTC(2015, 0, 1)) * 100) },
    });
    await bat.writeRaw(replayed);
    await bat.next('DEVICE_STATE', (m) => m.step === 3);
    await new Promise((r) => setTimeout(r, 120)); // NACKs are limited to one per 100 ms
    mark = bat.mark();
    await bat.writeRaw(replayed);
    const replayNack = await bat.next('NACK', () => true, 3000, mark);
    expect(replayNack).toMatchObject({ reason: NackReason.REPLAY, seq: 101 });
    expect(FRAME_ERROR_CODES[replayNack.detail - 1]).toBe('REPLAY');
    // A frame signed with another key.
    await new Promise((r) => setTimeout(r, 120));
    mark = bat.mark();
    const forged = encodeFrame(measurement(4, 0.04, 50), {
      seq: 102,
      deviceId: 21,
      signing: { key: new Uint8Array(32).fill(9), linkId: 1, timestamp: 1e13 },
    });
    await bat.writeRaw(forged);
    expect(await bat.next('NACK', () => true, 3000, mark)).toMatchObject({
      reason: NackReason.BAD_SIGNATURE,
    });
    const hb = await bat.next('HEARTBEAT', (m) => m.rxErrors >= 3, 3000, bat.mark());
    expect(hb.rxErrors).toBe(3);
    for (const step of [2, 4]) {
      expect(bat.frames.some((f) => f.message.type === 'DEVICE_STATE' && f.message.step === step)).toBe(
        false,
      );
    }
    expect(bat.frames.every((f) => f.signature !== null)).toBe(true);
    expect(bat.stats.errorCount).toBe(0);
  });

  it('watchdog: without frames from the bench the board goes to a safe state', async () => {
    const pair = await socat();
    await board('battery', { device: pair.a, deviceId: 8, watchdogMs: 200, heartbeatIntervalMs: 50 });
    const bat = await link(pair.b, { deviceId: 8 });
    await bat.next('HELLO');
    await bat.send(setpoint(SetpointField.ACTIVE_POWER, { activePowerW: 2000 }));
    await bat.send(measurement(1, 0.01, 50));
    const running = await bat.next('DEVICE_STATE', (m) => m.step === 1);
    expect(running.inverterState).toBe(InverterState.RUNNING);
    const since = bat.mark();
    const safe = await bat.next('HEARTBEAT', (m) => m.state === InverterState.STANDBY, 2000, since);
    expect(safe.state).toBe(InverterState.STANDBY);
    await bat.send(measurement(2, 0.02, 50));
    const back = await bat.next('DEVICE_STATE', (m) => m.step === 2);
    expect(back.inverterState).toBe(InverterState.RUNNING);
    expect(back.bmsEvents & (1 << BmsEventBit.COMMUNICATION_ERROR)).toBe(0);
  });
});

describe('emulated boards: the rest of the message set', () => {
  it('answers HELLO and TIME_SYNC requests, applies CONFIG, and raises an ALARM at the SoC limit', async () => {
    const pair = await socat();
    await board('battery', { device: pair.a, deviceId: 6, initialSoc: 0.2, capacityWh: 100 });
    const bat = await link(pair.b, { deviceId: 6 });
    await bat.next('HELLO');

    let mark = bat.mark();
    await bat.send({ ...(await bat.next('HELLO')) });
    const again = await bat.next('HELLO', () => true, 3000, mark);
    expect(again.deviceType).toBe(DeviceType.BATTERY);

    await bat.send({ type: 'TIME_SYNC', phase: 0, originUs: 123456789n, receiveUs: 0n, transmitUs: 0n });
    const sync = await bat.next('TIME_SYNC');
    expect(sync.phase).toBe(1);
    expect(sync.originUs).toBe(123456789n);
    expect(sync.transmitUs >= sync.receiveUs).toBe(true);

    // CONFIG: droop 4 % with a 0.05 Hz dead band, SoC window 0.15…0.9.
    await bat.send({
      type: 'CONFIG',
      fields: 0x01 | 0x04,
      ieee1547Category: 0,
      droopPu: 0.04,
      frequencyDeadbandHz: 0.05,
      voltVarVoltagesPu: [0, 0, 0, 0],
      voltVarReactivePu: [0, 0, 0, 0],
      stateOfChargeMin: 0.15,
      stateOfChargeMax: 0.9,
      watchdogMs: 0,
    });
    expect((await bat.next('ACK')).messageId).toBe(0x05);
    await bat.send(measurement(1, 0, 49.85));
    const s1 = await bat.next('DEVICE_STATE', (m) => m.step === 1);
    expect(s1.activePowerW).toBeCloseTo(((50 - 0.05 - 49.85) / (0.04 * 50)) * 5000, 0);

    // 250 W for 72 s from 100 Wh at SoC 0.2: −(250 × 72 / 3600) / 0.95 Wh = −5.26 % → 0.147 < 0.15.
    mark = bat.mark();
    await bat.send(measurement(2, 72, 49.85));
    const s2 = await bat.next('DEVICE_STATE', (m) => m.step === 2);
    expect(s2.stateOfCharge).toBeCloseTo(0.2 - (250 * 72) / 3600 / 0.95 / 100, 4);
    expect(s2.activePowerW).toBe(0);
    expect(s2.chargeState).toBe(ChargeState.EMPTY);
    expect(s2.bmsEvents & (1 << BmsEventBit.UNDER_SOC_MIN_WARNING)).toBeTruthy();
    const alarm = await bat.next('ALARM', () => true, 3000, mark);
    expect(alarm.source).toBe(2);
    expect(alarm.bmsEvents & (1 << BmsEventBit.UNDER_SOC_MIN_WARNING)).toBeTruthy();
  });

  it('inverter in grid-forming mode follows P-f droop without dead band', async () => {
    const pair = await socat();
    await board('inverter', { device: pair.a, deviceId: 2, ratedPowerW: 10000 });
    const inv = await link(pair.b, { deviceId: 2 });
    await inv.next('HELLO');
    await inv.send(
      setpoint(SetpointField.MODE | SetpointField.FUNCTIONS | SetpointField.ACTIVE_POWER, {
        mode: OperatingMode.GRID_FORMING,
        enabledFunctions: DeviceFunction.GRID_FORMING,
        activePowerW: 5000,
      }),
    );
    await inv.next('ACK');
    await inv.send(measurement(1, 0, 50.02));
    const s = await inv.next('DEVICE_STATE', (m) => m.step === 1);
    expect(s.mode).toBe(OperatingMode.GRID_FORMING);
    expect(s.activePowerW).toBeCloseTo(5000 - (0.02 / (0.05 * 50)) * 10000, 0);
  });

  it('keeps running without spinning when the other end of its tty hangs up', async () => {
    const pair = await socat();
    const b = await board('battery', { device: pair.a });
    await pair.stop();
    const cpuTicks = () => {
      const fields = readFileSync(`/proc/${b.pid}/stat`, 'utf8').split(') ')[1].split(' ');
      return Number(fields[11]) + Number(fields[12]); // utime + stime
    };
    await new Promise((r) => setTimeout(r, 200));
    const before = cpuTicks();
    await new Promise((r) => setTimeout(r, 2000));
    // Over 2 s a spinning board burns 200 ticks on an idle core and still 50+ when the test run
    // keeps both cores busy; a board waiting in poll() costs about one (its 10 ms wake-ups), a few
    // more when tick sampling lands on it under load. 20 (10 % of a core) separates the two.
    expect(cpuTicks() - before).toBeLessThan(20);
    await b.stop();
    expect(await b.exited).toBe(0);
  });
});

describe('emulated board on its own pseudo-terminal (--pty, what npm start uses)', () => {
  it('announces its pty, serves the protocol on it and exits cleanly when stopped', async () => {
    const b: EmulatedBoard = await board('battery', { deviceId: 1, helloIntervalMs: 100 });
    expect(b.path).toMatch(/^\/dev\/pts\/\d+$/);
    const bat = await link(b.path, { deviceId: 1 });
    await bat.next('HELLO');
    await bat.send(measurement(1, 0.001, 50.05));
    const state = await bat.next('DEVICE_STATE', (m) => m.step === 1);
    expect(state.activePowerW).toBeCloseTo(-100, 0);
    await bat.close();
    await b.stop();
    expect(await b.exited).toBe(0);
  });

  it('exits when its stdin closes (the parent went away)', async () => {
    const b = await board('inverter', {});
    b.process.stdin?.end();
    expect(await b.exited).toBe(0);
  });

  it('reports bad board options as a clear error', async () => {
    await expect(startEmulatedBoard('battery', { initialSoc: 2 })).rejects.toThrow(
      /exited \(2\) before announcing its tty: .*--soc 2: expected a number in \[0, 1\]/,
    );
    await expect(startEmulatedBoard('toaster' as 'battery', {})).rejects.toThrow(TypeError);
  });
});

describe('buildEmulatedBoards', () => {
  it('compiles both boards once into the cache and reuses them', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'gridloop-boards-cache-'));
    cleanups.push(() => rm(cacheDir, { recursive: true, force: true }));
    const first = await buildEmulatedBoards({ cacheDir });
    expect(first.battery.startsWith(cacheDir)).toBe(true);
    const before = (await stat(first.inverter)).mtimeMs;
    const second = await buildEmulatedBoards({ cacheDir });
    expect(second).toEqual(first);
    expect((await stat(second.inverter)).mtimeMs).toBe(before);
  });

  it('names the missing C compiler', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'gridloop-boards-cache-'));
    cleanups.push(() => rm(cacheDir, { recursive: true, force: true }));
    await expect(buildEmulatedBoards({ cacheDir, compiler: 'gridloop-no-such-cc' })).rejects.toThrow(
      /C compiler 'gridloop-no-such-cc' not found/,
    );
  });
});
