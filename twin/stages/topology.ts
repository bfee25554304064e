/** Topology stage: islands from breaker states and unit service, rebuilt only when the network really changed. */
import type { TwinCore } from '../core/state.ts';
import { type IslandRuntime, NO_INDICES } from '../core/types.ts';
import { SynchronousGenset } from '../der/genset.ts';
import type { DerUnit } from '../der/unit.ts';
import { IslandFrequency } from '../dynamics/swing.ts';
import type { Island } from '../powerflow/index.ts';
import { defaultUflsStages, UnderFrequencyShedding } from '../protection/protection.ts';
import { splitBuiltInUnits } from './actuators.ts';
import { locatePccMeter } from './metering.ts';

/**
 * Writes the units' service state into the network. Returns true, and marks the solver's
 * structure stale, only when that moves or removes an island's reference or may energise a dead
 * island; any other trip or start changes injections only.
 */
export function syncUnitService(tw: TwinCore): boolean {
  const pf = tw.pf;
  const net = pf.net;
  tw.unitServiceDirty = false;
  const islands = pf.topologyStale ? null : pf.islands;
  let structural = false;
  for (let i = 0; i < tw.units.length; i++) {
    const u = tw.units[i];
    const want = u.inService && !u.tripped && u.running ? 1 : 0;
    const k = tw.unitNetIndex[i];
    tw.unitNetInService[i] = want;
    if (net.unitInService[k] === want) continue;
    if (islands && !structural && (tw.unitRegulates[i] || net.unitGridForming[k]))
      structural = changesStructure(tw, islands, k, want === 1);
    net.unitInService[k] = want;
  }
  if (structural) {
    pf.invalidateTopology();
    tw.markStructure('unit-reference');
  }
  return structural;
}

export function changesStructure(
  tw: TwinCore,
  islands: readonly Island[],
  k: number,
  inService: boolean,
): boolean {
  const net = tw.pf.net;
  const bus = net.unitBus[k];
  const index = tw.pf.busIsland[bus];
  if (index < 0) return false;
  const island = islands[index];
  if (island.kind !== 'energised') return true;
  // A unit joining a live island leaves the reference where it is.
  if (inService || !net.unitGridForming[k] || bus !== island.referenceBus || net.busIsSlack[bus])
    return false;
  for (let u = 0; u < net.unitIds.length; u++)
    if (u !== k && net.unitBus[u] === bus && net.unitGridForming[u] && net.unitInService[u]) return false;
  return true;
}

