import { describe, expect, it } from 'vitest';
import { graphFromEdges, LinkNetwork } from './comms.ts';

const pair = graphFromEdges(2, [[0, 1]]);

describe('LinkNetwork: arrival rounds and relayed records', () => {
  it('records the round of the newest arrival on each link (a silence detector reads it)', () => {
    const net = new LinkNetwork(pair, 1, { failedLinks: [{ a: 0, b: 1, at: 3 }] });
    const e = net.edge(0, 1);
    for (let k = 0; k < 6; k++) {
      net.post(e, k, [k]);
      net.deliver(k);
    }
    expect(net.lastArrival[e]).toBe(2);
    expect(net.latest[e]).toBe(2);
  });

  it('a relayed record: one round a hop on a clean network, 1/(1 − loss) on average with retransmission, never if all is lost', () => {
    expect(new LinkNetwork(pair, 1).relayRounds(3)).toBe(3);
    expect(new LinkNetwork(pair, 1, { latency_ms: 20, round_ms: 10 }).relayRounds(3)).toBe(9);
    const lossy = new LinkNetwork(pair, 1, { loss: 0.5, seed: 2 });
    let total = 0;
    for (let k = 0; k < 2000; k++) total += lossy.relayRounds(1);
    expect(total / 2000).toBeCloseTo(2, 1);
    expect(new LinkNetwork(pair, 1, { loss: 1 }).relayRounds(1)).toBe(Number.POSITIVE_INFINITY);
  });

  it('relaying leaves the link messages’ loss pattern as it was (its own random stream)', () => {
    const run = (relay: boolean) => {
      const net = new LinkNetwork(pair, 1, { loss: 0.3, seed: 5 });
      const e = net.edge(0, 1);
      for (let k = 0; k < 200; k++) {
        if (relay && k % 7 === 0) net.relayRounds(2);
        net.post(e, k, [k]);
        net.deliver(k);
      }
      return net.stats;
    };
    expect(run(true)).toEqual(run(false));
  });
});
