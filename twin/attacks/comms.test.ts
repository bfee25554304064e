import { describe, expect, it } from 'vitest';
import type { CommsDisturbance, Controller } from '../control/contract.ts';
import { loadGridFile } from '../files.ts';
import { Twin } from '../twin.ts';
import { AttackEngine } from './engine.ts';

/** A controller with a communication network that records what the engine hands it. */
function stub(): Controller & { got: CommsDisturbance[] } {
  const got: CommsDisturbance[] = [];
  return {
    id: 'agents',
    period_s: 1,
    claims: [],
    decide() {},
    got,
    comms: {
      agents: ['a', 'b', 'c'],
      disturb(d) {
        if (d.kind === 'byzantine' && !['a', 'b', 'c'].includes(d.agent))
          throw new TypeError(`unknown agent '${d.agent}'`);
        got.push(d);
      },
    },
  };
}

describe('attack engine on a controller communication network (comms:<id>)', () => {
  it('hands each kind to the controller as a disturbance in its window, and ends it early on stop', async () => {
    const { grid, config } = await loadGridFile('grids/demo-33bw-microgrids.yaml');
    const ctl = stub();
    const twin = new Twin(grid, { config, dt_s: 0.1, seed: 1, controllers: [ctl] });
    const engine = new AttackEngine(twin);
    engine.launch({
      id: 'drop',
      kind: 'dos-drop',
      target: 'comms:agents',
      start_s: 1,
      stop_s: 5,
      probability: 0.3,
    });
    engine.launch({
      id: 'slow',
      kind: 'dos-jitter',
      target: 'comms:agents',
      start_s: 2,
      delay_s: 0.02,
      jitter_s: 0.01,
    });
    engine.launch({ id: 'cut', kind: 'link-failure', target: 'comms:agents', start_s: 3, link: ['a', 'b'] });
    engine.launch({ id: 'lie', kind: 'byzantine', target: 'comms:agents', start_s: 4, agent: 'c', bias: 7 });
    expect(ctl.got).toEqual([
      { id: 'drop', start_s: 1, stop_s: 5, kind: 'loss', probability: 0.3 },
      {
        id: 'slow',
        start_s: 2,
        stop_s: Number.POSITIVE_INFINITY,
        kind: 'delay',
        delay_ms: 20,
        jitter_ms: 10,
      },
      { id: 'cut', start_s: 3, stop_s: Number.POSITIVE_INFINITY, kind: 'link-failure', link: ['a', 'b'] },
      { id: 'lie', start_s: 4, stop_s: Number.POSITIVE_INFINITY, kind: 'byzantine', agent: 'c', bias: 7 },
    ]);
    expect(engine.intervals.map((i) => i.id)).toEqual(['drop', 'slow', 'cut', 'lie']);
    expect(engine.stop('lie', 6)).toBe(true);
    expect(ctl.got[3]!.stop_s).toBe(6);
    expect(engine.activeAt(5.5)).toEqual(['slow', 'cut', 'lie']);
  });

  it('refuses what cannot act on a network, with the reason', async () => {
    const { grid, config } = await loadGridFile('grids/demo-33bw-microgrids.yaml');
    const twin = new Twin(grid, { config, dt_s: 0.1, seed: 1, controllers: [stub()] });
    const engine = new AttackEngine(twin);
    expect(() => engine.launch({ kind: 'dos-drop', target: 'comms:nobody', start_s: 1 })).toThrow(
      "attack target 'comms:nobody': no attached controller 'nobody' with a communication network",
    );
    expect(() => engine.launch({ kind: 'scale', target: 'comms:agents', start_s: 1, factor: 2 })).toThrow(
      /attack kind 'scale' cannot target a communication network/,
    );
    expect(() => engine.launch({ kind: 'link-failure', target: 'comms:agents', start_s: 1 })).toThrow(
      /link-failure attack needs 'link': two agents of a, b, c/,
    );
    expect(() =>
      engine.launch({ kind: 'byzantine', target: 'comms:agents', start_s: 1, agent: 'z', bias: 1 }),
    ).toThrow("unknown agent 'z'");
    expect(() => engine.launch({ kind: 'dos-delay', target: 'comms:agents', start_s: 1 })).toThrow(
      /dos-delay attack needs a number 'delay_s'/,
    );
  });
});
