/** The twin's side of the controller contract: built-in controllers' claims, the catalog, and applying a controller's actions (ownership, NaN, limits). */
import type {
  ActuatorRef,
  ControllerAction,
  DerInfo,
  NetworkModel,
  RefusedAction,
  TwinCatalog,
} from '../control/contract.ts';
import type { TwinCore } from '../core/state.ts';
import { type IslandRuntime, SECONDARY } from '../core/types.ts';
import { BatteryUnit } from '../der/battery.ts';

/**
 * The built-in controllers' claims: each microgrid's EMS (`ems:<id>`: tertiary dispatch, demand
 * response, standby, secondary control, planned islanding and resynchronisation) holds its
 * dispatchable units, controllable loads and PCC breaker; `secondary` holds the dispatchable
 * units outside microgrids. The operator may override them (supervised).
 */
export function claimBuiltIns(tw: TwinCore): void {
  const claims = new Map<string, ActuatorRef[]>();
  const add = (owner: string, ref: ActuatorRef) => {
    if (!claims.has(owner)) claims.set(owner, []);
    claims.get(owner)!.push(ref);
  };
  for (const mg of tw.grid.microgrids) claims.set(`ems:${mg.id}`, []);
  for (const u of tw.units) {
    if (!u.dispatchable) continue;
    const mg = tw.microgridOfBus[u.busIndex];
    add(mg ? `ems:${mg}` : SECONDARY, { kind: 'der', id: u.id });
  }
  for (let l = 0; l < tw.loads.n; l++) {
    const mg = tw.microgridOfBus[tw.loads.bus[l]];
    if (mg && tw.loads.controllable[l]) add(`ems:${mg}`, { kind: 'load', id: tw.loads.ids[l] });
  }
  for (const [mg, breaker] of tw.microgridPcc) add(`ems:${mg}`, { kind: 'breaker', id: breaker.id });
  for (const [owner, refs] of claims) {
    tw.ownership.supervise(owner);
    tw.ownership.claim(owner, refs);
  }
  refreshBuiltIns(tw);
  tw.ownership.onChange = () => refreshBuiltIns(tw);
}

/** Recomputes what the built-ins still drive (after a claim, hand-over or release). */
export function refreshBuiltIns(tw: TwinCore): void {
  const own = tw.ownership;
  const builtIn = (key: `${'der' | 'load'}:${string}`) => {
    const holder = own.ownerOfKey(key);
    return holder === undefined || holder === SECONDARY || holder.startsWith('ems:') ? 1 : 0;
  };
  tw.builtInUnits = Uint8Array.from(tw.units, (u) => builtIn(`der:${u.id}`));
  tw.builtInLoads = Uint8Array.from(tw.loads.ids, (id) => builtIn(`load:${id}`));
  for (const rt of tw.islands) splitBuiltInUnits(tw, rt);
}

export function splitBuiltInUnits(tw: TwinCore, rt: IslandRuntime): void {
  let all = true;
  for (let i = 0; i < rt.unitNet.length; i++) if (!tw.builtInUnits[rt.unitNet[i]]) all = false;
  if (all) {
    rt.emsUnits = rt.units;
    rt.emsUnitNet = rt.unitNet;
    return;
  }
  const keep = Array.from(rt.unitNet).filter((k) => tw.builtInUnits[k]);
  rt.emsUnits = keep.map((k) => tw.units[k]);
  rt.emsUnitNet = Int32Array.from(keep);
}

/** The actuators that exist, for controllers (computed once). */
export function catalog(tw: TwinCore): TwinCatalog {
  if (tw.catalogCache) return tw.catalogCache;
  const grid = tw.grid;
  const net = tw.pf.net;
  const ders: DerInfo[] = tw.units.map((u) => ({
    id: u.id,
    technology: u.technology,
    bus: net.busIds[u.busIndex],
    microgrid: tw.microgridOfBus[u.busIndex],
    rating_mva: u.rating_mva,
    pmin_mw: u.pmin_mw,
    pmax_mw: u.pmax_mw,
    capacity_mwh: u instanceof BatteryUnit ? u.params.energy_mwh : undefined,
    cost_per_mwh: u.cost_per_mwh,
    dispatchable: u.dispatchable,
    gridForming: u.kind !== 'grid-following',
    hardware: false,
  }));
  for (const h of tw.hardware)
    ders.push({
      id: h.id,
      technology: 'hardware',
      bus: net.busIds[h.busIndex],
      microgrid: tw.microgridOfBus[h.busIndex],
      rating_mva: h.rating_mva,
      pmin_mw: -h.rating_mva,
      pmax_mw: h.rating_mva,
      cost_per_mwh: 0,
      dispatchable: true,
      gridForming: false,
      hardware: true,
    });
  tw.catalogCache = {
    f0_hz: tw.f0_hz,
    dt_s: tw.dt_s,
    busIds: net.busIds,
    microgrids: grid.microgrids.map((m) => ({
      id: m.id,
      buses: grid.buses.filter((b) => b.microgrid === m.id).map((b) => b.id),
    })),
    ders,
    fids: grid.fids.map((f) => ({ id: f.id, busA: f.busA, busB: f.busB, rating_mw: f.rating_mva })),
    loads: tw.loads.ids.map((id, l) => ({
      id,
      bus: net.busIds[tw.loads.bus[l]],
      microgrid: tw.microgridOfBus[tw.loads.bus[l]],
      controllable: tw.loads.controllable[l] === 1,
    })),
    breakers: [...tw.breakers.keys()],
    network: networkModel(tw),
  };
  return tw.catalogCache;
}

