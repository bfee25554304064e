import { SerialPort } from 'serialport';
import {
  Deframer,
  type DeviceState,
  encodeFrame,
  type Frame,
  type Hello,
  OperatingMode,
} from '../../firmware-protocol/ts/index.ts';
import type { BusMeasurement, DeviceInput } from '../../twin/api.ts';
import type { CapturedFrame, DeviceLinkConfig, LinkStats } from '../runtime/messages.ts';
import type { DeviceLink } from './device-link.ts';

/** Exchanges without an answer before the device is declared offline. */
const MISSED_BEFORE_OFFLINE = 3;
/** How often a lost port is tried again, ms. */
const REOPEN_PERIOD_MS = 500;
const DEG_TO_RAD = Math.PI / 180;

const wallClock_ns = () => (BigInt(Date.now()) * 1_000_000n).toString();

/**
 * A board speaking the gridloop firmware protocol over a serial port (USB-serial or a
 * pseudo-terminal). Each exchange sends a MEASUREMENT; the board answers with DEVICE_STATE
 * echoing the step, which gives the round-trip time. Missing answers, a closed port or garbage
 * never stop the loop: the device goes offline (fallback input) and comes back when it answers.
 */
export class FirmwareLink implements DeviceLink {
  readonly id: string;
  private readonly config: DeviceLinkConfig;
  private readonly powerScale: number;
  private readonly deframer = new Deframer();
  private port: SerialPort | undefined;
  private closing = false;
  private reopenTimer: NodeJS.Timeout | undefined;
  private seq = 0;
  private readonly latest: DeviceInput;
  private readonly frames: CapturedFrame[] = [];
  private awaitingStep = -1;
  private sentAt = 0;
  private missed = 0;
  private consecutiveMissed = 0;
  private framesRx = 0;
  private framesTx = 0;
  private badFrames = 0;
  private readonly rtts: number[] = [];
  hello: Hello | undefined;

  constructor(config: DeviceLinkConfig) {
    this.id = config.id;
    this.config = config;
    this.powerScale = config.powerScale ?? 1;
    this.latest = { deviceId: config.id, p_mw: 0, q_mvar: 0, online: false };
  }

  async open(): Promise<void> {
    await this.openPort();
  }

  private openPort(): Promise<void> {
    const port = new SerialPort({
      path: this.config.path,
      baudRate: this.config.baud ?? 921600,
      autoOpen: false,
    });
    return new Promise((resolve, reject) => {
      port.open((err) => {
        if (err) {
          reject(new Error(`device ${this.id}: cannot open ${this.config.path}: ${err.message}`));
          return;
        }
        this.port = port;
        port.on('data', (chunk: Buffer) => this.receive(chunk));
        port.on('close', () => this.lost());
        port.on('error', () => this.lost());
        resolve();
      });
    });
  }

  /** The port went away (unplugged board, closed pty): go offline and keep trying to reopen. */
  private lost(): void {
    this.port = undefined;
    this.goOffline();
    if (this.closing || this.reopenTimer) return;
    this.reopenTimer = setInterval(() => {
      if (this.port || this.closing) return;
      this.openPort()
        .then(() => {
          clearInterval(this.reopenTimer);
          this.reopenTimer = undefined;
        })
        .catch(() => {});
    }, REOPEN_PERIOD_MS);
  }

  private goOffline(): void {
    this.latest.online = false;
    this.latest.p_mw = 0;
    this.latest.q_mvar = 0;
  }

  exchange(m: BusMeasurement): void {
    if (this.awaitingStep >= 0) {
      this.missed++;
      if (++this.consecutiveMissed >= MISSED_BEFORE_OFFLINE) this.goOffline();
    }
    const bytes = encodeFrame(
      {
        type: 'MEASUREMENT',
        step: m.step,
        twinTimeS: m.t_s,
        voltagePu: m.vm_pu,
        voltageAngleRad: m.va_deg * DEG_TO_RAD,
        frequencyHz: m.f_hz,
        rocofHzPerS: m.rocof_hz_s,
      },
      { seq: this.seq++ & 0xffff, deviceId: this.config.protocolDeviceId ?? 1 },
    );
    this.awaitingStep = m.step >>> 0;
    this.sentAt = performance.now();
    if (!this.port) return;
    this.port.write(bytes);
    this.framesTx++;
    this.frames.push({ time_ns: wallClock_ns(), direction: 'tx', deviceId: this.id, bytes });
  }

  private receive(chunk: Buffer): void {
    const bytes = new Uint8Array(chunk);
    this.frames.push({ time_ns: wallClock_ns(), direction: 'rx', deviceId: this.id, bytes });
    for (const event of this.deframer.push(bytes)) {
      if (event.ok) this.handle(event.frame);
      else this.badFrames++;
    }
  }

  private handle(frame: Frame): void {
    this.framesRx++;
    const message = frame.message;
    if (message.type === 'HELLO') {
      this.hello = message;
    } else if (message.type === 'DEVICE_STATE') {
      this.applyState(message);
    }
  }

  private applyState(state: DeviceState): void {
    if (state.step === this.awaitingStep) {
      const rtt = (performance.now() - this.sentAt) * 1000;
      if (this.rtts.length >= 4096) this.rtts.splice(0, 2048);
      this.rtts.push(rtt);
      this.awaitingStep = -1;
    }
    this.consecutiveMissed = 0;
    this.latest.online = true;
    this.latest.p_mw = (state.activePowerW * this.powerScale) / 1e6;
    this.latest.q_mvar = (state.reactivePowerVar * this.powerScale) / 1e6;
    if (Number.isFinite(state.stateOfCharge)) this.latest.soc = state.stateOfCharge;
    this.latest.mode = state.mode === OperatingMode.GRID_FORMING ? 'grid-forming' : 'grid-following';
  }

  input(): DeviceInput {
    return this.latest;
  }

  drainFrames(into: CapturedFrame[]): void {
    for (const frame of this.frames) into.push(frame);
    this.frames.length = 0;
  }

  stats(): LinkStats {
    const sorted = [...this.rtts].sort((a, b) => a - b);
    return {
      deviceId: this.id,
      online: this.latest.online,
      rtt_us_p50: sorted.length ? sorted[Math.floor(sorted.length / 2)] : Number.NaN,
      rtt_us_max: sorted.length ? sorted[sorted.length - 1] : Number.NaN,
      framesRx: this.framesRx,
      framesTx: this.framesTx,
      badFrames: this.badFrames,
      missed: this.missed,
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.reopenTimer);
    const port = this.port;
    this.port = undefined;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}
