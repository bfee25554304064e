/**
 * A stand-in for the battery controller board when a scenario runs on the twin alone: it reads the
 * measurement the twin sends (through the measurement channels, so attacks reach it), follows a
 * set-point (through its own `<id>.setpoint_mw` channel, the path spoofed commands take) plus
 * frequency droop, integrates its SoC and reports power and SoC. A compromised board reports
 * `falseReport` instead of the truth while injecting the true power.
 */

import type { TwinAddOnHost as Twin } from '../addons.ts';
import type { DeviceInput } from '../api.ts';
import { Channel } from '../channels/channel.ts';

export interface SimulatedBoardSpec {
  device: string;
  /** @default 0.5 MW/Hz */
  droop_mw_per_hz?: number;
  rating_mw: number;
  energy_mwh: number;
  /** @default 0.5 */
  soc?: number;
  /** @default 0 */
  setpoint_mw?: number;
}

export class SimulatedBoard {
  readonly id: string;
  readonly setpoint: Channel;
  p_mw = 0;
  soc: number;
  falseReport?: { soc?: number; p_mw?: number };
  private readonly input: DeviceInput;
  private readonly inputs: DeviceInput[];

  constructor(
    private readonly twin: Twin,
    readonly spec: SimulatedBoardSpec,
  ) {
    if (!twin.hardwareById.has(spec.device))
      throw new TypeError(`board: '${spec.device}' is not a hardware device`);
    this.id = spec.device;
    this.soc = spec.soc ?? 0.5;
    this.setpoint = new Channel(`${spec.device}.setpoint_mw`);
    this.input = { deviceId: spec.device, p_mw: 0, q_mvar: 0, online: true, soc: this.soc };
    this.inputs = [this.input];
  }

  /** What the board sends this step. */
  step(): readonly DeviceInput[] {
    const twin = this.twin;
    const m = twin.measurementFor(this.id);
    const sp = this.setpoint.process(this.spec.setpoint_mw ?? 0, twin.state.t_s);
    const f0 = twin.grid.frequency_hz;
    const raw = sp - (this.spec.droop_mw_per_hz ?? 0.5) * (m.f_hz - f0);
    const limit = this.spec.rating_mw;
    this.p_mw = m.f_hz > 0 ? Math.max(-limit, Math.min(limit, raw)) : 0;
    this.soc -= (this.p_mw * twin.dt_s) / 3600 / this.spec.energy_mwh;
    this.input.p_mw = this.p_mw;
    this.input.soc = this.reported().soc;
    return this.inputs;
  }

  /** Telemetry as the board reports it. */
  reported(): { p_mw: number; soc: number } {
    return { p_mw: this.falseReport?.p_mw ?? this.p_mw, soc: this.falseReport?.soc ?? this.soc };
  }
}
