/**
 * The attack engine: resolves an AttackSpec's target to channels (the twin's hardware measurement
 * and command channels, the state estimator's telemetry, a simulated board's set-point input),
 * inserts the attack transforms there, and keeps the ground-truth label of every attack.
 *
 *   const engine = new AttackEngine(twin, { se, boards });
 *   engine.launch({ kind: 'bias', target: 'se.vm_pu.14', start_s: 10, stop_s: 20, bias: 0.04 });
 *   ... after each twin step: engine.update(t_s)
 *
 * Channels the twin cannot reach (the market's chain: twin/ imports nothing from the rest) belong to
 * host targets the bench registers by target prefix (HostAttackTarget, e.g. `ledger.`): the engine
 * labels their attacks like any other and hands them over to strike.
 */

import type { TwinAddOnHost as Twin } from '../addons.ts';
import { type Channel, COMMAND_SIGNALS, MEASUREMENT_SIGNALS } from '../channels/channel.ts';
import type { CommsDisturbance } from '../control/contract.ts';
import type { AlarmLog } from '../detection/alarms.ts';
import type { SeDetector } from '../detection/state-estimation.ts';
import { deriveSeed, Random } from '../random.ts';
import {
  ATTACK_KINDS,
  type AttackSpec,
  attackLabel,
  BiasAttack,
  DelayJitterAttack,
  DropAttack,
  RampAttack,
  ReplayAttack,
  ScaleAttack,
  SpoofAttack,
  TimeSyncAttack,
  type WindowedAttack,
} from './attacks.ts';
import type { SimulatedBoard } from './simulated-board.ts';

/** Ground truth of one attack. */
export interface AttackInterval {
  id: string;
  kind: string;
  target: string;
  start_s: number;
  stop_s: number;
}

/** Attack targets naming an attached controller's communication network. */
const COMMS_PREFIX = 'comms:';

/**
 * Channels owned by the host (the bench), reached through a target prefix: an attack whose target
 * starts with `prefix` is validated and struck by the host, while the engine keeps its ground-truth
 * label like any other's. The host reports what its defenders did as alarms in the run's log
 * (detector: who refused it; `attack`: the attack the refused artefact belongs to), so detection
 * metrics are computed for its attacks exactly as for the twin's.
 */
export interface HostAttackTarget {
  /** Target prefix it owns, e.g. `ledger.` */
  readonly prefix: string;
  /** Attack kinds it understands (named in the engine's errors). */
  readonly kinds: readonly string[];
  /** Where its defenders' decisions go (the security harness's alarm log). */
  attach?(ctx: { log: AlarmLog }): void;
  /** Validates and installs the attack (`label`: its id and window); throws a TypeError naming the problem. */
  launch(spec: AttackSpec, label: AttackInterval): void;
  /** The operator ended the attack at t_s (`label.stop_s` already says so). */
  stop?(id: string, t_s: number): void;
  /**
   * Work the host owes for the twin time up to now (a chain settling the interval that just ended):
   * the run awaits it before the next step, so the host strikes during the run, not after it.
   */
  pending?(): Promise<void> | undefined;
  /**
   * At the end of the run: waits for the host's work and returns its own checks (balances…), as
   * assertion outcomes (twin/scenario/assertions.ts, AssertionOutcome: not imported, so the browser
   * build that reads this file stays free of Node's modules).
   */
  finish?(): Promise<HostCheck[]>;
}

/** One check of a host target, in the shape of an assertion outcome. */
export interface HostCheck {
  name: string;
  type: string;
  passed: boolean;
  detail: string;
  value?: number | string;
}

export class AttackEngine {
  readonly intervals: AttackInterval[] = [];
  private readonly installed: { label: AttackInterval; transforms: WindowedAttack[]; spec: AttackSpec }[] =
    [];
  private readonly stealthyPending: { spec: AttackSpec; biases: BiasAttack[]; done: boolean }[] = [];
  private readonly compromised: { spec: AttackSpec; pInj?: BiasAttack; board: SimulatedBoard }[] = [];
  /** Disturbances handed to controllers' communication networks (kept to end them early). */
  private readonly disturbances: CommsDisturbance[] = [];

