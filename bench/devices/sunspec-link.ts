/**
 * A SunSpec device (inverter, battery) over Modbus RTU through `modbus-serial`. On open it finds
 * the map ("SunS" at 40000, 50000 or 0), walks the model blocks, and reads the common model (1)
 * and the scale factors. Each exchange polls the output (701 W/Var, or legacy 103 W/VAr) and the
 * battery's SoC (802); set-points are written to model 704 (WSet, WSetEna) after the safety limits;
 * the emergency stop writes WSet 0 with WMaxLimPct 0.
 *
 * Requests are strictly one at a time with at least t3.5 of line silence between a response and the
 * next request (3.5 characters, or the fixed 1.75 ms above 19200 baud). A SunSpec device measures
 * its own terminals, so the twin's bus measurement is not sent to it: the lab's grid simulator
 * (if any) does that.
 */
import ModbusSerial from 'modbus-serial';
import type { BusMeasurement, DeviceInput } from '../../twin/api.ts';
import type { CapturedFrame, DeviceLinkConfig, LinkEvent, LinkStats } from '../runtime/messages.ts';
import type { DeviceLink, TwinSetpoint } from './device-link.ts';
import { type LimitResult, SetpointLimiter } from './safety.ts';
import {
  END_MODEL_ID,
  encodePoint,
  type ModelLayout,
  modelLayout,
  readPoint,
  readString,
  rtuFrameGap_ms,
  SUNS_MARKER,
  SUNSPEC_BASES,
} from './sunspec-map.ts';
import { LinkSupervisor } from './supervision.ts';

const REOPEN_PERIOD_MS = 500;
// modbus-serial is CommonJS whose module.exports is the client class; its typings describe an ES
// default export, which NodeNext resolution sees as the module namespace.
const ModbusRTU = ModbusSerial as unknown as (typeof ModbusSerial)['default'];

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
}

interface Block {
  layout: ModelLayout;
  address: number;
  /** The model's registers as last read (ID first). */
  regs: number[];
}

export class SunSpecLink implements DeviceLink {
  readonly id: string;
  readonly driver = 'sunspec' as const;
  readonly supervisor: LinkSupervisor;
  identity: SunSpecIdentity | undefined;
  private readonly config: DeviceLinkConfig;
  private readonly limiter: SetpointLimiter;
  private readonly client = new ModbusRTU();
  private readonly gap_ms: number;
  private readonly blocks = new Map<number, Block>();
  private chain: Promise<unknown> = Promise.resolve();
  private lastIo = 0;
  private polling = false;
  private closing = false;
  private reopenTimer: NodeJS.Timeout | undefined;
  private pendingWrites: (() => Promise<unknown>)[] = [];

  constructor(config: DeviceLinkConfig) {
    if (!config.path) throw new TypeError(`device ${config.id}: sunspec driver needs a port path`);
    this.id = config.id;
    this.config = config;
    this.supervisor = new LinkSupervisor(config, 'sunspec');
    this.limiter = new SetpointLimiter(config.limits);
    this.gap_ms = rtuFrameGap_ms(config.baud ?? 19200);
    this.client.setTimeout(250);
  }

  async open(): Promise<void> {
    await this.connect();
    await this.discover();
  }

  private async connect(): Promise<void> {
    try {
      await this.client.connectRTUBuffered(this.config.path!, { baudRate: this.config.baud ?? 19200 });
    } catch (err) {
      throw new Error(`device ${this.id}: cannot open ${this.config.path}: ${(err as Error).message}`);
    }
    this.client.setID(this.config.protocolDeviceId ?? 1);
  }

