/** ALARM: payload layouts, generated from firmware-protocol/messages.yaml by `npm run generate:protocol`; do not edit. */

/** ALARM / LOG (device → bench), an event with severity, codes and a short ASCII text. */
export interface Alarm {
  type: 'ALARM';
  /** 0 DEBUG, 1 INFO, 2 WARNING, 3 ALARM, 4 CRITICAL */
  severity: number;
  /** 0 device, 1 inverter, 2 BMS, 3 protocol */
  source: number;
  /** device-specific event code */
  code: number;
  /** 701 `Alrm` bits at the event */
  inverterAlarms: number;
  /** 802 `Evt1` bits at the event */
  bmsEvents: number;
  /** the value that triggered it, or NaN */
  value: number;
  uptimeMs: number;
  /** ASCII, NUL-padded (no terminator when all 24 bytes are used); bytes ≥ 0x80 read as `?` */
  text: string;
}
export const ALARM_TEXT_LENGTH = 24;
export const ALARM_LENGTH = 44;

export function writeAlarm(view: DataView, offset: number, m: Alarm): number {
  view.setUint8(offset, m.severity);
  view.setUint8(offset + 1, m.source);
  view.setUint16(offset + 2, m.code, true);
  view.setUint32(offset + 4, m.inverterAlarms >>> 0, true);
  view.setUint32(offset + 8, m.bmsEvents >>> 0, true);
  view.setFloat32(offset + 12, m.value, true);
  view.setUint32(offset + 16, m.uptimeMs >>> 0, true);
  const text = m.text;
  for (let i = 0; i < ALARM_TEXT_LENGTH; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 0;
    view.setUint8(offset + 20 + i, c > 0 && c < 0x80 ? c : c === 0 ? 0 : 0x3f);
  }
  return ALARM_LENGTH;
}

export function readAlarm(view: DataView, offset: number): Alarm {
  let text = '';
  for (let i = 0; i < ALARM_TEXT_LENGTH; i++) {
    const c = view.getUint8(offset + 20 + i);
    if (c === 0) break;
    text += String.fromCharCode(c < 0x80 ? c : 0x3f);
  }
  return {
    type: 'ALARM',
    severity: view.getUint8(offset),
    source: view.getUint8(offset + 1),
    code: view.getUint16(offset + 2, true),
    inverterAlarms: view.getUint32(offset + 4, true),
    bmsEvents: view.getUint32(offset + 8, true),
    value: view.getFloat32(offset + 12, true),
    uptimeMs: view.getUint32(offset + 16, true),
    text,
  };
}