  constructor(
    private readonly twin: Twin,
    private readonly parts: { se?: SeDetector; boards?: SimulatedBoard[]; hosts?: HostAttackTarget[] } = {},
  ) {}

  /** The host target owning `target`, if any. */
  hostOf(target: string): HostAttackTarget | undefined {
    return this.parts.hosts?.find((h) => target.startsWith(h.prefix));
  }

  /** Any channel an attack or a check can name. */
  channel(name: string): Channel | undefined {
    if (name.startsWith('se.')) return this.parts.se?.channel(name);
    const dot = name.lastIndexOf('.');
    const device = name.slice(0, dot);
    const signal = name.slice(dot + 1);
    for (const b of this.parts.boards ?? []) if (b.setpoint.name === name) return b.setpoint;
    const chs = this.twin.channelsOf(device);
    if (!chs) return undefined;
    const mi = (MEASUREMENT_SIGNALS as readonly string[]).indexOf(signal);
    if (mi >= 0) return chs.measurement[mi];
    const ci = (COMMAND_SIGNALS as readonly string[]).indexOf(signal);
    return ci >= 0 ? chs.command[ci] : undefined;
  }

  /** Installs an attack; throws a TypeError naming the problem (unknown target, missing parameter). */
  launch(spec: AttackSpec): AttackInterval {
    const host = typeof spec.target === 'string' ? this.hostOf(spec.target) : undefined;
    if (!host && !(ATTACK_KINDS as readonly string[]).includes(spec.kind)) {
      const hosted = (this.parts.hosts ?? []).map((h) => `${h.kinds.join(', ')} (targets ${h.prefix}*)`);
      throw new TypeError(
        `unknown attack kind '${spec.kind}'; expected one of ${[ATTACK_KINDS.join(', '), ...hosted].join('; ')}`,
      );
    }
    if (!Number.isFinite(spec.start_s)) throw new TypeError('attack start_s must be a number');
    const stop = spec.stop_s ?? Number.POSITIVE_INFINITY;
    if (!(stop > spec.start_s))
      throw new TypeError(`attack stop_s (${stop}) must be after start_s (${spec.start_s})`);
    const id = attackLabel(spec);
    if (this.intervals.some((i) => i.id === id)) throw new TypeError(`attack id '${id}' already used`);
    const need = (k: keyof AttackSpec): number => {
      const v = spec[k];
      if (typeof v !== 'number' || !Number.isFinite(v))
        throw new TypeError(`${spec.kind} attack needs a number '${k}'`);
      return v;
    };
    const label: AttackInterval = {
      id,
      kind: spec.kind,
      target: spec.target,
      start_s: spec.start_s,
      stop_s: stop,
    };
    const transforms: WindowedAttack[] = [];
    const rng = () => new Random(deriveSeed(this.twin.seed, `attack/${id}`));
    if (host) {
      host.launch(spec, label);
    } else if (spec.kind === 'stealthy') {
      const se = this.parts.se;
      if (!se)
        throw new TypeError('a stealthy attack needs a state-estimation detector to build a = H·c against');
      const biases = se.channels.map((ch) => {
        const b = new BiasAttack(spec.start_s, stop, 0);
        ch.insert(b);
        return b;
      });
      transforms.push(...biases);
      for (const s of spec.shift ?? []) {
        if (se.localBus(s.bus, this.twin) < 0)
          throw new TypeError(`stealthy: bus '${s.bus}' is not in the estimator's island`);
      }
      if (!spec.shift?.length) throw new TypeError('stealthy attack needs a non-empty shift');
      this.stealthyPending.push({ spec, biases, done: false });
    } else if (spec.target.startsWith(COMMS_PREFIX)) {
      this.disturbances.push(this.disturbComms(spec, id, stop));
    } else if (spec.kind === 'compromised-device') {
      const board = this.parts.boards?.find((b) => b.id === spec.target);
      if (!board) throw new TypeError(`compromised-device: '${spec.target}' is not a simulated board`);
      let pInj: BiasAttack | undefined;
      if (spec.report?.p_mw !== undefined && this.parts.se) {
        const bus = this.twin.hardwareById.get(board.id)?.busIndex ?? -1;
        const ch = this.parts.se.channel(`se.p_inj.${this.twin.pf.net.busIds[bus]}`);
        if (ch) {
          pInj = new BiasAttack(spec.start_s, stop, 0);
          ch.insert(pInj);
          transforms.push(pInj);
        }
      }
      this.compromised.push({ spec, pInj, board });
    } else {
      const ch = this.channel(spec.target);
      if (!ch) throw new TypeError(`unknown attack target channel '${spec.target}'`);
      // Sample period of the channel: estimator telemetry is sampled every N steps.
      const dt = spec.target.startsWith('se.')
        ? (this.parts.se?.every_steps ?? 1) * this.twin.dt_s
        : this.twin.dt_s;
      let t: WindowedAttack;
      switch (spec.kind) {
        case 'bias':
          t = new BiasAttack(spec.start_s, stop, need('bias'));
          break;
        case 'ramp':
          t = new RampAttack(spec.start_s, stop, need('rate_per_s'));
          break;
        case 'scale':
          t = new ScaleAttack(spec.start_s, stop, need('factor'));
          break;
        case 'spoof':
          t = new SpoofAttack(spec.start_s, stop, need('value'));
          break;
        case 'replay':
          t = new ReplayAttack(spec.start_s, stop, need('record_s'), dt);
          break;
        case 'dos-drop':
          t = new DropAttack(spec.start_s, stop, spec.probability ?? 1, rng());
          break;
        case 'dos-delay':
          t = new DelayJitterAttack(spec.start_s, stop, need('delay_s'), 0, dt, rng());
          break;
        case 'dos-jitter':
          t = new DelayJitterAttack(spec.start_s, stop, spec.delay_s ?? 0, need('jitter_s'), dt, rng());
          break;
        case 'time-sync':
          t = new TimeSyncAttack(
            spec.start_s,
            stop,
            spec.offset_s ?? 0,
            spec.drift_s_per_s ?? 0,
            this.twin.grid.frequency_hz,
          );
          break;
        default:
          throw new TypeError(`attack kind '${spec.kind}' cannot target a channel`);
      }
      // Attacks act on what travels the link: after the channel's own impairments would be more
      // natural for a man-in-the-middle, but set-point limiters (checks) must stay last.
      const limiterAt = ch.transforms.findIndex((x) => x.kind === 'rate-limit');
      ch.insert(t, limiterAt >= 0 ? limiterAt : ch.transforms.length);
      transforms.push(t);
    }
    this.intervals.push(label);
    this.installed.push({ label, transforms, spec });
    return label;
  }

