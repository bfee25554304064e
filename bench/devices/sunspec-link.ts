/**
 * A SunSpec device (inverter, battery) over Modbus RTU, on any `Transport` (a serial port by
 * default; a loopback end in unit tests) through the project's RTU master (modbus-rtu.ts). On open
 * it finds the map ("SunS" at 40000, 50000 or 0), walks the model blocks, and reads the common
 * model (1) and the blocks it uses with their scale factors.
 *
 *   - modern devices: each exchange polls model 701 W/Var and the battery's 802 SoC; set-points
 *     go to model 704 (`WSet` with `WSetMod` watts, `VarSet` with `VarSetMod` vars, each enabled);
 *     the emergency stop writes `WSet` 0, `VarSet` 0 and `WMaxLimPct` 0 % enabled;
 *   - legacy devices: each exchange polls model 103 W/VAr and 124 `ChaState`; P set-points go to
 *     model 124 (`StorCtl_Mod` discharge with `OutWRte`, or charge with `InWRte`, in % of the
 *     device's `WChaMax`) or, without storage, to 123 `WMaxLimPct` (% of 121 `WMax`); Q to 123
 *     `VArWMaxPct`; 123 `Conn` 1 connects the device first. The emergency stop writes 124 hold with
 *     both rates 0, 123 `WMaxLimPct` 0 % enabled, reactive control off and `Conn` 0 (disconnect).
 *
 * Every Modbus frame, both ways, is captured for the run's frames.pcap.gz (drainFrames). An
 * answer that comes after its request timed out, or noise on the line, is counted (`late`,
 * `badFrames`, `crcErrors`) and never decoded. A SunSpec device measures its own terminals, so
 * the twin's bus measurement is not sent to it: the lab's grid simulator (if any) does that.
 */
import type { BusMeasurement } from '../../twin/api.ts';
import type { TwinSetpoint } from './device-link.ts';
import { PortLink } from './link-base.ts';
import type { DeviceLinkConfig } from './link-config.ts';
import { ModbusException, ModbusRtuMaster } from './modbus-rtu.ts';
import type { LimitResult } from './safety.ts';
import {
  END_MODEL_ID,
  encodePoint,
  type ModelLayout,
  modelLayout,
  readPoint,
  readString,
  SUNS_MARKER,
  SUNSPEC_BASES,
} from './sunspec-map.ts';
import type { Transport } from './transport.ts';
import { createSerialTransport } from './tty-serial-transport.ts';

/** How often a lost port is tried again, ms (the map is read again each time). */
const REOPEN_PERIOD_MS = 500;
/** Models this driver reads or writes. */
const USED_MODELS = new Set([1, 701, 702, 704, 711, 802, 103, 121, 123, 124]);
/** Model 704 WSetMod / VarSetMod values: absolute watts, absolute vars. */
const WSET_MOD_WATTS = 1;
const VARSET_MOD_VARS = 4;
/** Model 123 VArPct_Mod: percentages of WMax. */
const VARPCT_MOD_WMAX = 1;
/** StorCtl_Mod bits (model 124). */
const STOR_CHARGE = 1;
const STOR_DISCHARGE = 2;

export interface SunSpecModelBlock {
  id: number;
  /** Address of the model's ID register. */
  address: number;
  length: number;
}

export interface SunSpecIdentity {
  base: number;
  models: SunSpecModelBlock[];
  manufacturer: string;
  model: string;
  serialNumber: string;
  version: string;
  /** 'modern' (701/704/802) or 'legacy' (103/123/124). */
  generation: 'modern' | 'legacy';
}

export interface SunSpecLinkOptions {
  /** Makes the transport for each (re)open. @default `createSerialTransport` on config.path (reads on the loop thread) */
  transport?: () => Transport;
  /** Answer timeout, ms. @default 250 */
  timeout_ms?: number;
  /** Monotonic clock, ms. @default performance.now */
  now?: () => number;
}

interface Block {
  layout: ModelLayout;
  address: number;
  /** The model's registers as last read (ID first). */
  regs: number[];
}

export class SunSpecLink extends PortLink {
  identity: SunSpecIdentity | undefined;
  private readonly modbus: ModbusRtuMaster;
  private readonly unit: number;
  private readonly blocks = new Map<number, Block>();
  private polling = false;
  /** The map has been (re)discovered on the open transport: polls may run. */
  private ready = false;
  private pendingWrites: (() => Promise<unknown>)[] = [];
  /** Which parts of a set-point the twin has asked for, and what was last queued (device units). */
  private pRequested = false;
  private qRequested = false;
  private readonly lastSent = { p_w: Number.NaN, q_var: Number.NaN };

