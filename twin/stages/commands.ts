/** Commands and scheduled actions (operator commands go through actuator ownership as `operator`). */
import type { TwinEvent } from '../api.ts';
import type { ControllerAction } from '../control/contract.ts';
import { OPERATOR } from '../control/ownership.ts';
import type { TwinCore } from '../core/state.ts';
import type { TwinAction } from '../core/types.ts';
import { BatteryUnit } from '../der/battery.ts';
import { SynchronousGenset } from '../der/genset.ts';
import { InverterSource } from '../der/inverter.ts';
import type { GridDisturbance } from '../dynamics/main-grid.ts';
import { endDemandResponse } from './ems.ts';
import { clearFault } from './faults.ts';

/**
 * After an emergency stop every unit and FID stays out of service for the rest of the run: a
 * set-point is refused (as a hardware device's latched stop refuses it) rather than accepted
 * and ignored.
 */
export function refuseWhileStopped(tw: TwinCore): void {
  if (tw.emergencyStopped) throw new TypeError('set-point refused: emergency stop is latched');
}

export function runSchedule(tw: TwinCore): void {
  const tNext = tw.t + tw.dt_s;
  while (tw.schedule.length > 0 && tw.schedule[0].t_s < tNext - 1e-9) {
    const item = tw.schedule.shift()!;
    try {
      apply(tw, item.action);
    } catch (err) {
      // A scheduled action the twin refuses now (a set-point after the emergency stop) is an
      // event on the timeline: the step goes on.
      if (!(err instanceof TypeError)) throw err;
      tw.emit('action-refused', `${item.action.kind}: ${err.message}`);
    }
  }
}

/** Applies an action now. Throws TypeError naming what is wrong. */
export function apply(tw: TwinCore, action: TwinAction): TwinEvent {
  const handler = HANDLERS[action.kind] as Handler<TwinAction['kind']> | undefined;
  if (!handler) throw new TypeError(`unknown action '${(action as { kind: unknown }).kind}'`);
  return handler(tw, action);
}

type Handler<K extends TwinAction['kind']> = (
  tw: TwinCore,
  action: Extract<TwinAction, { kind: K }>,
) => TwinEvent;

/** Irradiance or wind speed scaled on one unit or every unit of the technology. */
function scaleResource(
  tw: TwinCore,
  action: Extract<TwinAction, { kind: 'irradiance' | 'wind' }>,
): TwinEvent {
  const tech = action.kind === 'irradiance' ? 'pv' : 'wind';
  const targets = tw.units.filter(
    (u): u is InverterSource =>
      u instanceof InverterSource && u.technology === tech && (!action.unit || u.id === action.unit),
  );
  if (targets.length === 0)
    throw new TypeError(`${action.kind}: no ${tech} unit${action.unit ? ` '${action.unit}'` : ''}`);
  for (const u of targets) u.resourceScale = action.scale;
  return tw.emit(
    action.kind,
    `${tech} resource ×${action.scale}${action.unit ? ` at ${action.unit}` : ''}`,
    action.unit,
  );
}

