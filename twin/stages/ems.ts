/** Control stage, built-in controllers: secondary frequency/voltage restoration, tertiary dispatch, demand response, standby. */
import type { TwinCore } from '../core/state.ts';
import type { IslandRuntime } from '../core/types.ts';
import { SynchronousGenset } from '../der/genset.ts';
import type { DerUnit } from '../der/unit.ts';
import { dispatch } from '../dynamics/ems.ts';
import { runPlannedIslanding, runResync } from './islanding.ts';

/** Secondary control's integral gain while resynchronising, as a multiple of `ki_f`. */
const RESYNC_KI = 40;
/**
 * Proportional gain while resynchronising, MW per MW of participating capacity per pu of
 * frequency error: twice a 4 % droop's stiffness (25), so the units' answer to a frequency error
 * (the wind's gusts) is about three times the droop's alone.
 */
const RESYNC_KP = 50;

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
    // While resynchronising, the synchroniser drives the units itself (raise/lower on the
    // frequency error, as a synchroniser pulses the governors): a faster integral and a
    // proportional part, so the slip holds against the wind's noise.
    const resync = rt.resyncing;
    rt.secondaryOffset_mw += (resync ? RESYNC_KI : 1) * kiF * err * cap * dt;
    const held = rt.secondaryOffset_mw + (resync ? RESYNC_KP * err * cap : 0);
    for (let i = 0; i < rt.emsUnits.length; i++) {
      const u = rt.emsUnits[i];
      if (!u.on || !u.dispatchable || u.kind === 'grid-following') continue;
      u.setReference(tw.baseRef[rt.emsUnitNet[i]] + (held * u.participation) / cap);
    }
    // Secondary voltage restoration: mean bus voltage back to 1 pu through the formers' set-points.
    let vs = 0;
    for (let i = 0; i < rt.buses.length; i++) vs += tw.vm[rt.buses[i]];
    const meanV = vs / rt.buses.length;
    // Hold the voltage integrator while the sources are current-limited (a fault).
    if (rt.vScale < 1) continue;
    rt.voltageOffset_pu = Math.max(-0.05, Math.min(0.08, rt.voltageOffset_pu + kiV * (1 - meanV) * dt));
    restoreLoads(tw, rt, dt);
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
    // A synchroniser holds the island's slip: a re-dispatch now would reset secondary control
    // and throw the frequency off by tenths of a hertz (the island is dispatched once it is back).
    if (rt.resyncing) continue;
    // An island about to be islanded on purpose is dispatched as the island it is about to be.
    dispatchIsland(tw, r, !rt.gridConnected || isIslanding(tw, rt));
  }
}

/** Whether a planned islanding of one of the island's microgrids is under way. */
export function isIslanding(tw: TwinCore, rt: IslandRuntime): boolean {
  return tw.planned !== null && rt.microgrids.includes(tw.planned.microgrid);
}

/**
 * The demand island `r`'s dispatchable built-in units must cover: load and losses less what
 * everything else delivers (renewables, controller-held units, hardware, FIDs), MW.
 */
export function netDemand(tw: TwinCore, r: number): number {
  const rt = tw.islands[r];
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
  return demand;
}

/**
 * Tertiary dispatch of island `r`: references for its EMS's units, as an island (`islanded`:
 * the units cover the net demand, controllable loads curtailed when they cannot) or on the grid
 * (the EMS mode's rule).
 */
