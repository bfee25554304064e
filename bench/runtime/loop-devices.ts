/**
 * The loop's devices: each mapped device's link (firmware, SunSpec or simulated driver) and, with
 * fallback 'simulated', a simulated shadow that runs beside it and feeds the twin while the link is
 * down. One place turns the twin's set-points and emergency stop into device requests, whoever
 * sent them (operator, scenario, controller).
 */
import type { DeviceInput, TwinEvent } from '../../twin/api.ts';
import type { Twin, TwinAction } from '../../twin/twin.ts';
import { createDeviceLink } from '../devices/create-link.ts';
import type { DeviceLink } from '../devices/device-link.ts';
import type { CapturedFrame, DeviceLinkConfig, LinkEvent, LinkStats } from '../devices/link-config.ts';
import type { LimitResult } from '../devices/safety.ts';
import { SimulatedLink } from '../devices/simulated-link.ts';

interface LoopDevice {
  link: DeviceLink;
  /** Exchange every this many steps. */
  every: number;
  shadow: SimulatedLink | undefined;
}

export class LoopDevices {
  private readonly devices: LoopDevice[];
  private readonly byId: Map<string, LoopDevice>;
  /** The twin's device inputs, refreshed in place by `readInputs`. */
  readonly inputs: DeviceInput[];
  private readonly linkEvents: LinkEvent[] = [];

  constructor(configs: readonly DeviceLinkConfig[]) {
    this.devices = configs.map((d) => ({
      link: createDeviceLink(d),
      every: Math.max(1, d.exchangeEvery ?? (d.driver === 'sunspec' ? 100 : 10)),
      shadow: d.fallback === 'simulated' ? new SimulatedLink({ ...d, driver: 'simulated' }) : undefined,
    }));
    this.byId = new Map(this.devices.map((d) => [d.link.id, d]));
    this.inputs = this.devices.map(({ link }) => link.input());
  }

  /** Opens every link (and shadow); on a failure closes those already open and throws. */
  async open(twin: Twin): Promise<void> {
    for (const { link } of this.devices) twin.measurementFor(link.id); // unknown ids fail before any port opens
    const opened: DeviceLink[] = [];
    try {
      for (const { link, shadow } of this.devices) {
        await link.open();
        opened.push(link);
        await shadow?.open();
      }
    } catch (err) {
      await Promise.all(opened.map((link) => link.close()));
      throw err;
    }
  }

  /** Each device's newest input (its shadow's while the link is down), into `inputs`. */
  readInputs(): readonly DeviceInput[] {
    for (let i = 0; i < this.devices.length; i++) {
      const { link, shadow } = this.devices[i];
      const input = link.input();
      this.inputs[i] = input.online || !shadow ? input : shadow.input();
    }
    return this.inputs;
  }

  /** Sends each device due at `step` the measurement at its bus. */
  exchange(step: number, twin: Twin): void {
    for (let i = 0; i < this.devices.length; i++) {
      const { link, every, shadow } = this.devices[i];
      if (step % every !== 0) continue;
      const m = twin.measurementFor(link.id);
      link.exchange(m);
      shadow?.exchange(m);
    }
  }

  /**
   * The device side of an action: a set-point to a linked device goes to the link (limits
   * enforced there) and its shadow, the emergency stop to every link. Throws a TypeError when a
   * device refuses (latched stop); undefined when the action concerns no linked device.
   */
  apply(action: TwinAction): LimitResult | undefined {
    if (action.kind === 'setpoint') {
      const device = this.byId.get(action.deviceId);
      if (!device) return undefined;
      const setpoint = { p_mw: action.p_mw, q_mvar: action.q_mvar };
      const result = device.link.setpoint(setpoint);
      device.shadow?.setpoint(setpoint);
      return result;
    }
    if (action.kind === 'emergency-stop') {
      for (const { link, shadow } of this.devices) {
        link.emergencyStop();
        shadow?.emergencyStop();
      }
    }
    return undefined;
  }

  /** Link events since the last call, as twin events at `t_s`. */
  drainEvents(events: TwinEvent[], t_s: number): void {
    const linkEvents = this.linkEvents;
    for (let i = 0; i < this.devices.length; i++) this.devices[i].link.drainEvents(linkEvents);
    for (const e of linkEvents)
      events.push({ t_s, kind: e.kind, message: `${e.deviceId}: ${e.message}`, target: e.deviceId });
    linkEvents.length = 0;
  }

  drainFrames(frames: CapturedFrame[]): void {
    for (let i = 0; i < this.devices.length; i++) this.devices[i].link.drainFrames(frames);
  }

  stats(): LinkStats[] {
    return this.devices.map(({ link }) => link.stats());
  }

  async close(): Promise<void> {
    await Promise.all(this.devices.map(({ link }) => link.close()));
  }
}
