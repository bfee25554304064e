/**
 * Nothing a client sends can crash the server: floods, oversized messages, malformed packets and
 * clients that stop reading. Each case checks the offender is dealt with and that a well-behaved
 * client on the same server still gets its state stream and can still command.
 */
import { randomBytes } from 'node:crypto';
import { type Socket as TcpSocket, connect as tcpConnect } from 'node:net';
import fc from 'fast-check';
import { io as ioClient } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../bench/server/api.ts';
import { type LiveServer, type LiveServerOptions, startLiveServer } from '../bench/server/live-server.ts';
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
  type TestClient,
  TOKENS,
  until,
  welcomed,
} from './socket-api-helpers.ts';

let server: LiveServer | undefined;
let audit: AuditEntry[] = [];
let publisher: NodeJS.Timeout | undefined;
const rawSockets: TcpSocket[] = [];

async function start(options: Partial<LiveServerOptions> = {}) {
  audit = [];
  server = await startLiveServer({
    port: 0,
    tokens: accessTokens,
    topology: smallTopology,
    onAudit: (entry) => audit.push(entry),
    onCommand: async (command) => ({ message: `did ${command.type}` }),
    ...options,
  });
  const s = server;
  let t = 0;
  publisher = setInterval(() => {
    t += 0.01;
    s.publishState(sampleState(t));
  }, 10);
  return s;
}

afterEach(async () => {
  clearInterval(publisher);
  for (const raw of rawSockets.splice(0)) raw.destroy();
  for (const c of extraClients.splice(0)) c.close();
  closeClients();
  await server?.close();
  server = undefined;
});

/** A client whose handshake carries `auth` as given (fields besides the token included). */
function connectWithAuth(url: string, auth: Record<string, unknown>): TestClient {
  const socket: TestClient = ioClient(url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    auth,
  });
  extraClients.push(socket);
  return socket;
}
const extraClients: TestClient[] = [];

/** A bystander that must keep working whatever the others do. */
async function healthy(url: string): Promise<TestClient> {
  const c = client(url, TOKENS.operator);
  await welcomed(c);
  return c;
}

async function stillServes(bystander: TestClient): Promise<void> {
  let states = 0;
  const count = () => states++;
  bystander.on('state', count);
  await until(() => states >= 3, 3000, 'state after abuse');
  bystander.off('state', count);
  expect(await send(bystander, { type: 'emergency-stop' })).toMatchObject({ ok: true });
}

