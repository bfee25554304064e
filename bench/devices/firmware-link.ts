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
import type { BusMeasurement } from '../../twin/api.ts';
import { PortLink } from './link-base.ts';
import type { DeviceLinkConfig, LinkStats } from './link-config.ts';
import { type Transport, WriteQueue } from './transport.ts';
import { createSerialTransport } from './tty-serial-transport.ts';

const DEG_TO_RAD = Math.PI / 180;

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
export class FirmwareLink extends PortLink {
  private readonly deframer: Deframer;
  /** Where the deframer hands what it finds: frames are handled, rejections only counted. */
  private readonly sink: FrameSink = {
    frame: (frame) => this.handle(frame),
    reject: (rejection) => this.countRejected(rejection),
  };
  private readonly writes = new WriteQueue(undefined);
  private readonly signingKey: Uint8Array | undefined;
  private lastSigningTimestamp = 0;
  private seq = 0;
  hello: Hello | undefined;

  constructor(config: DeviceLinkConfig, options: FirmwareLinkOptions = {}) {
    const path = config.path;
    super(
      config,
      'firmware',
      options.transport ??
        (() => {
          if (!path) throw new TypeError(`device ${config.id}: firmware driver needs a port path`);
          return createSerialTransport({ path, baudRate: config.baud ?? 921600 });
        }),
      options.now,
    );
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

  protected attach(transport: Transport | undefined): void {
    this.writes.attach(transport);
    transport?.on('data', (chunk) => this.receive(chunk));
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

  emergencyStop(): void {
    this.limiter.emergencyStop();
    this.sendSetpoint(0, 0, OperatingMode.OFF);
    this.supervisor.event('emergency-stop', 'SETPOINT mode OFF, 0 W sent');
  }

  private receive(chunk: Uint8Array): void {
    // Received chunks are the transport's buffers, reused: the capture keeps a copy.
    this.capture('rx', chunk.slice());
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

  override stats(): LinkStats {
    this.supervisor.counters.dropped = this.writes.dropped;
    return super.stats();
  }
}