  /**
   * An attack on an attached controller's communication network (`comms:<controller id>`): the
   * controller receives the disturbance and applies it to its agents' messages in the window.
   */
  private disturbComms(spec: AttackSpec, id: string, stop_s: number): CommsDisturbance {
    const controllerId = spec.target.slice(COMMS_PREFIX.length);
    const comms = this.twin.attachedController(controllerId)?.comms;
    if (!comms)
      throw new TypeError(
        `attack target '${spec.target}': no attached controller '${controllerId}' with a communication network`,
      );
    const window = { id, start_s: spec.start_s, stop_s };
    let d: CommsDisturbance;
    switch (spec.kind) {
      case 'dos-drop':
        d = { ...window, kind: 'loss', probability: spec.probability ?? 1 };
        break;
      case 'dos-delay':
      case 'dos-jitter': {
        const delay = spec.kind === 'dos-delay' ? (spec.delay_s ?? Number.NaN) : (spec.delay_s ?? 0);
        const jitter = spec.kind === 'dos-jitter' ? (spec.jitter_s ?? Number.NaN) : 0;
        if (!(delay >= 0) || !(jitter >= 0))
          throw new TypeError(
            `${spec.kind} attack needs a number '${spec.kind === 'dos-delay' ? 'delay_s' : 'jitter_s'}' ≥ 0`,
          );
        d = { ...window, kind: 'delay', delay_ms: delay * 1000, jitter_ms: jitter * 1000 };
        break;
      }
      case 'link-failure':
        if (spec.link?.length !== 2)
          throw new TypeError(`link-failure attack needs 'link': two agents of ${comms.agents.join(', ')}`);
        d = { ...window, kind: 'link-failure', link: [spec.link[0], spec.link[1]] };
        break;
      case 'byzantine':
        if (typeof spec.agent !== 'string' || !Number.isFinite(spec.bias))
          throw new TypeError("byzantine attack needs 'agent' (who lies) and a number 'bias'");
        d = { ...window, kind: 'byzantine', agent: spec.agent, bias: spec.bias! };
        break;
      default:
        throw new TypeError(
          `attack kind '${spec.kind}' cannot target a communication network (dos-drop, dos-delay, dos-jitter, link-failure, byzantine can)`,
        );
    }
    comms.disturb(d);
    return d;
  }

