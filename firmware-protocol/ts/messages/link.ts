/** HEARTBEAT, TIME_SYNC, ACK, NACK: payload layouts, generated from firmware-protocol/messages.yaml by `npm run generate:protocol`; do not edit. */

/** HEARTBEAT (both ways), once a second, and while a run is paused. */
export interface Heartbeat {
  type: 'HEARTBEAT';
  /** sender uptime */
  uptimeMs: number;
  /** valid frames received */
  rxFrames: number;
  /** bad frames counted (every rejection of §11) */
  rxErrors: number;
  /** frames sent */
  txFrames: number;
  /** device: SunSpec 701 `InvSt`; bench: 0 */
  state: number;
}
export const HEARTBEAT_LENGTH = 20;

export function writeHeartbeat(view: DataView, offset: number, m: Heartbeat): number {
  view.setUint32(offset, m.uptimeMs >>> 0, true);
  view.setUint32(offset + 4, m.rxFrames >>> 0, true);
  view.setUint32(offset + 8, m.rxErrors >>> 0, true);
  view.setUint32(offset + 12, m.txFrames >>> 0, true);
  view.setUint8(offset + 16, m.state);
  view.setUint8(offset + 17, 0);
  view.setUint8(offset + 18, 0);
  view.setUint8(offset + 19, 0);
  return HEARTBEAT_LENGTH;
}

export function readHeartbeat(view: DataView, offset: number): Heartbeat {
  return {
    type: 'HEARTBEAT',
    uptimeMs: view.getUint32(offset, true),
    rxFrames: view.getUint32(offset + 4, true),
    rxErrors: view.getUint32(offset + 8, true),
    txFrames: view.getUint32(offset + 12, true),
    state: view.getUint8(offset + 16),
  };
}

/** TIME_SYNC `phase`. */
export const TimeSyncPhase = {
  REQUEST: 0,
  RESPONSE: 1,
} as const;

/** TIME_SYNC, an NTP-style exchange: offset = ((t2 − t1) + (t3 − t4)) / 2, delay = (t4 − t1) − (t3 − t2). */
export interface TimeSync {
  type: 'TIME_SYNC';
  /** 0 request, 1 response */
  phase: number;
  /** requester's clock when the request left (copied into the response) */
  originUs: bigint;
  /** responder's clock when the request arrived (0 in a request) */
  receiveUs: bigint;
  /** responder's clock when the response left (0 in a request) */
  transmitUs: bigint;
}
export const TIME_SYNC_LENGTH = 28;

export function writeTimeSync(view: DataView, offset: number, m: TimeSync): number {
  view.setUint8(offset, m.phase);
  view.setUint8(offset + 1, 0);
  view.setUint8(offset + 2, 0);
  view.setUint8(offset + 3, 0);
  view.setBigUint64(offset + 4, m.originUs, true);
  view.setBigUint64(offset + 12, m.receiveUs, true);
  view.setBigUint64(offset + 20, m.transmitUs, true);
  return TIME_SYNC_LENGTH;
}

export function readTimeSync(view: DataView, offset: number): TimeSync {
  return {
    type: 'TIME_SYNC',
    phase: view.getUint8(offset),
    originUs: view.getBigUint64(offset + 4, true),
    receiveUs: view.getBigUint64(offset + 12, true),
    transmitUs: view.getBigUint64(offset + 20, true),
  };
}

/** ACK (both ways), the frame `seq` of message `msg_id` was applied. */
export interface Ack {
  type: 'ACK';
  /** id of the frame answered */
  messageId: number;
  /** `seq` of the frame answered */
  seq: number;
}
export const ACK_LENGTH = 4;

export function writeAck(view: DataView, offset: number, m: Ack): number {
  view.setUint8(offset, m.messageId);
  view.setUint8(offset + 1, 0);
  view.setUint16(offset + 2, m.seq, true);
  return ACK_LENGTH;
}

export function readAck(view: DataView, offset: number): Ack {
  return { type: 'ACK', messageId: view.getUint8(offset), seq: view.getUint16(offset + 2, true) };
}

/** NACK (both ways), the frame `seq` of message `msg_id` was refused, and why. */
export interface Nack {
  type: 'NACK';
  /** id of the frame answered */
  messageId: number;
  /** 1 UNKNOWN_MESSAGE, 2 BAD_LENGTH, 3 OUT_OF_RANGE, 4 UNSUPPORTED_FUNCTION, 5 UNSIGNED, 6 BAD_SIGNATURE, 7 REPLAY, 8 BUSY, 9 WRONG_STATE */
  reason: number;
  /** `seq` of the frame answered */
  seq: number;
  /** reason-specific (e.g. the offending field bit) */
  detail: number;
}
export const NACK_LENGTH = 8;

export function writeNack(view: DataView, offset: number, m: Nack): number {
  view.setUint8(offset, m.messageId);
  view.setUint8(offset + 1, m.reason);
  view.setUint16(offset + 2, m.seq, true);
  view.setUint32(offset + 4, m.detail >>> 0, true);
  return NACK_LENGTH;
}

export function readNack(view: DataView, offset: number): Nack {
  return {
    type: 'NACK',
    messageId: view.getUint8(offset),
    reason: view.getUint8(offset + 1),
    seq: view.getUint16(offset + 2, true),
    detail: view.getUint32(offset + 4, true),
  };
}
