/**
 * Attacks launched while a run is live (operator command through the socket.io API, docs/security.md).
 * `enableLiveAttacks(twin)` registers the twin's `attack` command handler: a LiveAttacks, with its
 * own AttackEngine, kept by the twin itself (no registry here). A live attack starts at the next
 * step and runs for `duration_s` or until stopped; the twin's event log records `attack-start` /
 * `attack-stop` with the attack's id, which is the ground truth of a live run.
 */

import type { ExtensionCommandHandler, TwinAddOnHost as Twin } from '../addons.ts';
import type { TwinCommand, TwinEvent } from '../api.ts';
import type { SeDetector } from '../detection/state-estimation.ts';
import { ATTACK_KINDS, type AttackKind, type AttackSpec } from './attacks.ts';
import { AttackEngine } from './engine.ts';

const NO_EVENTS: readonly TwinEvent[] = Object.freeze([]);

/**
 * The `data` of an `attack-start` / `attack-stop` event, so a reader (the live page, a replay)
 * needs no message parsing: which attack, its kind, the channel it acts on, when it began and
 * (on `attack-stop`) when it ended, twin time.
 */
export interface AttackEventData {
  attack: string;
  /** Attack kind (docs/security.md), e.g. `bias`. */
  kind: string;
  /** Channel attacked, e.g. `bess-hw.f_hz` or `se.vm_pu.14`. */
  channel: string;
  from_s: number;
  /** On `attack-stop`: when it ended. */
  to_s?: number;
  /** On `attack-start` of a timed attack: how long it will last. */
  duration_s?: number;
}

type AttackCommand = Extract<TwinCommand, { kind: 'attack' }>;

/** A twin's live attacks: its engine and the timed attacks that have not ended yet. */
export class LiveAttacks implements ExtensionCommandHandler {
  engine: AttackEngine;
  /** Live attacks with a `duration_s` that have not ended yet (for their `attack-stop`). */
  private readonly timed: { id: string; stop_s: number; duration_s: number }[] = [];
  /** Set by the first attack command (even a refused one): detectors must come before. */
  private used = false;

  constructor(private readonly twin: Twin) {
    this.engine = new AttackEngine(twin);
  }

  /** Lets live attacks also target detector telemetry (`se.*`); only before the first attack. */
  useDetectors(parts: { se?: SeDetector }): void {
    if (this.used) throw new TypeError('the live attack engine is already in use');
    this.engine = new AttackEngine(this.twin, parts);
  }

  /** The `attack-stop` events of timed attacks that have run out by `t_s` (each once). */
  ended(t_s: number): readonly TwinEvent[] {
    const open = this.timed;
    // Called after every step of the loop: nothing to end allocates nothing.
    if (open.length === 0) return NO_EVENTS;
    let ended: TwinEvent[] | undefined;
    for (let i = open.length - 1; i >= 0; i--) {
      const a = open[i];
      if (t_s < a.stop_s - 1e-9) continue;
      open.splice(i, 1);
      ended ??= [];
      ended.push({
        t_s,
        kind: 'attack-stop',
        message: `attack ${a.id} ended after its ${a.duration_s} s`,
        target: a.id,
        data: this.dataOf(a.id, t_s),
      });
    }
    return ended ? ended.reverse() : NO_EVENTS;
  }

  /** The event data of attack `id` (as launched), ended at `to_s` when given. */
  private dataOf(id: string, to_s?: number): AttackEventData & Record<string, unknown> {
    const a = this.engine.intervals.find((i) => i.id === id);
    return {
      attack: id,
      kind: a?.kind ?? '',
      channel: a?.target ?? '',
      from_s: a?.start_s ?? to_s ?? 0,
      ...(to_s === undefined ? {} : { to_s }),
    };
  }

  /** Applies an `attack` command; throws a TypeError naming what is wrong. */
  apply(command: AttackCommand): {
    kind: string;
    message: string;
    target: string;
    data: AttackEventData & Record<string, unknown>;
  } {
    this.used = true;
    const engine = this.engine;
    const now = this.twin.state.t_s;
    if (command.action === 'stop') {
      if (!command.id) throw new TypeError('attack stop needs the id of the attack');
      if (!engine.stop(command.id, now)) throw new TypeError(`no running attack '${command.id}'`);
      const at = this.timed.findIndex((a) => a.id === command.id);
      if (at >= 0) this.timed.splice(at, 1);
      return {
        kind: 'attack-stop',
        message: `attack ${command.id} stopped`,
        target: command.id,
        data: this.dataOf(command.id, now),
      };
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
    if (duration_s !== undefined) this.timed.push({ id, stop_s: now + duration_s, duration_s });
    return {
      kind: 'attack-start',
      message: `attack ${id}: ${a.kind} on ${a.target}${duration_s !== undefined ? ` for ${duration_s} s` : ''}`,
      target: id,
      data: { ...this.dataOf(id), ...(duration_s !== undefined ? { duration_s } : {}) },
    };
  }
}

/** Registers the twin's `attack` command (once; later calls return the same LiveAttacks). */
export function enableLiveAttacks(twin: Twin): LiveAttacks {
  const existing = twin.commandHandler('attack');
  if (existing instanceof LiveAttacks) return existing;
  const live = new LiveAttacks(twin);
  twin.handleCommand('attack', live);
  return live;
}

/**
 * The `attack-stop` events of live attacks whose `duration_s` has run out by `t_s` (each once);
 * an attack stopped by command logs its own. Call after every step of a live run.
 */
export function endedLiveAttacks(twin: Twin, t_s: number): readonly TwinEvent[] {
  const live = twin.commandHandler('attack');
  return live instanceof LiveAttacks ? live.ended(t_s) : NO_EVENTS;
}

/** The live attack engine of a twin (enabling live attacks on it). */
export function liveAttackEngine(twin: Twin): AttackEngine {
  return enableLiveAttacks(twin).engine;
}

/**
 * Gives the twin's live attacks detector parts, so they can also target the state estimator's
 * telemetry (`se.*`); call before the first attack command.
 */
export function attachLiveDetectors(twin: Twin, parts: { se?: SeDetector }): AttackEngine {
  const live = enableLiveAttacks(twin);
  live.useDetectors(parts);
  return live.engine;
}