  /** Runs Modbus operations one at a time, each after t3.5 of silence since the last one ended. */
  private io<T>(op: () => Promise<T>): Promise<T> {
    const run = async () => {
      const wait = this.gap_ms - (performance.now() - this.lastIo);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, Math.ceil(wait)));
      try {
        return await op();
      } finally {
        this.lastIo = performance.now();
      }
    };
    const result = this.chain.then(run, run);
    this.chain = result.catch(() => {});
    return result;
  }

  private read(address: number, count: number): Promise<number[]> {
    return this.io(async () => {
      const out: number[] = [];
      for (let at = address; at < address + count; at += 125) {
        const n = Math.min(125, address + count - at);
        const result = await this.client.readHoldingRegisters(at, n);
        this.supervisor.counters.framesTx++;
        this.supervisor.counters.framesRx++;
        out.push(...result.data);
      }
      return out;
    });
  }

  private write(address: number, values: number[]): Promise<unknown> {
    return this.io(async () => {
      await this.client.writeRegisters(address, values);
      this.supervisor.counters.framesTx++;
      this.supervisor.counters.framesRx++;
    });
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
        // Exception 2 (no such address): try the next base. After a timeout, let a late answer
        // arrive and be dropped first, so it cannot be taken for the next request's.
        if (!/exception/i.test((err as Error).message)) await new Promise((r) => setTimeout(r, 300));
      }
    }
    if (base < 0) {
      throw new Error(
        `device ${this.id}: no SunSpec map ("SunS" at 40000, 50000 or 0) on ${this.config.path}`,
      );
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
      if (![1, 701, 702, 704, 711, 802, 103].includes(m.id)) continue;
      const layout = m.id === 103 ? LEGACY_103 : modelLayout(m.id);
      const regs = await this.read(m.address, Math.min(m.length + 2, layout.length + 2));
      this.blocks.set(m.id, { layout, address: m.address, regs });
    }
    if (!this.blocks.has(701) && !this.blocks.has(103)) {
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
    };
    this.supervisor.event(
      'device-hello',
      `SunSpec at ${base}: ${this.identity.manufacturer} ${this.identity.model} (models ${models.map((m) => m.id).join(', ')})`,
    );
    return this.identity;
  }

  exchange(m: BusMeasurement): void {
    if (this.polling || !this.identity) {
      // The previous poll has not finished: counts as missed when the next one is sent.
      return;
    }
    const step = m.step >>> 0;
    this.supervisor.exchangeSent(step);
    const next = this.limiter.advance(m.t_s);
    if (next) this.queueSetpoint(next.p_w, next.q_var);
    this.polling = true;
    this.poll(step).finally(() => {
      this.polling = false;
    });
  }

  private async poll(step: number): Promise<void> {
    try {
      for (const write of this.pendingWrites.splice(0)) await write();
      const out = this.blocks.get(701) ?? this.blocks.get(103)!;
      const w = out.layout.points.get('W')!;
      const v = out.layout.points.get(out.layout.id === 103 ? 'VAr' : 'Var')!;
      const from = Math.min(w.offset, v.offset);
      const to = Math.max(w.offset + w.size, v.offset + v.size);
      const fresh = await this.read(out.address + from, to - from);
      for (let i = 0; i < fresh.length; i++) out.regs[from + i] = fresh[i];
      let soc: number | undefined;
      const battery = this.blocks.get(802);
      if (battery) {
        const p = battery.layout.points.get('SoC')!;
        const [raw] = await this.read(battery.address + p.offset, 1);
        battery.regs[p.offset] = raw;
        const pct = readPoint(battery.layout, battery.regs, 'SoC');
        if (pct !== undefined) soc = pct / 100;
      }
      const p_w = readPoint(out.layout, out.regs, 'W') ?? 0;
      const q_var = readPoint(out.layout, out.regs, out.layout.id === 103 ? 'VAr' : 'Var') ?? 0;
      this.supervisor.answered(step, p_w, q_var, soc);
    } catch (err) {
      // A timeout is a missed exchange (counted when the next one is sent); a closed port is lost.
      if (!this.client.isOpen) this.portLost((err as Error).message);
    }
  }

  private portLost(reason: string): void {
    this.supervisor.portLost(reason);
    if (this.closing || this.reopenTimer) return;
    this.reopenTimer = setInterval(() => {
      if (this.closing || this.client.isOpen) return;
      this.connect()
        .then(() => this.discover())
        .then(() => {
          clearInterval(this.reopenTimer);
          this.reopenTimer = undefined;
          this.supervisor.event('link-port-reopened', `${this.config.path} open again`);
        })
        .catch(() => {});
    }, REOPEN_PERIOD_MS);
  }

  private queueSetpoint(p_w: number, _q_var: number): void {
    const ctl = this.blocks.get(704);
    if (!ctl) {
      this.supervisor.event('setpoint-limited', 'device has no model 704: set-point not sent');
      return;
    }
    const wset = encodePoint(ctl.layout, ctl.regs, 'WSet', p_w);
    const ena = ctl.layout.points.get('WSetEna')!;
    const wsetPoint = ctl.layout.points.get('WSet')!;
    this.pendingWrites.push(async () => {
      await this.write(ctl.address + wsetPoint.offset, wset);
      await this.write(ctl.address + ena.offset, [1]);
      this.supervisor.counters.setpointsSent++;
    });
  }

  /** Reads model 704's current WSet/WSetEna (for probing and tests). */
  async readControls(): Promise<{ wsetEna: number | undefined; wset_w: number | undefined }> {
    const ctl = this.blocks.get(704);
    if (!ctl) throw new Error(`device ${this.id}: no model 704`);
    const regs = await this.read(ctl.address, ctl.layout.length + 2);
    return { wsetEna: readPoint(ctl.layout, regs, 'WSetEna'), wset_w: readPoint(ctl.layout, regs, 'WSet') };
  }

  setpoint(setpoint: TwinSetpoint): LimitResult {
    const result = this.limiter.request({
      p_w: setpoint.p_mw === undefined ? undefined : this.supervisor.deviceW(setpoint.p_mw),
      q_var: setpoint.q_mvar === undefined ? undefined : this.supervisor.deviceW(setpoint.q_mvar),
    });
    if (result.limited.length > 0) {
      this.supervisor.counters.setpointsLimited++;
      this.supervisor.event('setpoint-limited', result.limited.join('; '));
    }
    return result;
  }

  emergencyStop(): void {
    this.limiter.emergencyStop();
    const ctl = this.blocks.get(704);
    if (ctl) {
      const pct = ctl.layout.points.get('WMaxLimPct')!;
      const pctEna = ctl.layout.points.get('WMaxLimPctEna')!;
      const wset = ctl.layout.points.get('WSet')!;
      // Ahead of anything queued: zero power first, then the 0 % cap as a second line of defence.
      this.pendingWrites.unshift(async () => {
        await this.write(ctl.address + wset.offset, encodePoint(ctl.layout, ctl.regs, 'WSet', 0));
        await this.write(ctl.address + pct.offset, encodePoint(ctl.layout, ctl.regs, 'WMaxLimPct', 0));
        await this.write(ctl.address + pctEna.offset, [1]);
      });
      if (!this.polling) {
        const writes = this.pendingWrites.splice(0);
        this.polling = true;
        (async () => {
          for (const write of writes) await write();
        })()
          .catch(() => {})
          .finally(() => {
            this.polling = false;
          });
      }
    }
    this.supervisor.event('emergency-stop', 'WSet 0 W and WMaxLimPct 0 % written');
  }

  input(): DeviceInput {
    return this.supervisor.input;
  }

  drainFrames(_into: CapturedFrame[]): void {
    // modbus-serial owns the port; Modbus frames are not captured (the recorder's pcap is for the
    // firmware protocol).
  }

  drainEvents(into: LinkEvent[]): void {
    this.supervisor.drainEvents(into);
  }

  stats(): LinkStats {
    return this.supervisor.stats();
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.reopenTimer);
    await this.chain;
    if (this.client.isOpen) await new Promise<void>((resolve) => this.client.close(() => resolve()));
  }
}