describe('abusive clients', () => {
  it('disconnects a client that floods messages, and audits it', async () => {
    const { url } = await start({ limits: { packetsPerSecond: 50, packetBurst: 100 } });
    const bystander = await healthy(url);
    const flooder = client(url, TOKENS.viewer);
    await welcomed(flooder);
    const gone = disconnected(flooder);
    for (let i = 0; i < 5000; i++) flooder.emit('subscribe', { rate_hz: 10 });
    expect(await gone).toBe('io server disconnect');
    expect(audit.filter((e) => e.code === 'flood')).toMatchObject([
      { action: 'disconnect', result: 'rejected', actor: { role: 'viewer', name: 'student' } },
    ]);
    await stillServes(bystander);
  });

  it('refuses connections beyond the client limit, and accepts again once one leaves', async () => {
    const { url } = await start({ limits: { maxClients: 2 } });
    const first = client(url, TOKENS.viewer);
    await welcomed(first);
    await welcomed(client(url, TOKENS.viewer));
    const third = await refused(client(url, TOKENS.viewer));
    expect(third.message).toBe('server full: 2 clients connected');
    expect(audit.find((e) => e.reason?.startsWith('server full'))).toMatchObject({
      action: 'connect',
      result: 'rejected',
    });
    first.close();
    await sleep(200);
    await welcomed(client(url, TOKENS.viewer));
  });

  it('disconnects a client that sends a message over the size limit, and audits it as too large', async () => {
    const { url } = await start({ limits: { maxMessageBytes: 16 * 1024 } });
    const bystander = await healthy(url);
    const big = client(url, TOKENS.operator);
    await welcomed(big);
    const gone = disconnected(big);
    big.emit('command', { type: 'breaker', id: 'x'.repeat(100_000), closed: true } as never, () => {});
    expect(await gone).toMatch(/io server disconnect|transport (close|error)/);
    await until(() => audit.some((e) => e.code === 'too-large'), 3000, 'the too-large audit line');
    expect(audit.find((e) => e.code === 'too-large')).toMatchObject({
      action: 'disconnect',
      actor: { role: 'operator' },
      reason: expect.stringMatching(/^message of \d+ bytes; messages are at most 16384$/),
    });
    await stillServes(bystander);
  });

  it('refuses a 100 kB token, or a handshake over the size limit, with a connect_error giving the reason', async () => {
    const { url } = await start();
    const bystander = await healthy(url);
    const hugeToken = await refused(client(url, 'x'.repeat(100_000)));
    expect(hugeToken.message).toBe('unauthenticated: token of 100000 characters; tokens have at most 512');
    const hugeAuth = connectWithAuth(url, { token: TOKENS.viewer, note: 'y'.repeat(100_000) });
    expect((await refused(hugeAuth)).message).toMatch(
      /^too-large: handshake of \d+ bytes; messages are at most 65536$/,
    );
    expect(JSON.stringify(audit)).not.toContain('xxxxxxxx');
    expect(audit.filter((e) => e.action === 'connect' && e.result === 'rejected').map((e) => e.code)).toEqual(
      ['unauthenticated', 'too-large'],
    );
    await stillServes(bystander);
  });

  it('a viewer flooding forbidden commands with junk is audited in bounded lines without the junk, then disconnected', async () => {
    const { url } = await start({ limits: { packetsPerSecond: 1000, packetBurst: 1000 } });
    const bystander = await healthy(url);
    const viewer = client(url, TOKENS.viewer);
    await welcomed(viewer);
    const gone = disconnected(viewer);
    const junk = 'j'.repeat(60_000);
    const started = performance.now();
    for (let i = 0; i < 100 && viewer.connected; i++) {
      viewer.emit('command', { type: 'breaker', id: 'pcc1', closed: false, junk } as never, () => {});
      await sleep(10);
    }
    expect(await gone).toBe('io server disconnect');
    const elapsed_s = (performance.now() - started) / 1000;
    const forbidden = audit.filter((e) => e.code === 'forbidden');
    // At most one line a second for the refusals, whatever the client sends.
    expect(forbidden.length).toBeGreaterThanOrEqual(1);
    expect(forbidden.length).toBeLessThanOrEqual(2 + Math.ceil(elapsed_s));
    expect(forbidden[0].command).toEqual({ type: 'breaker', id: 'pcc1', closed: false, otherFields: 1 });
    expect(JSON.stringify(audit)).not.toContain('jjjjjjjj');
    expect(JSON.stringify(audit).length).toBeLessThan(10_000);
    expect(audit.find((e) => e.action === 'disconnect' && e.code === 'flood')).toMatchObject({
      actor: { role: 'viewer' },
      reason: 'kept sending commands role viewer may not send',
    });
    await stillServes(bystander);
  });

  it('survives malformed socket.io and engine.io packets', async () => {
    const { url } = await start();
    const bystander = await healthy(url);
    const garbage: (string | Uint8Array)[] = [
      '2["command"',
      '2[1,2,3]',
      '2"just a string"',
      '9999',
      '2{"type":"breaker"}',
      '51-["command",{"_placeholder":true,"num":7}]',
      '2["command",{"__proto__":{"polluted":true},"type":"emergency-stop"}]',
      '',
      randomBytes(512),
    ];
    for (const payload of garbage) {
      const bad = client(url, TOKENS.operator);
      await welcomed(bad);
      const engine = (bad.io as unknown as { engine: { write: (data: unknown) => void } }).engine;
      engine.write(payload);
      await sleep(30);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    await stillServes(bystander);
  });

  it('answers every fuzzed command with a well-formed result and stays up', async () => {
    const { url } = await start({
      limits: {
        commandsPerSecond: 10_000,
        commandBurst: 10_000,
        packetsPerSecond: 10_000,
        packetBurst: 10_000,
      },
    });
    const bystander = await healthy(url);
    const fuzzer = client(url, TOKENS.operator);
    await welcomed(fuzzer);
    const types = [
      'breaker',
      'island',
      'scenario',
      'setpoint',
      'fid-setpoint',
      'emergency-stop',
      'rotate-token',
      'x',
    ];
    const commandLike = fc.record(
      {
        type: fc.constantFrom(...types),
        id: fc.oneof(fc.string(), fc.constantFrom('pcc1', 'pcc2'), fc.jsonValue()),
        closed: fc.oneof(fc.boolean(), fc.jsonValue()),
        deviceId: fc.oneof(fc.constantFrom('pv3', 'bess-hw'), fc.jsonValue()),
        p_mw: fc.oneof(fc.double(), fc.jsonValue()),
        role: fc.oneof(fc.constantFrom('viewer', 'admin'), fc.string()),
        action: fc.oneof(fc.constantFrom('start', 'pause'), fc.string()),
      },
      { requiredKeys: ['type'] },
    );
    const payloads = fc.sample(fc.oneof(fc.jsonValue(), commandLike), { numRuns: 300, seed: 8 });
    const codes = new Set(['forbidden', 'invalid', 'rate-limited', 'unavailable', 'failed']);
    for (const payload of payloads) {
      const result = await send(fuzzer, payload);
      if (result.ok) expect(typeof result.message).toBe('string');
      else {
        expect(codes).toContain(result.code);
        expect(result.reason.length).toBeGreaterThan(0);
      }
    }
    expect(fuzzer.connected).toBe(true);
    await stillServes(bystander);
  });

  it('drops a client that stops reading instead of queueing for it without bound', async () => {
    const s = await start({ limits: { maxQueuedPackets: 5 } });
    const bystander = await healthy(s.url);
    const raw = await stalledWebSocketClient(s.port, TOKENS.viewer);
    // Big event batches fill the kernel's socket buffers quickly; after that packets queue in
    // the server, which must give up on the client rather than hold them.
    const filler = 'x'.repeat(8 * 1024);
    const flood = setInterval(() => {
      for (let i = 0; i < 100; i++) {
        s.publishEvent({ t_s: 0, kind: 'filler', message: filler, severity: 'info', source: 'bench' });
      }
    }, 50);
    try {
      await until(() => audit.some((e) => e.code === 'slow-client'), 15_000, 'slow client eviction');
    } finally {
      clearInterval(flood);
    }
    expect(audit.find((e) => e.code === 'slow-client')).toMatchObject({ actor: { role: 'viewer' } });
    await until(
      () => raw.destroyed || raw.readableEnded || s.clients().viewer === 0,
      5000,
      'raw client gone',
    );
    expect(s.clients().viewer).toBe(0);
    await stillServes(bystander);
  });
});

/**
 * A websocket client written by hand on a TCP socket, so it can stop reading (socket.io-client
 * always reads). It completes the engine.io and socket.io handshakes, then pauses.
 */
async function stalledWebSocketClient(port: number, token: string): Promise<TcpSocket> {
  const socket = tcpConnect({ host: '127.0.0.1', port });
  rawSockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(
    'GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\n' +
      `Host: 127.0.0.1:${port}\r\n` +
      'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
      `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
      'Sec-WebSocket-Version: 13\r\n\r\n',
  );
  let received = '';
  const onData = (chunk: Buffer) => {
    received += chunk.toString('latin1');
  };
  socket.on('data', onData);
  await until(() => received.includes('101 Switching Protocols') && received.includes('"sid"'), 5000, 'open');
  socket.write(maskedTextFrame(`40${JSON.stringify({ token })}`));
  await until(() => received.includes('"welcome"'), 5000, 'welcome');
  socket.off('data', onData);
  socket.pause();
  return socket;
}

function maskedTextFrame(text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  if (payload.length >= 126) throw new RangeError('short frames only');
  const mask = randomBytes(4);
  const frame = Buffer.alloc(2 + 4 + payload.length);
  frame[0] = 0x81;
  frame[1] = 0x80 | payload.length;
  mask.copy(frame, 2);
  for (let i = 0; i < payload.length; i++) frame[6 + i] = payload[i] ^ mask[i % 4];
  return frame;
}
