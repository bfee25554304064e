/**
 * What every device link shares, whatever the driver: the supervisor (health, online/offline,
 * the twin-side input), the safety limiter in front of set-points, the frame capture, and the
 * drains the loop empties. `PortLink` adds what the serial drivers (firmware, SunSpec) share: the
 * transport, reopening a lost port periodically until it is back, and closing.
 */
import type { BusMeasurement, DeviceInput } from '../../twin/api.ts';
import type { DeviceLink, TwinSetpoint } from './device-link.ts';
import type { CapturedFrame, DeviceDriver, DeviceLinkConfig, LinkEvent, LinkStats } from './link-config.ts';
import { type LimitResult, SetpointLimiter } from './safety.ts';
import { LinkSupervisor } from './supervision.ts';
import type { Transport } from './transport.ts';

/** Frames captured per device between drains, at most (the rest are counted, not kept). */
const CAPTURE_LIMIT = 4096;

const wallClock_ns = () => (BigInt(Date.now()) * 1_000_000n).toString();

export abstract class LinkBase implements DeviceLink {
  readonly id: string;
  readonly supervisor: LinkSupervisor;
  protected readonly limiter: SetpointLimiter;
  private readonly frames: CapturedFrame[] = [];

  constructor(
    protected readonly config: DeviceLinkConfig,
    readonly driver: DeviceDriver,
    now?: () => number,
  ) {
    this.id = config.id;
    this.supervisor = new LinkSupervisor(config, driver, now);
    this.limiter = new SetpointLimiter(config.limits);
  }

  abstract open(): Promise<void>;
  abstract exchange(measurement: BusMeasurement): void;
  abstract emergencyStop(): void;
  abstract close(): Promise<void>;

  input(): DeviceInput {
    return this.supervisor.input;
  }

  /** The limiter decides what will be aimed for (device units); a limited request is counted and reported. */
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

  /** Keeps `bytes` for the frame capture (the caller must not reuse them). */
  protected capture(direction: 'tx' | 'rx', bytes: Uint8Array): void {
    if (this.frames.length < CAPTURE_LIMIT) {
      this.frames.push({ time_ns: wallClock_ns(), direction, deviceId: this.id, bytes });
    }
  }

  drainFrames(into: CapturedFrame[]): void {
    for (const frame of this.frames) into.push(frame);
    this.frames.length = 0;
  }

  drainEvents(into: LinkEvent[]): void {
    this.supervisor.drainEvents(into);
  }

  stats(): LinkStats {
    return this.supervisor.stats();
  }
}

/** A link over a transport (serial port, pseudo-terminal, loopback) that survives the port going away. */
export abstract class PortLink extends LinkBase {
  protected transport: Transport | undefined;
  protected closing = false;
  private reopenTimer: NodeJS.Timeout | undefined;

  constructor(
    config: DeviceLinkConfig,
    driver: DeviceDriver,
    private readonly makeTransport: () => Transport,
    now?: () => number,
    /** How often a lost port is tried again, ms. */
    private readonly reopenPeriod_ms = 250,
  ) {
    super(config, driver, now);
  }

  /** Hands the driver its transport (undefined: the port is gone or closing). */
  protected abstract attach(transport: Transport | undefined): void;
  /** Why an open failed, as the driver reports it. @default the transport's own error */
  protected openFailure(err: Error, _transport: Transport): Error {
    return err;
  }
  /** What a reopened port needs before the link is back (SunSpec: rediscover the map). */
  protected async afterReopen(): Promise<void> {}
  /** Called when the port is lost, before reopening starts. */
  protected onPortLost(): void {}
  /** Waits for what is in flight before the port is closed. */
  protected async beforeClose(): Promise<void> {}

  protected async openTransport(): Promise<void> {
    const transport = this.makeTransport();
    try {
      await transport.open();
    } catch (err) {
      throw this.openFailure(err as Error, transport);
    }
    this.transport = transport;
    this.attach(transport);
    transport.once('close', (error) => {
      if (this.transport !== transport) return;
      this.transport = undefined;
      this.attach(undefined);
      if (this.closing) return;
      this.portLost(error?.message ?? 'port closed');
    });
  }

  /** Where the port is, for events. */
  protected where(): string {
    return this.config.path ?? this.transport?.path ?? 'link';
  }

  /** Reports the loss and keeps trying to reopen the port (a replugged device reappears under the same path). */
  private portLost(reason: string): void {
    this.onPortLost();
    this.supervisor.portLost(reason);
    if (this.closing || this.reopenTimer) return;
    this.reopenTimer = setInterval(() => {
      if (this.closing || this.transport) return;
      this.openTransport()
        .then(() => this.afterReopen())
        .then(() => {
          clearInterval(this.reopenTimer);
          this.reopenTimer = undefined;
          this.supervisor.event('link-port-reopened', `${this.where()} open again`);
        })
        .catch(() => {
          // Open but not usable yet (a map that cannot be read): closed again, tried next period.
          const transport = this.transport;
          this.transport = undefined;
          this.attach(undefined);
          transport?.close().catch(() => {});
        });
    }, this.reopenPeriod_ms);
  }

  async close(): Promise<void> {
    this.closing = true;
    clearInterval(this.reopenTimer);
    this.reopenTimer = undefined;
    await this.beforeClose();
    const transport = this.transport;
    this.transport = undefined;
    this.attach(undefined);
    await transport?.close();
  }
}