/**
 * Legacy SunSpec model 103 (three-phase inverter), the points this driver reads. Offsets from the
 * published model 103 definition: A, AphA, AphB, AphC, A_SF, PPVphAB, PPVphBC, PPVphCA, PhVphA,
 * PhVphB, PhVphC, V_SF, W, W_SF, Hz, Hz_SF, VA, VA_SF, VAr, VAr_SF (each one register).
 */
const LEGACY_103: ModelLayout = (() => {
  const names = [
    'ID',
    'L',
    'A',
    'AphA',
    'AphB',
    'AphC',
    'A_SF',
    'PPVphAB',
    'PPVphBC',
    'PPVphCA',
    'PhVphA',
    'PhVphB',
    'PhVphC',
    'V_SF',
    'W',
    'W_SF',
    'Hz',
    'Hz_SF',
    'VA',
    'VA_SF',
    'VAr',
    'VAr_SF',
  ];
  const sfOf: Record<string, string> = { W: 'W_SF', Hz: 'Hz_SF', VA: 'VA_SF', VAr: 'VAr_SF', A: 'A_SF' };
  const points = new Map(
    names.map((name, offset) => [
      name,
      {
        name,
        type: name.endsWith('_SF')
          ? 'sunssf'
          : name === 'W' || name === 'VA' || name === 'VAr'
            ? 'int16'
            : 'uint16',
        offset,
        size: 1,
        sf: sfOf[name],
        writable: false,
      },
    ]),
  );
  return { id: 103, name: 'inverter (legacy)', length: names.length - 2, points };
})();
