import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { InfluxSink, isLoopbackUrl } from './influx-sink.ts';

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
