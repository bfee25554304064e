import {
  Deframer,
  encodeFrame,
  type Frame,
  type FrameRejection,
  type FrameSink,
  type Hello,
  type Message,
  OperatingMode,
  SetpointField,
  SignatureVerifier,
  type SigningParams,
  signingTimestampFromUnixMs,
} from '../../firmware-protocol/ts/index.ts';
import type { BusMeasurement, DeviceInput } from '../../twin/api.ts';
import type { DeviceLink, TwinSetpoint } from './device-link.ts';
import type { CapturedFrame, DeviceLinkConfig, LinkEvent, LinkStats } from './link-config.ts';
import { type LimitResult, SetpointLimiter } from './safety.ts';
import { LinkSupervisor } from './supervision.ts';
import { type Transport, WriteQueue } from './transport.ts';
import { createSerialTransport } from './tty-serial-transport.ts';

/** How often a lost port is tried again, ms. */
const REOPEN_PERIOD_MS = 250;
const DEG_TO_RAD = Math.PI / 180;
/** Frames captured per device between drains, at most (the rest are counted, not kept). */
const CAPTURE_LIMIT = 4096;

const wallClock_ns = () => (BigInt(Date.now()) * 1_000_000n).toString();

export interface FirmwareLinkOptions {
  /** Makes the transport for each (re)open. @default `createSerialTransport` on config.path (reads on the loop thread) */
  transport?: () => Transport;
  /** Monotonic clock, ms. @default performance.now */
  now?: () => number;
}

/** Parses a 32-byte signing key given as 64 hex digits; throws a TypeError naming the device. */
export function parseSigningKey(deviceId: string, hex: string): Uint8Array {
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new TypeError(`device ${deviceId}: signing key must be 64 hex digits (32 bytes)`);
  }
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/**
 * A board speaking the gridloop firmware protocol (firmware-protocol/SPEC.md) over any transport.
 * Each exchange sends a MEASUREMENT; the board answers with DEVICE_STATE echoing the step, which
 * gives the round-trip time. Set-points go out as SETPOINT frames after the safety limiter. Frames
 * are signed (HMAC) when the mapping has a key, and the board's frames are verified with it.
 * Missing answers, a closed port or garbage never stop the loop: the device goes offline (the twin
 * applies the fallback) and comes back when it answers.
 */
export class FirmwareLink implements DeviceLink {
  readonly id: string;
  readonly driver = 'firmware' as const;
  readonly supervisor: LinkSupervisor;
  private readonly config: DeviceLinkConfig;
  private readonly makeTransport: () => Transport;
  private readonly deframer: Deframer;
  /** Where the deframer hands what it finds: frames are handled, rejections only counted. */
  private readonly sink: FrameSink = {
    frame: (frame) => this.handle(frame),
    reject: (rejection) => this.countRejected(rejection),
  };
  private readonly writes = new WriteQueue(undefined);
  private readonly limiter: SetpointLimiter;
  private readonly signingKey: Uint8Array | undefined;
  private lastSigningTimestamp = 0;
  private transport: Transport | undefined;
  private closing = false;
  private reopenTimer: NodeJS.Timeout | undefined;
  private seq = 0;
  private readonly frames: CapturedFrame[] = [];
  hello: Hello | undefined;

  constructor(config: DeviceLinkConfig, options: FirmwareLinkOptions = {}) {
    this.id = config.id;
    this.config = config;
    const path = config.path;
    this.makeTransport =
      options.transport ??
      (() => {
        if (!path) throw new TypeError(`device ${config.id}: firmware driver needs a port path`);
        return createSerialTransport({ path, baudRate: config.baud ?? 921600 });
      });
    this.supervisor = new LinkSupervisor(config, 'firmware', options.now);
    this.limiter = new SetpointLimiter(config.limits);
    const deviceId = config.protocolDeviceId ?? 1;
    if (config.signing) {
      const key = parseSigningKey(config.id, config.signing.keyHex);
      this.signingKey = key;
      const required = config.signing.requireSigned ?? true;
      this.deframer = new Deframer({
        authenticator: new SignatureVerifier({
          keyFor: (id) => (id === deviceId ? { key, required } : undefined),
          now: () => signingTimestampFromUnixMs(Date.now()),
        }),
      });
    } else {
      this.deframer = new Deframer();
    }
  }

  open(): Promise<void> {
    return this.openTransport();
  }

  private async openTransport(): Promise<void> {
    const transport = this.makeTransport();
    await transport.open();
    this.transport = transport;
    this.writes.attach(transport);
    transport.on('data', (chunk) => this.receive(chunk));
    transport.once('close', (error) => {
      if (this.transport !== transport) return;
      this.transport = undefined;
      this.writes.attach(undefined);
      if (this.closing) return;
      this.supervisor.portLost(error?.message ?? 'port closed');
      this.scheduleReopen();
    });
  }

  /** Keeps trying to reopen the port (a replugged board reappears under the same path). */
  private scheduleReopen(): void {
    if (this.closing || this.reopenTimer) return;
    this.reopenTimer = setInterval(() => {
      if (this.transport || this.closing) return;
      this.openTransport()
        .then(() => {
          clearInterval(this.reopenTimer);
          this.reopenTimer = undefined;
          this.supervisor.event('link-port-reopened', `${this.config.path ?? 'port'} open again`);
        })
        .catch(() => {});
    }, REOPEN_PERIOD_MS);
  }

