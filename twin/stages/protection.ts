/** Protection stage: IEEE 1547 DER trips, anti-islanding, UFLS, over-current relays. */
import type { TwinCore } from '../core/state.ts';
import { DEG, type IslandRuntime } from '../core/types.ts';
import { hypot2 } from '../hypot.ts';
import { pickupRoom } from './ems.ts';

/** Every protection function, once per step after the network solve. */
export function protect(tw: TwinCore, dt: number): void {
  for (let r = 0; r < tw.islands.length; r++) {
    const rt = tw.islands[r];
    const f = rt.energised ? (rt.gridConnected ? tw.mainGrid.f_hz : rt.freq.f_hz) : 0;
    if (rt.energised) {
      if (f < rt.nadir_hz) rt.nadir_hz = f;
      if (f > rt.zenith_hz) rt.zenith_hz = f;
    }
    protectUnits(tw, rt, f, dt);
    antiIslanding(tw, rt, dt);
    if (rt.energised && !rt.gridConnected) underFrequencyShedding(tw, rt, f, dt);
    if (rt.energised) restoreShedLoad(tw, rt, f, dt);
  }
  if (tw.ocBranch.length > 0) overcurrent(tw, dt);
}

/** IEEE 1547 trip and enter-service functions of the island's units. */
function protectUnits(tw: TwinCore, rt: IslandRuntime, f: number, dt: number): void {
  const vm = tw.vm;
  for (let i = 0; i < rt.units.length; i++) {
    const u = rt.units[i];
    const p = u.protection;
    if (!p || !u.inService || !u.running) continue;
    const v = rt.energised ? vm[u.busIndex] : 0;
    const wasTripped = p.tripped;
    const cause = p.update(v, rt.energised ? f : 0, rt.rocofFiltered, dt);
    if (cause) tw.onUnitTrip(u, `IEEE 1547 ${cause}`);
    else if (wasTripped && !p.tripped) {
      tw.emit('der-enter-service', `${u.id} enters service`, u.id);
      tw.unitServiceDirty = true;
    }
  }
}

/** Anti-islanding: DERs flagged for it trip after the detection time on unplanned islanding. */
function antiIslanding(tw: TwinCore, rt: IslandRuntime, dt: number): void {
  if (
    rt.unplannedSince_s >= 0 &&
    tw.t - rt.unplannedSince_s >= (tw.config.antiIslandingDetection_s ?? 2) - dt * 0.5
  ) {
    for (const u of rt.units) {
      if (u.on && tw.derParams(u.id)?.antiIslanding === true) {
        u.protection?.trip('anti-islanding');
        tw.onUnitTrip(u, 'anti-islanding');
      }
    }
    rt.unplannedSince_s = Number.POSITIVE_INFINITY;
  }
}

/** Staged under-frequency load shedding of an islanded microgrid. */
function underFrequencyShedding(tw: TwinCore, rt: IslandRuntime, f: number, dt: number): void {
  const stage = rt.ufls.update(f, dt);
  if (stage > 0) {
    let shed = 0;
    for (const l of rt.loads) {
      if (tw.loads.stage[l] === stage && tw.loads.connected[l]) {
        tw.loads.connected[l] = 0;
        tw.loads.uflsShed[l] = 1;
        tw.loads.uflsShedCount++;
        shed += tw.loads.p[l];
      }
    }
    tw.emit(
      'ufls',
      `UFLS stage ${stage} in ${rt.id} at ${f.toFixed(3)} Hz shed ${shed.toFixed(3)} MW`,
      rt.id,
    );
  }
}

/**
 * The UFLS restore rule (docs/twin.md, "Protection"): after the island's frequency has stayed at or
 * above the restore threshold for the delay, the highest shed stage's loads in the island are
 * reconnected — last shed, first restored — and that stage and those after it re-arm. An islanded
 * microgrid waits until its grid-forming units have the room for that load (else restoring it
 * would shed it again); the main grid always has it. With nothing shed, operated stages just re-arm.
 */
function restoreShedLoad(tw: TwinCore, rt: IslandRuntime, f: number, dt: number): void {
  const loads = tw.loads;
  if (!rt.ufls.restoreDue(f, dt, loads.uflsShedCount > 0 || rt.ufls.anyOperated)) return;
  let stage = 0;
  for (const l of rt.loads) if (loads.uflsShed[l] && loads.stage[l] > stage) stage = loads.stage[l];
  if (stage === 0) {
    rt.ufls.rearmFrom(1);
    return;
  }
  const hour = tw.ctx.hourOfDay;
  let restore = 0;
  for (const l of rt.loads)
    if (loads.uflsShed[l] && loads.stage[l] === stage) restore += loads.ifConnected(l, hour);
  if (!rt.gridConnected && pickupRoom(rt) < restore) return;
  for (const l of rt.loads) {
    if (!loads.uflsShed[l] || loads.stage[l] !== stage) continue;
    loads.uflsShed[l] = 0;
    loads.uflsShedCount--;
    loads.connected[l] = 1;
  }
  rt.ufls.rearmFrom(stage);
  tw.emit(
    'load-restored',
    `UFLS stage ${stage} in ${rt.id} restored ${restore.toFixed(3)} MW at ${f.toFixed(3)} Hz; stage re-armed`,
    rt.id,
  );
}

/** Definite-time over-current relays on branches, current from the solved voltages. */
function overcurrent(tw: TwinCore, dt: number): void {
  const vm = tw.vm;
  const net = tw.pf.net;
  for (let i = 0; i < tw.ocBranch.length; i++) {
    const k = tw.ocBranch[i];
    if (!net.branchInService[k]) {
      tw.ocCurrent[i] = 0;
      continue;
    }
    const f = net.branchFrom[k];
    const t = net.branchTo[k];
    const af = tw.pf.va_deg[f] / DEG;
    const at = tw.pf.va_deg[t] / DEG;
    const dr = vm[f] * Math.cos(af) - vm[t] * Math.cos(at);
    const di = vm[f] * Math.sin(af) - vm[t] * Math.sin(at);
    const z = hypot2(net.branchR[k], net.branchX[k]);
    tw.ocCurrent[i] = (hypot2(dr, di) / z) * tw.ocBaseKa[i] * 1000;
  }
  const tripped = tw.overcurrent.update(tw.ocCurrent, dt);
  if (tripped >= 0) {
    const s = tw.overcurrent.settings[tripped];
    tw.setBreaker(s.branch, false);
    tw.emit(
      'overcurrent-trip',
      `over-current relay opened ${s.branch} at ${tw.ocCurrent[tripped].toFixed(0)} A`,
      s.branch,
    );
  }
}
