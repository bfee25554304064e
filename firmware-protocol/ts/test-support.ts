/** Shared by the codec's tests: fast-check generators for messages, golden-vector helpers. */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { ALARM_TEXT_LENGTH } from './messages/alarm.ts';
import type { Message } from './messages/index.ts';

const u8 = () => fc.integer({ min: 0, max: 0xff });
const u16 = () => fc.integer({ min: 0, max: 0xffff });
const u32 = () => fc.integer({ min: 0, max: 0xffffffff });
/** float32 values (NaN excluded so messages compare with toEqual; NaN is covered separately). */
const f32 = () => fc.float({ noNaN: true });
const f64 = () => fc.double({ noNaN: true });
const u64 = () => fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });

export function arbitraryMessage(): fc.Arbitrary<Message> {
  return fc.oneof(
    fc.record({
      type: fc.constant('HELLO' as const),
      deviceType: u8(),
      protocolMajor: u8(),
      protocolMinor: u8(),
      firmwareMajor: u8(),
      firmwareMinor: u8(),
      firmwarePatch: u8(),
      linkFlags: u8(),
      ieee1547Categories: u8(),
      functions: u32(),
      ratedActivePowerW: f32(),
      ratedReactivePowerVar: f32(),
      ratedApparentPowerVa: f32(),
      ratedEnergyWh: f32(),
      nominalVoltageV: f32(),
      nominalFrequencyHz: f32(),
      serialNumber: u32(),
    }),
    fc.record({
      type: fc.constant('MEASUREMENT' as const),
      step: u32(),
      twinTimeS: f64(),
      voltagePu: f32(),
      voltageAngleRad: f32(),
      frequencyHz: f32(),
      rocofHzPerS: f32(),
    }),
    fc.record({
      type: fc.constant('DEVICE_STATE' as const),
      step: u32(),
      activePowerW: f32(),
      reactivePowerVar: f32(),
      stateOfCharge: f32(),
      mode: u8(),
      inverterState: u8(),
      chargeState: u8(),
      inverterAlarms: u32(),
      bmsEvents: u32(),
    }),
    fc.record({
      type: fc.constant('SETPOINT' as const),
      fields: u16(),
      mode: u8(),
      enabledFunctions: u32(),
      activePowerW: f32(),
      reactivePowerVar: f32(),
      activePowerMaxW: f32(),
      activePowerMinW: f32(),
      reactivePowerMaxVar: f32(),
    }),
    fc.record({
      type: fc.constant('CONFIG' as const),
      fields: u16(),
      ieee1547Category: u8(),
      droopPu: f32(),
      frequencyDeadbandHz: f32(),
      voltVarVoltagesPu: fc.tuple(f32(), f32(), f32(), f32()),
      voltVarReactivePu: fc.tuple(f32(), f32(), f32(), f32()),
      stateOfChargeMin: f32(),
      stateOfChargeMax: f32(),
      watchdogMs: u32(),
    }),
    fc.record({
      type: fc.constant('HEARTBEAT' as const),
      uptimeMs: u32(),
      rxFrames: u32(),
      rxErrors: u32(),
      txFrames: u32(),
      state: u8(),
    }),
    fc.record({
      type: fc.constant('TIME_SYNC' as const),
      phase: u8(),
      originUs: u64(),
      receiveUs: u64(),
      transmitUs: u64(),
    }),
    fc.record({
      type: fc.constant('ALARM' as const),
      severity: u8(),
      source: u8(),
      code: u16(),
      inverterAlarms: u32(),
      bmsEvents: u32(),
      value: f32(),
      uptimeMs: u32(),
      text: fc.string({
        unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
        maxLength: ALARM_TEXT_LENGTH,
      }),
    }),
    fc.record({ type: fc.constant('ACK' as const), messageId: u8(), seq: u16() }),
    fc.record({
      type: fc.constant('NACK' as const),
      messageId: u8(),
      reason: u8(),
      seq: u16(),
      detail: u32(),
    }),
  );
}

/** JSON vectors carry u64 fields as decimal strings. */
export function messageFromVector(m: Record<string, unknown>): Message {
  if (m.type === 'TIME_SYNC') {
    return {
      ...m,
      originUs: BigInt(m.originUs as string),
      receiveUs: BigInt(m.receiveUs as string),
      transmitUs: BigInt(m.transmitUs as string),
    } as Message;
  }
  return m as unknown as Message;
}

export interface FrameVector {
  name: string;
  seq: number;
  deviceId: number;
  compatFlags: number;
  signing: { keyHex: string; linkId: number; timestamp: number } | null;
  message: Record<string, unknown>;
  raw: string;
  wire: string;
}

export interface GoldenVectors {
  crc32c: { ascii: string; crc: string }[];
  cobs: { decoded: string; encoded: string }[];
  hmacSha256: { keyHex: string; dataHex: string; macHex: string }[];
  frames: FrameVector[];
  bad: { name: string; wire: string; error: string }[];
  compatible: { name: string; wire: string; message: Record<string, unknown> }[];
}

/** `firmware-protocol/vectors/frames.json`, written by vectors/generate.py. */
export function loadGoldenVectors(): GoldenVectors {
  return JSON.parse(readFileSync(new URL('../vectors/frames.json', import.meta.url), 'utf8'));
}
