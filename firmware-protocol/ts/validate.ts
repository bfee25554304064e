/**
 * Field-level validation of a message before encoding, for trust boundaries (operator commands,
 * scenario files, socket messages). The encoder itself does not check: DataView silently wraps
 * integers, which is right for the hot path and wrong for input from outside.
 */
import type { MessageType } from './constants.ts';
import { ALARM_TEXT_LENGTH } from './messages/alarm.ts';
import type { Message } from './messages/index.ts';

type Kind = 'u8' | 'u16' | 'u32' | 'u64' | 'f32' | 'f64' | 'f32x4' | 'text';

const LAYOUT: Record<MessageType, Record<string, Kind>> = {
  HELLO: {
    deviceType: 'u8',
    protocolMajor: 'u8',
    protocolMinor: 'u8',
    firmwareMajor: 'u8',
    firmwareMinor: 'u8',
    firmwarePatch: 'u8',
    linkFlags: 'u8',
    ieee1547Categories: 'u8',
    functions: 'u32',
    ratedActivePowerW: 'f32',
    ratedReactivePowerVar: 'f32',
    ratedApparentPowerVa: 'f32',
    ratedEnergyWh: 'f32',
    nominalVoltageV: 'f32',
    nominalFrequencyHz: 'f32',
    serialNumber: 'u32',
  },
  MEASUREMENT: {
    step: 'u32',
    twinTimeS: 'f64',
    voltagePu: 'f32',
    voltageAngleRad: 'f32',
    frequencyHz: 'f32',
    rocofHzPerS: 'f32',
  },
  DEVICE_STATE: {
    step: 'u32',
    activePowerW: 'f32',
    reactivePowerVar: 'f32',
    stateOfCharge: 'f32',
    mode: 'u8',
    inverterState: 'u8',
    chargeState: 'u8',
    inverterAlarms: 'u32',
    bmsEvents: 'u32',
  },
  SETPOINT: {
    fields: 'u16',
    mode: 'u8',
    enabledFunctions: 'u32',
    activePowerW: 'f32',
    reactivePowerVar: 'f32',
    activePowerMaxW: 'f32',
    activePowerMinW: 'f32',
    reactivePowerMaxVar: 'f32',
  },
  CONFIG: {
    fields: 'u16',
    ieee1547Category: 'u8',
    droopPu: 'f32',
    frequencyDeadbandHz: 'f32',
    voltVarVoltagesPu: 'f32x4',
    voltVarReactivePu: 'f32x4',
    stateOfChargeMin: 'f32',
    stateOfChargeMax: 'f32',
    watchdogMs: 'u32',
  },
  HEARTBEAT: { uptimeMs: 'u32', rxFrames: 'u32', rxErrors: 'u32', txFrames: 'u32', state: 'u8' },
  TIME_SYNC: { phase: 'u8', originUs: 'u64', receiveUs: 'u64', transmitUs: 'u64' },
  ALARM: {
    severity: 'u8',
    source: 'u8',
    code: 'u16',
    inverterAlarms: 'u32',
    bmsEvents: 'u32',
    value: 'f32',
    uptimeMs: 'u32',
    text: 'text',
  },
  ACK: { messageId: 'u8', seq: 'u16' },
  NACK: { messageId: 'u8', reason: 'u8', seq: 'u16', detail: 'u32' },
};

const INT_MAX: Record<string, number> = { u8: 0xff, u16: 0xffff, u32: 0xffffffff };
const F32_MAX = 3.4028234663852886e38;

function checkNumber(kind: Kind, v: unknown): string | null {
  switch (kind) {
    case 'u8':
    case 'u16':
    case 'u32':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= INT_MAX[kind]
        ? null
        : `${String(v)} is not a ${kind} (integer 0…${INT_MAX[kind]})`;
    case 'u64':
      return typeof v === 'bigint' && v >= 0n && v < 2n ** 64n ? null : `${String(v)} is not a u64 bigint`;
    case 'f32':
      // Finite values beyond the f32 range would silently become ±Infinity.
      return typeof v === 'number' && (!Number.isFinite(v) || Math.abs(v) <= F32_MAX)
        ? null
        : `${String(v)} is not representable as f32`;
    case 'f64':
      return typeof v === 'number' ? null : `${String(v)} is not a number`;
    default:
      return null;
  }
}

/**
 * Problems with `message`, each naming the field ("SETPOINT.mode: 300 is not a u8 …"); empty when
 * it can be encoded exactly as given.
 */
export function validateMessage(message: unknown): string[] {
  if (typeof message !== 'object' || message === null) return ['message: not an object'];
  const m = message as Record<string, unknown>;
  const type = m.type;
  if (typeof type !== 'string' || !Object.hasOwn(LAYOUT, type)) {
    return [`message.type: unknown message type ${JSON.stringify(type)}`];
  }
  const problems: string[] = [];
  for (const [field, kind] of Object.entries(LAYOUT[type as MessageType])) {
    const v = m[field];
    const where = `${type}.${field}`;
    if (kind === 'f32x4') {
      if (!Array.isArray(v) || v.length !== 4) {
        problems.push(`${where}: expected an array of 4 numbers`);
        continue;
      }
      v.forEach((x, i) => {
        const p = checkNumber('f32', x);
        if (p) problems.push(`${where}[${i}]: ${p}`);
      });
    } else if (kind === 'text') {
      if (typeof v !== 'string' || v.length > ALARM_TEXT_LENGTH || /[^\x01-\x7f]/.test(v)) {
        problems.push(`${where}: expected ASCII text of at most ${ALARM_TEXT_LENGTH} characters without NUL`);
      }
    } else {
      const p = checkNumber(kind, v);
      if (p) problems.push(`${where}: ${p}`);
    }
  }
  return problems;
}

/** Throws a TypeError listing every problem; returns the message typed when it is valid. */
export function assertValidMessage(message: unknown): Message {
  const problems = validateMessage(message);
  if (problems.length > 0) throw new TypeError(`invalid message: ${problems.join('; ')}`);
  return message as Message;
}
