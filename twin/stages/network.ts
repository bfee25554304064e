/** Network-solve stage: injections into the power flow, one solve per island, losses and current limiting. */
import type { TwinCore } from '../core/state.ts';
import type { IslandRuntime } from '../core/types.ts';
import { BatteryUnit } from '../der/battery.ts';
import { SynchronousGenset } from '../der/genset.ts';
import type { DerUnit } from '../der/unit.ts';
import { hypot2 } from '../hypot.ts';
import { type PowerFlowResult, UnitControl } from '../powerflow/index.ts';

/** Writes injections into the power flow and solves every island. */
export function solveNetwork(tw: TwinCore): void {
  writeInjections(tw);
  readBack(tw, solveWithRetry(tw));
}

/** Loads, FIDs, hardware and units into the power flow's inputs; who holds each island's voltage. */
function writeInjections(tw: TwinCore): void {
  const net = tw.pf.net;
  for (let l = 0; l < tw.loads.n; l++) {
    net.loadP_mw[l] = tw.loads.p[l];
    net.loadQ_mvar[l] = tw.loads.q[l];
  }
  net.busExtraP_mw.fill(0);
  net.busExtraQ_mvar.fill(0);
  for (let k = 0; k < tw.fids.length; k++) {
    const f = tw.fids[k];
    net.busExtraP_mw[tw.fidBusA[k]] += f.pA_mw;
    net.busExtraQ_mvar[tw.fidBusA[k]] += f.qA_mvar;
    net.busExtraP_mw[tw.fidBusB[k]] += f.pB_mw;
    net.busExtraQ_mvar[tw.fidBusB[k]] += f.qB_mvar;
  }
  for (let i = 0; i < tw.hardware.length; i++) {
    const d = tw.hardware[i];
    net.busExtraP_mw[d.busIndex] += d.pDrive_mw;
    net.busExtraQ_mvar[d.busIndex] += d.q_mvar;
  }
  for (let r = 0; r < tw.islands.length; r++) {
    const rt = tw.islands[r];
    for (let i = 0; i < rt.units.length; i++) {
      const u = rt.units[i];
      const io = u.io;
      const k = tw.unitNetIndex[rt.unitNet[i]];
      net.unitP_mw[k] = u.on ? io.p_mw : 0;
      net.unitQ_mvar[k] = u.on ? io.q_mvar : 0;
      net.unitParticipation[k] = !rt.gridConnected && u.on ? io.inertia_mws_hz : 0;
      // Only the island's reference holds its voltage; other formers follow their Q–V droop.
      // Transmission generators (a grid file's generators) keep their AVR set-point, as in the
      // power flow: as PQ units a meshed transmission grid has no voltage support and diverges.
      if (tw.unitRegulates[rt.unitNet[i]]) {
        const holds = u.busIndex === rt.referenceBus || u.technology === 'generator';
        net.unitControl[k] = holds ? UnitControl.voltage : UnitControl.pq;
        if (holds) net.unitVset_pu[k] = unitVset(u) + rt.voltageOffset_pu;
      }
    }
  }
  const v = tw.mainGrid.v_pu;
  for (let u = 0; u < net.unitIds.length; u++) {
    if (net.busIsSlack[net.unitBus[u]]) net.unitVset_pu[u] = v;
  }
}

/** One solve of every island; islands that failed are retried from a flat start. */
function solveWithRetry(tw: TwinCore): PowerFlowResult {
  const pf = tw.pf;
  const stats = tw.solverStats;
  const result = pf.solve();
  tw.countRebuilds();
  stats.networkSolves++;
  countWork(tw, result);
  if (!result.converged) {
    // Retry islands that failed from a flat start (a warm start from a faulted state can lie
    // outside Newton's basin once the fault is gone), keeping their structure.
    for (const r of result.islands) {
      if (r.status === 'converged' || r.status === 'de-energised' || r.status === 'no-reference') continue;
      pf.flatStartIsland(r.index);
      stats.retriedIslands++;
      const again = pf.solveIsland(r.index);
      stats.newtonIterations += again.iterations;
      stats.factorizations += again.factorizations;
    }
    result.converged = result.islands.every(
      (r) => r.status === 'converged' || r.status === 'de-energised' || r.status === 'no-reference',
    );
    if (!result.converged) stats.failedSolves++;
  }
  return result;
}

