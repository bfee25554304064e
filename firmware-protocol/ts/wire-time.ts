/**
 * Wire time of the per-step exchange (MEASUREMENT down, DEVICE_STATE up) at a given UART baud rate,
 * for SPEC.md §9 and for a bench choosing its step rate. 8N1 framing: 10 bit times per byte.
 */
import { encodeFrame } from './frame.ts';

export const BITS_PER_UART_BYTE = 10;

export const COMMON_BAUD_RATES = [
  9600, 19200, 38400, 57600, 115200, 230400, 460800, 921600, 1_000_000, 2_000_000, 3_000_000,
] as const;

/** Wire bytes (COBS + delimiter) of the exchange frames, unsigned and signed. */
export function exchangeFrameBytes(): { measurement: number; deviceState: number; signedExtra: number } {
  const m = encodeFrame(
    {
      type: 'MEASUREMENT',
      step: 0,
      twinTimeS: 0,
      voltagePu: 1,
      voltageAngleRad: 0,
      frequencyHz: 50,
      rocofHzPerS: 0,
    },
    { seq: 1, deviceId: 1 },
  );
  const s = encodeFrame(
    {
      type: 'DEVICE_STATE',
      step: 0,
      activePowerW: 1,
      reactivePowerVar: 1,
      stateOfCharge: 0.5,
      mode: 1,
      inverterState: 3,
      chargeState: 3,
      inverterAlarms: 0,
      bmsEvents: 0,
    },
    { seq: 1, deviceId: 1 },
  );
  return { measurement: m.length, deviceState: s.length, signedExtra: 13 };
}

export interface WireTimeRow {
  baud: number;
  /** Time one MEASUREMENT frame occupies the line, µs. */
  frameUs: number;
  /** Lock-step exchange (request, then answer), µs, excluding device processing. */
  exchangeUs: number;
  /** Highest lock-step exchange rate, Hz. */
  maxRateHz: number;
  /** Same with both frames signed. */
  signedMaxRateHz: number;
  /** Highest rate keeping half of each period free for processing and jitter, Hz. */
  halfLoadRateHz: number;
}

export function wireTimeTable(bauds: readonly number[] = COMMON_BAUD_RATES): WireTimeRow[] {
  const { measurement, deviceState, signedExtra } = exchangeFrameBytes();
  return bauds.map((baud) => {
    const byteUs = (BITS_PER_UART_BYTE / baud) * 1e6;
    const exchangeUs = (measurement + deviceState) * byteUs;
    const signedUs = (measurement + deviceState + 2 * signedExtra) * byteUs;
    return {
      baud,
      frameUs: measurement * byteUs,
      exchangeUs,
      maxRateHz: 1e6 / exchangeUs,
      signedMaxRateHz: 1e6 / signedUs,
      halfLoadRateHz: 1e6 / (2 * exchangeUs),
    };
  });
}

/** The table as it appears in SPEC.md (Markdown). */
export function wireTimeMarkdown(): string {
  const { measurement, deviceState } = exchangeFrameBytes();
  const lines = [
    `| baud | MEASUREMENT on the wire (${measurement} B) | exchange (${measurement} + ${deviceState} B) | max lock-step rate | signed | at ≤ 50 % line load |`,
    '|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of wireTimeTable()) {
    lines.push(
      `| ${r.baud.toLocaleString('en-US')} | ${(r.frameUs / 1000).toFixed(3)} ms | ${(r.exchangeUs / 1000).toFixed(3)} ms | ${Math.floor(r.maxRateHz).toLocaleString('en-US')} Hz | ${Math.floor(r.signedMaxRateHz).toLocaleString('en-US')} Hz | ${Math.floor(r.halfLoadRateHz).toLocaleString('en-US')} Hz |`,
    );
  }
  return lines.join('\n');
}
