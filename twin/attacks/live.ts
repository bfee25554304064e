/**
 * Attacks launched while a run is live (operator command through the socket.io API, docs/security.md):
 * each twin gets its own AttackEngine on first use. A live attack starts at the next step and runs
 * for `duration_s` or until stopped; the twin's event log records `attack-start` / `attack-stop`
 * with the attack's id, which is the ground truth of a live run.
 */
import type { TwinCommand, TwinEvent } from '../api.ts';
import type { SeDetector } from '../detection/state-estimation.ts';
import type { Twin } from '../twin.ts';
import { ATTACK_KINDS, type AttackKind, type AttackSpec } from './attacks.ts';
import { AttackEngine } from './engine.ts';

const engines = new WeakMap<Twin, AttackEngine>();
/** Live attacks with a `duration_s` that have not ended yet, per twin (for their `attack-stop`). */
const timed = new WeakMap<Twin, { id: string; stop_s: number; duration_s: number }[]>();

const NO_EVENTS: readonly TwinEvent[] = Object.freeze([]);

/**
 * The `attack-stop` events of live attacks whose `duration_s` has run out by `t_s` (each once);
 * an attack stopped by command logs its own. Call after every step of a live run.
 */
export function endedLiveAttacks(twin: Twin, t_s: number): readonly TwinEvent[] {
  const open = timed.get(twin);
  // Called after every step of the loop: nothing to end allocates nothing.
  if (!open || open.length === 0) return NO_EVENTS;
  const ended: TwinEvent[] = [];
  for (let i = open.length - 1; i >= 0; i--) {
    const a = open[i];
    if (t_s < a.stop_s - 1e-9) continue;
    open.splice(i, 1);
    ended.push({
      t_s,
      kind: 'attack-stop',
      message: `attack ${a.id} ended after its ${a.duration_s} s`,
      target: a.id,
    });
  }
  return ended.reverse();
}

/** The engine of a twin (created on first use). */
export function liveAttackEngine(twin: Twin): AttackEngine {
  let engine = engines.get(twin);
  if (!engine) {
    engine = new AttackEngine(twin);
    engines.set(twin, engine);
  }
  return engine;
}

/**
 * Builds the twin's live engine with detector parts, so live attacks can also target the state
 * estimator's telemetry (`se.*`); call before the first attack command.
 */
export function attachLiveDetectors(twin: Twin, parts: { se?: SeDetector }): AttackEngine {
  if (engines.has(twin)) throw new TypeError('the live attack engine is already in use');
  const engine = new AttackEngine(twin, parts);
  engines.set(twin, engine);
  return engine;
}

/** Applies an `attack` command; throws a TypeError naming what is wrong. */
export function applyAttackCommand(
  twin: Twin,
  command: Extract<TwinCommand, { kind: 'attack' }>,
): { kind: string; message: string; target: string } {
  const engine = liveAttackEngine(twin);
  const now = twin.state.t_s;
  if (command.action === 'stop') {
    if (!command.id) throw new TypeError('attack stop needs the id of the attack');
    if (!engine.stop(command.id, now)) throw new TypeError(`no running attack '${command.id}'`);
    const open = timed.get(twin);
    const at = open?.findIndex((a) => a.id === command.id) ?? -1;
    if (at >= 0) open!.splice(at, 1);
    return { kind: 'attack-stop', message: `attack ${command.id} stopped`, target: command.id };
  }
  const a = command.attack;
  if (!a) throw new TypeError('attack start needs the attack (kind, target, parameters)');
  if (!(ATTACK_KINDS as readonly string[]).includes(a.kind))
    throw new TypeError(`unknown attack kind '${a.kind}'; expected one of ${ATTACK_KINDS.join(', ')}`);
  const { duration_s, ...params } = a;
  if (duration_s !== undefined && !(typeof duration_s === 'number' && duration_s > 0))
    throw new TypeError('attack duration_s must be a positive number');
  const id = command.id ?? `${a.kind}@${a.target}#${engine.intervals.length + 1}`;
  const spec = {
    ...params,
    id,
    kind: a.kind as AttackKind,
    target: a.target,
    // The next step is the first one the attack sees.
    start_s: now,
    ...(duration_s !== undefined ? { stop_s: now + duration_s } : {}),
  } as AttackSpec;
  engine.launch(spec);
  if (duration_s !== undefined) {
    const open = timed.get(twin) ?? [];
    open.push({ id, stop_s: now + duration_s, duration_s });
    timed.set(twin, open);
  }
  return {
    kind: 'attack-start',
    message: `attack ${id}: ${a.kind} on ${a.target}${duration_s !== undefined ? ` for ${duration_s} s` : ''}`,
    target: id,
  };
}
