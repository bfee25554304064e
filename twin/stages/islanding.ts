/** Control stage, built-in controllers: planned islanding and synchro-check resynchronisation. */
import type { TwinCore } from '../core/state.ts';
import { DEG } from '../core/types.ts';
import type { DerUnit } from '../der/unit.ts';
import { wrapAngle } from '../dynamics/swing.ts';
import { dispatchIsland, endDemandResponse, shedControllable } from './ems.ts';
import { rebuildIslands } from './topology.ts';

/**
 * Planned islanding: bring the PCC exchange to zero, then open the PCC breaker. The island is
 * first dispatched as the island it is about to be (tertiary dispatch in islanded mode, with
 * demand response when its units cannot cover its demand), then an integral trim on the measured
 * exchange moves the dispatchable units' references within their limits (so it never winds up
 * beyond what they can give), and the breaker opens once the exchange is within the threshold,
 * or at the deadline.
 */
/**
 * Seconds a planned islanding gives the units to answer its dispatch before shedding load: the
 * batteries and inverters have, gensets and turbines are partway up their ramps.
 */
const SHED_AFTER_S = 2;

/** Share of what the slow units still have to deliver that storage gives up at the transfer. */
const STORAGE_SHARE_AT_TRANSFER = 0.5;

export function runPlannedIslanding(tw: TwinCore): void {
  const p = tw.planned;
  if (!p) return;
  const r = tw.busIslandRuntime[p.breaker.to] ?? tw.busIslandRuntime[p.breaker.from];
  const rt = tw.islands[r];
  const threshold = tw.config.plannedIslanding?.threshold_mw ?? 0.05;
  if (rt && !p.dispatched) {
    p.dispatched = true;
    p.shedAfter_s = tw.t + SHED_AFTER_S;
    dispatchIsland(tw, r, true);
  } else if (rt && Math.abs(rt.pccImport_mw) > threshold * 0.5) {
    const saturated = !trimTowardZeroExchange(tw, r, rt.pccImport_mw * Math.min(1, tw.dt_s * 2));
    // Every unit's reference is at its limit and, the fast units having answered, the import is
    // still there (slow units still ramping, or renewables fell since the dispatch): shed
    // controllable loads by what is left, at most once a second; the island's next dispatch
    // restores them once its units can.
    if (saturated && rt.pccImport_mw > 0 && tw.t >= p.shedAfter_s) {
      p.shedAfter_s = tw.t + 1;
      shedControllable(tw, rt, rt.pccImport_mw);
    }
  }
  if ((rt && Math.abs(rt.pccImport_mw) <= threshold) || tw.t >= p.deadline_s) {
    tw.planned = null;
    if (rt) balanceAtTransfer(tw, r);
    tw.setBreaker(p.breaker.id, false);
    tw.emit(
      'islanded',
      `${p.microgrid} islanded (planned), PCC exchange ${rt ? rt.pccImport_mw.toFixed(3) : '?'} MW`,
      p.microgrid,
    );
    rebuildIslands(tw);
    for (const r of tw.islands) if (r.microgrids.includes(p.microgrid)) r.unplannedSince_s = -1;
  }
}

/**
 * Moves island `r`'s dispatchable units' references by `delta_mw` in total (positive: produce
 * more), each by its share of the room left toward its limit, so none is driven past it. Returns
 * false when the units had no room left in that direction.
 */
function trimTowardZeroExchange(tw: TwinCore, r: number, delta_mw: number): boolean {
  const rt = tw.islands[r];
  let room = 0;
  for (let i = 0; i < rt.emsUnits.length; i++) room += roomOf(tw, rt.emsUnits[i], rt.emsUnitNet[i], delta_mw);
  if (room <= 1e-9) return false;
  const share = Math.min(1, Math.abs(delta_mw) / room) * Math.sign(delta_mw);
  for (let i = 0; i < rt.emsUnits.length; i++) {
    const u = rt.emsUnits[i];
    const n = rt.emsUnitNet[i];
    const move = roomOf(tw, u, n, delta_mw) * share;
    if (move === 0) continue;
    tw.baseRef[n] += move;
    u.setReference(tw.baseRef[n]);
  }
  return true;
}

/**
 * Bumpless transfer as the breaker opens: the island's references are made to add up to what its
 * units deliver now, which balances it (the exchange was near zero). The slow units keep ramping
 * toward their dispatch, and storage, the fast unit, backs off by what they still have to come, as
 * in the islanded dispatch where storage takes the remainder: otherwise their ramps would end in a
 * surplus, or storage would be left at its limit with no reserve for the island's first minutes.
 * Storage backing off by all of it at once would drop its output before the slow units have
 * come up, and the frequency with it (measured: 49.39 Hz on the demo's MG1).
 */
