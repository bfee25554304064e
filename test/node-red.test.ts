/**
 * The gridloop Node-RED nodes and example flows in a real Node-RED runtime (the `node-red`
 * package, embedded with RED.init/RED.start), connected over socket.io on loopback to the real
 * demo bench (twin in its real-time loop, emulated board, recording). All Node-RED traffic to the
 * bench goes through a loopback TCP proxy so a test can cut the link and count connections.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io as connect } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type NodeRedRuntime, startNodeRed } from '../bench/node-red/node-red.ts';
import { readRunPoints } from '../bench/recording/index.ts';
import { type RunningBench, startBench } from '../bench/start-bench.ts';
import {
  collect,
  exampleFlow,
  type LinkProxy,
  linkOf,
  type Msg,
  setTabEnv,
  startLinkProxy,
  until,
  watchStatuses,
} from './node-red-helpers.ts';
import { budget } from './support/machine-speed.ts';

interface Library {
  getEntry(opts: { library: string; type: string; path: string }): Promise<(string | { fn: string })[]>;
}

describe('gridloop nodes in a real Node-RED, against the running demo bench', () => {
  const dirs: string[] = [];
  let demo: RunningBench;
  let proxy: LinkProxy;
  let nodeRed: NodeRedRuntime;
  let operatorToken: string;
  let tcpBeforeNodeRed: number;
  const tcpHandles = () =>
    process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap').length;
  const benchPort = () => Number(new URL(demo.url).port);

  beforeAll(async () => {
    const runsDir = mkdtempSync(join(tmpdir(), 'gridloop-nr-runs-'));
    const userDir = mkdtempSync(join(tmpdir(), 'gridloop-nr-user-'));
    dirs.push(runsDir, userDir);
    demo = await startBench({ host: '127.0.0.1', port: 0, runsDir, seed: 1, dt_s: 0.002, record_hz: 20 });
    operatorToken = demo.tokens.find((t) => t.role === 'operator')!.token;
    proxy = await startLinkProxy(benchPort());
    tcpBeforeNodeRed = tcpHandles();
    nodeRed = await startNodeRed({ userDir, logLevel: 'error', credentialSecret: 'test-secret-not-for-use' });
  });

  afterAll(async () => {
    await nodeRed?.close();
    await proxy?.close();
    await demo?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('installs the five gridloop node types', async () => {
    const list = await nodeRed.red.runtime.nodes.getNodeList({});
    const ours = list.filter((n) => n.module === '@gridloop/node-red-gridloop');
    expect(ours.flatMap((n) => n.types).sort()).toEqual([
      'gridloop-command',
      'gridloop-event',
      'gridloop-scenario',
      'gridloop-server',
      'gridloop-state',
    ]);
    expect(ours.every((n) => n.enabled && !n.err)).toBe(true);
    // The example flows are offered in the editor's Import > Examples.
    const library = (nodeRed.red.runtime as unknown as { library: Library }).library;
    const examples = await library.getEntry({
      library: 'examples',
      type: 'flows',
      path: '@gridloop/node-red-gridloop',
    });
    expect(examples.map((e) => (typeof e === 'string' ? e : e.fn)).sort()).toEqual([
      'alarms',
      'classroom',
      'peak-shaving',
    ]);
  });

  it.each(['peak-shaving', 'alarms', 'classroom'])(
    'loads the %s example and connects to the bench',
    async (name) => {
      const flow = exampleFlow(name, proxy.url, operatorToken);
      await nodeRed.deploy(flow);
      for (const node of flow) {
        if (node.type !== 'tab') expect(nodeRed.red.nodes.getNode(node.id), node.id).not.toBeNull();
      }
      const link = await until(
        'connected',
        () => linkOf(nodeRed, 'gridloop-bench')?.state === 'connected' && linkOf(nodeRed, 'gridloop-bench'),
      );
      expect(link.status).toMatchObject({ fill: 'green', text: 'connected as operator' });
      await nodeRed.deploy([]);
    },
  );

  it('peak shaving: the flow dispatches the battery from the streamed PCC power, and the recorded import settles at the limit', {
    timeout: budget(90_000),
  }, async () => {
    const recorded = async (measurement: string, tag: string, id: string) =>
      (await readRunPoints(demo.runDir)).filter(
        (p) => p.measurement === measurement && p.tags[tag] === id && typeof p.fields.p_mw === 'number',
      );
    const pcc = () => recorded('pcc', 'microgrid', 'MG1');
    const before = await until('MG1 PCC import in the recording', async () => (await pcc()).at(-1));
    const import0 = before.fields.p_mw as number;
    expect(import0).toBeGreaterThan(0.3);
    const battery0 = (await recorded('device', 'device', 'bess-25')).at(-1)!.fields.p_mw as number;
    // A limit 0.25 MW below MG1's import now: a dispatcher reading the real PCC power asks the
    // battery for about 0.25 MW more; one without it sends nothing (or a guess).
    const limit = Math.round((import0 - 0.25) * 1000) / 1000;
    const flow = exampleFlow('peak-shaving', proxy.url, operatorToken);
    setTabEnv(flow, 'PEAK_LIMIT_MW', String(limit));
    setTabEnv(flow, 'VALLEY_MW', String(limit - 1));
    await nodeRed.deploy(flow);
    const results = collect(nodeRed, 'ps-result');
    const sent = await until(
      'a set-point the bench accepted',
      () => results.find((m) => (m.payload as { ok?: boolean }).ok === true),
      15_000,
    );
    const command = sent.command as { type: string; deviceId: string; p_mw: number };
    expect(command).toMatchObject({ type: 'setpoint', deviceId: 'bess-25' });
    expect(Math.abs(command.p_mw - (battery0 + 0.25))).toBeLessThan(0.08);
    // Closed loop through the twin: the battery discharges and MG1's recorded import comes down to
    // the limit.
    const settled = await until(
      "MG1's recorded PCC import at the limit",
      async () => {
        const last = (await pcc()).at(-1);
        return (
          last &&
          last.time_ns > before.time_ns &&
          Math.abs((last.fields.p_mw as number) - limit) < 0.04 &&
          last
        );
      },
      20_000,
    );
    expect(import0 - (settled.fields.p_mw as number)).toBeGreaterThan(0.15);
    await nodeRed.deploy([]);
  });

  it('a microgrid state node emits PCC power, EMS mode and islanded, and says so when the microgrid is unknown', async () => {
    const statuses = watchStatuses(nodeRed);
    await nodeRed.deploy([
      { id: 'mg-tab', type: 'tab', label: 'microgrid' },
      { id: 'mg-bench', type: 'gridloop-server', url: proxy.url, credentials: { token: operatorToken } },
      {
        id: 'mg-state',
        type: 'gridloop-state',
        z: 'mg-tab',
        server: 'mg-bench',
        rate: 5,
        filter: 'microgrid',
        target: 'MG1',
        wires: [['mg-sink']],
      },
      {
        id: 'mg-unknown',
        type: 'gridloop-state',
        z: 'mg-tab',
        server: 'mg-bench',
        rate: 5,
        filter: 'microgrid',
        target: 'MG9',
        wires: [['mg-sink']],
      },
      { id: 'mg-sink', type: 'debug', z: 'mg-tab', active: false, wires: [] },
    ]);
    const seen = collect(nodeRed, 'mg-sink');
    const first = await until('an MG1 message', () => seen[0]);
    expect(first.topic).toBe('gridloop/microgrid/MG1');
    expect(first.payload).toMatchObject({ id: 'MG1', ems: 'peak-shaving', islanded: false });
    const payload = first.payload as { pcc_p_mw: number; pcc_q_mvar: number };
    expect(payload.pcc_p_mw).toBeGreaterThan(0.1);
    expect(typeof payload.pcc_q_mvar).toBe('number');
    await until('the unknown microgrid reported', () =>
      /microgrid MG9 not in the bench's state/.test(String(statuses.of('mg-unknown')?.text ?? '')),
    );
    expect(statuses.of('mg-unknown')?.fill).toBe('yellow');
    expect(seen.every((m) => m.topic === 'gridloop/microgrid/MG1')).toBe(true);
    statuses.stop();
    await nodeRed.deploy([]);
  });

  it('a bad token puts the server node, and every node using it, in a red error state', async () => {
    await nodeRed.deploy([
      { id: 'bad-tab', type: 'tab', label: 'bad token' },
      {
        id: 'bad-server',
        type: 'gridloop-server',
        url: proxy.url,
        credentials: { token: 'not-a-bench-token-000' },
      },
      {
        id: 'bad-state',
        type: 'gridloop-state',
        z: 'bad-tab',
        server: 'bad-server',
        rate: 1,
        filter: 'all',
        target: '',
        wires: [],
      },
      { id: 'bad-status', type: 'status', z: 'bad-tab', scope: null, wires: [['bad-sink']] },
      { id: 'bad-sink', type: 'debug', z: 'bad-tab', active: false, wires: [] },
    ]);
    const statuses = collect(nodeRed, 'bad-sink');
    const link = await until(
      'refused',
      () => linkOf(nodeRed, 'bad-server')?.state === 'refused' && linkOf(nodeRed, 'bad-server'),
    );
    expect(link.status).toMatchObject({ fill: 'red', shape: 'ring' });
    expect(link.status.text).toMatch(/refused: unauthenticated: unknown token/);
    const shown = await until('the state node showing the refusal', () =>
      statuses.find((m) => (m.status as { fill?: string } | undefined)?.fill === 'red'),
    );
    expect((shown.status as { text: string }).text).toMatch(/unknown token/);
    // Refused is final: no retry storm against the bench.
    const accepted = proxy.accepted();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(proxy.accepted()).toBe(accepted);
    await nodeRed.deploy([]);
  });

  it('state nodes on one connection each keep to their own rate', async () => {
    await nodeRed.deploy([
      { id: 'rate-tab', type: 'tab', label: 'rates' },
      { id: 'rate-bench', type: 'gridloop-server', url: proxy.url, credentials: { token: operatorToken } },
      {
        id: 'slow',
        type: 'gridloop-state',
        z: 'rate-tab',
        server: 'rate-bench',
        rate: 1,
        filter: 'island',
        target: 'MG1',
        wires: [['slow-sink']],
      },
      {
        id: 'fast',
        type: 'gridloop-state',
        z: 'rate-tab',
        server: 'rate-bench',
        rate: 10,
        filter: 'device',
        target: 'bess-25',
        wires: [['fast-sink']],
      },
      { id: 'slow-sink', type: 'debug', z: 'rate-tab', active: false, wires: [] },
      { id: 'fast-sink', type: 'debug', z: 'rate-tab', active: false, wires: [] },
    ]);
    const slow = collect(nodeRed, 'slow-sink');
    const fast = collect(nodeRed, 'fast-sink');
    await until('both emitting', () => slow.length > 0 && fast.length > 0);
    const slowStart = slow.length;
    const fastStart = fast.length;
    const started = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const window_s = (Date.now() - started) / 1000;
    // The 1 Hz node never sends two states less than 0.98 s apart, whatever the bench sends it.
    expect(slow.length - slowStart).toBeLessThanOrEqual(Math.floor(window_s / 0.98) + 1);
    // The shared connection streams fast enough for the 10 Hz node, which gets more.
    expect(fast.length - fastStart).toBeGreaterThan(slow.length - slowStart);
    expect(slow[0].topic).toBe('gridloop/island/MG1');
    expect(fast[0]).toMatchObject({ topic: 'gridloop/device/bess-25', payload: { id: 'bess-25' } });
    expect(proxy.open()).toBe(1);
    await nodeRed.deploy([]);
  });

  it('misconfigured nodes say what is wrong in a red status, and open no connection', async () => {
    const accepted = proxy.accepted();
    const statuses = watchStatuses(nodeRed);
    await nodeRed.deploy([
      { id: 'mis-tab', type: 'tab', label: 'misconfigured' },
      {
        id: 'mis-ftp',
        type: 'gridloop-server',
        url: 'ftp://127.0.0.1:21',
        credentials: { token: operatorToken },
      },
      { id: 'mis-notoken', type: 'gridloop-server', url: proxy.url },
      { id: 'mis-good', type: 'gridloop-server', url: proxy.url, credentials: { token: operatorToken } },
      {
        id: 'mis-url',
        type: 'gridloop-state',
        z: 'mis-tab',
        server: 'mis-ftp',
        rate: 1,
        filter: 'all',
        target: '',
        wires: [],
      },
      {
        id: 'mis-token',
        type: 'gridloop-state',
        z: 'mis-tab',
        server: 'mis-notoken',
        rate: 1,
        filter: 'all',
        target: '',
        wires: [],
      },
      {
        id: 'mis-rate',
        type: 'gridloop-state',
        z: 'mis-tab',
        server: 'mis-good',
        rate: 0,
        filter: 'all',
        target: '',
        wires: [],
      },
      {
        id: 'mis-id',
        type: 'gridloop-state',
        z: 'mis-tab',
        server: 'mis-good',
        rate: 1,
        filter: 'device',
        target: ' ',
        wires: [],
      },
      {
        id: 'mis-regex',
        type: 'gridloop-event',
        z: 'mis-tab',
        server: 'mis-good',
        severity: 'info',
        kinds: 'trip(',
        link: false,
        wires: [],
      },
      {
        id: 'mis-none',
        type: 'gridloop-command',
        z: 'mis-tab',
        server: '',
        command: 'setpoint',
        target: '',
        wires: [],
      },
    ]);
    const statusOf = (id: string) => statuses.of(id);
    const expected: Record<string, string> = {
      'mis-url': "'ftp://127.0.0.1:21' must start with http:// or https://",
      'mis-token': 'no token (enter one, or set GRIDLOOP_TOKEN)',
      'mis-rate': "rate must be 0.1..50 Hz, got '0'",
      'mis-id': 'a device filter needs an id',
      'mis-regex': 'event kinds: invalid pattern (Invalid regular expression: /trip(/i: Unterminated group)',
      'mis-none': 'no gridloop server configured',
    };
    await until('a red status on every misconfigured node', () =>
      Object.keys(expected).every((id) => statusOf(id)?.fill === 'red'),
    );
    for (const [id, text] of Object.entries(expected))
      expect(statusOf(id), id).toMatchObject({ fill: 'red', text });
    expect(linkOf(nodeRed, 'mis-ftp')?.state).toBe('error');
    expect(linkOf(nodeRed, 'mis-notoken')?.state).toBe('error');
    // The nodes that are fine connect; the broken ones add no connection of their own.
    await until('mis-good unused', () => linkOf(nodeRed, 'mis-good')?.state === 'idle');
    expect(proxy.accepted()).toBe(accepted);
    statuses.stop();
    await nodeRed.deploy([]);
  });

  it('a dropped bench connection reconnects, and the alarms flow reports the loss and the return', {
    timeout: budget(90_000),
  }, async () => {
    const flow = exampleFlow('alarms', proxy.url, operatorToken);
    flow.push(
      {
        id: 'rc-state',
        type: 'gridloop-state',
        z: 'alarms-tab',
        server: 'gridloop-bench',
        rate: 5,
        filter: 'device',
        target: 'bess-25',
        wires: [['rc-sink']],
      },
      { id: 'rc-sink', type: 'debug', z: 'alarms-tab', active: false, wires: [] },
    );
    await nodeRed.deploy(flow);
    const notifications = collect(nodeRed, 'al-notify');
    const states = collect(nodeRed, 'rc-sink');
    await until('connected', () => linkOf(nodeRed, 'gridloop-bench')?.state === 'connected');
    await until('state flowing', () => states.length > 0);

    proxy.dropAll();
    await until('link lost', () => linkOf(nodeRed, 'gridloop-bench')?.state === 'reconnecting');
    const lostAt = states.length;
    await until('reconnected', () => linkOf(nodeRed, 'gridloop-bench')?.state === 'connected', 10_000);
    await until('state flowing again', () => states.length > lostAt + 2);
    const kinds = await until('link-lost and link-restored notifications', () => {
      const seen = notifications.map((m) => (m.event as { kind: string }).kind);
      return seen.includes('link-lost') && seen.includes('link-restored') && seen;
    });
    expect(kinds.indexOf('link-lost')).toBeLessThan(kinds.indexOf('link-restored'));
    const lost = notifications.find((m) => (m.event as { kind: string }).kind === 'link-lost') as Msg;
    expect(lost.topic).toBe(`gridloop alarm: link-lost http://127.0.0.1:${proxy.port}`);
    await nodeRed.deploy([]);
  });

  it('classroom: the button plays the island-transition scenario on the bench, and the narration tells the islanding of MG1, reconnection and the verdict', {
    timeout: budget(120_000),
  }, async () => {
    const classroom = exampleFlow('classroom', proxy.url, operatorToken);
    setTabEnv(classroom, 'ISLAND_SECONDS', '2');
    await nodeRed.deploy(classroom);
    const narration = collect(nodeRed, 'cl-narration');
    const island = collect(nodeRed, 'cl-island');
    await until('connected', () => linkOf(nodeRed, 'gridloop-bench')?.state === 'connected');
    await until('MG1 narrated on the main grid', () =>
      narration.some((m) => /MG1 frequency .* Hz \(on the main grid\)/.test(String(m.payload))),
    );

    (nodeRed.red.nodes.getNode('cl-button') as { receive(msg: Msg): void }).receive({});
    // The bench plays scenarios/island-transition.yaml: MG1 islands at 1 s, reconnects after 8 s,
    // and the bench's verdict comes at 30 s of scenario time.
    const said = () => narration.map((m) => String(m.payload));
    await until('islanding narrated', () => said().some((line) => /MG1 is now an island/.test(line)), 15_000);
    await until('islanded frequency narrated', () =>
      said().some((line) => /MG1 frequency .* \(islanded\)/.test(line)),
    );
    await until(
      'reconnection narrated',
      () => said().some((line) => /MG1 is back on the main grid/.test(line)),
      40_000,
    );
    await until(
      'the verdict narrated',
      () => said().some((line) => /Scenario island-transition passed: all 6 checks held/.test(line)),
      40_000,
    );
    expect(said().some((line) => /The run is running \(scenario island-transition\)/.test(line))).toBe(true);
    // The bench played it: the flow's own fallback never sent an island command.
    expect(island).toEqual([]);
    await nodeRed.deploy([]);
  });

  it('alarms: an unplanned islanding trips the anti-islanding DERs, and the trips reach the notification output', {
    timeout: budget(90_000),
  }, async () => {
    await nodeRed.deploy(exampleFlow('alarms', proxy.url, operatorToken));
    const notifications = collect(nodeRed, 'al-notify');
    await until('connected', () => linkOf(nodeRed, 'gridloop-bench')?.state === 'connected');
    // Another operator (straight over socket.io) opens MG1's PCC breaker: an unplanned island.
    const operator = connect(demo.url, {
      auth: { token: operatorToken },
      transports: ['websocket'],
      forceNew: true,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        operator.once('welcome', () => resolve());
        operator.once('connect_error', reject);
      });
      const opened = await operator
        .timeout(5000)
        .emitWithAck('command', { type: 'breaker', id: 'pcc-mg1', closed: false });
      expect(opened).toMatchObject({ ok: true });
      const trip = await until(
        'a trip notification',
        () => notifications.find((m) => /trip/.test((m.event as { kind: string }).kind)),
        15_000,
      );
      expect(trip.topic).toMatch(/^gridloop alarm: [a-z-]*trip/);
      expect(String(trip.payload)).toMatch(/^t=\d+\.\d\d s .*trip/);
      const closed = await operator
        .timeout(5000)
        .emitWithAck('command', { type: 'breaker', id: 'pcc-mg1', closed: true });
      expect(closed).toMatchObject({ ok: true });
    } finally {
      operator.disconnect();
    }
    await nodeRed.deploy([]);
  });

  it('command nodes: a viewer token is refused by the bench, a bad payload is refused locally', async () => {
    const viewerToken = demo.tokens.find((t) => t.role === 'viewer')!.token;
    await nodeRed.deploy([
      { id: 'cmd-tab', type: 'tab', label: 'commands' },
      { id: 'viewer-bench', type: 'gridloop-server', url: proxy.url, credentials: { token: viewerToken } },
      { id: 'op-bench', type: 'gridloop-server', url: proxy.url, credentials: { token: operatorToken } },
      {
        id: 'cmd-viewer',
        type: 'gridloop-command',
        z: 'cmd-tab',
        server: 'viewer-bench',
        command: 'breaker',
        target: 'pcc-mg1',
        wires: [['cmd-out']],
      },
      {
        id: 'cmd-op',
        type: 'gridloop-command',
        z: 'cmd-tab',
        server: 'op-bench',
        command: 'setpoint',
        target: 'bess-25',
        wires: [['cmd-out']],
      },
      {
        id: 'scn',
        type: 'gridloop-scenario',
        z: 'cmd-tab',
        server: 'op-bench',
        scenario: 'no-such-scenario',
        action: 'start',
        wires: [['cmd-out'], []],
      },
      { id: 'cmd-out', type: 'debug', z: 'cmd-tab', active: false, wires: [] },
    ]);
    const out = collect(nodeRed, 'cmd-out');
    await until(
      'both connected',
      () =>
        linkOf(nodeRed, 'viewer-bench')?.state === 'connected' &&
        linkOf(nodeRed, 'op-bench')?.state === 'connected',
    );
    const receive = (id: string, msg: Msg) =>
      (nodeRed.red.nodes.getNode(id) as { receive(msg: Msg): void }).receive(msg);
    receive('cmd-viewer', { payload: 'open' });
    receive('cmd-op', { payload: 'lots' });
    receive('scn', { payload: 'start' });
    await until('three results', () => out.length >= 3);
    const result = (pred: (c: Record<string, unknown> | undefined) => boolean) =>
      out.find((m) => pred(m.command as Record<string, unknown> | undefined))?.payload as Record<
        string,
        unknown
      >;
    expect(result((c) => c?.type === 'breaker')).toMatchObject({ ok: false, code: 'forbidden' });
    expect(result((c) => c === undefined)).toMatchObject({
      ok: false,
      code: 'invalid',
      reason: 'msg.payload must be a number (MW) or { p_mw, q_mvar }',
    });
    expect(result((c) => c?.type === 'scenario')).toMatchObject({
      ok: false,
      code: 'failed',
      reason: expect.stringMatching(/no-such-scenario\.yaml/),
    });
    await nodeRed.deploy([]);
  });

  it('closing the flows releases every connection to the bench', async () => {
    // All three examples at once: three server nodes would be three connections; they share one id,
    // so load them on separate ids to have several.
    const flows = ['peak-shaving', 'alarms', 'classroom'].flatMap((name, i) =>
      exampleFlow(name, proxy.url, operatorToken).map((node) => {
        const copy = JSON.parse(JSON.stringify(node).replaceAll('gridloop-bench', `bench-${i}`));
        return copy;
      }),
    );
    await nodeRed.deploy(flows);
    await until('three connections', () =>
      [0, 1, 2].every((i) => linkOf(nodeRed, `bench-${i}`)?.state === 'connected'),
    );
    expect(proxy.open()).toBe(3);
    await nodeRed.deploy([]);
    await until('no connection left', () => proxy.open() === 0, 5000);
    // Nothing in this process is still connected to the proxy either.
    const handles = (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles();
    const toProxy = handles.filter((h) => h instanceof Socket && h.remotePort === proxy.port);
    expect(toProxy).toEqual([]);
  });

  it('a client the bench closes on purpose rejoins, and a rotated token then shows as refused', async () => {
    const viewerToken = demo.tokens.find((t) => t.role === 'viewer')!.token;
    const adminToken = demo.tokens.find((t) => t.role === 'admin')!.token;
    await nodeRed.deploy([
      { id: 'rot-tab', type: 'tab', label: 'rotation' },
      { id: 'rot-bench', type: 'gridloop-server', url: proxy.url, credentials: { token: viewerToken } },
      {
        id: 'rot-events',
        type: 'gridloop-event',
        z: 'rot-tab',
        server: 'rot-bench',
        severity: 'info',
        // The bench's own socket link events only: under load the board's serial link may also
        // report link-offline/link-online, which this test is not about.
        kinds: '^link-(lost|refused|restored)$',
        link: true,
        wires: [['rot-sink']],
      },
      { id: 'rot-sink', type: 'debug', z: 'rot-tab', active: false, wires: [] },
    ]);
    const seen = collect(nodeRed, 'rot-sink');
    await until('connected', () => linkOf(nodeRed, 'rot-bench')?.state === 'connected');
    const accepted = proxy.accepted();
    const admin = connect(demo.url, {
      auth: { token: adminToken },
      transports: ['websocket'],
      forceNew: true,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        admin.once('welcome', () => resolve());
        admin.once('connect_error', reject);
      });
      // Rotating the viewer tokens disconnects every viewer ("io server disconnect").
      const rotated = await admin
        .timeout(5000)
        .emitWithAck('command', { type: 'rotate-token', role: 'viewer' });
      expect(rotated).toMatchObject({ ok: true });
    } finally {
      admin.disconnect();
    }
    const link = await until(
      'refused after rejoining',
      () => linkOf(nodeRed, 'rot-bench')?.state === 'refused' && linkOf(nodeRed, 'rot-bench'),
    );
    expect(link.status.text).toMatch(/unknown token/);
    expect(proxy.accepted()).toBe(accepted + 1);
    expect(seen.map((m) => (m.payload as { kind: string }).kind)).toEqual(['link-lost', 'link-refused']);
    await nodeRed.deploy([]);
  });

  it('stopping Node-RED leaves no connection or server of its own behind', async () => {
    await nodeRed.close();
    await until(
      'TCP handles back to where they were before Node-RED',
      () => tcpHandles() <= tcpBeforeNodeRed,
      5000,
    );
    expect(proxy.open()).toBe(0);
  });
});
