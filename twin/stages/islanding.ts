/** Control stage, built-in controllers: planned islanding and synchro-check resynchronisation. */
import type { TwinCore } from '../core/state.ts';
import { DEG } from '../core/types.ts';
import { wrapAngle } from '../dynamics/swing.ts';
import { rebuildIslands } from './topology.ts';

export function runPlannedIslanding(tw: TwinCore): void {
  const p = tw.planned;
  if (!p) return;
  const rt = tw.islands[tw.busIslandRuntime[p.breaker.to]] ?? tw.islands[tw.busIslandRuntime[p.breaker.from]];
  const threshold = tw.config.plannedIslanding?.threshold_mw ?? 0.05;
  if (rt) {
    // Bring the exchange to zero: raise (or lower) dispatchable references by the import.
    const units = rt.emsUnits.filter((u) => u.on && u.dispatchable && u.kind !== 'grid-following');
    const cap = units.reduce((a, u) => a + u.participation, 0);
    if (cap > 0 && Math.abs(rt.pccImport_mw) > threshold * 0.5) {
      const gain = Math.min(1, tw.dt_s * 2);
      for (const u of units) {
        const i = tw.units.indexOf(u);
        tw.baseRef[i] += (rt.pccImport_mw * gain * u.participation) / cap;
        u.setReference(tw.baseRef[i]);
      }
    }
  }
  if ((rt && Math.abs(rt.pccImport_mw) <= threshold) || tw.t >= p.deadline_s) {
    tw.planned = null;
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
  // Auto-synchroniser: slip toward the grid's phase (an island ahead runs slower), at most
  // slip_hz, so the phase error closes instead of cycling through the window.
  const slip = sc.slip_hz ?? 0.05;
  isl.fTarget_hz = fg + Math.max(-slip, Math.min(slip, (-slip * phase) / (Math.PI / 4)));
  isl.resyncing = true;
  if (isl.energised && df <= (sc.df_hz ?? 0.1) && dv <= (sc.dv_pu ?? 0.05) && dth <= (sc.dtheta_deg ?? 10)) {
    tw.resync = null;
    isl.fTarget_hz = tw.f0_hz;
    isl.resyncing = false;
    tw.setBreaker(s.breaker.id, true);
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