  constructor(config: DeviceLinkConfig, options: SunSpecLinkOptions = {}) {
    const baud = config.baud ?? 19200;
    const path = config.path;
    if (!options.transport && !path)
      throw new TypeError(`device ${config.id}: sunspec driver needs a port path`);
    super(
      config,
      'sunspec',
      options.transport ?? (() => createSerialTransport({ path: path!, baudRate: baud })),
      options.now,
      REOPEN_PERIOD_MS,
    );
    this.unit = config.protocolDeviceId ?? 1;
    this.modbus = new ModbusRtuMaster({
      baud,
      timeout_ms: options.timeout_ms,
      now: options.now,
      counters: this.supervisor.counters,
      onFrame: (direction, bytes) => this.capture(direction, bytes),
    });
  }

  async open(): Promise<void> {
    await this.openTransport();
    await this.discover();
  }

  protected override openFailure(err: Error, transport: Transport): Error {
    return new Error(`device ${this.id}: cannot open ${this.config.path ?? transport.path}: ${err.message}`);
  }

  protected attach(transport: Transport | undefined): void {
    this.modbus.attach(transport);
  }

  protected override async afterReopen(): Promise<void> {
    await this.discover();
  }

  protected override onPortLost(): void {
    this.ready = false;
  }

  protected override beforeClose(): Promise<void> {
    return this.modbus.idle();
  }

  private async read(address: number, count: number): Promise<number[]> {
    const out: number[] = [];
    for (let at = address; at < address + count; at += 125) {
      const n = Math.min(125, address + count - at);
      out.push(...(await this.modbus.readHoldingRegisters(this.unit, at, n)));
    }
    return out;
  }

  private write(address: number, values: number[]): Promise<void> {
    return this.modbus.writeRegisters(this.unit, address, values);
  }

  /** Writes one point of a model block through its layout (scale factor as read from the device). */
  private writePoint(block: Block, name: string, value: number): Promise<void> {
    const p = block.layout.points.get(name);
    if (!p) throw new TypeError(`SunSpec model ${block.layout.id} has no point ${name}`);
    const regs = encodePoint(block.layout, block.regs, name, value);
    regs.forEach((r, i) => {
      block.regs[p.offset + i] = r;
    });
    return this.write(block.address + p.offset, regs);
  }

  /**
   * Writes adjacent points of a block in one request (one frame: the device sees them change
   * together), in register order.
   */
  private writePoints(block: Block, points: [name: string, value: number][]): Promise<void> {
    const layouts = points
      .map(([name, value]) => {
        const p = block.layout.points.get(name);
        if (!p) throw new TypeError(`SunSpec model ${block.layout.id} has no point ${name}`);
        return { p, regs: encodePoint(block.layout, block.regs, name, value) };
      })
      .sort((a, b) => a.p.offset - b.p.offset);
    const registers: number[] = [];
    let next = layouts[0].p.offset;
    for (const { p, regs } of layouts) {
      if (p.offset !== next)
        throw new TypeError(`SunSpec model ${block.layout.id}: ${p.name} is not adjacent`);
      registers.push(...regs);
      regs.forEach((r, i) => {
        block.regs[p.offset + i] = r;
      });
      next = p.offset + p.size;
    }
    return this.write(block.address + layouts[0].p.offset, registers);
  }

  /** Legacy WMax (model 121), the reference of model 123's percentages; undefined if unknown. */
  private legacyWMax(): number | undefined {
    const settings = this.blocks.get(121);
    const wMax = settings ? readPoint(settings.layout, settings.regs, 'WMax') : undefined;
    return wMax !== undefined && wMax > 0 ? wMax : undefined;
  }

