/** Topology stage: islands from breaker states and unit service, rebuilt only when the network really changed. */
import type { TwinCore } from '../core/state.ts';
import type { IslandRuntime } from '../core/types.ts';
import { SynchronousGenset } from '../der/genset.ts';
import type { DerUnit } from '../der/unit.ts';
import { IslandFrequency } from '../dynamics/swing.ts';
import type { Island } from '../powerflow/index.ts';
import { defaultUflsStages, UnderFrequencyShedding, uflsRestoreRule } from '../protection/protection.ts';
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

/** What an island holds: its units (and their twin indices), loads, hardware, microgrids. */
function islandMembers(tw: TwinCore, island: Island) {
  const pf = tw.pf;
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
  const microgrids: string[] = [];
  for (const b of island.buses) {
    const mg = tw.microgridOfBus[b];
    if (mg && !microgrids.includes(mg)) microgrids.push(mg);
  }
  return {
    units,
    unitNet: Int32Array.from(unitNet),
    loads: Int32Array.from(loads),
    hardware,
    gridConnected,
    microgrids,
  };
}

/** The old island that held most of this island's inertia (the grid outweighs any), or undefined. */
function predecessor(
  island: Island,
  old: readonly IslandRuntime[],
  oldOfBus: Int32Array,
): IslandRuntime | undefined {
  let best = -1;
  let bestWeight = -1;
  for (const b of island.buses) {
    const o = oldOfBus[b];
    if (o < 0 || !old[o]?.energised) continue;
    const w = old[o].inertia + (old[o].gridConnected ? 1e9 : 0);
    if (w > bestWeight) {
      bestWeight = w;
      best = o;
    }
  }
  return best >= 0 ? old[best] : undefined;
}

/**
 * A new island's runtime; it inherits frequency, phase, secondary-control, UFLS and
 * anti-islanding state from its predecessor.
 */
function islandRuntime(
  tw: TwinCore,
  island: Island,
  index: number,
  from: IslandRuntime | undefined,
): IslandRuntime {
  const net = tw.pf.net;
  const m = islandMembers(tw, island);
  const mgs = m.microgrids;
  const id = mgs.length > 0 ? mgs.join('+') : `bus-${net.busIds[island.buses[0]]}`;
  let unplanned = from ? from.unplannedSince_s : -1;
  if (from?.gridConnected && !m.gridConnected && unplanned < 0) unplanned = tw.planned ? -1 : tw.t;
  if (m.gridConnected) unplanned = -1;
  const freq = new IslandFrequency(tw.f0_hz);
  freq.f_hz = from ? from.freq.f_hz : tw.f0_hz;
  freq.theta_rad = from ? from.freq.theta_rad : 0;
  freq.rocof_hz_s = from ? from.freq.rocof_hz_s : 0;
  const energised = island.kind === 'energised';
  const ufls =
    tw.config.ufls?.enabled === false ? [] : (tw.config.ufls?.stages ?? defaultUflsStages(tw.f0_hz));
  const rt: IslandRuntime = {
    index,
    id,
    referenceBus: island.referenceBus,
    vScale: 1,
    state: {
      id,
      energised,
      gridConnected: m.gridConnected,
      f_hz: energised ? freq.f_hz : 0,
      rocof_hz_s: 0,
      buses: Array.from(island.buses, (b) => net.busIds[b]),
      ...(island.referenceBus >= 0 ? { referenceBus: net.busIds[island.referenceBus] } : {}),
    },
    freq,
    buses: island.buses,
    units: m.units,
    unitNet: m.unitNet,
    emsUnits: m.units,
    emsUnitNet: m.unitNet,
    loads: m.loads,
    hardware: m.hardware,
    energised,
    gridConnected: m.gridConnected,
    inertia: 0,
    losses_mw: 0,
    pccImport_mw: 0,
    secondaryOffset_mw: m.gridConnected || !from ? 0 : from.secondaryOffset_mw,
    voltageOffset_pu: m.gridConnected || !from ? 0 : from.voltageOffset_pu,
    rocofFiltered: 0,
    ufls: from
      ? from.ufls.clone()
      : new UnderFrequencyShedding(ufls, uflsRestoreRule(tw.f0_hz, tw.config.ufls?.restore)),
    microgrids: mgs,
    ems: mgs.length > 0 ? tw.emsByMicrogrid.get(mgs[0]) : undefined,
    pccEstimator: mgs.length > 0 ? tw.pccEstimatorByMicrogrid.get(mgs[0]) : undefined,
    fTarget_hz: tw.f0_hz,
    resyncing: false,
    nadir_hz: from ? from.nadir_hz : Number.POSITIVE_INFINITY,
    zenith_hz: from ? from.zenith_hz : Number.NEGATIVE_INFINITY,
    unplannedSince_s: unplanned,
  };
  splitBuiltInUnits(tw, rt);
  return rt;
}

/** New island runtimes after a topology change; breaker positions, PCC meters and standby follow. */
export function rebuildIslands(tw: TwinCore): void {
  const pf = tw.pf;
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
    runtimes.push(islandRuntime(tw, island, idx, predecessor(island, old, oldOfBus)));
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