function balanceAtTransfer(tw: TwinCore, r: number): void {
  const rt = tw.islands[r];
  const held = (i: number) => {
    const u = rt.emsUnits[i];
    return u.on && u.dispatchable && u.active && tw.builtInUnits[rt.emsUnitNet[i]] === 1;
  };
  let coming = 0;
  for (let i = 0; i < rt.emsUnits.length; i++)
    if (held(i)) coming += tw.baseRef[rt.emsUnitNet[i]] - rt.emsUnits[i].io.p_mw;
  // Storage takes half: it is left midway, with reserve both ways for the island's first
  // minutes; the other half shows as a surplus the secondary control takes back gradually.
  coming *= STORAGE_SHARE_AT_TRANSFER;
  for (let i = 0; i < rt.emsUnits.length; i++) {
    const u = rt.emsUnits[i];
    const n = rt.emsUnitNet[i];
    if (!held(i) || u.technology !== 'battery') continue;
    const ref = tw.baseRef[n];
    const take = Math.max(ref - u.pmax_mw, Math.min(ref - u.pmin_mw, coming));
    tw.baseRef[n] = ref - take;
    u.setReference(tw.baseRef[n]);
    coming -= take;
  }
  // What storage could not take: the other units stop short of their dispatch, each by its share.
  let ahead = 0;
  for (let i = 0; i < rt.emsUnits.length; i++)
    if (held(i) && rt.emsUnits[i].technology !== 'battery')
      ahead += tw.baseRef[rt.emsUnitNet[i]] - rt.emsUnits[i].io.p_mw;
  if (Math.abs(ahead) <= 1e-9 || Math.abs(coming) <= 1e-9) return;
  const keep = Math.max(0, 1 - coming / ahead);
  for (let i = 0; i < rt.emsUnits.length; i++) {
    const u = rt.emsUnits[i];
    const n = rt.emsUnitNet[i];
    if (!held(i) || u.technology === 'battery') continue;
    tw.baseRef[n] = u.io.p_mw + (tw.baseRef[n] - u.io.p_mw) * keep;
    u.setReference(tw.baseRef[n]);
  }
}

/** Room a unit the EMS dispatches has between its reference and its limit in `direction`'s sense, MW. */
function roomOf(tw: TwinCore, u: DerUnit, n: number, direction: number): number {
  if (!u.on || !u.dispatchable || !u.active || !tw.builtInUnits[n]) return 0;
  const ref = tw.baseRef[n];
  return direction > 0 ? Math.max(0, u.pmax_mw - ref) : Math.max(0, ref - u.pmin_mw);
}

/** |Δθ| the synchroniser counts as the phases matched, degrees (a step's slip is a fraction of it). */
const PHASE_MATCH_DEG = 1;

export function runResync(tw: TwinCore): void {
  const s = tw.resync;
  if (!s) return;
  const sc = tw.config.synchroCheck ?? {};
  const ra = tw.islands[tw.busIslandRuntime[s.breaker.from]];
  const rb = tw.islands[tw.busIslandRuntime[s.breaker.to]];
  if (!ra || !rb || ra === rb) {
    tw.resync = null;
    return;
  }
  const grid = ra.gridConnected ? ra : rb;
  const isl = ra.gridConnected ? rb : ra;
  const fg = grid.gridConnected ? tw.mainGrid.f_hz : grid.freq.f_hz;
  const busG = grid === ra ? s.breaker.from : s.breaker.to;
  const busI = grid === ra ? s.breaker.to : s.breaker.from;
  const df = Math.abs(isl.freq.f_hz - fg);
  const dv = Math.abs(tw.vm[busI] - tw.vm[busG]);
  const thG = (grid.gridConnected ? tw.mainGrid.theta_rad : grid.freq.theta_rad) + tw.pf.va_deg[busG] / DEG;
  const thI = isl.freq.theta_rad + tw.pf.va_deg[busI] / DEG;
  const phase = wrapAngle(thI - thG);
  const dth = Math.abs(phase) * DEG;
  // Active synchronisation, as an automatic synchroniser does it: the island is driven to a small
  // constant slip against the grid, in the direction that brings the phases together sooner, so
  // the phase difference sweeps steadily through zero. (A slip proportional to the phase error
  // creeps toward zero and stalls there, where the wind's ±0.05 Hz decides.) The breaker closes
  // at the phase match: inside the synchro-check window, once |Δθ| stops falling.
  const slip = sc.slip_hz ?? 0.05;
  s.slipSign ??= phase > 0 ? -1 : 1;
  isl.fTarget_hz = fg + s.slipSign * slip;
  isl.resyncing = true;
  const matched = dth <= PHASE_MATCH_DEG || (s.lastPhase_deg !== undefined && dth >= s.lastPhase_deg);
  s.lastPhase_deg = dth;
  if (
    matched &&
    isl.energised &&
    df <= (sc.df_hz ?? 0.1) &&
    dv <= (sc.dv_pu ?? 0.05) &&
    dth <= (sc.dtheta_deg ?? 10)
  ) {
    tw.resync = null;
    isl.fTarget_hz = tw.f0_hz;
    isl.resyncing = false;
    tw.setBreaker(s.breaker.id, true);
    endDemandResponse(tw, isl);
    tw.emit(
      'reconnected',
      `${s.microgrid} reconnected: Δf ${df.toFixed(3)} Hz, ΔV ${dv.toFixed(3)} pu, Δθ ${dth.toFixed(1)}°`,
      s.microgrid,
    );
  } else if (tw.t >= s.deadline_s) {
    tw.resync = null;
    isl.fTarget_hz = tw.f0_hz;
    isl.resyncing = false;
    tw.emit('resync-failed', `${s.microgrid}: synchro-check not satisfied before timeout`, s.microgrid);
  }
}