  /** Finds "SunS", walks the model list and reads the blocks this driver uses. */
  async discover(): Promise<SunSpecIdentity> {
    let base = -1;
    for (const candidate of SUNSPEC_BASES) {
      try {
        const marker = await this.read(candidate, 2);
        if (marker[0] === SUNS_MARKER[0] && marker[1] === SUNS_MARKER[1]) {
          base = candidate;
          break;
        }
      } catch (err) {
        // Exception 2 (no such address) or a timeout: try the next base. The RTU master keeps
        // a late answer to this probe from being taken for the next one's.
        if (!(err instanceof ModbusException) && !this.transport) throw err;
      }
    }
    if (base < 0) {
      throw new Error(`device ${this.id}: no SunSpec map ("SunS" at 40000, 50000 or 0) on ${this.where()}`);
    }
    const models: SunSpecModelBlock[] = [];
    let address = base + 2;
    for (let guard = 0; guard < 64; guard++) {
      const [id, length] = await this.read(address, 2);
      if (id === END_MODEL_ID || id === undefined) break;
      models.push({ id, address, length });
      address += 2 + length;
    }
    this.blocks.clear();
    for (const m of models) {
      if (!USED_MODELS.has(m.id)) continue;
      const layout = modelLayout(m.id);
      const regs = await this.read(m.address, Math.min(m.length + 2, layout.length + 2));
      this.blocks.set(m.id, { layout, address: m.address, regs });
    }
    const generation = this.blocks.has(701) ? 'modern' : this.blocks.has(103) ? 'legacy' : undefined;
    if (!generation) {
      throw new Error(
        `device ${this.id}: SunSpec map has neither model 701 nor legacy 103 (models: ${models.map((m) => m.id).join(', ')})`,
      );
    }
    const common = this.blocks.get(1);
    const text = (name: string) => {
      const p = common?.layout.points.get(name);
      return common && p ? readString(common.regs, p) : '';
    };
    this.identity = {
      base,
      models,
      manufacturer: text('Mn'),
      model: text('Md'),
      serialNumber: text('SN'),
      version: text('Vr'),
      generation,
    };
    this.ready = true;
    this.supervisor.event(
      'device-hello',
      `SunSpec at ${base}: ${this.identity.manufacturer} ${this.identity.model} (models ${models.map((m) => m.id).join(', ')})`,
    );
    return this.identity;
  }

  exchange(m: BusMeasurement): void {
    if (!this.identity) return;
    const step = m.step >>> 0;
    // Counted as sent even while the previous poll is still running: that one is then missed
    // (and late if it completes), as for the firmware driver.
    this.supervisor.exchangeSent(step);
    const next = this.limiter.advance(m.t_s);
    if (next) this.queueSetpoint(next.p_w, next.q_var);
    if (this.polling || !this.ready || !this.transport) return;
    this.polling = true;
    this.poll(step).finally(() => {
      this.polling = false;
    });
  }

  private async poll(step: number): Promise<void> {
    try {
      for (const write of this.pendingWrites.splice(0)) await write();
      const out = this.blocks.get(701) ?? this.blocks.get(103)!;
      const varName = out.layout.id === 103 ? 'VAr' : 'Var';
      const w = out.layout.points.get('W')!;
      const v = out.layout.points.get(varName)!;
      const from = Math.min(w.offset, v.offset);
      const to = Math.max(w.offset + w.size, v.offset + v.size);
      // In 103 the scale factors sit beside the values: read them together, so a scale factor
      // the device changes is never applied to the other reading. (701 keeps them 140 registers
      // away; there the ones read at discovery are used.)
      const sfTo = Math.max(to, ...[w, v].map((p) => out.layout.points.get(p.sf as string)!.offset + 1));
      const fresh = await this.read(out.address + from, (sfTo - from <= 16 ? sfTo : to) - from);
      for (let i = 0; i < fresh.length; i++) out.regs[from + i] = fresh[i];
      const soc = await this.readSoc();
      const p_w = readPoint(out.layout, out.regs, 'W') ?? 0;
      const q_var = readPoint(out.layout, out.regs, varName) ?? 0;
      this.supervisor.answered(step, p_w, q_var, soc);
    } catch {
      // No answer, a garbled one or an exception: this exchange is missed (counted when the next
      // is sent); a closed link is handled by the transport's close event.
    }
  }

  /** State of charge, 0…1: model 802 `SoC` or legacy 124 `ChaState`. */
  private async readSoc(): Promise<number | undefined> {
    const battery = this.blocks.get(802) ?? this.blocks.get(124);
    if (!battery) return undefined;
    const name = battery.layout.id === 802 ? 'SoC' : 'ChaState';
    const p = battery.layout.points.get(name)!;
    const sf = battery.layout.points.get(p.sf as string)!;
    // The value and its scale factor in one read when they are close (802: SoC … SoC_SF).
    const from = Math.min(p.offset, sf.offset);
    const to = Math.max(p.offset, sf.offset) + 1;
    const fresh = to - from <= 64 ? await this.read(battery.address + from, to - from) : undefined;
    if (fresh) for (let i = 0; i < fresh.length; i++) battery.regs[from + i] = fresh[i];
    else battery.regs[p.offset] = (await this.read(battery.address + p.offset, 1))[0];
    const pct = readPoint(battery.layout, battery.regs, name);
    return pct === undefined ? undefined : pct / 100;
  }

