/** Link housekeeping: HEARTBEAT, TIME_SYNC, ACK and NACK. */

export interface Heartbeat {
  type: 'HEARTBEAT';
  uptimeMs: number;
  /** Valid frames the sender has received. */
  rxFrames: number;
  /** Bad frames the sender has counted (CRC, COBS, length, version, flags, signature, unknown id). */
  rxErrors: number;
  txFrames: number;
  /** SunSpec 701 `InvSt` of a device; 0 from the bench. */
  state: number;
}
export const HEARTBEAT_LENGTH = 20;

export function writeHeartbeat(view: DataView, offset: number, h: Heartbeat): number {
  view.setUint32(offset, h.uptimeMs >>> 0, true);
  view.setUint32(offset + 4, h.rxFrames >>> 0, true);
  view.setUint32(offset + 8, h.rxErrors >>> 0, true);
  view.setUint32(offset + 12, h.txFrames >>> 0, true);
  view.setUint8(offset + 16, h.state);
  view.setUint8(offset + 17, 0);
  view.setUint16(offset + 18, 0, true);
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

export const TimeSyncPhase = { REQUEST: 0, RESPONSE: 1 } as const;

/** NTP-style exchange: offset = ((t2 − t1) + (t3 − t4)) / 2, delay = (t4 − t1) − (t3 − t2). */
export interface TimeSync {
  type: 'TIME_SYNC';
  /** `TimeSyncPhase`. */
  phase: number;
  /** Requester's clock when the request left, µs. */
  originUs: bigint;
  /** Responder's clock when the request arrived, µs (0 in a request). */
  receiveUs: bigint;
  /** Responder's clock when the response left, µs (0 in a request). */
  transmitUs: bigint;
}
export const TIME_SYNC_LENGTH = 28;

export function writeTimeSync(view: DataView, offset: number, t: TimeSync): number {
  view.setUint8(offset, t.phase);
  view.setUint8(offset + 1, 0);
  view.setUint16(offset + 2, 0, true);
  view.setBigUint64(offset + 4, t.originUs, true);
  view.setBigUint64(offset + 12, t.receiveUs, true);
  view.setBigUint64(offset + 20, t.transmitUs, true);
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

export interface Ack {
  type: 'ACK';
  /** Message id of the acknowledged frame. */
  messageId: number;
  /** Sequence number of the acknowledged frame. */
  seq: number;
}
export const ACK_LENGTH = 4;

export function writeAck(view: DataView, offset: number, a: Ack): number {
  view.setUint8(offset, a.messageId);
  view.setUint8(offset + 1, 0);
  view.setUint16(offset + 2, a.seq, true);
  return ACK_LENGTH;
}

export function readAck(view: DataView, offset: number): Ack {
  return { type: 'ACK', messageId: view.getUint8(offset), seq: view.getUint16(offset + 2, true) };
}

export interface Nack {
  type: 'NACK';
  messageId: number;
  /** `NackReason`. */
  reason: number;
  seq: number;
  /** Reason-specific detail (e.g. the offending field bit for OUT_OF_RANGE). */
  detail: number;
}
export const NACK_LENGTH = 8;

export function writeNack(view: DataView, offset: number, n: Nack): number {
  view.setUint8(offset, n.messageId);
  view.setUint8(offset + 1, n.reason);
  view.setUint16(offset + 2, n.seq, true);
  view.setUint32(offset + 4, n.detail >>> 0, true);
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
