import type { BusMeasurement } from '../../twin/api.ts';
import { BatteryUnit } from '../../twin/der/battery.ts';
import type { UnitContext } from '../../twin/der/unit.ts';
import { DEFAULT_FREQUENCY_DROOP, DEFAULT_VOLT_VAR } from '../../twin/ieee1547/settings.ts';
import { LinkBase } from './link-base.ts';
import type { DeviceLinkConfig } from './link-config.ts';

/**
 * A device simulated in-process with the twin's own battery model (grid-following, IEEE 1547
 * frequency-watt droop, SoC with efficiencies), in device units behind the same mapping as real
 * hardware. Stands in for a board during development, and is the 'simulated' fallback of a real
 * link while that link is down.
 */
export class SimulatedLink extends LinkBase {
  readonly unit: BatteryUnit;
  private readonly ctx: UnitContext;
  private lastT_s = Number.NaN;
  private stopped = false;

  constructor(config: DeviceLinkConfig) {
    super(config, 'simulated');
    const sim = config.simulated ?? {};
    const rating_mw = (sim.rating_w ?? 10_000) / 1e6;
    const f0 = sim.f0_hz ?? 50;
    this.unit = new BatteryUnit(
      `${config.id}-simulated`,
      {
        rating_mw,
        rating_mva: rating_mw,
        energy_mwh: (sim.capacity_wh ?? 10_000) / 1e6,
        soc0: sim.soc0 ?? 0.5,
        socMin: 0.05,
        socMax: 0.95,
        etaCharge: 0.95,
        etaDischarge: 0.95,
        mode: 'grid-following',
        virtualInertia_s: 0,
        droop_pu: sim.droop_pu ?? 0.05,
        tau_s: 0.05,
        initial_mw: 0,
        vset_pu: 1,
      },
      // A lab battery inverter answers within a second, faster than the 1547 default of 5 s.
      { ...DEFAULT_FREQUENCY_DROOP, droop_pu: sim.droop_pu ?? 0.05, responseTime_s: 0.5, deadband_hz: 0.02 },
      { ...DEFAULT_VOLT_VAR, enabled: false },
      f0,
    );
    this.ctx = {
      t_s: 0,
      hourOfDay: 12,
      f_hz: f0,
      f0_hz: f0,
      rocof_hz_s: 0,
      vm_pu: 1,
      gridConnected: true,
    };
  }

  async open(): Promise<void> {
    this.supervisor.input.online = true;
  }

  exchange(m: BusMeasurement): void {
    const dt = Number.isFinite(this.lastT_s) ? m.t_s - this.lastT_s : 0;
    this.lastT_s = m.t_s;
    this.supervisor.exchangeSent(m.step >>> 0);
    const next = this.limiter.advance(m.t_s);
    if (next) {
      this.unit.setReference(next.p_w / 1e6);
      this.supervisor.counters.setpointsSent++;
    }
    if (dt > 0 && !this.stopped) {
      const ctx = this.ctx;
      ctx.t_s = m.t_s;
      ctx.f_hz = m.f_hz;
      ctx.rocof_hz_s = m.rocof_hz_s;
      ctx.vm_pu = m.vm_pu;
      this.unit.refresh();
      this.unit.advance(ctx, dt);
      this.unit.settle(0);
      this.unit.account(dt);
    }
    const p_w = this.stopped ? 0 : this.unit.p_mw * 1e6;
    const q_var = this.stopped ? 0 : this.unit.q_mvar * 1e6;
    this.supervisor.answered(m.step >>> 0, p_w, q_var, this.unit.soc);
  }

  emergencyStop(): void {
    this.limiter.emergencyStop();
    this.stopped = true;
    this.unit.setReference(0);
    this.supervisor.event('emergency-stop', 'simulated device stopped');
  }

  async close(): Promise<void> {}
}