  /**
   * Queues the writes for a set-point (device units) for the next poll: only the parts the twin
   * asked for (a P-only request leaves the device's reactive power alone) and that changed.
   */
  private queueSetpoint(p_w: number, q_var: number): void {
    const sendP = this.pRequested && p_w !== this.lastSent.p_w;
    const sendQ = this.qRequested && q_var !== this.lastSent.q_var;
    if (!sendP && !sendQ) return;
    if (sendP) this.lastSent.p_w = p_w;
    if (sendQ) this.lastSent.q_var = q_var;
    const modern = this.blocks.get(704);
    if (modern) {
      this.pendingWrites.push(async () => {
        // Value, mode (absolute watts / vars) and enable in one frame each.
        if (sendP) {
          await this.writePoints(modern, [
            ['WSetEna', 1],
            ['WSetMod', WSET_MOD_WATTS],
            ['WSet', p_w],
          ]);
        }
        if (sendQ) {
          await this.writePoint(modern, 'VarSet', q_var);
          await this.writePoints(modern, [
            ['VarSetEna', 1],
            ['VarSetMod', VARSET_MOD_VARS],
          ]);
        }
        this.supervisor.counters.setpointsSent++;
      });
      return;
    }
    const storage = this.blocks.get(124);
    const immediate = this.blocks.get(123);
    if (sendP && !storage && !immediate) {
      this.supervisor.event(
        'setpoint-limited',
        'device has none of models 704, 124, 123: set-point not sent',
      );
      return;
    }
    this.pendingWrites.push(async () => {
      let sent = false;
      if (sendP && storage) sent = (await this.legacyStorageSetpoint(storage, p_w)) || sent;
      else if (sendP && immediate) sent = (await this.legacyCurtailment(immediate, p_w)) || sent;
      if (sendQ) sent = (await this.legacyReactive(immediate, q_var)) || sent;
      if (sent && immediate && readPoint(immediate.layout, immediate.regs, 'Conn') !== 1) {
        await this.writePoint(immediate, 'Conn', 1);
      }
      if (sent) this.supervisor.counters.setpointsSent++;
    });
  }

  /** Model 124: discharge (+) or charge (−) at |P| as a percentage of the device's WChaMax. */
  private async legacyStorageSetpoint(storage: Block, p_w: number): Promise<boolean> {
    const wChaMax = readPoint(storage.layout, storage.regs, 'WChaMax');
    if (!wChaMax || wChaMax <= 0) {
      this.supervisor.event('setpoint-limited', 'model 124 WChaMax is not set: set-point not sent');
      return false;
    }
    const wanted = (Math.abs(p_w) / wChaMax) * 100;
    const pct = Math.min(100, wanted);
    if (pct < wanted)
      this.supervisor.event('setpoint-limited', `${p_w} W exceeds the device's WChaMax ${wChaMax} W`);
    // Rates first, then the mode, so the device never runs a new mode at an old rate.
    await this.writePoint(storage, 'OutWRte', p_w > 0 ? pct : 0);
    await this.writePoint(storage, 'InWRte', p_w < 0 ? pct : 0);
    await this.writePoint(storage, 'StorCtl_Mod', p_w > 0 ? STOR_DISCHARGE : p_w < 0 ? STOR_CHARGE : 0);
    return true;
  }

  /** Model 123 without storage (a PV inverter): P becomes a WMaxLimPct cap on its output. */
  private async legacyCurtailment(immediate: Block, p_w: number): Promise<boolean> {
    const wMax = this.legacyWMax();
    if (wMax === undefined) {
      this.supervisor.event(
        'setpoint-limited',
        'no model 121 WMax to scale 123 WMaxLimPct: set-point not sent',
      );
      return false;
    }
    if (p_w < 0)
      this.supervisor.event(
        'setpoint-limited',
        `${p_w} W: a device without storage cannot absorb; capped at 0 W`,
      );
    const pct = Math.min(100, (Math.max(0, p_w) / wMax) * 100);
    await this.writePoint(immediate, 'WMaxLimPct', pct);
    await this.writePoint(immediate, 'WMaxLim_Ena', 1);
    return true;
  }