/** Voltages, losses per island (current limiting applied) and the units' solved outputs. */
function readBack(tw: TwinCore, result: PowerFlowResult): void {
  const pf = tw.pf;
  const net = pf.net;
  tw.vm.set(pf.vm_pu);
  // Losses per island: sum of all injections.
  const inj = tw.busInj;
  inj.set(net.busExtraP_mw);
  for (let l = 0; l < tw.loads.n; l++) inj[tw.loads.bus[l]] -= tw.loads.p[l];
  for (let u = 0; u < net.unitIds.length; u++)
    if (net.unitInService[u]) inj[net.unitBus[u]] += pf.unitPOut_mw[u];
  for (let r = 0; r < tw.islands.length; r++) {
    const rt = tw.islands[r];
    if (!rt.energised) {
      rt.losses_mw = 0;
      continue;
    }
    // A failed solve keeps the last good losses and unit outputs.
    if (result.islands[pf.busIsland[rt.buses[0]]].status !== 'converged') continue;
    let sum = 0;
    for (let i = 0; i < rt.buses.length; i++) sum += inj[rt.buses[i]];
    // Grid-connected: the slack output is the import, so the sum is the losses either way.
    rt.losses_mw = Math.max(0, sum);
    // Current limiting of an islanded microgrid's sources: when its formers would have to
    // deliver more current than they can (a fault), every voltage of the island sags by the same
    // factor (the network and, below 0.7 pu, the loads are impedances), powers by its square.
    rt.vScale = rt.gridConnected ? 1 : currentLimitScale(tw, rt);
    const s2 = rt.vScale * rt.vScale;
    if (rt.vScale < 1) {
      for (let i = 0; i < rt.buses.length; i++) tw.vm[rt.buses[i]] *= rt.vScale;
      rt.losses_mw *= s2;
    }
    for (let i = 0; i < rt.units.length; i++) {
      const u = rt.units[i];
      const k = tw.unitNetIndex[rt.unitNet[i]];
      if (!u.on) continue;
      if (net.unitControl[k] === UnitControl.voltage) u.io.q_mvar = pf.unitQOut_mvar[k] * s2;
      if (net.unitParticipation[k] > 0 || net.unitControl[k] === UnitControl.voltage)
        u.io.p_mw = pf.unitPOut_mw[k] * s2;
    }
  }
}

export function countWork(tw: TwinCore, result: PowerFlowResult): void {
  for (const r of result.islands) {
    tw.solverStats.newtonIterations += r.iterations;
    tw.solverStats.factorizations += r.factorizations;
  }
}

/** Voltage scale (≤ 1) that keeps the island's forming units within their current limits. */
export function currentLimitScale(tw: TwinCore, rt: IslandRuntime): number {
  const pf = tw.pf;
  let limit = 0;
  let apparent = 0;
  for (let i = 0; i < rt.units.length; i++) {
    const u = rt.units[i];
    if (!u.on || u.kind === 'grid-following') continue;
    // Sustained fault current: ~3 pu for a synchronous machine, ~1.5 pu for an inverter.
    limit += u.rating_mva * (u.kind === 'synchronous' ? 3 : 1.5);
    const k = tw.unitNetIndex[rt.unitNet[i]];
    apparent += hypot2(pf.unitPOut_mw[k], pf.unitQOut_mvar[k]);
  }
  const v = rt.referenceBus >= 0 ? pf.vm_pu[rt.referenceBus] : 1;
  if (!(limit > 0) || !(v > 0)) return 1;
  const current = apparent / v;
  return current > limit ? limit / current : 1;
}

export function unitVset(u: DerUnit): number {
  if (u instanceof SynchronousGenset) return u.params.vset_pu;
  if (u instanceof BatteryUnit) return u.params.vset_pu;
  return 1;
}
