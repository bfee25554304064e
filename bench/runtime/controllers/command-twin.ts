/**
 * The twin's side of the controller contract for a twin that does not implement it itself yet:
 * ownership kept here, actions carried out through the twin's own `apply()` (the same path as an
 * operator's commands, so the same limits and refusals). A twin that implements `ControllableTwin`
 * is used as it is (`controllableTwin`); this adapter is then never built.
 */
import {
  type ActuatorKey,
  type ActuatorOwnership,
  type ActuatorRef,
  actuatorKey,
  actuatorOf,
  type ControllableTwin,
  type Controller,
  type ControllerAction,
  OwnershipConflict,
  type RefusedAction,
  type TwinCatalog,
} from '../../../twin/control/contract.ts';
import type { Twin, TwinAction } from '../../../twin/twin.ts';

/** The twin itself when it implements the contract, else this adapter over it. */
export function controllableTwin(twin: Twin): ControllableTwin {
  const own = twin as Partial<ControllableTwin>;
  if (typeof own.applyActions === 'function' && typeof own.catalog === 'function' && own.ownership)
    return own as ControllableTwin;
  return new CommandTwin(twin);
}

/** Who drives which actuator (ActuatorOwnership), as a map from actuator key to controller id. */
export class ActuatorLedger implements ActuatorOwnership {
  private readonly owners = new Map<ActuatorKey, string>();
  private latchReason: string | undefined;

  claim(controllerId: string, actuators: readonly ActuatorRef[]): void {
    // All or nothing: a refused claim leaves no partial ownership behind.
    for (const ref of actuators) {
      const holder = this.owners.get(actuatorKey(ref));
      if (holder !== undefined && holder !== controllerId)
        throw new OwnershipConflict(actuatorKey(ref), holder, controllerId);
    }
    for (const ref of actuators) this.owners.set(actuatorKey(ref), controllerId);
  }

  handOver(actuator: ActuatorRef, from: string, to: string): void {
    const key = actuatorKey(actuator);
    const holder = this.owners.get(key);
    if (holder !== from) throw new OwnershipConflict(key, holder ?? 'nobody', to);
    this.owners.set(key, to);
  }

  release(controllerId: string): void {
    for (const [key, owner] of this.owners) if (owner === controllerId) this.owners.delete(key);
  }

  ownerOf(actuator: ActuatorRef): string | undefined {
    return this.owners.get(actuatorKey(actuator));
  }

  latch(reason: string): void {
    this.latchReason = reason;
  }

  unlatch(): void {
    this.latchReason = undefined;
  }

  get latched(): boolean {
    return this.latchReason !== undefined;
  }

  check(controllerId: string, action: ControllerAction): RefusedAction | undefined {
    if (this.latchReason !== undefined)
      return { action, reason: 'latched', message: `controllers are latched: ${this.latchReason}` };
    const key = actuatorKey(actuatorOf(action));
    const owner = this.owners.get(key);
    if (owner === controllerId) return undefined;
    return {
      action,
      reason: 'not-owner',
      message: `${controllerId} does not own ${key}${owner ? ` (${owner} does)` : ' (it did not claim it)'}`,
    };
  }
}

/** The twin action a controller action is (what the replay log and the device links take). */
export function twinActionOf(action: ControllerAction): TwinAction {
  switch (action.kind) {
    case 'der-setpoint':
      return { kind: 'setpoint', deviceId: action.id, p_mw: action.p_mw, q_mvar: action.q_mvar };
    case 'fid-setpoint':
      return { kind: 'fid-setpoint', fidId: action.id, p_mw: action.p_mw };
    case 'breaker':
      return { kind: 'breaker', id: action.id, closed: action.closed };
    case 'load-curtail':
      return { kind: 'load-curtail', load: action.id, fraction: action.fraction };
  }
}

export class CommandTwin implements ControllableTwin {
  readonly ownership = new ActuatorLedger();

  constructor(private readonly twin: Twin) {}

  catalog(): TwinCatalog {
    const { twin } = this;
    const grid = twin.grid;
    const busIds = twin.state.busIds;
    const microgridOf = new Map(grid.buses.map((b) => [b.id, b.microgrid]));
    const derBus = new Map(grid.ders.map((d) => [d.id, d.bus]));
    return {
      f0_hz: twin.f0_hz,
      dt_s: twin.dt_s,
      busIds,
      microgrids: grid.microgrids.map((m) => ({
        id: m.id,
        buses: grid.buses.filter((b) => b.microgrid === m.id).map((b) => b.id),
      })),
      ders: [
        ...twin.units.map((u) => {
          const bus = derBus.get(u.id) ?? busIds[u.busIndex] ?? '';
          const capacity = (u as { params?: { energy_mwh?: number } }).params?.energy_mwh;
          return {
            id: u.id,
            technology: u.technology,
            bus,
            ...(microgridOf.get(bus) ? { microgrid: microgridOf.get(bus) } : {}),
            rating_mva: u.rating_mva,
            pmin_mw: u.pmin_mw,
            pmax_mw: u.pmax_mw,
            ...(capacity === undefined ? {} : { capacity_mwh: capacity }),
            cost_per_mwh: u.cost_per_mwh,
            dispatchable: u.dispatchable,
            hardware: false,
          };
        }),
        ...twin.hardware.map((h) => {
          const bus = busIds[h.busIndex] ?? '';
          return {
            id: h.id,
            technology: 'hardware',
            bus,
            ...(microgridOf.get(bus) ? { microgrid: microgridOf.get(bus) } : {}),
            rating_mva: h.rating_mva,
            pmin_mw: -h.rating_mva,
            pmax_mw: h.rating_mva,
            cost_per_mwh: 0,
            dispatchable: true,
            hardware: true,
          };
        }),
      ],
      fids: grid.fids.map((f) => ({ id: f.id, busA: f.busA, busB: f.busB, rating_mw: f.rating_mva })),
      loads: twin.loads.ids.map((id, l) => {
        const bus = busIds[twin.loads.bus[l]] ?? '';
        return {
          id,
          bus,
          ...(microgridOf.get(bus) ? { microgrid: microgridOf.get(bus) } : {}),
          controllable: twin.loads.controllable[l] === 1,
        };
      }),
      breakers: [...twin.breakers.keys()],
    };
  }

  attach(_controller: Controller): void {
    throw new TypeError('in-line controllers need a twin that implements the controller contract itself');
  }

  detach(controllerId: string): void {
    this.ownership.release(controllerId);
  }

  applyActions(controllerId: string, actions: readonly ControllerAction[]): RefusedAction[] {
    const refused: RefusedAction[] = [];
    for (const action of actions) {
      const why = this.ownership.check(controllerId, action);
      if (why) {
        refused.push(why);
        continue;
      }
      try {
        this.twin.apply(twinActionOf(action));
      } catch (err) {
        if (!(err instanceof TypeError)) throw err;
        const message = err.message;
        const reason = /emergency stop/.test(message)
          ? 'latched'
          : /unknown/.test(message)
            ? 'unknown-actuator'
            : 'invalid-value';
        refused.push({ action, reason, message });
      }
    }
    return refused;
  }
}