/** One handler per action kind (the operator's commands and the scenarios' actions). */
const HANDLERS: { [K in TwinAction['kind']]: Handler<K> } = {
  breaker(tw, action) {
    checkOperator(tw, { kind: 'breaker', id: action.id, closed: action.closed });
    tw.setBreaker(action.id, action.closed);
    return tw.emit('breaker', `${action.id} ${action.closed ? 'closed' : 'opened'}`, action.id);
  },
  setpoint(tw, action) {
    refuseWhileStopped(tw);
    const u = tw.unitById.get(action.deviceId);
    if (u || tw.hardwareById.has(action.deviceId))
      checkOperator(tw, { kind: 'der-setpoint', id: action.deviceId, p_mw: action.p_mw });
    if (u) {
      if (action.p_mw !== undefined) {
        if (!Number.isFinite(action.p_mw)) throw new TypeError(`setpoint: p_mw must be finite`);
        tw.baseRef[tw.units.indexOf(u)] = action.p_mw;
        u.setReference(action.p_mw);
      }
      return tw.emit('setpoint', `${u.id} P reference ${action.p_mw ?? '-'} MW`, u.id);
    }
    if (tw.hardwareById.has(action.deviceId)) {
      return tw.emit('setpoint', `${action.deviceId}: set-point forwarded to hardware`, action.deviceId);
    }
    throw new TypeError(`setpoint: unknown device '${action.deviceId}'`);
  },
  'fid-setpoint'(tw, action) {
    refuseWhileStopped(tw);
    const fid = tw.fids.find((f) => f.id === action.fidId);
    if (!fid) throw new TypeError(`fid-setpoint: unknown FID '${action.fidId}'`);
    checkOperator(tw, { kind: 'fid-setpoint', id: fid.id, p_mw: action.p_mw });
    if (!Number.isFinite(action.p_mw) || Math.abs(action.p_mw) > fid.params.rating_mva) {
      throw new TypeError(`fid-setpoint: p_mw must be within ±${fid.params.rating_mva} MW`);
    }
    const ramp = action.ramp_s ?? 0;
    if (!(ramp >= 0 && Number.isFinite(ramp)))
      throw new TypeError('fid-setpoint: ramp_s must be a finite number ≥ 0');
    fid.setTransfer(action.p_mw, ramp);
    return tw.emit(
      'fid-setpoint',
      `${fid.id} transfer set-point ${action.p_mw} MW${ramp > 0 ? ` (ramp over ${ramp} s)` : ''}`,
      fid.id,
    );
  },
  'fid-mode'(tw, action) {
    const fid = tw.fids.find((f) => f.id === action.fidId);
    if (!fid) throw new TypeError(`fid-mode: unknown FID '${action.fidId}'`);
    fid.params.mode = action.mode;
    return tw.emit('fid-mode', `${fid.id} mode ${action.mode}`, fid.id);
  },
  island(tw, action) {
    const mgId = action.microgrid ?? [...tw.microgridPcc.keys()][0];
    const breaker = mgId ? tw.microgridPcc.get(mgId) : undefined;
    if (!mgId || !breaker)
      throw new TypeError(`island: microgrid '${action.microgrid ?? ''}' has no PCC breaker`);
    // Planned islanding and resynchronisation are the EMS's: not while a controller holds the PCC.
    checkOperator(tw, { kind: 'breaker', id: breaker.id, closed: !action.islanded });
    if (action.islanded) {
      tw.planned = {
        microgrid: mgId,
        breaker,
        deadline_s: tw.t + (tw.config.plannedIslanding?.timeout_s ?? 30),
        dispatched: false,
        shedAfter_s: 0,
      };
      return tw.emit('islanding-requested', `${mgId}: planned islanding started`, mgId);
    }
    if (tw.planned?.microgrid === mgId) {
      // Still on the grid: the islanding is called off, and the EMS dispatches it as connected again.
      tw.planned = null;
      tw.nextDispatch_s = tw.t;
      const rt = tw.islands[tw.busIslandRuntime[breaker.to]];
      if (rt) endDemandResponse(tw, rt);
      return tw.emit('islanding-cancelled', `${mgId}: planned islanding cancelled, still on the grid`, mgId);
    }
    tw.resync = {
      microgrid: mgId,
      breaker,
      deadline_s: tw.t + (tw.config.synchroCheck?.timeout_s ?? 120),
    };
    return tw.emit('reconnect-requested', `${mgId}: resynchronising`, mgId);
  },
  attack(tw, action) {
    const handler = tw.extensionCommands.get(action.kind);
    if (!handler)
      throw new TypeError(
        'attack: live attacks are not enabled on this twin (twin/attacks/live.ts enableLiveAttacks)',
      );
    const e = handler.apply(action);
    return tw.emit(e.kind, e.message, e.target, e.data);
  },
  'emergency-stop'(tw) {
    for (const u of tw.units) {
      if (u.on) {
        u.protection?.trip('emergency-stop');
        u.inService = false;
        u.onTrip();
      }
    }
    for (const f of tw.fids) f.inService = false;
    tw.emergencyStopped = true;
    tw.ownership.latch('emergency stop');
    tw.topologyDirty = true;
    return tw.emit('emergency-stop', 'emergency stop: all simulated units and FIDs out of service');
  },
  'load-step'(tw, action) {
    const idx: number[] = [];
    if (action.load) {
      const i = tw.loads.ids.indexOf(action.load);
      if (i < 0) throw new TypeError(`load-step: unknown load '${action.load}'`);
      idx.push(i);
    } else if (action.bus) {
      const b = tw.pf.net.busIndexOf.get(action.bus);
      if (b === undefined) throw new TypeError(`load-step: unknown bus '${action.bus}'`);
      for (let l = 0; l < tw.loads.n; l++) if (tw.loads.bus[l] === b) idx.push(l);
      if (idx.length === 0) throw new TypeError(`load-step: bus '${action.bus}' has no load`);
    } else throw new TypeError('load-step: give load or bus');
    for (const i of idx) {
      if (action.scale !== undefined) tw.loads.scale[i] *= action.scale;
      tw.loads.extraP[i] += (action.delta_mw ?? 0) / idx.length;
      tw.loads.extraQ[i] += (action.delta_mvar ?? 0) / idx.length;
    }
    return tw.emit(
      'load-step',
      `load step at ${action.load ?? `bus ${action.bus}`}: ${action.delta_mw ?? 0} MW, ×${action.scale ?? 1}`,
      action.load ?? action.bus,
    );
  },
  'generator-trip'(tw, action) {
    const u = tw.unitById.get(action.unit);
    if (!u) throw new TypeError(`generator-trip: unknown unit '${action.unit}'`);
    u.protection?.trip('manual');
    if (!u.protection) u.inService = false;
    tw.onUnitTrip(u, 'manual trip');
    return tw.events[tw.events.length - 1];
  },
  'unit-start'(tw, action) {
    const u = tw.unitById.get(action.unit);
    if (!(u instanceof SynchronousGenset))
      throw new TypeError(`unit-start: '${action.unit}' is not a genset`);
    u.start();
    return tw.emit('unit-start', `${u.id} starting`, u.id);
  },
  irradiance: scaleResource,
  wind: scaleResource,
  fault(tw, action) {
    const bus = tw.pf.net.busIndexOf.get(action.bus);
    if (bus === undefined) throw new TypeError(`fault: unknown bus '${action.bus}'`);
    let r = action.r_pu;
    let x = action.x_pu;
    if (r === undefined && x === undefined) {
      const kv = tw.grid.buses[bus].baseKV || 1;
      const zBase = (kv * kv) / tw.grid.baseMVA;
      r = (action.r_ohm ?? 0) / zBase;
      x = (action.x_ohm ?? 0) / zBase;
    }
    const den = (r ?? 0) ** 2 + (x ?? 0) ** 2;
    if (!(den > 0)) throw new TypeError('fault: impedance must be non-zero');
    const g = (r ?? 0) / den;
    const b = -(x ?? 0) / den;
    tw.pf.net.busShuntG[bus] += g;
    tw.pf.net.busShuntB[bus] += b;
    tw.pf.invalidateTopology();
    tw.markStructure('fault');
    tw.faults.push({
      bus,
      g_pu: g,
      b_pu: b,
      clearAt_s: tw.t + action.duration_s,
      open: action.clearBy ?? [],
    });
    return tw.emit(
      'fault',
      `fault at bus ${action.bus} (z = ${r?.toFixed(4)} + j${x?.toFixed(4)} pu) for ${action.duration_s} s`,
      action.bus,
    );
  },
  'fault-clear'(tw, action) {
    const bus = tw.pf.net.busIndexOf.get(action.bus);
    const i = tw.faults.findIndex((f) => f.bus === bus);
    if (i < 0) throw new TypeError(`fault-clear: no fault at bus '${action.bus}'`);
    clearFault(tw, i, action.open ?? tw.faults[i].open);
    return tw.events[tw.events.length - 1];
  },
  'grid-disturbance'(tw, action) {
    const d: GridDisturbance = {
      quantity: action.quantity,
      shape: action.shape ?? 'step',
      start_s: action.start_s ?? tw.t,
      delta: action.delta,
      duration_s: action.duration_s ?? Number.POSITIVE_INFINITY,
      period_s: action.period_s ?? 1,
      rampTime_s: action.rampTime_s ?? 0,
    };
    tw.mainGrid.disturbances.push(d);
    return tw.emit('grid-disturbance', `main grid ${d.quantity} ${d.shape} ${d.delta}`, 'main-grid');
  },
  'load-curtail'(tw, action) {
    const i = tw.loads.ids.indexOf(action.load);
    if (i < 0) throw new TypeError(`load-curtail: unknown load '${action.load}'`);
    if (!tw.loads.controllable[i])
      throw new TypeError(`load-curtail: load '${action.load}' is not controllable`);
    if (!(action.fraction >= 0 && action.fraction <= 1))
      throw new TypeError('load-curtail: fraction must be in [0, 1]');
    checkOperator(tw, { kind: 'load-curtail', id: action.load, fraction: action.fraction });
    tw.loads.curtail[i] = 1 - action.fraction;
    return tw.emit(
      'load-curtail',
      `${action.load} curtailed by ${(action.fraction * 100).toFixed(1)} %`,
      action.load,
    );
  },
  soc(tw, action) {
    const u = tw.unitById.get(action.unit);
    if (!(u instanceof BatteryUnit)) throw new TypeError(`soc: '${action.unit}' is not a battery`);
    if (!(action.soc >= 0 && action.soc <= 1)) throw new TypeError('soc: must be in [0, 1]');
    u.soc = action.soc;
    return tw.emit('soc', `${action.unit} state of charge set to ${action.soc}`, action.unit);
  },
  'load-scale'(tw, action) {
    if (!(action.scale >= 0) || !Number.isFinite(action.scale))
      throw new TypeError('load-scale: scale must be a finite number ≥ 0');
    tw.loads.scale.fill(action.scale);
    return tw.emit('load-scale', `every load scaled to ${action.scale}`);
  },
  'ems-mode'(tw, action) {
    const s = tw.emsByMicrogrid.get(action.microgrid);
    if (!s) throw new TypeError(`ems-mode: unknown microgrid '${action.microgrid}'`);
    s.mode = action.mode;
    tw.nextDispatch_s = tw.t;
    return tw.emit('ems-mode', `${action.microgrid} EMS mode ${action.mode}`, action.microgrid);
  },
};

/** Refuses an operator command on an actuator an attached controller holds. */
export function checkOperator(tw: TwinCore, action: ControllerAction): void {
  const refused = tw.ownership.check(OPERATOR, action);
  if (refused) throw new TypeError(refused.message);
}
