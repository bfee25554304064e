import { describe, expect, it } from 'vitest';
import { AGGREGATOR, VppComms } from './disturbances.ts';

const members = ['chp', 'pv', 'bess'];

describe('VppComms: the conditions in force at a decision', () => {
  it('base conditions, the worst loss, delays added, failed links and the liar, each in its window', () => {
    const c = new VppComms(members, 'consensus', { loss: 0.05, latency_ms: 10 });
    c.disturb({ id: 'l1', start_s: 10, stop_s: 20, kind: 'loss', probability: 0.3 });
    c.disturb({ id: 'l2', start_s: 15, stop_s: 30, kind: 'loss', probability: 0.2 });
    c.disturb({ id: 'd', start_s: 15, stop_s: 16, kind: 'delay', delay_ms: 20, jitter_ms: 5 });
    c.disturb({ id: 'f', start_s: 0, stop_s: 100, kind: 'link-failure', link: ['chp', 'bess'] });
    c.disturb({ id: 'x', start_s: 50, stop_s: 60, kind: 'byzantine', agent: 'pv', bias: -4 });
    expect(c.at(5)).toEqual({
      loss: 0.05,
      latency_ms: 10,
      jitter_ms: 0,
      failedLinks: [[0, 2]],
      active: ['f'],
    });
    expect(c.at(15.5)).toMatchObject({
      loss: 0.3,
      latency_ms: 30,
      jitter_ms: 5,
      active: ['l1', 'l2', 'd', 'f'],
    });
    expect(c.at(20)).toMatchObject({ loss: 0.2, latency_ms: 10, active: ['l2', 'f'] });
    expect(c.at(55)).toMatchObject({ liar: { agent: 1, bias: -4 } });
    expect(c.at(100)).toEqual({ loss: 0.05, latency_ms: 10, jitter_ms: 0, failedLinks: [], active: [] });
  });

  it('refuses what the structure cannot have', () => {
    expect(() =>
      new VppComms(members, 'central').disturb({
        id: 'a',
        start_s: 0,
        stop_s: 1,
        kind: 'loss',
        probability: 1,
      }),
    ).toThrow(/a central VPP has no communication network/);
    const admm = new VppComms(members, 'admm');
    expect(admm.agents).toEqual([...members, AGGREGATOR]);
    expect(() =>
      admm.disturb({ id: 'a', start_s: 0, stop_s: 1, kind: 'link-failure', link: ['chp', 'pv'] }),
    ).toThrow(/chp–pv is not a link \(ADMM links join a member and the aggregator\)/);
    expect(() =>
      admm.disturb({ id: 'b', start_s: 0, stop_s: 1, kind: 'byzantine', agent: AGGREGATOR, bias: 1 }),
    ).toThrow(/the aggregator is the VPP itself; a lying agent is a member/);
    admm.disturb({ id: 'c', start_s: 0, stop_s: 1, kind: 'byzantine', agent: 'pv', bias: 0.2 });
    expect(admm.at(0.5).liar).toEqual({ agent: members.indexOf('pv'), bias: 0.2 });
    const cons = new VppComms(members, 'consensus');
    cons.disturb({ id: 'x', start_s: 0, stop_s: 1, kind: 'byzantine', agent: 'pv', bias: 1 });
    expect(() =>
      cons.disturb({ id: 'y', start_s: 0, stop_s: 1, kind: 'byzantine', agent: 'chp', bias: 1 }),
    ).toThrow(/one lying agent at a time/);
    expect(() => cons.disturb({ id: 'z', start_s: 5, stop_s: 5, kind: 'loss', probability: 1 })).toThrow(
      /stop_s must be after start_s/,
    );
  });
});
