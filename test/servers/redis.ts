import { createConnection } from 'node:net';
import { type LoopbackServer, startLoopbackServer } from './loopback-server.ts';

export interface RedisServer extends LoopbackServer {
  /** `redis://127.0.0.1:<port>` */
  readonly redisUrl: string;
}

/** True once a PING on `port` is answered with +PONG. */
function pong(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (d) => done(d.toString().startsWith('+PONG')));
  });
}

/**
 * Starts Debian's `redis-server` on 127.0.0.1 with everything in a temp directory: a free port,
 * `maxmemory-policy noeviction` (what BullMQ needs), no RDB snapshots unless `persist` (then
 * `restart()` keeps the data, as a production Redis with its dump would), protected mode on.
 */
export async function startRedis(options: { persist?: boolean } = {}): Promise<RedisServer> {
  const server = await startLoopbackServer({
    name: 'redis-server',
    command: 'redis-server',
    isReady: pong,
    args: (dir, port) => [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--maxmemory-policy',
      'noeviction',
      '--save',
      options.persist ? '1 1' : '',
      '--appendonly',
      options.persist ? 'yes' : 'no',
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
    ],
  });
  return Object.assign(server, { redisUrl: `redis://127.0.0.1:${server.port}` });
}