  private signing(): SigningParams | undefined {
    if (!this.signingKey) return undefined;
    // Timestamps must rise strictly per stream, even for frames sent within the same 10 µs.
    const ts = Math.max(this.lastSigningTimestamp + 1, signingTimestampFromUnixMs(Date.now()));
    this.lastSigningTimestamp = ts;
    return { key: this.signingKey, linkId: this.config.signing?.linkId ?? 0, timestamp: ts };
  }

  private send(message: Message): void {
    const bytes = encodeFrame(message, {
      seq: this.seq++ & 0xffff,
      deviceId: this.config.protocolDeviceId ?? 1,
      signing: this.signing(),
    });
    if (!this.writes.push(bytes)) return;
    this.supervisor.counters.framesTx++;
    this.capture('tx', bytes);
  }

  /** Keeps `bytes` for the frame capture; `copy` when the caller's buffer is reused (received chunks). */
  private capture(direction: 'tx' | 'rx', bytes: Uint8Array, copy = false): void {
    if (this.frames.length < CAPTURE_LIMIT) {
      this.frames.push({
        time_ns: wallClock_ns(),
        direction,
        deviceId: this.id,
        bytes: copy ? bytes.slice() : bytes,
      });
    }
  }

  exchange(m: BusMeasurement): void {
    const step = m.step >>> 0;
    this.supervisor.exchangeSent(step);
    this.send({
      type: 'MEASUREMENT',
      step,
      twinTimeS: m.t_s,
      voltagePu: m.vm_pu,
      voltageAngleRad: m.va_deg * DEG_TO_RAD,
      frequencyHz: m.f_hz,
      rocofHzPerS: m.rocof_hz_s,
    });
    const next = this.limiter.advance(m.t_s);
    if (next) this.sendSetpoint(next.p_w, next.q_var, OperatingMode.GRID_FOLLOWING);
    this.supervisor.counters.dropped = this.writes.dropped;
  }

  private sendSetpoint(p_w: number, q_var: number, mode: number): void {
    this.send({
      type: 'SETPOINT',
      fields: SetpointField.ACTIVE_POWER | SetpointField.REACTIVE_POWER | SetpointField.MODE,
      mode,
      enabledFunctions: 0,
      activePowerW: p_w,
      reactivePowerVar: q_var,
      activePowerMaxW: 0,
      activePowerMinW: 0,
      reactivePowerMaxVar: 0,
    });
    this.supervisor.counters.setpointsSent++;
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
    this.sendSetpoint(0, 0, OperatingMode.OFF);
    this.supervisor.event('emergency-stop', 'SETPOINT mode OFF, 0 W sent');
  }

  private receive(chunk: Uint8Array): void {
    this.capture('rx', chunk, true);
    this.deframer.feed(chunk, this.sink);
  }

  /**
   * Line noise arrives at up to tens of thousands of bad frames a second: a rejection is counted
   * and nothing more (no error object, no string, no event), so it cannot stall the loop.
   */
  private countRejected(rejection: FrameRejection): void {
    const c = this.supervisor.counters;
    c.badFrames++;
    switch (rejection.code) {
      case 'CRC_MISMATCH':
        c.crcErrors++;
        break;
      case 'UNSIGNED':
      case 'NO_KEY':
      case 'BAD_SIGNATURE':
      case 'REPLAY':
      case 'REORDERED':
      case 'STALE':
        c.authErrors++;
        break;
      default:
        break;
    }
  }

  private handle(frame: Frame): void {
    // Frames for another device id on a shared line are not ours.
    if (frame.deviceId !== (this.config.protocolDeviceId ?? 1)) return;
    this.supervisor.counters.framesRx++;
    const message = frame.message;
    switch (message.type) {
      case 'DEVICE_STATE': {
        const ok = this.supervisor.answered(
          message.step,
          message.activePowerW,
          message.reactivePowerVar,
          message.stateOfCharge,
        );
        if (ok) {
          this.supervisor.input.mode =
            message.mode === OperatingMode.GRID_FORMING ? 'grid-forming' : 'grid-following';
        }
        break;
      }
      case 'HEARTBEAT':
        this.supervisor.counters.heartbeats++;
        break;
      case 'HELLO':
        if (!this.hello) {
          this.supervisor.event(
            'device-hello',
            `HELLO: protocol ${message.protocolMajor}.${message.protocolMinor}, firmware ${message.firmwareMajor}.${message.firmwareMinor}.${message.firmwarePatch}, rated ${message.ratedActivePowerW} W`,
          );
        }
        this.hello = message;
        break;
      default:
        break;
    }
  }

  input(): DeviceInput {
    return this.supervisor.input;
  }

  drainFrames(into: CapturedFrame[]): void {
    for (const frame of this.frames) into.push(frame);
    this.frames.length = 0;
  }

  drainEvents(into: LinkEvent[]): void {
    this.supervisor.drainEvents(into);
  }

  stats(): LinkStats {
    this.supervisor.counters.dropped = this.writes.dropped;
    return this.supervisor.stats();
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.reopenTimer);
    this.reopenTimer = undefined;
    const transport = this.transport;
    this.transport = undefined;
    this.writes.attach(undefined);
    await transport?.close();
  }
}
