/** Message registry: id ↔ type, payload encode/decode dispatch; generated from firmware-protocol/messages.yaml by `npm run generate:protocol`; do not edit. */
import { MessageId, type MessageType } from '../constants.ts';
import { ALARM_LENGTH, type Alarm, readAlarm, writeAlarm } from './alarm.ts';
import {
  CONFIG_LENGTH,
  type Config,
  readConfig,
  readSetpoint,
  SETPOINT_LENGTH,
  type Setpoint,
  writeConfig,
  writeSetpoint,
} from './control.ts';
import { HELLO_LENGTH, type Hello, readHello, writeHello } from './hello.ts';
import {
  ACK_LENGTH,
  type Ack,
  HEARTBEAT_LENGTH,
  type Heartbeat,
  NACK_LENGTH,
  type Nack,
  readAck,
  readHeartbeat,
  readNack,
  readTimeSync,
  TIME_SYNC_LENGTH,
  type TimeSync,
  writeAck,
  writeHeartbeat,
  writeNack,
  writeTimeSync,
} from './link.ts';
import {
  DEVICE_STATE_LENGTH,
  type DeviceState,
  MEASUREMENT_LENGTH,
  type Measurement,
  readDeviceState,
  readMeasurement,
  writeDeviceState,
  writeMeasurement,
} from './measurement.ts';

export type Message =
  | Hello
  | Measurement
  | DeviceState
  | Setpoint
  | Config
  | Heartbeat
  | TimeSync
  | Alarm
  | Ack
  | Nack;
export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;

/** Payload length of each message in this protocol version. Newer minor versions may append bytes. */
export const PAYLOAD_LENGTH: Readonly<Record<MessageType, number>> = {
  HELLO: HELLO_LENGTH,
  MEASUREMENT: MEASUREMENT_LENGTH,
  DEVICE_STATE: DEVICE_STATE_LENGTH,
  SETPOINT: SETPOINT_LENGTH,
  CONFIG: CONFIG_LENGTH,
  HEARTBEAT: HEARTBEAT_LENGTH,
  TIME_SYNC: TIME_SYNC_LENGTH,
  ALARM: ALARM_LENGTH,
  ACK: ACK_LENGTH,
  NACK: NACK_LENGTH,
};

const TYPE_BY_ID: (MessageType | undefined)[] = [];
for (const [type, id] of Object.entries(MessageId)) TYPE_BY_ID[id] = type as MessageType;

/** Message type for a wire id, or undefined for ids this version does not know. */
export function messageTypeOf(id: number): MessageType | undefined {
  return TYPE_BY_ID[id];
}

/** Writes `message`'s payload at `offset`; returns its length. */
export function writePayload(view: DataView, offset: number, message: Message): number {
  switch (message.type) {
    case 'HELLO':
      return writeHello(view, offset, message);
    case 'MEASUREMENT':
      return writeMeasurement(view, offset, message);
    case 'DEVICE_STATE':
      return writeDeviceState(view, offset, message);
    case 'SETPOINT':
      return writeSetpoint(view, offset, message);
    case 'CONFIG':
      return writeConfig(view, offset, message);
    case 'HEARTBEAT':
      return writeHeartbeat(view, offset, message);
    case 'TIME_SYNC':
      return writeTimeSync(view, offset, message);
    case 'ALARM':
      return writeAlarm(view, offset, message);
    case 'ACK':
      return writeAck(view, offset, message);
    case 'NACK':
      return writeNack(view, offset, message);
    default:
      throw new TypeError(`unknown message type ${String((message as { type: unknown }).type)}`);
  }
}

/** Reads a payload of a known type. The caller has checked that `length ≥ PAYLOAD_LENGTH[type]`. */
export function readPayload(type: MessageType, view: DataView, offset: number): Message {
  switch (type) {
    case 'HELLO':
      return readHello(view, offset);
    case 'MEASUREMENT':
      return readMeasurement(view, offset);
    case 'DEVICE_STATE':
      return readDeviceState(view, offset);
    case 'SETPOINT':
      return readSetpoint(view, offset);
    case 'CONFIG':
      return readConfig(view, offset);
    case 'HEARTBEAT':
      return readHeartbeat(view, offset);
    case 'TIME_SYNC':
      return readTimeSync(view, offset);
    case 'ALARM':
      return readAlarm(view, offset);
    case 'ACK':
      return readAck(view, offset);
    case 'NACK':
      return readNack(view, offset);
  }
}
