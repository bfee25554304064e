/**
 * A VPP's telemetry (vpp/telemetry.ts) as recorded points: one `vpp` point per decision, one
 * `vpp_member` point per member and, under bi-level scheduling, one `vpp_operator` point per
 * operator (docs/influx-schema.md). Null values are left out of the point.
 */
import type { TwinState } from '../../twin/api.ts';
import type { Controller } from '../../twin/control/contract.ts';
import { isVppTelemetry, type VppTelemetry } from '../../vpp/telemetry.ts';
import type { PointSink } from '../recording/schema.ts';

const orUndefined = (v: number | null | undefined) => (v === null ? undefined : v);

export function vppTelemetryToPoints(t: VppTelemetry, time_ns: bigint, sink: PointSink): void {
  const f = t.flexibility;
  sink(
    'vpp',
    { vpp: t.vpp },
    {
      target_mw: t.target_mw,
      delivered_mw: t.delivered_mw,
      price_per_mwh: orUndefined(t.price_per_mwh),
      ok: t.ok,
      reason: t.reason,
      solve_ms: t.solve_ms,
      flex_pmin_mw: f.pmin_mw,
      flex_pmax_mw: f.pmax_mw,
      flex_ramp_mw_s: orUndefined(f.ramp_mw_s),
      stored_energy_mwh: f.stored_energy_mwh,
      storage_room_mwh: f.storage_room_mwh,
      members_online: f.members_online,
    },
    time_ns,
  );
  for (const m of t.members) {
    sink(
      'vpp_member',
      { vpp: t.vpp, member: m.id, prosumer: m.prosumer },
      {
        setpoint_mw: orUndefined(m.setpoint_mw),
        measured_mw: m.measured_mw,
        tracking_error_mw: orUndefined(m.tracking_error_mw),
        pmin_mw: m.pmin_mw,
        pmax_mw: m.pmax_mw,
        soc: m.soc,
        opted_out: m.opted_out,
        hardware: m.hardware,
      },
      time_ns,
    );
  }
  for (const o of t.bilevel?.operators ?? []) {
    sink(
      'vpp_operator',
      { vpp: t.vpp, operator: o.operator },
      {
        markup: o.markup,
        allocation_mw: o.allocation_mw,
        realtime_mw: o.realtime_mw,
        dr_mw: o.dr_mw,
        delivered_mw: o.delivered_mw,
        planned_shortfall_mw: o.planned_shortfall_mw,
        undelivered_mwh: o.undelivered_mwh,
        penalty: o.penalty,
        dr_payment: o.dr_payment,
      },
      time_ns,
    );
  }
}

/**
 * For a run stepped in-process (`gridloop simulate`, stateRecorder's `recordMore`): after each step,
 * the points of the VPP's decision when it made a new one — what the live bench records from the
 * loop's controller telemetry. A decision's telemetry is a new object, so a new object is a new decision.
 */
export function vppDecisionRecorder(
  controller: Pick<Controller, 'telemetry'>,
): (state: TwinState, sink: PointSink, timeOf: (t_s: number) => bigint) => void {
  let last: unknown;
  return (_state, sink, timeOf) => {
    const t = controller.telemetry?.();
    if (t === last || !isVppTelemetry(t)) return;
    last = t;
    vppTelemetryToPoints(t, timeOf(t.t_s), sink);
  };
}
