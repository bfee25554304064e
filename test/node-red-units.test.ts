/** The node package's pure parts: messages to commands, state selection, config checks. */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { GridTopology, LiveState } from '../bench/server/api.ts';

const require = createRequire(import.meta.url);
type Built = { command?: Record<string, unknown>; problem?: string };
const { buildCommand } = require('../flows/nodes/gridloop-command.js') as {
  buildCommand(kind: string, target: string, msg: Record<string, unknown>): Built;
};
const { select } = require('../flows/nodes/gridloop-state.js') as {
  select(
    filter: string,
    target: string,
    state: LiveState,
    topology: GridTopology | null,
  ): { topic?: string; payload?: Record<string, unknown>; missing?: string };
};
const { urlProblem, rateProblem } = require('../flows/nodes/protocol.js') as {
  urlProblem(url: unknown): string | undefined;
  rateProblem(rate: unknown): string | undefined;
};

describe('command node: msg -> API command', () => {
  it('builds each command kind from payload and target', () => {
    expect(buildCommand('setpoint', 'bess-25', { payload: 0.2 })).toEqual({
      command: { type: 'setpoint', deviceId: 'bess-25', p_mw: 0.2 },
    });
    expect(buildCommand('setpoint', 'bess-25', { payload: { q_mvar: -0.1 }, target: 'bess-10' })).toEqual({
      command: { type: 'setpoint', deviceId: 'bess-10', q_mvar: -0.1 },
    });
    expect(buildCommand('breaker', 'pcc-mg1', { payload: 'open' })).toEqual({
      command: { type: 'breaker', id: 'pcc-mg1', closed: false },
    });
    expect(buildCommand('breaker', 'pcc-mg1', { payload: true })).toEqual({
      command: { type: 'breaker', id: 'pcc-mg1', closed: true },
    });
    expect(buildCommand('island', 'MG1', { payload: 'reconnect' })).toEqual({
      command: { type: 'island', islanded: false, microgrid: 'MG1' },
    });
    expect(buildCommand('island', '', { payload: true })).toEqual({
      command: { type: 'island', islanded: true },
    });
    expect(buildCommand('fid-setpoint', 'fid-25-29', { payload: -0.1 })).toEqual({
      command: { type: 'fid-setpoint', fidId: 'fid-25-29', p_mw: -0.1 },
    });
    expect(buildCommand('scenario', 'island-transition', { payload: 'Start' })).toEqual({
      command: { type: 'scenario', action: 'start', name: 'island-transition' },
    });
    expect(buildCommand('emergency-stop', '', { payload: 1 })).toEqual({
      command: { type: 'emergency-stop' },
    });
    expect(buildCommand('msg', '', { payload: { type: 'breaker', id: 'x', closed: true } })).toEqual({
      command: { type: 'breaker', id: 'x', closed: true },
    });
  });

  it('names what is wrong with a bad message', () => {
    expect(buildCommand('setpoint', '', { payload: 0.2 }).problem).toBe(
      'no device id: set it in the node or msg.target',
    );
    expect(buildCommand('setpoint', 'b', { payload: Number.NaN }).problem).toBe(
      'msg.payload must be a number (MW) or { p_mw, q_mvar }',
    );
    expect(buildCommand('setpoint', 'b', { payload: { p_mw: 0.1, q_mvar: 'x' } }).problem).toBe(
      'msg.payload.q_mvar must be a number (Mvar)',
    );
    expect(buildCommand('breaker', 'sw', { payload: 'maybe' }).problem).toBe(
      "msg.payload must be true/'close' or false/'open'",
    );
    expect(buildCommand('scenario', 'x', { payload: 'rewind' }).problem).toBe(
      'msg.payload must be one of start, stop, pause, resume',
    );
    expect(buildCommand('msg', '', { payload: 'breaker' }).problem).toMatch(/command object with a type/);
  });
});