  /** Model 123: Q as VArWMaxPct, a percentage of WMax (model 121). */
  private async legacyReactive(immediate: Block | undefined, q_var: number): Promise<boolean> {
    const wMax = this.legacyWMax();
    if (!immediate || wMax === undefined) {
      this.supervisor.event(
        'setpoint-limited',
        'reactive power needs models 123 and 121 (WMax) on a legacy device: Q not sent',
      );
      return false;
    }
    const pct = Math.max(-100, Math.min(100, (q_var / wMax) * 100));
    await this.writePoint(immediate, 'VArWMaxPct', pct);
    await this.writePoints(immediate, [
      ['VArPct_Mod', VARPCT_MOD_WMAX],
      ['VArPct_Ena', 1],
    ]);
    return true;
  }

  /** Reads the control points back from the device (for probing and tests). */
  async readControls(): Promise<Record<string, number | undefined>> {
    const out: Record<string, number | undefined> = {};
    const names: [number, string[]][] = [
      [
        704,
        ['WSetEna', 'WSetMod', 'WSet', 'WMaxLimPctEna', 'WMaxLimPct', 'VarSetEna', 'VarSetMod', 'VarSet'],
      ],
      [123, ['Conn', 'WMaxLim_Ena', 'WMaxLimPct', 'VArPct_Ena', 'VArPct_Mod', 'VArWMaxPct']],
      [124, ['StorCtl_Mod', 'OutWRte', 'InWRte', 'WChaMax']],
    ];
    for (const [id, points] of names) {
      const block = this.blocks.get(id);
      if (!block) continue;
      block.regs = await this.read(block.address, block.layout.length + 2);
      for (const name of points) {
        const key = id === 704 ? name : `${id}.${name}`;
        out[key] = readPoint(block.layout, block.regs, name);
      }
    }
    if (Object.keys(out).length === 0) throw new Error(`device ${this.id}: no control model (704, 123, 124)`);
    return out;
  }

  override setpoint(setpoint: TwinSetpoint): LimitResult {
    if (setpoint.p_mw !== undefined) this.pRequested = true;
    if (setpoint.q_mvar !== undefined) this.qRequested = true;
    return super.setpoint(setpoint);
  }

  emergencyStop(): void {
    this.limiter.emergencyStop();
    const modern = this.blocks.get(704);
    const immediate = this.blocks.get(123);
    const storage = this.blocks.get(124);
    let message: string;
    let writes: () => Promise<void>;
    if (modern) {
      message = 'WSet 0 W, VarSet 0 var and WMaxLimPct 0 % written';
      // Zero power first, then the 0 % cap as a second line of defence.
      writes = async () => {
        await this.writePoints(modern, [
          ['WSetEna', 1],
          ['WSetMod', WSET_MOD_WATTS],
          ['WSet', 0],
        ]);
        await this.writePoint(modern, 'VarSet', 0);
        await this.writePoints(modern, [
          ['VarSetEna', 1],
          ['VarSetMod', VARSET_MOD_VARS],
        ]);
        await this.writePoints(modern, [
          ['WMaxLimPctEna', 1],
          ['WMaxLimPct', 0],
        ]);
      };
    } else {
      message = 'legacy: 124 hold with rates 0, 123 WMaxLimPct 0 % and Conn 0 written';
      writes = async () => {
        if (storage) {
          await this.writePoint(storage, 'StorCtl_Mod', 0);
          await this.writePoint(storage, 'OutWRte', 0);
          await this.writePoint(storage, 'InWRte', 0);
        }
        if (immediate) {
          await this.writePoint(immediate, 'WMaxLimPct', 0);
          await this.writePoint(immediate, 'WMaxLim_Ena', 1);
          await this.writePoint(immediate, 'VArPct_Ena', 0);
          await this.writePoint(immediate, 'Conn', 0);
        }
      };
    }
    // Ahead of anything queued; at once when no poll is running.
    this.pendingWrites.unshift(writes);
    if (!this.polling) {
      const queued = this.pendingWrites.splice(0);
      this.polling = true;
      (async () => {
        for (const write of queued) await write();
      })()
        .catch(() => {})
        .finally(() => {
          this.polling = false;
        });
    }
    this.supervisor.event('emergency-stop', message);
  }
}
