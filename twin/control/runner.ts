/**
 * Runs attached controllers on the twin's clock: after a step, every controller whose period has
 * come decides on the published state and its actions are applied at once, so they take effect in
 * the next step. Everything happens inside `step()` in attachment order, hence deterministically
 * (what `simulate` and scenarios rely on). Nothing here allocates per step: each controller keeps
 * its action, refusal and event arrays.
 */
import type { TwinEvent, TwinState } from '../api.ts';
import type { Controller, ControllerAction, RefusedAction, TwinCatalog } from './contract.ts';
import type { Ownership } from './ownership.ts';

interface Attached {
  controller: Controller;
  periodSteps: number;
  /** Step count after which it decides next. */
  nextStep: number;
  actions: ControllerAction[];
  refused: RefusedAction[];
  events: TwinEvent[];
}

/** Applies one action for a controller; returns why not when it was refused. */
export type ApplyAction = (controllerId: string, action: ControllerAction) => RefusedAction | undefined;

export class ControllerRunner {
  private readonly attached: Attached[] = [];

  constructor(
    private readonly dt_s: number,
    private readonly ownership: Ownership,
  ) {}

  get ids(): string[] {
    return this.attached.map((a) => a.controller.id);
  }

  get(id: string): Controller | undefined {
    return this.attached.find((a) => a.controller.id === id)?.controller;
  }

  has(id: string): boolean {
    return this.attached.some((a) => a.controller.id === id);
  }

  /** Claims the controller's actuators (throws OwnershipConflict) and schedules it from `step`. */
  add(controller: Controller, catalog: TwinCatalog, step: number): void {
    if (this.has(controller.id)) throw new TypeError(`controller '${controller.id}' is already attached`);
    if (!(controller.period_s > 0) || !Number.isFinite(controller.period_s))
      throw new TypeError(`controller '${controller.id}': period_s must be > 0, got ${controller.period_s}`);
    this.ownership.claim(controller.id, controller.claims);
    controller.attach?.(catalog);
    const periodSteps = Math.max(1, Math.ceil(controller.period_s / this.dt_s - 1e-9));
    this.attached.push({
      controller,
      periodSteps,
      nextStep: step + 1,
      actions: [],
      refused: [],
      events: [],
    });
  }

  remove(id: string): boolean {
    const i = this.attached.findIndex((a) => a.controller.id === id);
    if (i < 0) return false;
    const [a] = this.attached.splice(i, 1);
    this.ownership.release(id);
    a.controller.detach?.();
    return true;
  }

  /** Lets every controller due at `step` decide on `state`; events raised go to `events`. */
  runDue(step: number, state: TwinState, apply: ApplyAction, events: TwinEvent[]): void {
    for (let c = 0; c < this.attached.length; c++) {
      const a = this.attached[c];
      if (step < a.nextStep) continue;
      a.nextStep += a.periodSteps;
      a.actions.length = 0;
      a.refused.length = 0;
      a.events.length = 0;
      const first = events.length;
      const id = a.controller.id;
      try {
        a.controller.decide(state, a.actions);
      } catch (err) {
        // A failing controller is its own problem: the step goes on, the run's events say why.
        events.push({
          t_s: state.t_s,
          kind: 'controller-error',
          message: `${id}: ${err instanceof Error ? err.message : String(err)}`,
          target: id,
        });
        continue;
      }
      for (let i = 0; i < a.actions.length; i++) {
        const refused = apply(id, a.actions[i]);
        if (refused) a.refused.push(refused);
      }
      if (!a.controller.feedback) continue;
      for (let i = first; i < events.length; i++) a.events.push(events[i]);
      if (a.refused.length > 0 || a.events.length > 0) a.controller.feedback(a.refused, a.events);
    }
  }

  /** Detaches every controller (end of the run). */
  clear(): void {
    while (this.attached.length > 0) this.remove(this.attached[0].controller.id);
  }
}
