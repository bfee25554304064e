/**
 * A SunSpec Modbus RTU slave emulator: a 10 kW-class battery inverter on a serial line (a pty end
 * in tests) or on any `Transport` (an in-process loopback end), with a register map built from the
 * bundled official model definitions at a chosen base:
 *
 *   - modern map (default): 1, 701, 702, 704, 711, 802. Output follows model 704 when `WSetEna` is
 *     1: `WSet` watts with `WSetMod` 1, `WSetPct` of 702 `WMax` with `WSetMod` 0 (the default);
 *     capped by `WMaxLimPct` when `WMaxLimPctEna` is 1; reactive power follows `VarSet` when
 *     `VarSetEna` is 1 and `VarSetMod` is 4 (vars); SoC in 802;
 *   - legacy battery map (`legacy: true`): 1, 103, 121, 123, 124. Output follows model 124:
 *     `StorCtl_Mod` bit 1 (discharge) with `OutWRte`, bit 0 (charge) with `InWRte`, both in % of
 *     `WChaMax`; model 123 `Conn` 0 disconnects (0 W), `WMaxLimPct` (of 121 `WMax`) caps when
 *     `WMaxLim_Ena` is 1, and `VArWMaxPct` (of `WMax`) sets reactive power when `VArPct_Ena` is 1
 *     with `VArPct_Mod` 1; SoC is 124's `ChaState`;
 *   - legacy PV map (`legacy: true, pv: true`): 1, 103, 121, 123; produces `pvAvailable_w` unless
 *     curtailed by 123.
 *
 * Scale factors other than 10^0 (WChaMax, WMax: 10^1) catch a driver that ignores them.
 * Requests are framed the RTU way, by t3.5 of line silence; CRC-16/MODBUS is checked and bad
 * frames are ignored, as a real slave does. Supports read holding/input registers (3, 4), write
 * single (6) and write multiple (16), with exceptions 1 (function), 2 (address) and 3 (value).
 * The output follows its target with a first-order lag and the SoC integrates it. For tests, the
 * next answers can be delayed (`delayAnswers`) or corrupted (`garbleAnswers`).
 *
 *   const slave = await startSunSpecSlave({ path: pair.b, unitId: 1 });
 *   … slave.state.w …
 *   await slave.stop();
 */
import { SerialPort } from 'serialport';
import { crc16modbus, rtuFrame } from './modbus-rtu.ts';
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
import type { Transport } from './transport.ts';

export { crc16modbus };

export interface SunSpecSlaveOptions {
  /** Serial device to open (a pty end), or … */
  path?: string;
  /** … an open transport to serve on (the slave does not close it). */
  transport?: Transport;
  /** @default 19200 */
  baud?: number;
  /** @default 1 */
  unitId?: number;
  /** Where "SunS" sits: 40000, 50000 or 0. @default 40000 */
  base?: number;
  /** Present the legacy map (1, 103, 121, 123, 124) instead of the modern one. @default false */
  legacy?: boolean;
  /**
   * Legacy only: a PV inverter (1, 103, 121, 123: no storage) producing `pvAvailable_w` unless
   * curtailed by 123 `WMaxLimPct`. @default false
   */
  pv?: boolean;
  /** PV power available, W. @default 0.8 × rating_w */
  pvAvailable_w?: number;
  /** Legacy only: start disconnected (123 `Conn` 0), as after a site's own stop. @default false */
  disconnected?: boolean;
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
  var: number;
  soc: number;
  requests: number;
  crcErrors: number;
  /** Register writes received: start address and values. */
  writes: { address: number; values: number[] }[];
  /** Answers sent late or corrupted on purpose. */
  delayed: number;
  garbled: number;
}

export interface SunSpecSlave {
  state: SunSpecSlaveState;
  /** Address of each model's ID register. */
  modelAddress: Map<number, number>;
  /** Scaled value of a point as the device holds it now. */
  point(model: number, name: string): number | undefined;
  /** The next `count` answers are sent `delay_ms` after their request (later than a master waits). */
  delayAnswers(delay_ms: number, count?: number): void;
  /** The next `count` answers go out with one payload byte flipped (their CRC no longer matches). */
  garbleAnswers(count?: number): void;
  stop(): Promise<void>;
}

const MODERN_MODELS = [1, 701, 702, 704, 711, 802];
const LEGACY_MODELS = [1, 103, 121, 123, 124];
const LEGACY_PV_MODELS = [1, 103, 121, 123];

