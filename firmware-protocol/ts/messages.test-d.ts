import { describe, expectTypeOf, it } from 'vitest';
import type { DeframerEvent } from './deframer.ts';
import type { FrameErrorCode } from './errors.ts';
import { encodeFrame } from './frame.ts';
import type { Message, MessageOf } from './messages/index.ts';
import type { Measurement } from './messages/measurement.ts';

describe('message types', () => {
  it('narrows a Message by its type tag', () => {
    const handle = (m: Message) => {
      if (m.type === 'DEVICE_STATE') expectTypeOf(m.stateOfCharge).toEqualTypeOf<number>();
      if (m.type === 'TIME_SYNC') expectTypeOf(m.originUs).toEqualTypeOf<bigint>();
      if (m.type === 'CONFIG')
        expectTypeOf(m.voltVarVoltagesPu).toEqualTypeOf<[number, number, number, number]>();
    };
    expectTypeOf(handle).parameter(0).toEqualTypeOf<Message>();
    expectTypeOf<MessageOf<'MEASUREMENT'>>().toEqualTypeOf<Measurement>();
  });

  it('rejects malformed messages and options at compile time', () => {
    // @ts-expect-error a MEASUREMENT needs all its fields
    encodeFrame({ type: 'MEASUREMENT', step: 1 }, { seq: 0, deviceId: 1 });
    // @ts-expect-error unknown message type
    encodeFrame({ type: 'REBOOT' }, { seq: 0, deviceId: 1 });
    const ack: Message = { type: 'ACK', messageId: 4, seq: 1 };
    // @ts-expect-error deviceId is required
    encodeFrame(ack, { seq: 0 });
  });

  it('deframer events are a discriminated union with a closed set of error codes', () => {
    const onEvent = (e: DeframerEvent) => {
      if (e.ok) expectTypeOf(e.frame.message).toEqualTypeOf<Message>();
      else expectTypeOf(e.error.code).toEqualTypeOf<FrameErrorCode>();
    };
    expectTypeOf(onEvent).returns.toBeVoid();
    expectTypeOf<'CRC_MISMATCH'>().toExtend<FrameErrorCode>();
    expectTypeOf<'CRC_ERROR'>().not.toExtend<FrameErrorCode>();
  });
});