export function dispatchIsland(tw: TwinCore, r: number, islanded: boolean): void {
  const rt = tw.islands[r];
  if (!rt.energised || !rt.ems) return;
  const units = rt.emsUnits;
  if (tw.emsRefs.length < units.length) return;
  let demand = netDemand(tw, r);
  // Loads curtailed or restored now change the demand the units are dispatched for.
  if (islanded) demand += demandResponse(tw, rt, demand, units);
  const refs = tw.emsRefs.subarray(0, units.length);
  dispatch(
    rt.ems,
    {
      units,
      netDemand_mw: demand,
      gridConnected: !islanded,
      pcc: islanded ? undefined : rt.pccEstimator?.estimate,
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
    if (u instanceof SynchronousGenset && !islanded && rt.ems.mode === 'standby-power' && u.running) {
      u.stop();
      tw.emit('unit-standby', `${u.id} to standby`, u.id);
      tw.unitServiceDirty = true;
    }
  }
  rt.secondaryOffset_mw = 0;
}

/**
 * Demand response of an islanded microgrid: when the net demand exceeds what its dispatchable
 * units can deliver, controllable loads are curtailed (equal fraction) by the shortfall; they are
 * restored as soon as capacity returns. Returns the change in demand it made, MW (restored
 * load positive).
 */
export function demandResponse(
  tw: TwinCore,
  rt: IslandRuntime,
  demand: number,
  units: readonly DerUnit[],
): number {
  let capacity = 0;
  for (const u of units) if (u.on && u.dispatchable) capacity += u.pmax_mw;
  // Work with the uncurtailed demand, so the curtailment converges instead of oscillating.
  const { full, shed } = controllableLoads(tw, rt);
  // Curtail at once; restoring is gradual (restoreLoads), as the units pick the load up.
  return curtailControllable(tw, rt, Math.max(shed, demand + shed - capacity), full);
}

/** Share of an island's controllable load restored per second after demand response. */
const RESTORE_PER_S = 0.02;

/**
 * Restores island `rt`'s curtailed controllable loads gradually (RESTORE_PER_S), while its
 * frequency is at its target and the units the secondary control moves have the room to pick
 * the load up: restoring it all in one step would take a slow genset's share from the battery
 * at once and could shed load again under frequency.
 */
function restoreLoads(tw: TwinCore, rt: IslandRuntime, dt: number): void {
  if (rt.resyncing || rt.freq.f_hz < rt.fTarget_hz - 0.02) return;
  // Every step: no allocation, and nothing more than one pass over the loads when none is shed.
  let full = 0;
  let shed = 0;
  for (const l of rt.loads) {
    if (!tw.loads.controllable[l] || !tw.loads.connected[l] || !tw.builtInLoads[l]) continue;
    const p = tw.loads.nominal(l, tw.ctx.hourOfDay);
    full += p;
    shed += p * (1 - tw.loads.curtail[l]);
  }
  if (shed <= 0) return;
  const step = Math.min(shed, RESTORE_PER_S * full * dt, pickupRoom(rt));
  if (step <= 0) return;
  curtailControllable(tw, rt, shed - step, full, shed - step <= 1e-9);
}

/** What the island's dispatchable grid-forming units can still pick up (pmax − reference), MW. */
export function pickupRoom(rt: IslandRuntime): number {
  let room = 0;
  for (const u of rt.emsUnits)
    if (u.on && u.dispatchable && u.kind !== 'grid-following')
      room += Math.max(0, u.pmax_mw - u.reference_mw);
  return room;
}

/**
 * Sheds `mw` more of island `rt`'s controllable loads (a planned islanding whose units are at
 * their limits but still short: they cannot take over the import yet).
 */
export function shedControllable(tw: TwinCore, rt: IslandRuntime, mw: number): void {
  const { full, shed } = controllableLoads(tw, rt);
  curtailControllable(tw, rt, shed + mw, full);
}

/** Island `rt`'s controllable loads the EMS may curtail: uncurtailed power, and the part shed now, MW. */
function controllableLoads(tw: TwinCore, rt: IslandRuntime): { full: number; shed: number } {
  let full = 0;
  let shed = 0;
  for (const l of rt.loads) {
    if (!tw.loads.controllable[l] || !tw.loads.connected[l] || !tw.builtInLoads[l]) continue;
    const p = tw.loads.nominal(l, tw.ctx.hourOfDay);
    full += p;
    shed += p * (1 - tw.loads.curtail[l]);
  }
  return { full, shed };
}

/**
 * Curtails island `rt`'s controllable loads by the same fraction so that `shed_mw` of `full_mw`
 * is shed. Returns the change in their power, MW (restored load positive).
 */
function curtailControllable(
  tw: TwinCore,
  rt: IslandRuntime,
  shed_mw: number,
  full_mw: number,
  /** Whether to say so on the timeline (gradual restoration tells only its end). */
  announce = true,
): number {
  if (full_mw <= 0) return 0;
  const fraction = shed_mw > 0 ? Math.min(1, shed_mw / full_mw) : 0;
  let changed = false;
  let change_mw = 0;
  for (const l of rt.loads) {
    if (!tw.loads.controllable[l] || !tw.builtInLoads[l]) continue;
    const c = 1 - fraction;
    if (Math.abs(tw.loads.curtail[l] - c) > 1e-9) changed = true;
    if (tw.loads.connected[l]) change_mw += (c - tw.loads.curtail[l]) * tw.loads.nominal(l, tw.ctx.hourOfDay);
    tw.loads.curtail[l] = c;
  }
  if (changed && announce) {
    tw.emit(
      'demand-response',
      fraction > 0
        ? `${rt.id}: controllable loads curtailed by ${(fraction * 100).toFixed(1)} %`
        : `${rt.id}: controllable loads restored`,
      rt.id,
    );
  }
  return change_mw;
}

/**
 * The end of demand response when a microgrid is back on the grid (reconnected, or its planned
 * islanding called off): the grid covers its demand again, so island `rt`'s curtailed
 * controllable loads are restored.
 */
export function endDemandResponse(tw: TwinCore, rt: IslandRuntime): void {
  let restored = false;
  for (const l of rt.loads) {
    if (!tw.loads.controllable[l] || !tw.builtInLoads[l] || tw.loads.curtail[l] >= 1) continue;
    tw.loads.curtail[l] = 1;
    restored = true;
  }
  if (restored) tw.emit('demand-response', `${rt.id}: controllable loads restored (on the grid)`, rt.id);
}
