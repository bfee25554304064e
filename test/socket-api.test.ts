/**
 * The socket.io API against a real server on loopback with real socket.io clients: authentication,
 * roles, validation, audit, rate limiting, state decimation and the event timeline.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ApiCommand, AuditEntry, LiveEvent } from '../bench/server/api.ts';
import {
  CommandNotReadyError,
  CommandUnavailableError,
  type LiveServer,
  type LiveServerOptions,
  startLiveServer,
} from '../bench/server/live-server.ts';
import {
  accessTokens,
  client,
  closeClients,
  disconnected,
  refused,
  sampleState,
  send,
  sleep,
  smallTopology,
  TOKENS,
  until,
  welcomed,
} from './socket-api-helpers.ts';

let server: LiveServer | undefined;
let audit: AuditEntry[] = [];
let received: { command: ApiCommand; actor: string }[] = [];

async function start(options: Partial<LiveServerOptions> = {}) {
  audit = [];
  received = [];
  server = await startLiveServer({
    port: 0,
    tokens: accessTokens,
    topology: smallTopology,
    onAudit: (entry) => audit.push(entry),
    onCommand: async (command, actor) => {
      received.push({ command, actor: actor.name });
      return { message: `did ${command.type}`, event: { t_s: 1, kind: command.type, message: 'done' } };
    },
    ...options,
  });
  return server;
}

afterEach(async () => {
  closeClients();
  await server?.close();
  server = undefined;
});

describe('authentication', () => {
  it('refuses a client without a token or with an unknown one, and audits both', async () => {
    const { url } = await start();
    const none = await refused(client(url));
    expect(none.message).toMatch(/unauthenticated: no token/);
    const wrong = await refused(client(url, 'not-a-real-token-at-all'));
    expect(wrong.message).toMatch(/unauthenticated: unknown token/);
    const rejected = audit.filter((e) => e.action === 'connect' && e.result === 'rejected');
    expect(rejected.map((e) => e.reason)).toEqual(['no token in auth.token', 'unknown token']);
    expect(rejected.every((e) => e.code === 'unauthenticated' && e.actor.role === null)).toBe(true);
    expect(JSON.stringify(audit)).not.toContain('not-a-real-token');
  });

  it('welcomes each role with its commands, the topology and recent events', async () => {
    const s = await start();
    s.publishEvent({ t_s: 0.5, kind: 'trip', message: 'pv3 tripped', severity: 'alarm', source: 'twin' });
    const viewer = await welcomed(client(s.url, TOKENS.viewer));
    const operator = await welcomed(client(s.url, TOKENS.operator));
    const admin = await welcomed(client(s.url, TOKENS.admin));
    expect(viewer.role).toBe('viewer');
    expect(viewer.name).toBe('student');
    expect(viewer.commands).toEqual([]);
    expect(operator.commands).toEqual(
      expect.arrayContaining(['breaker', 'scenario', 'setpoint', 'fid-setpoint', 'emergency-stop', 'island']),
    );
    expect(operator.commands).not.toContain('rotate-token');
    expect(admin.commands).toContain('rotate-token');
    expect(viewer.topology?.switches.map((x) => x.id)).toEqual(['pcc1', 'pcc2']);
    expect(viewer.recentEvents.map((e) => e.message)).toEqual(['pv3 tripped']);
    expect(s.clients()).toEqual({ viewer: 1, operator: 1, admin: 1, prosumer: 0 });
    const connects = audit
      .filter((e) => e.action === 'connect' && e.result === 'ok')
      .map((e) => e.actor.name);
    expect(connects).toEqual(['student', 'engineer', 'lab-admin']);
  });
});

describe('late joiners', () => {
  it('are welcomed with the important events however many link events came after them', async () => {
    const s = await start();
    const twin = (t_s: number, kind: string, message: string) =>
      s.publishEvent({ t_s, kind, message, severity: 'info', source: 'twin' });
    twin(1, 'scenario-start', 'scenario mg1-islanding started');
    twin(2, 'attack-start', 'attack a1: bias on se.vm_pu.14');
    twin(3, 'alarm', 'chi2: J = 412.0 > 21.7');
    twin(4, 'island', 'MG1 islanded');
    twin(5, 'generator-trip', 'gen30 tripped: UF1');
    // A flapping link: far more notices than the backlog's 200 latest events.
    for (let i = 0; i < 1000; i++) twin(6 + i / 1000, 'link', `bess-hw: link lost (${i})`);
    const late = await welcomed(client(s.url, TOKENS.viewer));
    const messages = late.recentEvents.map((e) => e.message);
    expect(messages.slice(0, 5)).toEqual([
      'scenario mg1-islanding started',
      'attack a1: bias on se.vm_pu.14',
      'chi2: J = 412.0 > 21.7',
      'MG1 islanded',
      'gen30 tripped: UF1',
    ]);
    // Still the latest link notices after them, oldest first, and bounded.
    expect(messages.at(-1)).toBe('bess-hw: link lost (999)');
    expect(messages.length).toBe(205);
  });
});

describe('commands', () => {
  it('a viewer cannot act: every command is refused as forbidden, audited, never executed', async () => {
    const { url } = await start();
    const viewer = client(url, TOKENS.viewer);
    await welcomed(viewer);
    const result = await send(viewer, { type: 'breaker', id: 'pcc1', closed: false });
    expect(result).toMatchObject({ ok: false, code: 'forbidden' });
    expect(received).toEqual([]);
    const entry = audit.find((e) => e.action === 'command');
    expect(entry).toMatchObject({
      result: 'rejected',
      code: 'forbidden',
      actor: { role: 'viewer', name: 'student' },
      command: { type: 'breaker', id: 'pcc1', closed: false },
    });
    expect(result.auditId).toBe(entry!.id);
  });

  it('an operator command reaches the handler with its actor, is audited, and enters the timeline', async () => {
    const { url } = await start();
    const viewer = client(url, TOKENS.viewer);
    await welcomed(viewer);
    const timeline: LiveEvent[] = [];
    viewer.on('events', (events) => timeline.push(...events));
    const operator = client(url, TOKENS.operator);
    await welcomed(operator);
    const result = await send(operator, { type: 'breaker', id: 'pcc1', closed: false });
    expect(result).toMatchObject({ ok: true, message: 'did breaker', event: { kind: 'breaker' } });
    expect(received).toEqual([
      { command: { type: 'breaker', id: 'pcc1', closed: false }, actor: 'engineer' },
    ]);
    const entry = audit.find((e) => e.action === 'command')!;
    expect(entry).toMatchObject({
      result: 'ok',
      actor: { role: 'operator', name: 'engineer' },
      reason: 'did breaker',
    });
    expect(Date.parse(entry.time)).toBeGreaterThan(Date.now() - 10_000);
    await until(() => timeline.length > 0, 3000, 'timeline event');
    expect(timeline[0]).toMatchObject({ source: 'operator', message: 'engineer: did breaker' });
  });

  it.each([
    ['missing field', { type: 'breaker', id: 'pcc1' }, /command must have required property 'closed'/],
    ['wrong type', { type: 'breaker', id: 'pcc1', closed: 'yes' }, /command\/closed must be boolean/],
    ['unknown field', { type: 'breaker', id: 'pcc1', closed: true, extra: 1 }, /unknown field 'extra'/],
    ['unknown command type', { type: 'reboot' }, /command\/type must be one of breaker/],
    ['set-point without a value', { type: 'setpoint', deviceId: 'pv3' }, /needs p_mw or q_mvar/],
    ['absurd number', { type: 'setpoint', deviceId: 'pv3', p_mw: 1e300 }, /command\/p_mw must be <= 1000000/],
    [
      'unknown enum value',
      { type: 'scenario', action: 'explode' },
      /command\/action must be one of start, stop, pause, resume/,
    ],
    [
      'oversized id',
      { type: 'breaker', id: 'x'.repeat(1000), closed: true },
      /command\/id must NOT have more than 128/,
    ],
    [
      'unknown breaker id',
      { type: 'breaker', id: 'nope', closed: true },
      /no switch or branch 'nope' in the grid/,
    ],
    ['unknown FID id', { type: 'fid-setpoint', fidId: 'fid9', p_mw: 0.1 }, /no FID 'fid9'/],
    ['a string', 'breaker pcc1 open', /command must be object/],
    ['null', null, /command must be object/],
    ['an array', [1, 2, 3], /command must be object/],
  ])('refuses %s with a reason naming where', async (_label, command, reason) => {
    const { url } = await start();
    const operator = client(url, TOKENS.operator);
    await welcomed(operator);
    const result = await send(operator, command);
    expect(result.ok).toBe(false);
    if (!result.ok) {
      expect(result.code).toBe('invalid');
      expect(result.reason).toMatch(reason);
    }
    expect(received).toEqual([]);
    expect(audit.filter((e) => e.action === 'command')).toMatchObject([
      { result: 'rejected', code: 'invalid' },
    ]);
  });

  it('a command without an acknowledgement callback is still handled and audited', async () => {
    const { url } = await start();
    const operator = client(url, TOKENS.operator);
    await welcomed(operator);
    (operator.emit as (...args: unknown[]) => void)('command', { type: 'emergency-stop' }, 'not a function');
    (operator.emit as (...args: unknown[]) => void)('command');
    await until(() => audit.filter((e) => e.action === 'command').length === 2, 3000, 'two audit entries');
    expect(received.map((r) => r.command)).toEqual([{ type: 'emergency-stop' }]);
  });

  it('set-points to a hardware device need admin; simulated devices only operator', async () => {
    const { url } = await start();
    const operator = client(url, TOKENS.operator);
    const admin = client(url, TOKENS.admin);
    await Promise.all([welcomed(operator), welcomed(admin)]);
    expect(await send(operator, { type: 'setpoint', deviceId: 'pv3', p_mw: 0.1 })).toMatchObject({
      ok: true,
    });
    const hw = await send(operator, { type: 'setpoint', deviceId: 'bess-hw', p_mw: 0.1 });
    expect(hw).toMatchObject({
      ok: false,
      code: 'forbidden',
      reason: 'setpoint needs role admin; this client is operator',
    });
    expect(await send(admin, { type: 'setpoint', deviceId: 'bess-hw', p_mw: 0.1 })).toMatchObject({
      ok: true,
    });
    expect(received.map((r) => r.actor)).toEqual(['engineer', 'lab-admin']);
  });

  it('reports a handler failure and a handler that never answers as failed', async () => {
    const { url } = await start({
      limits: { commandTimeout_ms: 300 },
      onCommand: async (command) => {
        if (command.type === 'breaker') throw new TypeError("unknown breaker 'pcc1' in the twin");
        return new Promise(() => {});
      },
    });
    const operator = client(url, TOKENS.operator);
    await welcomed(operator);
    expect(await send(operator, { type: 'breaker', id: 'pcc1', closed: false })).toMatchObject({
      ok: false,
      code: 'failed',
      reason: "unknown breaker 'pcc1' in the twin",
    });
    expect(await send(operator, { type: 'emergency-stop' })).toMatchObject({
      ok: false,
      code: 'failed',
      reason: 'no result within 300 ms',
    });
    expect(audit.filter((e) => e.action === 'command').map((e) => e.result)).toEqual(['failed', 'failed']);
  });

  it('without a command handler, commands are refused as unavailable', async () => {
    const { url } = await start({ onCommand: undefined });
    const operator = client(url, TOKENS.operator);
    await welcomed(operator);
    expect(await send(operator, { type: 'emergency-stop' })).toMatchObject({
      ok: false,
      code: 'unavailable',
    });
  });

  it('a handler that cannot carry a command out at all answers unavailable, audited as rejected', async () => {
    const { url } = await start({
      onCommand: async () => {
        throw new CommandUnavailableError('scenario commands need a scenario player');
      },
    });
    const operator = client(url, TOKENS.operator);
    await welcomed(operator);
    expect(await send(operator, { type: 'scenario', action: 'pause' })).toMatchObject({
      ok: false,
      code: 'unavailable',
      reason: 'scenario commands need a scenario player',
    });
    expect(audit.filter((e) => e.action === 'command')).toMatchObject([
      { result: 'rejected', code: 'unavailable' },
    ]);
  });

  it('a command while the bench is starting is refused at once as not-ready, audited, nothing done', async () => {
    const { url } = await start({
      onCommand: async () => {
        throw new CommandNotReadyError('the real-time loop is still starting');
      },
    });
    const operator = client(url, TOKENS.operator);
    await welcomed(operator);
    const result = await send(operator, { type: 'emergency-stop' });
    expect(result).toMatchObject({
      ok: false,
      code: 'not-ready',
      reason: 'the real-time loop is still starting',
    });
    expect(audit.find((e) => e.action === 'command')).toMatchObject({
      result: 'rejected',
      code: 'not-ready',
    });
  });

  it('an admin rotates the viewer token: old viewers are dropped, the old token refused, the new accepted', async () => {
    const { url } = await start();
    const oldViewer = client(url, TOKENS.viewer);
    const admin = client(url, TOKENS.admin);
    const operator = client(url, TOKENS.operator);
    await Promise.all([welcomed(oldViewer), welcomed(admin), welcomed(operator)]);
    expect(await send(operator, { type: 'rotate-token', role: 'viewer' })).toMatchObject({
      ok: false,
      code: 'forbidden',
    });
    const gone = disconnected(oldViewer);
    const result = await send(admin, { type: 'rotate-token', role: 'viewer' });
    expect(result.ok).toBe(true);
    const token = result.ok ? result.token! : '';
    expect(token.length).toBeGreaterThanOrEqual(16);
    expect(await gone).toBe('io server disconnect');
    await refused(client(url, TOKENS.viewer));
    expect((await welcomed(client(url, token))).role).toBe('viewer');
    expect(JSON.stringify(audit)).not.toContain(token);
  });
});

describe('rate limiting', () => {
  it('refuses commands beyond the burst and does not write an audit line for each', async () => {
    const { url } = await start({
      limits: { commandsPerSecond: 2, commandBurst: 5, maxPendingCommands: 50 },
    });
    const operator = client(url, TOKENS.operator);
    await welcomed(operator);
    const started = performance.now();
    const results = await Promise.all(
      Array.from({ length: 40 }, () => send(operator, { type: 'breaker', id: 'pcc1', closed: true })),
    );
    const limited = results.filter((r) => !r.ok && r.code === 'rate-limited').length;
    const accepted = results.filter((r) => r.ok).length;
    // The burst, plus what refills (2/s) while a loaded machine delivers the 40.
    const elapsed_s = (performance.now() - started) / 1000;
    expect(accepted).toBeGreaterThanOrEqual(5);
    expect(accepted).toBeLessThanOrEqual(5 + Math.ceil(2 * elapsed_s));
    expect(limited).toBe(40 - accepted);
    const limitedEntries = audit.filter((e) => e.code === 'rate-limited');
    expect(limitedEntries.length).toBe(1);
    operator.close();
    await until(() => audit.filter((e) => e.code === 'rate-limited').length === 2, 3000, 'summary entry');
    const summary = audit.filter((e) => e.code === 'rate-limited')[1];
    expect(summary.suppressed).toBe(limited - 1);
  });

  it('a sustained command flood is audited about once a second, with every refusal counted', async () => {
    const { url } = await start({
      limits: { commandsPerSecond: 1, commandBurst: 1, maxPendingCommands: 50 },
    });
    const operator = client(url, TOKENS.operator);
    await welcomed(operator);
    const pending: Promise<{ ok: boolean; code?: string }>[] = [];
    const started = Date.now();
    while (Date.now() - started < 2500) {
      for (let i = 0; i < 5; i++) pending.push(send(operator, { type: 'emergency-stop' }));
      await sleep(100);
    }
    const results = await Promise.all(pending);
    const elapsed_s = (Date.now() - started) / 1000;
    const limited = results.filter((r) => !r.ok && r.code === 'rate-limited').length;
    const during = audit.filter((e) => e.code === 'rate-limited').length;
    expect(during).toBeGreaterThanOrEqual(2);
    expect(during).toBeLessThanOrEqual(1 + Math.ceil(elapsed_s));
    operator.close();
    await until(() => audit.filter((e) => e.code === 'rate-limited').length > during, 3000, 'summary');
    const accounted = audit
      .filter((e) => e.code === 'rate-limited')
      .reduce(
        (sum, e) =>
          sum + (e.reason?.startsWith('rate-limited commands not logged') ? 0 : 1) + (e.suppressed ?? 0),
        0,
      );
    expect(accounted).toBe(limited);
  });

  it('refuses connection audit floods: a burst of bad tokens is logged in bounded lines with a count', async () => {
    const { url } = await start();
    const started = performance.now();
    await Promise.all(Array.from({ length: 40 }, (_, i) => refused(client(url, `wrong-token-number-${i}`))));
    const elapsed_s = (performance.now() - started) / 1000;
    const lines = audit.filter((e) => e.action === 'connect' && e.result === 'rejected').length;
    // A burst of 20, then 2 a second.
    expect(lines).toBeGreaterThanOrEqual(20);
    expect(lines).toBeLessThanOrEqual(20 + Math.ceil(2 * elapsed_s));
    await sleep(600);
    await refused(client(url, 'one-more-wrong-token'));
    // Every refusal is accounted for: written, or counted in a later line's `suppressed`.
    const all = audit.filter((e) => e.action === 'connect' && e.result === 'rejected');
    expect(all.reduce((sum, e) => sum + 1 + (e.suppressed ?? 0), 0)).toBe(41);
  });
});

describe('audit counts on the right line', () => {
  it('refused tokens are counted on a later refused-token line, never on a "server full" line', async () => {
    const { url } = await start({ limits: { maxClients: 1 } });
    // 30 bad tokens: 20 written (the burst), the rest counted.
    await Promise.all(Array.from({ length: 30 }, (_, i) => refused(client(url, `wrong-token-${i}`))));
    const first = client(url, TOKENS.viewer);
    await welcomed(first);
    const full = await refused(client(url, TOKENS.viewer));
    expect(full.message).toBe('server full: 1 clients connected');
    first.close();
    await until(() => server!.clients().viewer === 0, 3000, 'the viewer gone');
    await sleep(600);
    await refused(client(url, 'one-more-wrong-token'));
    const rejected = audit.filter((e) => e.action === 'connect' && e.result === 'rejected');
    const serverFull = rejected.filter((e) => e.reason?.startsWith('server full'));
    const badToken = rejected.filter((e) => e.code === 'unauthenticated');
    // Each kind accounts for its own refusals: 1 server full, 31 bad tokens.
    expect(serverFull.reduce((sum, e) => sum + 1 + (e.suppressed ?? 0), 0)).toBe(1);
    expect(badToken.reduce((sum, e) => sum + 1 + (e.suppressed ?? 0), 0)).toBe(31);
  });

  it('rate-limited commands are counted on rate-limited lines, never on an invalid command’s line', async () => {
    const { url } = await start({
      limits: { commandsPerSecond: 1, commandBurst: 1, maxPendingCommands: 50 },
    });
    const operator = client(url, TOKENS.operator);
    await welcomed(operator);
    const results = await Promise.all(
      Array.from({ length: 10 }, () => send(operator, { type: 'breaker', id: 'pcc1', closed: true })),
    );
    const limited = results.filter((r) => !r.ok && r.code === 'rate-limited').length;
    expect(limited).toBeGreaterThanOrEqual(8);
    await sleep(1100);
    expect(await send(operator, { type: 'breaker', id: 'pcc1', closed: 'yes' })).toMatchObject({
      ok: false,
      code: 'invalid',
    });
    const invalid = audit.find((e) => e.code === 'invalid')!;
    expect(invalid.suppressed).toBeUndefined();
    operator.close();
    await until(() => audit.filter((e) => e.code === 'rate-limited').length === 2, 3000, 'summary entry');
    const rateLines = audit.filter((e) => e.code === 'rate-limited');
    expect(rateLines.reduce((sum, e) => sum + (e.suppressed ?? 0), 0)).toBe(limited - 1);
  });
});

describe('state stream', () => {
  it('decimates state to each client’s chosen rate and sends only new states', async () => {
    const s = await start();
    const slow = client(s.url, TOKENS.viewer);
    const fast = client(s.url, TOKENS.viewer);
    await Promise.all([welcomed(slow), welcomed(fast)]);
    slow.emit('subscribe', { rate_hz: 5 });
    fast.emit('subscribe', { rate_hz: 50 });
    await sleep(100);
    const counts = { slow: 0, fast: 0 };
    const ages: number[] = [];
    fast.on('state', (state) => ages.push(Date.now() - state.sent_ms!));
    slow.on('state', () => counts.slow++);
    fast.on('state', () => counts.fast++);
    // The twin publishes at 1 kHz for one second.
    const started = performance.now();
    let t = 0;
    while (performance.now() - started < 1000) {
      t += 0.001;
      s.publishState(sampleState(t));
      await sleep(1);
    }
    // Never more than the chosen rate allows (timers may deliver fewer on a loaded machine).
    const seconds = (performance.now() - started) / 1000 + 0.1;
    expect(counts.slow).toBeGreaterThanOrEqual(1);
    expect(counts.slow).toBeLessThanOrEqual(Math.ceil(5 * seconds) + 1);
    expect(counts.fast).toBeGreaterThan(counts.slow);
    expect(counts.fast).toBeLessThanOrEqual(Math.ceil(50 * seconds) + 1);
    // Each state is stamped when sent, on the wall clock the client shares on loopback.
    expect(ages.every((age) => age >= -5 && age < 5000)).toBe(true);
    // Once the twin stops publishing nothing more is sent.
    await sleep(100);
    const before = counts.fast;
    await sleep(300);
    expect(counts.fast).toBe(before);
  });

  it('reports, per client, the rate it chose and the rate it was actually sent', async () => {
    const s = await start();
    const slow = client(s.url, TOKENS.viewer);
    const fast = client(s.url, TOKENS.operator);
    const [slowWelcome, fastWelcome] = await Promise.all([welcomed(slow), welcomed(fast)]);
    slow.emit('subscribe', { rate_hz: 5 });
    fast.emit('subscribe', { rate_hz: 50 });
    let received = 0;
    fast.on('state', () => received++);
    const started = performance.now();
    let t = 0;
    // Publish at ~500 Hz for 2.3 s: the server's last whole second is inside it.
    while (performance.now() - started < 2300) {
      t += 0.002;
      s.publishState(sampleState(t));
      await sleep(2);
    }
    const elapsed_s = (performance.now() - started) / 1000;
    const stats = s.stats();
    const of = (id: string) => stats.find((c) => c.clientId === id)!;
    expect(of(slowWelcome.clientId)).toMatchObject({ role: 'viewer', name: 'student', rate_hz: 5 });
    expect(of(fastWelcome.clientId)).toMatchObject({ role: 'operator', rate_hz: 50 });
    // Delivered: never above the chosen rate (+1 for the window's edge), and what the client got.
    expect(of(slowWelcome.clientId).delivered_hz).toBeGreaterThanOrEqual(1);
    expect(of(slowWelcome.clientId).delivered_hz).toBeLessThanOrEqual(6);
    expect(of(fastWelcome.clientId).delivered_hz).toBeGreaterThan(of(slowWelcome.clientId).delivered_hz);
    expect(of(fastWelcome.clientId).delivered_hz).toBeLessThanOrEqual(51);
    expect(of(fastWelcome.clientId).delivered_hz).toBeLessThanOrEqual(received / (elapsed_s - 1) + 2);
  });

  it('clamps absurd or malformed rates instead of failing', async () => {
    const s = await start();
    const c = client(s.url, TOKENS.viewer);
    await welcomed(c);
    for (const bad of [{ rate_hz: 1e9 }, { rate_hz: -5 }, { rate_hz: 'fast' }, null, 42, 'x']) {
      (c.emit as (...args: unknown[]) => void)('subscribe', bad);
    }
    c.emit('subscribe', { rate_hz: 1e9 });
    let count = 0;
    c.on('state', () => count++);
    const started = performance.now();
    while (performance.now() - started < 500) {
      s.publishState(sampleState(performance.now() / 1000));
      await sleep(1);
    }
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThanOrEqual(Math.ceil(50 * ((performance.now() - started) / 1000 + 0.1)) + 1);
    expect(c.connected).toBe(true);
  });

  it('broadcasts status and batches of events; an event flood is capped with a notice', async () => {
    const s = await start();
    const c = client(s.url, TOKENS.viewer);
    await welcomed(c);
    const events: LiveEvent[] = [];
    const statuses: string[] = [];
    c.on('events', (batch) => events.push(...batch));
    c.on('status', (st) => statuses.push(st.state));
    s.publishStatus({ runId: 'r1', state: 'running', t_s: 0, dt_s: 0.001, runDir: '/tmp/r1' });
    for (let i = 0; i < 500; i++) {
      s.publishEvent({ t_s: i, kind: 'load-step', message: `step ${i}`, severity: 'info', source: 'twin' });
    }
    await until(() => events.some((e) => e.kind === 'events-dropped'), 3000, 'dropped notice');
    expect(statuses).toEqual(['running']);
    expect(events.filter((e) => e.kind === 'load-step').length).toBe(100);
    expect(events.find((e) => e.kind === 'events-dropped')!.message).toMatch(/^400 more events/);
  });
});