export function rebuildIslands(tw: TwinCore): void {
  const pf = tw.pf;
  const net = pf.net;
  syncUnitService(tw);
  const old = tw.islands;
  const oldOfBus = Int32Array.from(tw.busIslandRuntime);
  const islands = pf.islands;
  tw.countRebuilds();
  const runtimes: IslandRuntime[] = [];
  tw.busIslandRuntime.fill(-1);
  for (const island of islands) {
    const idx = runtimes.length;
    for (const b of island.buses) tw.busIslandRuntime[b] = idx;
    const units: DerUnit[] = [];
    const unitNet: number[] = [];
    for (let i = 0; i < tw.units.length; i++) {
      if (pf.busIsland[tw.units[i].busIndex] === island.index) {
        units.push(tw.units[i]);
        unitNet.push(i);
      }
    }
    const loads: number[] = [];
    for (let l = 0; l < tw.loads.n; l++) if (pf.busIsland[tw.loads.bus[l]] === island.index) loads.push(l);
    const hardware = tw.hardware.filter((h) => pf.busIsland[h.busIndex] === island.index);
    let gridConnected = false;
    for (const b of tw.slackBus) if (pf.busIsland[b] === island.index) gridConnected = true;
    const mgs: string[] = [];
    for (const b of island.buses) {
      const mg = tw.microgridOfBus[b];
      if (mg && !mgs.includes(mg)) mgs.push(mg);
    }
    const id = mgs.length > 0 ? mgs.join('+') : `bus-${net.busIds[island.buses[0]]}`;
    // Inherit frequency from the old island that held most of this island's inertia.
    let f = tw.f0_hz;
    let theta = 0;
    let rocof = 0;
    let best = -1;
    let bestWeight = -1;
    let secondary = 0;
    let vOffset = 0;
    let unplanned = -1;
    let ufls: UnderFrequencyShedding | undefined;
    let nadir = Number.POSITIVE_INFINITY;
    let zenith = Number.NEGATIVE_INFINITY;
    for (const b of island.buses) {
      const o = oldOfBus[b];
      if (o < 0 || !old[o]?.energised) continue;
      const w = old[o].inertia + (old[o].gridConnected ? 1e9 : 0);
      if (w > bestWeight) {
        bestWeight = w;
        best = o;
      }
    }
    if (best >= 0) {
      const o = old[best];
      f = o.freq.f_hz;
      theta = o.freq.theta_rad;
      rocof = o.freq.rocof_hz_s;
      secondary = o.secondaryOffset_mw;
      vOffset = o.voltageOffset_pu;
      unplanned = o.unplannedSince_s;
      ufls = o.ufls;
      nadir = o.nadir_hz;
      zenith = o.zenith_hz;
      if (o.gridConnected && !gridConnected && unplanned < 0) unplanned = tw.planned ? -1 : tw.t;
    }
    if (gridConnected) unplanned = -1;
    const freq = new IslandFrequency(tw.f0_hz);
    freq.f_hz = f;
    freq.theta_rad = theta;
    freq.rocof_hz_s = rocof;
    const ems = mgs.length > 0 ? tw.emsByMicrogrid.get(mgs[0]) : undefined;
    const energised = island.kind === 'energised';
    const rt: IslandRuntime = {
      index: idx,
      id,
      referenceBus: island.referenceBus,
      vScale: 1,
      state: {
        id,
        energised,
        gridConnected,
        f_hz: energised ? f : 0,
        rocof_hz_s: 0,
        buses: Array.from(island.buses, (b) => net.busIds[b]),
      },
      freq,
      buses: island.buses,
      units,
      unitNet: Int32Array.from(unitNet),
      emsUnits: units,
      emsUnitNet: NO_INDICES,
      loads: Int32Array.from(loads),
      hardware,
      energised,
      gridConnected,
      inertia: 0,
      losses_mw: best >= 0 ? 0 : 0,
      pccImport_mw: 0,
      secondaryOffset_mw: gridConnected ? 0 : secondary,
      voltageOffset_pu: gridConnected ? 0 : vOffset,
      rocofFiltered: 0,
      ufls:
        ufls ??
        new UnderFrequencyShedding(
          tw.config.ufls?.enabled === false ? [] : (tw.config.ufls?.stages ?? defaultUflsStages(tw.f0_hz)),
        ),
      microgrids: mgs,
      ems,
      pccEstimator: mgs.length > 0 ? tw.pccEstimatorByMicrogrid.get(mgs[0]) : undefined,
      fTarget_hz: tw.f0_hz,
      resyncing: false,
      nadir_hz: nadir,
      zenith_hz: zenith,
      unplannedSince_s: unplanned,
    };
    rt.emsUnitNet = rt.unitNet;
    splitBuiltInUnits(tw, rt);
    runtimes.push(rt);
  }
  tw.islands = runtimes;
  tw.state.islands = runtimes.map((r) => r.state);
  tw.topologyDirty = false;
  const positions = tw.state.breakers!;
  for (const id of tw.breakers.keys()) positions[id] = tw.isBreakerClosed(id);
  for (const meter of tw.pccMeters) locatePccMeter(tw, meter);
  // Standby gensets start when their island loses the grid; anti-islanding arms.
  for (const rt of runtimes) {
    if (!rt.gridConnected && rt.energised) {
      for (const u of rt.units)
        if (u instanceof SynchronousGenset && u.inService && !u.running && !u.tripped) u.start();
    }
  }
}
