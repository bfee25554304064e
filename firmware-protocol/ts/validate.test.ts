import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbitraryMessage } from './test-support.ts';
import { assertValidMessage, validateMessage } from './validate.ts';

describe('validateMessage', () => {
  it('accepts every well-formed message', () => {
    fc.assert(
      fc.property(arbitraryMessage(), (m) => {
        expect(validateMessage(m)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it('names each bad field and why', () => {
    expect(
      validateMessage({
        type: 'SETPOINT',
        fields: 1,
        mode: 300,
        enabledFunctions: -1,
        activePowerW: 1e39,
        reactivePowerVar: 0,
        activePowerMaxW: 0,
        activePowerMinW: 0,
        reactivePowerMaxVar: '5',
      }),
    ).toEqual([
      'SETPOINT.mode: 300 is not a u8 (integer 0…255)',
      'SETPOINT.enabledFunctions: -1 is not a u32 (integer 0…4294967295)',
      'SETPOINT.activePowerW: 1e+39 is not representable as f32',
      'SETPOINT.reactivePowerMaxVar: 5 is not representable as f32',
    ]);
  });

  it('rejects unknown types, non-objects, bad arrays, text and u64 fields', () => {
    expect(validateMessage(null)).toEqual(['message: not an object']);
    expect(validateMessage({ type: 'REBOOT' })).toEqual(['message.type: unknown message type "REBOOT"']);
    expect(validateMessage({ type: 'ACK', messageId: 1.5, seq: 0 })).toEqual([
      'ACK.messageId: 1.5 is not a u8 (integer 0…255)',
    ]);
    const time = { type: 'TIME_SYNC', phase: 0, originUs: 1, receiveUs: 0n, transmitUs: 2n ** 64n };
    expect(validateMessage(time)).toEqual([
      'TIME_SYNC.originUs: 1 is not a u64 bigint',
      'TIME_SYNC.transmitUs: 18446744073709551616 is not a u64 bigint',
    ]);
    const alarm = {
      type: 'ALARM',
      severity: 1,
      source: 0,
      code: 0,
      inverterAlarms: 0,
      bmsEvents: 0,
      value: Number.NaN,
      uptimeMs: 0,
      text: 'température',
    };
    expect(validateMessage(alarm)).toEqual([
      'ALARM.text: expected ASCII text of at most 24 characters without NUL',
    ]);
    expect(() => assertValidMessage({ type: 'ACK', messageId: 1, seq: 70000 })).toThrow(
      /ACK\.seq: 70000 is not a u16/,
    );
  });
});
