/**
 * What the socket API streams of a VPP: the operator's view after each decision, and each
 * prosumer's own view (its units' meter, its price, its schedule, its preferences). Built here, in
 * the server's room, from the VPP's telemetry (vpp/telemetry.ts) and the latest device powers, so
 * the filtering is one function a test can read: a prosumer's view holds its own units and nothing else.
 */
import type { VppTelemetry } from '../../vpp/telemetry.ts';
import type { LiveState, ProsumerView, VppLiveView } from './api.ts';

export function vppLiveViewOf(t: VppTelemetry): VppLiveView {
  const f = t.flexibility;
  return {
    vpp: t.vpp,
    t_s: t.t_s,
    target_mw: t.target_mw,
    delivered_mw: t.delivered_mw,
    price_per_mwh: t.price_per_mwh,
    ok: t.ok,
    ...(t.reason === undefined ? {} : { reason: t.reason }),
    flexibility: {
      pmin_mw: f.pmin_mw,
      pmax_mw: f.pmax_mw,
      stored_energy_mwh: f.stored_energy_mwh,
      storage_room_mwh: f.storage_room_mwh,
      members_online: f.members_online,
      members: f.members,
    },
    members: t.members.map((m) => ({
      id: m.id,
      ...(m.prosumer === undefined ? {} : { prosumer: m.prosumer }),
      ...(m.hardware ? { hardware: true } : {}),
      setpoint_mw: m.setpoint_mw,
      measured_mw: m.measured_mw,
      tracking_error_mw: m.tracking_error_mw,
      ...(m.opted_out ? { opted_out: true } : {}),
    })),
  };
}

/**
 * Per-prosumer views of the VPPs' latest telemetry. The meter reads the latest device powers (the
 * live state) for the prosumer's own units only; price, schedule and preferences come from the
 * last decision of the VPP that holds them.
 */
export class ProsumerFeed {
  /** Latest telemetry per VPP. */
  private readonly latest = new Map<string, VppTelemetry>();

  absorb(t: VppTelemetry): void {
    this.latest.set(t.vpp, t);
  }

  /** Prosumer ids of every VPP member that names one. */
  prosumers(): string[] {
    const ids = new Set<string>();
    for (const t of this.latest.values()) for (const m of t.members) if (m.prosumer) ids.add(m.prosumer);
    return [...ids].sort();
  }

  /** One prosumer's view; undefined when no VPP has a unit of it. */
  viewOf(prosumer: string, devices?: LiveState['devices'], t_s?: number): ProsumerView | undefined {
    let view: ProsumerView | undefined;
    for (const t of this.latest.values()) {
      for (const m of t.members) {
        if (m.prosumer !== prosumer) continue;
        view ??= {
          prosumer,
          t_s: Math.max(t_s ?? t.t_s, t.t_s),
          meter: { p_mw: 0, units: {} },
          price_per_mwh: t.price_per_mwh,
          schedule: {},
          ...(t.preferences[prosumer] ? { preferences: t.preferences[prosumer] } : {}),
        };
        const live = devices?.[m.id];
        const p_mw = live ? live.p_mw : m.measured_mw;
        const soc = live ? live.soc : m.soc;
        view.meter.units[m.id] = { p_mw, ...(soc === undefined ? {} : { soc }) };
        view.meter.p_mw += p_mw;
        view.schedule[m.id] = m.setpoint_mw;
      }
    }
    return view;
  }
}