export async function startSunSpecSlave(options: SunSpecSlaveOptions): Promise<SunSpecSlave> {
  const baud = options.baud ?? 19200;
  const unitId = options.unitId ?? 1;
  const base = options.base ?? 40000;
  const legacy = options.legacy ?? false;
  const rating = options.rating_w ?? 10_000;
  const capacity = options.capacity_wh ?? 10_000;
  const tau = options.tau_s ?? 0.2;

  // Build the map.
  const regs: number[] = [...SUNS_MARKER];
  const modelAddress = new Map<number, number>();
  const layouts = new Map<number, ModelLayout>();
  const pv = legacy && (options.pv ?? false);
  for (const id of pv ? LEGACY_PV_MODELS : legacy ? LEGACY_MODELS : MODERN_MODELS) {
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
  const get = (id: number, name: string) => readPoint(layouts.get(id)!, view(id), name);
  setString(1, 'Mn', 'gridloop');
  setString(
    1,
    'Md',
    pv ? 'emulated legacy PV inverter' : legacy ? 'emulated legacy BESS inverter' : 'emulated BESS inverter',
  );
  setString(1, 'Vr', '1.0.0');
  setString(1, 'SN', legacy ? 'EMU-L001' : 'EMU-0001');
  setRaw(1, 'DA', unitId);
  const state: SunSpecSlaveState = {
    w: 0,
    var: 0,
    soc: options.soc0 ?? 0.5,
    requests: 0,
    crcErrors: 0,
    writes: [],
    delayed: 0,
    garbled: 0,
  };

  /** The power the device aims for now, from its control model(s). */
  let target: () => number;
  let targetVar: () => number;
  /** Writes the measured output and SoC into the map. */
  let publish: () => void;
  if (legacy) {
    for (const [name, sf] of [
      ['A_SF', -1],
      ['V_SF', -1],
      ['W_SF', 0],
      ['Hz_SF', -2],
      ['VA_SF', 0],
      ['VAr_SF', 0],
      ['PF_SF', -2],
      ['WH_SF', 0],
      ['Tmp_SF', -1],
    ] as const)
      setRaw(103, name, sf);
    set(103, 'Hz', options.frequency_hz ?? 50);
    for (const ph of ['PhVphA', 'PhVphB', 'PhVphC']) set(103, ph, 230);
    setRaw(103, 'St', 4);
    setRaw(123, 'WMaxLimPct_SF', -1);
    setRaw(123, 'OutPFSet_SF', -3);
    setRaw(123, 'VArPct_SF', -1);
    setRaw(123, 'Conn', options.disconnected ? 0 : 1);
    set(123, 'WMaxLimPct', 100);
    // WMax (the reference of 123's percentages) with a scale factor of 10^1, to catch a driver
    // that ignores it.
    setRaw(121, 'WMax_SF', 1);
    set(121, 'WMax', rating);
    const wMax = () => get(121, 'WMax') ?? rating;
    const pvAvailable = options.pvAvailable_w ?? 0.8 * rating;
    if (!pv) {
      // A scale factor other than 0 on WChaMax, so a driver that ignores it is caught.
      setRaw(124, 'WChaMax_SF', 1);
      setRaw(124, 'WChaDisChaGra_SF', 0);
      setRaw(124, 'ChaState_SF', -1);
      setRaw(124, 'InOutWRte_SF', -2);
      set(124, 'WChaMax', rating);
      set(124, 'WChaGra', 100);
      set(124, 'WDisChaGra', 100);
      setRaw(124, 'ChaSt', 6);
    }
    target = () => {
      if (get(123, 'Conn') === 0) return 0;
      let w = pvAvailable;
      if (!pv) {
        const mode = view(124)[layouts.get(124)!.points.get('StorCtl_Mod')!.offset];
        const wChaMax = get(124, 'WChaMax') ?? rating;
        w = 0;
        if (mode & 2) w += ((get(124, 'OutWRte') ?? 0) / 100) * wChaMax;
        if (mode & 1) w -= ((get(124, 'InWRte') ?? 0) / 100) * wChaMax;
      }
      if (get(123, 'WMaxLim_Ena') === 1) {
        const cap = ((get(123, 'WMaxLimPct') ?? 100) / 100) * wMax();
        w = Math.max(-cap, Math.min(cap, w));
      }
      return w;
    };
    targetVar = () => {
      if (get(123, 'Conn') === 0 || get(123, 'VArPct_Ena') !== 1 || get(123, 'VArPct_Mod') !== 1) return 0;
      return ((get(123, 'VArWMaxPct') ?? 0) / 100) * wMax();
    };
    publish = () => {
      set(103, 'W', Math.round(state.w));
      set(103, 'VAr', Math.round(state.var));
      if (!pv) {
        set(124, 'ChaState', Math.round(state.soc * 1000) / 10);
        setRaw(124, 'ChaSt', Math.abs(state.w) < 1 ? 6 : state.w > 0 ? 3 : 4);
      }
    };
  } else {
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
    setRaw(704, 'WSetPct_SF', -2);
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
    target = () => {
      let w = 0;
      // WSetMod 0 (the default): WSetPct of WMax; 1: WSet in watts.
      if (get(704, 'WSetEna') === 1) {
        w =
          get(704, 'WSetMod') === 1
            ? (get(704, 'WSet') ?? 0)
            : ((get(704, 'WSetPct') ?? 0) / 100) * (get(702, 'WMax') ?? rating);
      }
      if (get(704, 'WMaxLimPctEna') === 1) {
        const cap = ((get(704, 'WMaxLimPct') ?? 100) / 100) * rating;
        w = Math.max(-cap, Math.min(cap, w));
      }
      return w;
    };
    // Only VarSetMod 4 (vars) is emulated; other modes hold 0 var.
    targetVar = () =>
      get(704, 'VarSetEna') === 1 && get(704, 'VarSetMod') === 4 ? (get(704, 'VarSet') ?? 0) : 0;
    publish = () => {
      set(701, 'W', Math.round(state.w));
      set(701, 'Var', Math.round(state.var));
      set(802, 'SoC', Math.round(state.soc * 1000) / 10);
    };
  }
  publish();

  // Device physics, 50 Hz.
  const physicsMs = 20;
  const physics = setInterval(() => {
    let aim = Math.max(-rating, Math.min(rating, target()));
    if (!pv && ((state.soc <= 0.05 && aim > 0) || (state.soc >= 0.95 && aim < 0))) aim = 0;
    const dt = physicsMs / 1000;
    const lag = 1 - Math.exp(-dt / tau);
    state.w += (aim - state.w) * lag;
    state.var += (Math.max(-rating, Math.min(rating, targetVar())) - state.var) * lag;
    if (!pv) state.soc -= (state.w * dt) / 3600 / capacity;
    publish();
  }, physicsMs);

  // The line: a serial port of our own, or the transport we were given.
  let write: (bytes: Uint8Array) => void;
  let closeLine: () => Promise<void>;
  let onBytes: (chunk: Uint8Array) => void = () => {};
  if (options.transport) {
    const transport = options.transport;
    const queue: Uint8Array[] = [];
    let busy = false;
    const next = () => {
      const bytes = queue.shift();
      if (!bytes || !transport.isOpen) {
        busy = false;
        return;
      }
      busy = true;
      transport.write(bytes).then(next, next);
    };
    write = (bytes) => {
      queue.push(bytes);
      if (!busy) next();
    };
    const listener = (chunk: Uint8Array) => onBytes(chunk);
    transport.on('data', listener);
    closeLine = async () => {
      transport.off('data', listener);
    };
  } else {
    if (!options.path) throw new TypeError('SunSpec slave: give a path or a transport');
    const port = new SerialPort({ path: options.path, baudRate: baud, autoOpen: false });
    await new Promise<void>((resolve, reject) =>
      port.open((err) =>
        err ? reject(new Error(`SunSpec slave: cannot open ${options.path}: ${err.message}`)) : resolve(),
      ),
    );
    port.on('data', (chunk: Buffer) => onBytes(chunk));
    port.on('error', () => {});
    write = (bytes) => {
      if (port.isOpen) port.write(bytes);
    };
    closeLine = async () => {
      if (port.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
    };
  }

  // RTU framing: a frame ends after t3.5 of silence (timer resolution is ~1 ms, so never less).
  const gapMs = Math.max(1, Math.ceil(rtuFrameGap_ms(baud)));
  let pending: Uint8Array[] = [];
  let gapTimer: NodeJS.Timeout | undefined;
  onBytes = (chunk) => {
    pending.push(Uint8Array.from(chunk));
    clearTimeout(gapTimer);
    gapTimer = setTimeout(() => {
      const frame = Buffer.concat(pending);
      pending = [];
      handle(new Uint8Array(frame));
    }, gapMs);
  };

  let delayMs = 0;
  let delayCount = 0;
  let garbleCount = 0;
  const lateTimers = new Set<NodeJS.Timeout>();
  const reply = (pdu: number[]): boolean => {
    const out = rtuFrame(unitId, pdu);
    if (garbleCount > 0) {
      garbleCount--;
      state.garbled++;
      out[out.length - 3] ^= 0x5a;
    }
    if (delayCount > 0) {
      delayCount--;
      state.delayed++;
      const timer = setTimeout(() => {
        lateTimers.delete(timer);
        write(out);
      }, delayMs);
      lateTimers.add(timer);
      return true;
    }
    write(out);
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
    point: get,
    delayAnswers(ms, count = 1) {
      delayMs = ms;
      delayCount = count;
    },
    garbleAnswers(count = 1) {
      garbleCount = count;
    },
    stop: async () => {
      clearInterval(physics);
      clearTimeout(gapTimer);
      for (const timer of lateTimers) clearTimeout(timer);
      await closeLine();
    },
  };
}