function networkModel(tw: TwinCore): NetworkModel {
  const grid = tw.grid;
  const net = tw.pf.net;
  return {
    baseMVA: grid.baseMVA,
    buses: grid.buses.map((b, i) => ({
      id: b.id,
      vmin_pu: b.vmin_pu,
      vmax_pu: b.vmax_pu,
      shuntG_pu: net.busShuntG[i],
      shuntB_pu: net.busShuntB[i],
    })),
    branches: grid.branches.map((b) => ({
      id: b.id,
      kind: b.kind,
      from: b.from,
      to: b.to,
      r_pu: b.r_pu,
      x_pu: b.x_pu,
      b_pu: b.b_pu,
      tap: b.tap,
      shift_deg: b.shift_deg,
      rating_mva: b.rateA_mva,
    })),
    switches: grid.switches.map((s) => ({ id: s.id, from: s.from, to: s.to })),
  };
}

export function isBuiltIn(id: string): boolean {
  return id === SECONDARY || id.startsWith('ems:');
}

export function actuatorExists(tw: TwinCore, ref: ActuatorRef): boolean {
  switch (ref.kind) {
    case 'der':
      return tw.unitById.has(ref.id) || tw.hardwareById.has(ref.id);
    case 'fid':
      return tw.fids.some((f) => f.id === ref.id);
    case 'breaker':
      return tw.breakers.has(ref.id);
    case 'load':
      return tw.loads.ids.includes(ref.id);
  }
}

/** Applies one controller action, clamped to the actuator's limits; refusals become events. */
export function applyControllerAction(
  tw: TwinCore,
  controllerId: string,
  action: ControllerAction,
): RefusedAction | undefined {
  const refused = tw.ownership.check(controllerId, action) ?? actuate(tw, controllerId, action);
  if (refused) {
    tw.emit('action-refused', refused.message, action.id).data = {
      controller: controllerId,
      reason: refused.reason,
    };
  }
  return refused;
}

export function actuate(
  tw: TwinCore,
  controllerId: string,
  action: ControllerAction,
): RefusedAction | undefined {
  const invalid = (message: string): RefusedAction => ({ action, reason: 'invalid-value', message });
  const unknown = (): RefusedAction => ({
    action,
    reason: 'unknown-actuator',
    message: `${controllerId}: no ${action.kind.replace('-setpoint', '').replace('-curtail', '')} '${action.id}'`,
  });
  switch (action.kind) {
    case 'der-setpoint': {
      const { p_mw, q_mvar } = action;
      if (Number.isNaN(p_mw) || Number.isNaN(q_mvar))
        return invalid(`${controllerId}: ${action.id} set-point is NaN`);
      const i = tw.unitIndexById.get(action.id);
      if (i === undefined) return tw.hardwareById.has(action.id) ? undefined : unknown();
      if (p_mw === undefined) return undefined;
      const u = tw.units[i];
      const p = clamped(tw, controllerId, action.id, p_mw, u.pmin_mw, u.pmax_mw);
      tw.baseRef[i] = p;
      u.setReference(p);
      return undefined;
    }
    case 'fid-setpoint': {
      const fid = tw.fids.find((f) => f.id === action.id);
      if (!fid) return unknown();
      if (Number.isNaN(action.p_mw)) return invalid(`${controllerId}: ${action.id} set-point is NaN`);
      const ramp = action.ramp_s ?? 0;
      if (!(ramp >= 0 && Number.isFinite(ramp)))
        return invalid(`${controllerId}: ${action.id} ramp_s must be a finite number ≥ 0`);
      const r = fid.params.rating_mva;
      fid.setTransfer(clamped(tw, controllerId, action.id, action.p_mw, -r, r), ramp);
      return undefined;
    }
    case 'breaker':
      if (!tw.breakers.has(action.id)) return unknown();
      if (tw.isBreakerClosed(action.id) !== action.closed) {
        tw.setBreaker(action.id, action.closed);
        tw.emit(
          'breaker',
          `${action.id} ${action.closed ? 'closed' : 'opened'} by ${controllerId}`,
          action.id,
        );
      }
      return undefined;
    case 'load-curtail': {
      const l = tw.loads.ids.indexOf(action.id);
      if (l < 0) return unknown();
      if (!tw.loads.controllable[l])
        return invalid(`${controllerId}: load '${action.id}' is not controllable`);
      if (Number.isNaN(action.fraction)) return invalid(`${controllerId}: ${action.id} curtailment is NaN`);
      tw.loads.curtail[l] = 1 - clamped(tw, controllerId, action.id, action.fraction, 0, 1);
      return undefined;
    }
  }
}

/** `value` within [lo, hi]; a clamp is reported as an event. */
export function clamped(
  tw: TwinCore,
  controllerId: string,
  target: string,
  value: number,
  lo: number,
  hi: number,
): number {
  const v = Math.max(lo, Math.min(hi, value));
  if (v !== value)
    tw.emit('action-clamped', `${controllerId}: ${target} set-point ${value} clamped to ${v}`, target).data =
      {
        controller: controllerId,
        asked: value,
        applied: v,
      };
  return v;
}
