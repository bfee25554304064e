/**
 * What every device link keeps about its health, whatever the driver: exchanges sent and answered,
 * round-trip times, frames in and out, errors, outages; and the online/offline decision (offline
 * after N exchanges in a row without an answer, online again at the first answer). State changes
 * become `LinkEvent`s the loop stamps with twin time and records.
 */
import type { DeviceInput } from '../../twin/api.ts';
import type { DeviceDriver, DeviceLinkConfig, LinkEvent, LinkStats } from './link-config.ts';

const RTT_WINDOW = 2048;
/** Recently sent exchanges remembered to tell a late answer from a stray one. */
const SENT_WINDOW = 16;

export class LinkSupervisor {
  readonly input: DeviceInput;
  readonly events: LinkEvent[] = [];
  readonly counters = {
    framesRx: 0,
    framesTx: 0,
    badFrames: 0,
    crcErrors: 0,
    authErrors: 0,
    dropped: 0,
    missed: 0,
    late: 0,
    heartbeats: 0,
    outages: 0,
    setpointsSent: 0,
    setpointsLimited: 0,
  };
  private readonly missedBeforeOffline: number;
  private readonly rtts = new Float64Array(RTT_WINDOW);
  private rttCount = 0;
  private readonly sentSteps = new Float64Array(SENT_WINDOW).fill(-1);
  private readonly sentAt = new Float64Array(SENT_WINDOW);
  private sentNext = 0;
  private awaiting = -1;
  private consecutiveMissed = 0;
  /** Sign and scale from device watts to twin megawatts. */
  readonly toTwin: number;

  constructor(
    readonly config: DeviceLinkConfig,
    readonly driver: DeviceDriver,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.missedBeforeOffline = Math.max(1, config.missedBeforeOffline ?? 3);
    const sign = config.signConvention === 'load' ? -1 : 1;
    const scale = config.powerScale ?? 1;
    if (!(scale > 0) || !Number.isFinite(scale)) {
      throw new TypeError(`device ${config.id}: powerScale must be a positive number, got ${scale}`);
    }
    this.toTwin = (sign * scale) / 1e6;
    this.input = { deviceId: config.id, p_mw: 0, q_mvar: 0, online: false };
  }

  get online(): boolean {
    return this.input.online;
  }

  /** Device watts → twin megawatts (scale and sign of the mapping). */
  twinMw(deviceW: number): number {
    return deviceW * this.toTwin;
  }

  /** Twin megawatts → device watts. */
  deviceW(twinMw: number): number {
    return twinMw / this.toTwin;
  }

  /** An exchange for `step` is about to be sent; counts the previous one as missed if unanswered. */
  exchangeSent(step: number): void {
    if (this.awaiting >= 0) {
      this.counters.missed++;
      if (++this.consecutiveMissed >= this.missedBeforeOffline && this.input.online) {
        this.goOffline(`${this.consecutiveMissed} exchanges without an answer`);
      }
    }
    this.awaiting = step;
    this.sentSteps[this.sentNext] = step;
    this.sentAt[this.sentNext] = this.now();
    this.sentNext = (this.sentNext + 1) % SENT_WINDOW;
  }

  /**
   * An answer for `step` arrived carrying the device's power (device units). Returns false when it
   * answers no exchange we sent recently (ignored, not applied).
   */
  answered(step: number, p_w: number, q_var: number, soc?: number): boolean {
    let slot = -1;
    for (let i = 0; i < SENT_WINDOW; i++) if (this.sentSteps[i] === step) slot = i;
    if (slot < 0) return false;
    // Late answers count in the RTT too, or the distribution would be cut off at the exchange period.
    this.rtts[this.rttCount % RTT_WINDOW] = (this.now() - this.sentAt[slot]) * 1000;
    this.rttCount++;
    if (step === this.awaiting) this.awaiting = -1;
    else this.counters.late++;
    this.sentSteps[slot] = -1;
    this.consecutiveMissed = 0;
    this.input.p_mw = this.twinMw(p_w);
    this.input.q_mvar = this.twinMw(q_var);
    if (soc !== undefined && Number.isFinite(soc)) this.input.soc = soc;
    if (!this.input.online) {
      this.input.online = true;
      this.event('link-online', 'answering again');
    }
    return true;
  }

  /** The port itself went away (unplugged, closed): offline at once. */
  portLost(reason: string): void {
    this.event('link-port-lost', reason);
    this.awaiting = -1;
    if (this.input.online) this.goOffline(`port lost: ${reason}`);
  }

  goOffline(reason: string): void {
    this.input.online = false;
    this.counters.outages++;
    this.event('link-offline', reason);
  }

  event(kind: LinkEvent['kind'], message: string): void {
    if (this.events.length < 1024) this.events.push({ kind, deviceId: this.config.id, message });
  }

  drainEvents(into: LinkEvent[]): void {
    for (const e of this.events) into.push(e);
    this.events.length = 0;
  }

  stats(): LinkStats {
    const n = Math.min(this.rttCount, RTT_WINDOW);
    const sorted = this.rtts.slice(0, n).sort();
    const pick = (q: number) => (n ? sorted[Math.min(n - 1, Math.floor(q * n))] : Number.NaN);
    return {
      deviceId: this.config.id,
      driver: this.driver,
      online: this.input.online,
      rtt_us_p50: pick(0.5),
      rtt_us_p99: pick(0.99),
      rtt_us_max: n ? sorted[n - 1] : Number.NaN,
      ...this.counters,
    };
  }
}