describe('state node: selection', () => {
  const topology = {
    buses: [
      { id: '1', x: 0, y: 0, baseKV: 12.66 },
      { id: '2', x: 1, y: 0, baseKV: 12.66, microgrid: 'MG1' },
    ],
  } as unknown as GridTopology;
  const state: LiveState = {
    t_s: 3,
    step: 3000,
    islands: [
      { id: '1', f_hz: 50, rocof_hz_s: 0, energised: true, gridConnected: true, buses: ['1'] },
      { id: '2', f_hz: 49.8, rocof_hz_s: -0.1, energised: true, gridConnected: false, buses: ['2'] },
    ],
    vm_pu: [1.0, 0.97],
    devices: { 'bess-25': { p_mw: 0.3, q_mvar: 0, soc: 0.5, online: true } },
    loop: { lateness_us: 1, work_us: 2, overruns: 0 },
  };

  it('picks an island by id or by microgrid, a bus voltage, a device', () => {
    expect(select('island', 'MG1', state, topology)).toMatchObject({
      topic: 'gridloop/island/MG1',
      payload: { id: '2', f_hz: 49.8, t_s: 3 },
    });
    expect(select('bus', '2', state, topology)).toEqual({
      topic: 'gridloop/bus/2',
      payload: { t_s: 3, step: 3000, id: '2', vm_pu: 0.97, island: '2' },
    });
    expect(select('device', 'bess-25', state, topology).payload).toMatchObject({ id: 'bess-25', p_mw: 0.3 });
    expect(select('all', '', state, topology).payload).toBe(state);
  });

  it('says why nothing was selected', () => {
    expect(select('device', 'nope', state, topology).missing).toBe("device nope not in the bench's state");
    expect(select('bus', '99', state, topology).missing).toBe("bus 99 not in the bench's grid");
    expect(select('bus', '2', { ...state, vm_pu: undefined }, topology).missing).toBe(
      'this bench does not send bus voltages',
    );
    expect(select('island', 'MG9', state, topology).missing).toBe("island MG9 not in the bench's state");
  });
});

describe('config checks', () => {
  it('accepts http(s) URLs and rates of 0.1..50 Hz, and names the rest', () => {
    expect(urlProblem('http://127.0.0.1:7410')).toBeUndefined();
    expect(urlProblem('https://bench.lab:443/')).toBeUndefined();
    expect(urlProblem('')).toBe('no bench URL');
    expect(urlProblem('ftp://x')).toBe("'ftp://x' must start with http:// or https://");
    expect(urlProblem('not a url')).toBe("'not a url' is not a URL");
    expect(urlProblem('http://127.0.0.1:7410/live')).toBe(
      "'http://127.0.0.1:7410/live' must be the bench's root URL, without a path (e.g. http://127.0.0.1:7410)",
    );
    expect(rateProblem('0.1')).toBeUndefined();
    expect(rateProblem(50)).toBeUndefined();
    expect(rateProblem(0)).toBe("rate must be 0.1..50 Hz, got '0'");
    expect(rateProblem('fast')).toBe("rate must be 0.1..50 Hz, got 'fast'");
  });
});

describe('scenario node: verdicts', () => {
  /** Builds a gridloop-scenario node on a stand-in for Node-RED's runtime (unit test only). */
  function scenarioNode() {
    let Node: ((this: Record<string, unknown>, config: Record<string, unknown>) => void) | undefined;
    const server = { register() {}, deregister() {} };
    const RED = {
      nodes: {
        createNode(node: Record<string, unknown>) {
          node.on = () => {};
        },
        getNode: () => server,
        registerType: (_: string, ctor: typeof Node) => {
          Node = ctor;
        },
      },
    };
    (require('../flows/nodes/gridloop-scenario.js') as (red: typeof RED) => void)(RED);
    const statuses: Record<string, unknown>[] = [];
    const sent: unknown[][] = [];
    const node: Record<string, unknown> = {
      status: (s: Record<string, unknown>) => statuses.push(s),
      send: (m: unknown[]) => sent.push(m),
      error: () => {},
    };
    Node!.call(node, { server: 'bench', scenario: 'island-transition', action: 'start' });
    return { node: node as { onEvents(events: unknown[]): void }, statuses, sent };
  }

  const verdict = (passed: boolean) => ({
    t_s: 31,
    kind: 'scenario-verdict',
    target: 'island-transition',
    message: passed ? 'island-transition passed (6/6 assertions)' : 'island-transition failed (5/6 …)',
    data: { scenario: 'island-transition', passed, assertions: [], played_s: 30 },
  });

  it('a passed verdict turns the node green and goes out on output 2 with its data', () => {
    const { node, statuses, sent } = scenarioNode();
    node.onEvents([{ t_s: 1, kind: 'load-step', message: 'not ours' }, verdict(true)]);
    expect(statuses.at(-1)).toMatchObject({
      fill: 'green',
      text: 'island-transition passed (6/6 assertions)',
    });
    expect(sent).toHaveLength(1);
    expect(sent[0][1]).toMatchObject({
      topic: 'gridloop/scenario/verdict',
      payload: { passed: true, played_s: 30 },
    });
  });

  it('a failed verdict turns it red', () => {
    const { node, statuses } = scenarioNode();
    node.onEvents([verdict(false)]);
    expect(statuses.at(-1)).toMatchObject({ fill: 'red' });
  });
});
