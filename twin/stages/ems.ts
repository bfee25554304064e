/** Control stage, built-in controllers: secondary frequency/voltage restoration, tertiary dispatch, demand response, standby. */
import type { TwinCore } from '../core/state.ts';
import type { IslandRuntime } from '../core/types.ts';
import { SynchronousGenset } from '../der/genset.ts';
import type { DerUnit } from '../der/unit.ts';
import { dispatch } from '../dynamics/ems.ts';
import { runPlannedIslanding, runResync } from './islanding.ts';

export function control(tw: TwinCore, dt: number): void {
  const sec = tw.config.secondary ?? {};
  const kiF = sec.ki_f ?? 2.5;
  const kiV = sec.ki_v ?? 0.5;
  for (let r = 0; r < tw.islands.length; r++) {
    const rt = tw.islands[r];
    if (rt.energised && rt.gridConnected && rt.pccEstimator) {
      let base = rt.pccImport_mw;
      for (let i = 0; i < rt.units.length; i++)
        if (rt.units[i].on && rt.units[i].dispatchable) base += rt.units[i].io.p_mw;
      rt.pccEstimator.update(base, tw.t, dt);
    }
    if (!rt.energised || rt.gridConnected || sec.enabled === false) continue;
    // Secondary frequency restoration: integral of the frequency error, shared by participation.
    let cap = 0;
    for (const u of rt.emsUnits)
      if (u.on && u.dispatchable && u.kind !== 'grid-following') cap += u.participation;
    if (cap <= 0) continue;
    const err = (rt.fTarget_hz - rt.freq.f_hz) / tw.f0_hz;
    // While resynchronising, secondary control works 4× faster to follow the synchroniser.
    rt.secondaryOffset_mw += (rt.resyncing ? 4 : 1) * kiF * err * cap * dt;
    for (let i = 0; i < rt.emsUnits.length; i++) {
      const u = rt.emsUnits[i];
      if (!u.on || !u.dispatchable || u.kind === 'grid-following') continue;
      u.setReference(tw.baseRef[rt.emsUnitNet[i]] + (rt.secondaryOffset_mw * u.participation) / cap);
    }
    // Secondary voltage restoration: mean bus voltage back to 1 pu through the formers' set-points.
    let vs = 0;
    for (let i = 0; i < rt.buses.length; i++) vs += tw.vm[rt.buses[i]];
    const meanV = vs / rt.buses.length;
    // Hold the voltage integrator while the sources are current-limited (a fault).
    if (rt.vScale < 1) continue;
    rt.voltageOffset_pu = Math.max(-0.05, Math.min(0.08, rt.voltageOffset_pu + kiV * (1 - meanV) * dt));
  }
  // Tertiary dispatch.
  if (tw.t + 1e-9 >= tw.nextDispatch_s) {
    tertiary(tw);
    let interval = Number.POSITIVE_INFINITY;
    for (const s of tw.emsByMicrogrid.values()) interval = Math.min(interval, s.dispatchInterval_s);
    tw.nextDispatch_s = tw.t + (Number.isFinite(interval) ? interval : 60);
  }
  runPlannedIslanding(tw);
  runResync(tw);
}

export function tertiary(tw: TwinCore): void {
  for (let r = 0; r < tw.islands.length; r++) {
    const rt = tw.islands[r];
    if (!rt.energised || !rt.ems) continue;
    const units = rt.emsUnits;
    if (tw.emsRefs.length < units.length) continue;
    let demand = rt.losses_mw;
    for (const l of rt.loads) demand += tw.loads.p[l];
    // Units a controller took are not the EMS's to dispatch: their output is given, like a PV's.
    for (let i = 0; i < rt.units.length; i++) {
      const u = rt.units[i];
      if (u.on && (!u.dispatchable || !tw.builtInUnits[rt.unitNet[i]])) demand -= u.io.p_mw;
    }
    for (const h of rt.hardware) demand -= h.p_mw;
    for (let k = 0; k < tw.fids.length; k++) {
      if (tw.busIslandRuntime[tw.fidBusA[k]] === r) demand -= tw.fids[k].pA_mw;
      if (tw.busIslandRuntime[tw.fidBusB[k]] === r) demand -= tw.fids[k].pB_mw;
    }
    const refs = tw.emsRefs.subarray(0, units.length);
    dispatch(
      rt.ems,
      {
        units,
        netDemand_mw: demand,
        gridConnected: rt.gridConnected,
        pcc: rt.gridConnected ? rt.pccEstimator?.estimate : undefined,
      },
      refs,
    );
    for (let i = 0; i < units.length; i++) {
      const ref = refs[i];
      if (Number.isNaN(ref)) continue;
      tw.baseRef[rt.emsUnitNet[i]] = ref;
      units[i].setReference(ref);
      // Standby power: gensets stop while the grid is there.
      const u = units[i];
      if (
        u instanceof SynchronousGenset &&
        rt.gridConnected &&
        rt.ems.mode === 'standby-power' &&
        u.running
      ) {
        u.stop();
        tw.emit('unit-standby', `${u.id} to standby`, u.id);
        tw.unitServiceDirty = true;
      }
    }
    rt.secondaryOffset_mw = 0;
    if (!rt.gridConnected) demandResponse(tw, rt, demand, units);
  }
}

/**
 * Demand response of an islanded microgrid: when the net demand exceeds what its dispatchable
 * units can deliver, controllable loads are curtailed (equal fraction) by the shortfall; they are
 * restored as soon as capacity returns.
 */
export function demandResponse(
  tw: TwinCore,
  rt: IslandRuntime,
  demand: number,
  units: readonly DerUnit[],
): void {
  let capacity = 0;
  for (const u of units) if (u.on && u.dispatchable) capacity += u.pmax_mw;
  // Work with the uncurtailed demand, so the curtailment converges instead of oscillating.
  let controllable = 0;
  let curtailed = 0;
  for (const l of rt.loads) {
    if (!tw.loads.controllable[l] || !tw.loads.connected[l] || !tw.builtInLoads[l]) continue;
    const full = tw.loads.nominal(l, tw.ctx.hourOfDay);
    controllable += full;
    curtailed += full * (1 - tw.loads.curtail[l]);
  }
  if (controllable <= 0) return;
  const shortfall = demand + curtailed - capacity;
  const fraction = shortfall > 0 ? Math.min(1, shortfall / controllable) : 0;
  let changed = false;
  for (const l of rt.loads) {
    if (!tw.loads.controllable[l] || !tw.builtInLoads[l]) continue;
    const c = 1 - fraction;
    if (Math.abs(tw.loads.curtail[l] - c) > 1e-9) changed = true;
    tw.loads.curtail[l] = c;
  }
  if (changed) {
    tw.emit(
      'demand-response',
      `${rt.id}: controllable loads curtailed by ${(fraction * 100).toFixed(1)} %`,
      rt.id,
    );
  }
}
