/** Dynamics stage: units, FIDs, loads and the swing equation per island, sub-stepped. */
import type { TwinCore } from '../core/state.ts';
import { BatteryUnit } from '../der/battery.ts';
import { SynchronousGenset } from '../der/genset.ts';
import { InverterSource } from '../der/inverter.ts';
import { lagStep } from '../dynamics/lag.ts';

/** Sets unit P targets at t = 0 so islands start balanced (no artificial transient). */
export function initialiseBalance(tw: TwinCore): void {
  tw.loads.evaluate(tw.vm, tw.busDfPu, tw.ctx.hourOfDay);
  for (const rt of tw.islands) {
    for (const u of rt.units) {
      if (!(u instanceof InverterSource)) continue;
      tw.fillContext(rt, u.busIndex);
      u.advance(tw.ctx, 0);
      u.prime();
      u.advance(tw.ctx, 0);
    }
  }
  for (const rt of tw.islands) {
    if (!rt.energised || rt.gridConnected) continue;
    // Advance resources once so available power is known.
    for (const u of rt.units) {
      tw.fillContext(rt, u.busIndex);
      u.advance(tw.ctx, 0);
    }
    let demand = rt.losses_mw;
    for (const l of rt.loads) demand += tw.loads.p[l];
    for (let k = 0; k < tw.fids.length; k++) {
      if (tw.busIslandRuntime[tw.fidBusA[k]] === rt.index) demand += tw.fids[k].params.p_ab_mw;
      if (tw.busIslandRuntime[tw.fidBusB[k]] === rt.index) demand -= tw.fids[k].params.p_ab_mw;
    }
    let flexible = 0;
    for (const u of rt.units) {
      if (!u.on) continue;
      if (u.kind === 'grid-following') demand -= u.pDrive_mw;
      else flexible += u.participation;
    }
    for (const h of rt.hardware) demand -= h.commanded_p_mw;
    if (flexible <= 0) continue;
    for (const u of rt.units) {
      if (!u.on || u.kind === 'grid-following') continue;
      const p = (demand * u.participation) / flexible;
      if (u instanceof SynchronousGenset) {
        u.governor.reset(p);
        u.governor.reference_mw = p;
      } else if (u instanceof BatteryUnit) {
        u.vsm.reset(p);
        u.setReference(p);
      }
      u.pDrive_mw = p;
      u.p_mw = p;
      tw.baseRef[tw.units.indexOf(u)] = p;
    }
  }
}

/** Advances the dynamics from tSub − h to tSub. */
export function substep(tw: TwinCore, tSub: number, h: number): void {
  tw.mainGrid.advance(tSub, h);
  const ctx = tw.ctx;
  ctx.t_s = tSub;
  ctx.hourOfDay = (tw.config.startHour ?? 12) + tSub / 3600;
  // Units.
  for (let r = 0; r < tw.islands.length; r++) {
    const rt = tw.islands[r];
    const units = rt.units;
    for (let i = 0; i < units.length; i++) {
      const u = units[i];
      tw.fillContext(rt, u.busIndex);
      if (!rt.energised && u.kind === 'grid-following') ctx.vm_pu = 0;
      u.advance(ctx, h);
    }
  }
  for (let i = 0; i < tw.hardware.length; i++) tw.hardware[i].advance(ctx, h);
  // FIDs.
  for (let k = 0; k < tw.fids.length; k++) {
    const a = tw.islands[tw.busIslandRuntime[tw.fidBusA[k]]];
    const b = tw.islands[tw.busIslandRuntime[tw.fidBusB[k]]];
    const fa = a ? (a.gridConnected ? tw.mainGrid.f_hz : a.freq.f_hz) : 0;
    const fb = b ? (b.gridConnected ? tw.mainGrid.f_hz : b.freq.f_hz) : 0;
    tw.fids[k].step(fa, fb, !!a?.energised, !!b?.energised, tw.f0_hz, h);
  }
  // Loads at last solved voltages and present frequency.
  tw.loads.evaluate(tw.vm, tw.busDfPu, ctx.hourOfDay);
  // Swing per island.
  for (let r = 0; r < tw.islands.length; r++) if (tw.islands[r].energised) swing(tw, r, h);
}

/**
 * An energised island's frequency over h: a grid-connected one follows the main grid (which
 * absorbs the imbalance, reported as PCC import); an islanded one integrates its swing equation.
 */
function swing(tw: TwinCore, r: number, h: number): void {
  const rt = tw.islands[r];
  let pAcc = -rt.losses_mw;
  let m = 0;
  for (let i = 0; i < rt.units.length; i++) {
    const u = rt.units[i];
    if (!u.on) continue;
    pAcc += u.io.pDrive_mw;
    m += u.io.inertia_mws_hz;
  }
  for (let i = 0; i < rt.hardware.length; i++) pAcc += rt.hardware[i].pDrive_mw;
  for (let i = 0; i < rt.loads.length; i++) pAcc -= tw.loads.p[rt.loads[i]];
  for (let k = 0; k < tw.fids.length; k++) {
    if (tw.busIslandRuntime[tw.fidBusA[k]] === r) pAcc += tw.fids[k].pA_mw;
    if (tw.busIslandRuntime[tw.fidBusB[k]] === r) pAcc += tw.fids[k].pB_mw;
  }
  rt.inertia = m;
  let rocof: number;
  if (rt.gridConnected) {
    rt.freq.follow(tw.mainGrid.f_hz, tw.mainGrid.theta_rad, h);
    rocof = tw.mainGrid.rocof_hz_s;
    rt.freq.rocof_hz_s = rocof;
    // The grid absorbs the imbalance, inertial responses included.
    let inertial = 0;
    for (let i = 0; i < rt.units.length; i++)
      if (rt.units[i].on) inertial += rt.units[i].io.inertia_mws_hz * rocof;
    rt.pccImport_mw = -(pAcc - inertial);
  } else if (m > 0) {
    rocof = rt.freq.advance(pAcc, m, h);
  } else {
    rocof = 0;
  }
  rt.rocofFiltered = lagStep(rt.rocofFiltered, rocof, 0.05, h);
  const df = (rt.gridConnected ? tw.mainGrid.f_hz : rt.freq.f_hz) / tw.f0_hz - 1;
  for (let i = 0; i < rt.buses.length; i++) tw.busDfPu[rt.buses[i]] = df;
  for (let i = 0; i < rt.units.length; i++) {
    const u = rt.units[i];
    u.settle(rocof);
    u.account(h);
  }
}
