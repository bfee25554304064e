/**
 * The communication network of a distributed VPP as attacks see it (the contract's
 * `DisturbableComms`): the base conditions declared for the run plus the disturbances the attack
 * engine installs — message loss bursts, added delay, failed links, one lying agent — each in its
 * window of twin time. The controller asks for the conditions in force when it re-dispatches.
 */
import type { CommsDisturbance, DisturbableComms } from '../twin/control/contract.ts';
import type { NetworkConditions } from './comms.ts';
import type { ControlStructure } from './portfolio.ts';

/** The ADMM aggregator's agent id (the hub of its star). */
export const AGGREGATOR = 'aggregator';

/** What the agents' messages go through at one decision. */
export interface CommsConditions {
  loss: number;
  latency_ms: number;
  jitter_ms: number;
  /** Links down, as agent index pairs (the aggregator is index n). */
  failedLinks: [number, number][];
  /** The lying agent and its bias, when one lies: on its λ (consensus, /MWh) or its reported power (ADMM, MW). */
  liar?: { agent: number; bias: number };
  /** Ids of the disturbances in force (for the status and the recording). */
  active: string[];
}

export class VppComms implements DisturbableComms {
  readonly agents: readonly string[];
  private readonly disturbances: CommsDisturbance[] = [];

  constructor(
    members: readonly string[],
    private readonly structure: ControlStructure,
    private readonly base: NetworkConditions = {},
  ) {
    this.agents = structure === 'admm' ? [...members, AGGREGATOR] : [...members];
  }

  disturb(d: CommsDisturbance): void {
    if (this.structure === 'central')
      throw new TypeError(
        'a central VPP has no communication network to attack (structure: admm or consensus)',
      );
    if (!(d.stop_s > d.start_s)) throw new TypeError(`disturbance ${d.id}: stop_s must be after start_s`);
    const agent = (id: string): number => {
      const i = this.agents.indexOf(id);
      if (i < 0)
        throw new TypeError(`disturbance ${d.id}: unknown agent '${id}' (agents: ${this.agents.join(', ')})`);
      return i;
    };
    if (d.kind === 'loss' && !(d.probability >= 0 && d.probability <= 1))
      throw new TypeError(`disturbance ${d.id}: loss probability must be in [0, 1]`);
    if (d.kind === 'link-failure') {
      const [a, b] = d.link.map(agent) as [number, number];
      const hub = this.agents.length - 1;
      const isLink = this.structure === 'admm' ? (a === hub) !== (b === hub) : a !== b;
      if (!isLink)
        throw new TypeError(
          `disturbance ${d.id}: ${d.link.join('–')} is not a link${this.structure === 'admm' ? ' (ADMM links join a member and the aggregator)' : ''}`,
        );
    }
    if (d.kind === 'byzantine') {
      if (agent(d.agent) === this.agents.length - 1 && this.structure === 'admm')
        throw new TypeError(
          `disturbance ${d.id}: the aggregator is the VPP itself; a lying agent is a member (it reports its power + bias MW)`,
        );
      if (this.disturbances.some((x) => x.kind === 'byzantine'))
        throw new TypeError(`disturbance ${d.id}: one lying agent at a time (W-MSR with F = 1)`);
    }
    this.disturbances.push(d);
  }

  /** The conditions in force at twin time t: the worst loss, delays added, every failed link. */
  at(t_s: number): CommsConditions {
    const c: CommsConditions = {
      loss: this.base.loss ?? 0,
      latency_ms: this.base.latency_ms ?? 0,
      jitter_ms: this.base.jitter_ms ?? 0,
      failedLinks: [],
      active: [],
    };
    for (const d of this.disturbances) {
      if (!(t_s >= d.start_s && t_s < d.stop_s)) continue;
      c.active.push(d.id);
      switch (d.kind) {
        case 'loss':
          c.loss = Math.max(c.loss, d.probability);
          break;
        case 'delay':
          c.latency_ms += d.delay_ms;
          c.jitter_ms += d.jitter_ms;
          break;
        case 'link-failure':
          c.failedLinks.push([this.agents.indexOf(d.link[0]), this.agents.indexOf(d.link[1])]);
          break;
        case 'byzantine':
          c.liar = { agent: this.agents.indexOf(d.agent), bias: d.bias };
          break;
      }
    }
    return c;
  }
}