  /** Ends an attack now (live use). */
  stop(id: string, t_s: number): boolean {
    const a = this.installed.find((x) => x.label.id === id);
    if (!a || a.label.stop_s <= t_s) return false;
    a.label.stop_s = Math.max(a.label.start_s, t_s);
    for (const t of a.transforms) t.stop_s = a.label.stop_s;
    for (const d of this.disturbances) if (d.id === id) d.stop_s = a.label.stop_s;
    for (const c of this.compromised) if (attackLabel(c.spec) === id) c.spec.stop_s = a.label.stop_s;
    this.hostOf(a.spec.target)?.stop?.(id, a.label.stop_s);
    return true;
  }

  /** Ids of the attacks active at t. */
  activeAt(t_s: number): string[] {
    return this.intervals.filter((i) => t_s >= i.start_s && t_s < i.stop_s).map((i) => i.id);
  }

  /** Runs after each twin step, before the detectors: builds stealthy vectors, falsifies reports. */
  update(t_s: number): void {
    const se = this.parts.se;
    for (const p of this.stealthyPending) {
      if (p.done || t_s < p.spec.start_s || !se) continue;
      // The attacker knows the model: H at the current estimate (or flat start before the first).
      const H =
        se.last?.jacobian ??
        se.estimator.jacobian(
          new Float64Array(se.estimator.nBus).fill(1),
          new Float64Array(se.estimator.nBus),
        );
      const c = new Float64Array(se.estimator.nState);
      const ref = se.busIndices.indexOf(se.refIndex);
      for (const s of p.spec.shift ?? []) {
        const local = se.localBus(s.bus, this.twin);
        c[se.estimator.nBus - 1 + local] += s.dvm_pu ?? 0;
        if (s.dva_deg && local !== ref) c[local < ref ? local : local - 1] += (s.dva_deg * Math.PI) / 180;
      }
      const a = se.estimator.stealthyAttack(H, c);
      for (let i = 0; i < a.length; i++) p.biases[i].bias = a[i];
      p.done = true;
    }
    for (const c of this.compromised) {
      const active = t_s >= c.spec.start_s && t_s < (c.spec.stop_s ?? Number.POSITIVE_INFINITY);
      c.board.falseReport = active ? c.spec.report : undefined;
      if (c.pInj && c.spec.report?.p_mw !== undefined) {
        c.pInj.bias = (c.spec.report.p_mw - c.board.p_mw) / this.twin.grid.baseMVA;
      }
    }
  }
}
