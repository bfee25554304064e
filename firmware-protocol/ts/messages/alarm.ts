/** ALARM / LOG (device → bench): an event with severity, codes and a short ASCII text. */

export interface Alarm {
  type: 'ALARM';
  /** `AlarmSeverity`. */
  severity: number;
  /** `AlarmSource`. */
  source: number;
  /** Device-specific event code. */
  code: number;
  /** SunSpec 701 `Alrm` bits at the time of the event. */
  inverterAlarms: number;
  /** SunSpec 802 `Evt1` bits at the time of the event. */
  bmsEvents: number;
  /** The measured value that triggered the event (NaN if none). */
  value: number;
  uptimeMs: number;
  /** ASCII, at most 24 bytes; longer text is truncated, non-ASCII replaced by '?'. */
  text: string;
}
export const ALARM_TEXT_LENGTH = 24;
export const ALARM_LENGTH = 20 + ALARM_TEXT_LENGTH;

export function writeAlarm(view: DataView, offset: number, a: Alarm): number {
  view.setUint8(offset, a.severity);
  view.setUint8(offset + 1, a.source);
  view.setUint16(offset + 2, a.code, true);
  view.setUint32(offset + 4, a.inverterAlarms >>> 0, true);
  view.setUint32(offset + 8, a.bmsEvents >>> 0, true);
  view.setFloat32(offset + 12, a.value, true);
  view.setUint32(offset + 16, a.uptimeMs >>> 0, true);
  const text = a.text;
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
