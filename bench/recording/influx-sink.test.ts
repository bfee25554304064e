import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InfluxSink, isLoopbackUrl } from './influx-sink.ts';
import { RunRecorder } from './run-recorder.ts';

describe('isLoopbackUrl', () => {
  it('knows loopback hosts from others', () => {
    expect(isLoopbackUrl('http://127.0.0.1:8086')).toBe(true);
    expect(isLoopbackUrl('http://127.1.2.3')).toBe(true);
    expect(isLoopbackUrl('http://localhost:8428/')).toBe(true);
    expect(isLoopbackUrl('http://[::1]:8086')).toBe(true);
    expect(isLoopbackUrl('http://10.0.0.5:8086')).toBe(false);
    expect(isLoopbackUrl('https://influx.example.org')).toBe(false);
    expect(isLoopbackUrl('http://127.0.0.1.example.org')).toBe(false);
    expect(isLoopbackUrl('not a url')).toBe(false);
  });
});

/** A stand-in write endpoint on loopback that keeps each request's encoding and body. */
async function writeEndpoint() {
  const requests: { encoding: string | undefined; body: Buffer }[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => {
      requests.push({ encoding: req.headers['content-encoding'], body: Buffer.concat(parts) });
      res.statusCode = 204;
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return { url, requests, close: () => new Promise<void>((r) => server.close(() => r())) };
}

describe('InfluxSink request bodies', () => {
  const lines = `${Array.from({ length: 200 }, (_, i) => `m,run=r v=${i} ${i}`).join('\n')}\n`;

  it('sends plain text to a loopback server, gzip when asked (as for a remote one)', async () => {
    const endpoint = await writeEndpoint();
    try {
      const plain = new InfluxSink({
        name: 'plain',
        target: { api: 'v1', url: endpoint.url, database: 'd' },
      });
      plain.write(lines, 200);
      await plain.close();
      const zipped = new InfluxSink({
        name: 'zipped',
        gzip: true,
        target: { api: 'v1', url: endpoint.url, database: 'd' },
      });
      zipped.write(lines, 200);
      await zipped.close();
      expect(endpoint.requests.map((r) => r.encoding)).toEqual([undefined, 'gzip']);
      expect(endpoint.requests[0].body.toString('utf8')).toBe(lines);
      expect(gunzipSync(endpoint.requests[1].body).toString('utf8')).toBe(lines);
      expect(plain.stats().sent_points).toBe(200);
      expect(zipped.stats().sent_points).toBe(200);
    } finally {
      await endpoint.close();
    }
  });
});

describe('InfluxSink back-fill that ends while the run closes', () => {
  it('sends the sink-up event logged during close: sent + back-filled = every point recorded', async () => {
    // A write endpoint that answers 503 (server unavailable) until told to accept.
    let accept = false;
    let refusedAfterClose: (() => void) | undefined;
    const accepted: string[] = [];
    const server = createServer((req, res) => {
      const parts: Buffer[] = [];
      req.on('data', (c: Buffer) => parts.push(c));
      req.on('end', () => {
        if (accept) accepted.push(Buffer.concat(parts).toString('utf8'));
        else refusedAfterClose?.();
        res.statusCode = accept ? 204 : 503;
        res.end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const runsDir = await mkdtemp(join(tmpdir(), 'gridloop-sink-close-'));
    try {
      const sink = new InfluxSink({
        name: 'srv',
        target: { api: 'v1', url, database: 'd' },
        retryInterval_ms: 20,
      });
      const rec = await RunRecorder.open({ runsDir, scenario: 'sink-close', sinks: [sink] });
      for (let i = 0; i < 100; i++) rec.line('m', {}, { v: i }, rec.timeOf(i * 0.001));
      await rec.flush();
      // The server is down when the run closes; it comes back only once close() has begun
      // (a back-fill attempt after close() started was refused), so the back-fill ends, and
      // `sink-up` is logged, inside close().
      const closing = rec.close({ status: 'complete' });
      await new Promise<void>((r) => {
        refusedAfterClose = r;
      });
      accept = true;
      const manifest = await closing;
      const stats = manifest.sinks![0];
      expect(stats.refused_points).toBe(0);
      expect(stats.backlog_points).toBe(0);
      expect((stats.sent_points as number) + (stats.backfilled_points as number)).toBe(
        manifest.counts!.points,
      );
      const body = accepted.join('');
      expect(body).toMatch(/^event,[^ ]*kind=sink-down/m);
      expect(body).toMatch(/^event,[^ ]*kind=sink-up/m);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
      await rm(runsDir, { recursive: true, force: true });
    }
  });
});
