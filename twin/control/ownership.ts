/**
 * Who drives each actuator (the contract's ActuatorOwnership). One table per twin: the built-in
 * controllers (`ems:<microgrid>`, `secondary`), attached controllers and the operator all act
 * through it, so two of them can never fight over one DER, FID, breaker or load.
 *
 * Built-in controllers are *supervised*: the operator (controller id `operator`) may override
 * what they hold, as an operator set-point overrides the EMS until its next dispatch. What an
 * attached controller holds is refused to everyone else, the operator included, until it is
 * handed over explicitly. Actuators nobody holds are open to the operator only.
 */
import {
  type ActuatorKey,
  type ActuatorOwnership,
  type ActuatorRef,
  actuatorKey,
  actuatorOf,
  type ControllerAction,
  OwnershipConflict,
  type RefusedAction,
} from './contract.ts';

/** The controller id of operator and scenario commands. */
export const OPERATOR = 'operator';

export class Ownership implements ActuatorOwnership {
  private readonly owners = new Map<ActuatorKey, string>();
  private readonly supervised = new Set<string>();
  private latchReason: string | null = null;
  /** Called after every change of owner (the twin recomputes what its built-ins drive). */
  onChange: (() => void) | null = null;

  get latched(): boolean {
    return this.latchReason !== null;
  }

  /** Why the controllers are latched (null when they are not). */
  get latchedBecause(): string | null {
    return this.latchReason;
  }

  /** Marks a controller as built in: the operator may override its actuators. */
  supervise(controllerId: string): void {
    this.supervised.add(controllerId);
  }

  claim(controllerId: string, actuators: readonly ActuatorRef[]): void {
    // All or nothing: a refused claim leaves the table as it was.
    for (const a of actuators) {
      const key = actuatorKey(a);
      const holder = this.owners.get(key);
      if (holder !== undefined && holder !== controllerId)
        throw new OwnershipConflict(key, holder, controllerId);
    }
    for (const a of actuators) this.owners.set(actuatorKey(a), controllerId);
    this.onChange?.();
  }

  handOver(actuator: ActuatorRef, from: string, to: string): void {
    const key = actuatorKey(actuator);
    const holder = this.owners.get(key);
    if (holder !== from)
      throw new TypeError(`hand-over of ${key}: it is held by ${holder ?? 'nobody'}, not ${from}`);
    this.owners.set(key, to);
    this.onChange?.();
  }

  release(controllerId: string): void {
    let changed = false;
    for (const [key, holder] of this.owners)
      if (holder === controllerId) {
        this.owners.delete(key);
        changed = true;
      }
    if (changed) this.onChange?.();
  }

  ownerOf(actuator: ActuatorRef): string | undefined {
    return this.owners.get(actuatorKey(actuator));
  }

  /** Owner by key (no ActuatorRef needed on hot paths). */
  ownerOfKey(key: ActuatorKey): string | undefined {
    return this.owners.get(key);
  }

  /** Every actuator `controllerId` holds. */
  heldBy(controllerId: string): ActuatorKey[] {
    const held: ActuatorKey[] = [];
    for (const [key, holder] of this.owners) if (holder === controllerId) held.push(key);
    return held;
  }

  /** Refuses every controller's actions (not the operator's) until `unlatch`. */
  latch(reason: string): void {
    this.latchReason = reason;
  }

  unlatch(): void {
    this.latchReason = null;
  }

  check(controllerId: string, action: ControllerAction): RefusedAction | undefined {
    // The operator is never latched: it is who releases the latch.
    if (this.latchReason !== null && controllerId !== OPERATOR)
      return {
        action,
        reason: 'latched',
        message: `${controllerId}: controllers latched (${this.latchReason})`,
      };
    const key = actuatorKey(actuatorOf(action));
    const holder = this.owners.get(key);
    if (holder === controllerId) return undefined;
    if (controllerId === OPERATOR && (holder === undefined || this.supervised.has(holder))) return undefined;
    return {
      action,
      reason: 'not-owner',
      message: `${controllerId} may not drive ${key}: ${holder ? `it is driven by ${holder}` : 'it did not claim it'}`,
    };
  }
}
