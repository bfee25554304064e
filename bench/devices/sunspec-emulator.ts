/**
 * A SunSpec Modbus RTU slave emulator: a 10 kW-class battery inverter on a serial line (a pty end
 * in tests), with a register map built from the bundled model definitions (1, 701, 702, 704, 711,
 * 802) at a chosen base. Requests are framed the RTU way, by t3.5 of line silence; CRC-16/MODBUS is
 * checked and bad frames are ignored, as a real slave does. Supports read holding/input registers
 * (3, 4), write single (6) and write multiple (16), with exceptions 1 (function), 2 (address) and
 * 3 (value). Output follows the model 704 `WSet` set-point when `WSetEna` is 1 (first-order lag),
 * is capped by `WMaxLimPct` when enabled, and the battery's SoC integrates it.
 *
 *   const slave = await startSunSpecSlave({ path: pair.b, unitId: 1 });
 *   … slave.state.w …
 *   await slave.stop();
 */
import { SerialPort } from 'serialport';
import {
  END_MODEL_ID,
  encodePoint,
  encodeRaw,
  encodeString,
  type ModelLayout,
  modelLayout,
  readPoint,
  rtuFrameGap_ms,
  SUNS_MARKER,
} from './sunspec-map.ts';

export interface SunSpecSlaveOptions {
  path: string;
  /** @default 19200 */
  baud?: number;
  /** @default 1 */
  unitId?: number;
  /** Where "SunS" sits: 40000, 50000 or 0. @default 40000 */
  base?: number;
  /** @default 10000 */
  rating_w?: number;
  /** @default 10000 */
  capacity_wh?: number;
  /** 0…1. @default 0.5 */
  soc0?: number;
  /** Output time constant, s. @default 0.2 */
  tau_s?: number;
  /** Grid frequency the device reports, Hz. @default 50 */
  frequency_hz?: number;
}

export interface SunSpecSlaveState {
  w: number;
  soc: number;
  requests: number;
  crcErrors: number;
  /** Register writes received: start address and values. */
  writes: { address: number; values: number[] }[];
}

export interface SunSpecSlave {
  state: SunSpecSlaveState;
  /** Address of each model's ID register. */
  modelAddress: Map<number, number>;
  stop(): Promise<void>;
}

const MODELS = [1, 701, 702, 704, 711, 802];

/** CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF). */
export function crc16modbus(bytes: Uint8Array, end = bytes.length): number {
  let crc = 0xffff;
  for (let i = 0; i < end; i++) {
    crc ^= bytes[i];
    for (let b = 0; b < 8; b++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

export async function startSunSpecSlave(options: SunSpecSlaveOptions): Promise<SunSpecSlave> {
  const baud = options.baud ?? 19200;
  const unitId = options.unitId ?? 1;
  const base = options.base ?? 40000;
  const rating = options.rating_w ?? 10_000;
  const capacity = options.capacity_wh ?? 10_000;
  const tau = options.tau_s ?? 0.2;

  // Build the map.
  const regs: number[] = [...SUNS_MARKER];
  const modelAddress = new Map<number, number>();
  const layouts = new Map<number, ModelLayout>();
  for (const id of MODELS) {
    const layout = modelLayout(id);
    layouts.set(id, layout);
    modelAddress.set(id, base + regs.length);
    const block = new Array<number>(layout.length + 2).fill(0);
    block[0] = id;
    block[1] = layout.length;
    regs.push(...block);
  }
  regs.push(END_MODEL_ID, 0);
  const memory = new Uint16Array(regs);
  const view = (id: number) => {
    const start = modelAddress.get(id)! - base;
    return memory.subarray(start, start + layouts.get(id)!.length + 2);
  };
  const set = (id: number, name: string, value: number) => {
    const layout = layouts.get(id)!;
    const p = layout.points.get(name)!;
    view(id).set(encodePoint(layout, view(id), name, value), p.offset);
  };
  const setRaw = (id: number, name: string, raw: number) => {
    const p = layouts.get(id)!.points.get(name)!;
    view(id).set(encodeRaw(p, raw), p.offset);
  };
  const setString = (id: number, name: string, text: string) => {
    const p = layouts.get(id)!.points.get(name)!;
    view(id).set(encodeString(text, p.size), p.offset);
  };
  setString(1, 'Mn', 'gridloop');
  setString(1, 'Md', 'emulated BESS inverter');
  setString(1, 'Vr', '1.0.0');
  setString(1, 'SN', 'EMU-0001');
  setRaw(1, 'DA', unitId);
  for (const [name, sf] of [
    ['W_SF', 0],
    ['Var_SF', 0],
    ['VA_SF', 0],
    ['Hz_SF', -2],
    ['V_SF', -1],
    ['PF_SF', -3],
    ['A_SF', -1],
  ] as const)
    setRaw(701, name, sf);
  setRaw(701, 'InvSt', 3);
  setRaw(701, 'ConnSt', 1);
  set(701, 'Hz', options.frequency_hz ?? 50);
  set(701, 'LNV', 230);
  setRaw(702, 'W_SF', 0);
  setRaw(702, 'VA_SF', 0);
  setRaw(702, 'Var_SF', 0);
  set(702, 'WMaxRtg', rating);
  set(702, 'WMax', rating);
  set(702, 'VAMaxRtg', rating);
  setRaw(704, 'WSet_SF', 0);
  setRaw(704, 'WMaxLimPct_SF', -1);
  setRaw(704, 'VarSet_SF', 0);
  set(704, 'WMaxLimPct', 100);
  setRaw(802, 'SoC_SF', -1);
  setRaw(802, 'WHRtg_SF', 0);
  setRaw(802, 'WChaDisChaMax_SF', 0);
  set(802, 'WHRtg', capacity);
  set(802, 'WChaRteMax', rating);
  set(802, 'WDisChaRteMax', rating);
  set(802, 'SoCMax', 95);
  set(802, 'SoCMin', 5);

  const state: SunSpecSlaveState = { w: 0, soc: options.soc0 ?? 0.5, requests: 0, crcErrors: 0, writes: [] };
  set(802, 'SoC', state.soc * 100);

  // Device physics, 50 Hz.
  const physicsMs = 20;
  const physics = setInterval(() => {
    const ctl = view(704);
    const l704 = layouts.get(704)!;
    const enabled = readPoint(l704, ctl, 'WSetEna') === 1;
    let target = enabled ? (readPoint(l704, ctl, 'WSet') ?? 0) : 0;
    if (readPoint(l704, ctl, 'WMaxLimPctEna') === 1) {
      const cap = ((readPoint(l704, ctl, 'WMaxLimPct') ?? 100) / 100) * rating;
      target = Math.max(-cap, Math.min(cap, target));
    }
    target = Math.max(-rating, Math.min(rating, target));
    if ((state.soc <= 0.05 && target > 0) || (state.soc >= 0.95 && target < 0)) target = 0;
    const dt = physicsMs / 1000;
    state.w += (target - state.w) * (1 - Math.exp(-dt / tau));
    state.soc -= (state.w * dt) / 3600 / capacity;
    set(701, 'W', Math.round(state.w));
    set(802, 'SoC', Math.round(state.soc * 1000) / 10);
  }, physicsMs);

  const port = new SerialPort({ path: options.path, baudRate: baud, autoOpen: false });
  await new Promise<void>((resolve, reject) =>
    port.open((err) =>
      err ? reject(new Error(`SunSpec slave: cannot open ${options.path}: ${err.message}`)) : resolve(),
    ),
  );

  // RTU framing: a frame ends after t3.5 of silence (timer resolution is ~1 ms, so never less).
  const gapMs = Math.max(1, Math.ceil(rtuFrameGap_ms(baud)));
  let pending: Buffer[] = [];
  let gapTimer: NodeJS.Timeout | undefined;
  port.on('data', (chunk: Buffer) => {
    pending.push(chunk);
    clearTimeout(gapTimer);
    gapTimer = setTimeout(() => {
      const frame = Buffer.concat(pending);
      pending = [];
      handle(new Uint8Array(frame));
    }, gapMs);
  });
  port.on('error', () => {});

  const reply = (pdu: number[]): boolean => {
    const out = new Uint8Array(pdu.length + 3);
    out[0] = unitId;
    out.set(pdu, 1);
    const crc = crc16modbus(out, pdu.length + 1);
    out[pdu.length + 1] = crc & 0xff;
    out[pdu.length + 2] = crc >> 8;
    if (port.isOpen) port.write(out);
    return true;
  };
  const inMap = (address: number, count: number) =>
    count >= 1 && address >= base && address + count <= base + memory.length;

  /** Answers one request; false when it is ignored (too short, bad CRC, another unit). */
  function handle(frame: Uint8Array): boolean {
    if (frame.length < 4) return false;
    const crc = crc16modbus(frame, frame.length - 2);
    if ((frame[frame.length - 2] | (frame[frame.length - 1] << 8)) !== crc) {
      state.crcErrors++;
      return false;
    }
    if (frame[0] !== unitId) return false;
    state.requests++;
    const fc = frame[1];
    const word = (i: number) => (frame[i] << 8) | frame[i + 1];
    const exception = (code: number) => reply([fc | 0x80, code]);
    if (fc === 3 || fc === 4) {
      const address = word(2);
      const count = word(4);
      if (count > 125) return exception(3);
      if (!inMap(address, count)) return exception(2);
      const pdu = [fc, count * 2];
      for (let i = 0; i < count; i++) {
        const r = memory[address - base + i];
        pdu.push(r >> 8, r & 0xff);
      }
      return reply(pdu);
    }
    if (fc === 6 || fc === 16) {
      const address = word(2);
      const values: number[] = [];
      if (fc === 6) values.push(word(4));
      else {
        const count = word(4);
        if (frame[6] !== count * 2 || frame.length !== 9 + count * 2) return exception(3);
        for (let i = 0; i < count; i++) values.push(word(7 + 2 * i));
      }
      if (!inMap(address, values.length)) return exception(2);
      memory.set(values, address - base);
      state.writes.push({ address, values });
      if (fc === 6) return reply([6, frame[2], frame[3], frame[4], frame[5]]);
      return reply([16, frame[2], frame[3], frame[4], frame[5]]);
    }
    return exception(1);
  }

  return {
    state,
    modelAddress,
    stop: async () => {
      clearInterval(physics);
      clearTimeout(gapTimer);
      if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    },
  };
}
