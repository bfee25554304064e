import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  createServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createRequire } from 'node:module';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Server } from 'socket.io';
import type { ClientToServerEvents, LiveState, RunStatus, ServerToClientEvents } from './api.ts';

const require = createRequire(import.meta.url);
const webRoot = join(dirname(fileURLToPath(import.meta.url)), '..', 'web');
/** Browser libraries served from node_modules, so the page works offline. */
const vendorFiles: Record<string, string> = {
  '/vendor/uPlot.iife.min.js': require.resolve('uplot/dist/uPlot.iife.min.js'),
  '/vendor/uPlot.min.css': require.resolve('uplot/dist/uPlot.min.css'),
};

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
};

export interface LiveServerOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 7410 */
  port?: number;
}

export interface LiveServer {
  url: string;
  port: number;
  /** Offers the newest state; each client receives it at its own chosen rate. */
  publishState(state: LiveState): void;
  publishStatus(status: RunStatus): void;
  close(): Promise<void>;
}

export class PortInUseError extends Error {
  constructor(host: string, port: number) {
    super(
      `port ${port} on ${host} is already in use (is another gridloop running?). ` +
        'Stop it, or choose another port with --port.',
    );
    this.name = 'PortInUseError';
  }
}

async function serveStatic(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  let path = url.pathname === '/' ? '/index.html' : url.pathname;
  let file = vendorFiles[path];
  if (!file) {
    path = normalize(path);
    file = join(webRoot, path);
    if (!file.startsWith(webRoot + sep)) file = '';
  }
  try {
    if (!file || !(await stat(file)).isFile()) throw new Error('not a file');
  } catch {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    return;
  }
  res.writeHead(200, {
    'content-type': contentTypes[extname(file)] ?? 'application/octet-stream',
    'cache-control': 'no-cache',
  });
  createReadStream(file).pipe(res);
}

function listen(http: HttpServer, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      http.off('listening', onListening);
      reject(err.code === 'EADDRINUSE' ? new PortInUseError(host, port) : err);
    };
    const onListening = () => {
      http.off('error', onError);
      const address = http.address();
      resolve(typeof address === 'object' && address ? address.port : port);
    };
    http.once('error', onError);
    http.once('listening', onListening);
    http.listen(port, host);
  });
}

/** Starts the HTTP server with the live page and the socket.io API. */
export async function startLiveServer(options: LiveServerOptions = {}): Promise<LiveServer> {
  const host = options.host ?? '127.0.0.1';
  const http = createServer((req, res) => {
    serveStatic(req, res).catch(() => res.destroy());
  });
  const port = await listen(http, host, options.port ?? 7410);
  const io = new Server<ClientToServerEvents, ServerToClientEvents>(http, { serveClient: true });

  let latest: LiveState | undefined;
  let lastStatus: RunStatus | undefined;
  const intervals = new Set<NodeJS.Timeout>();

  io.on('connection', (socket) => {
    let interval: NodeJS.Timeout | undefined;
    const startStream = (rate_hz: number) => {
      if (interval) {
        clearInterval(interval);
        intervals.delete(interval);
      }
      const rate = Math.min(50, Math.max(1, Number.isFinite(rate_hz) ? rate_hz : 20));
      interval = setInterval(() => {
        // A slow client gets the newest state or nothing: volatile drops instead of queueing.
        if (latest) socket.volatile.emit('state', latest);
      }, 1000 / rate);
      intervals.add(interval);
    };
    startStream(20);
    if (lastStatus) socket.emit('status', lastStatus);
    socket.on('subscribe', (opts) => {
      const rate = typeof opts === 'object' && opts !== null ? Number(opts.rate_hz) : Number.NaN;
      startStream(rate);
    });
    socket.on('disconnect', () => {
      if (interval) {
        clearInterval(interval);
        intervals.delete(interval);
      }
    });
  });

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    port,
    publishState(state) {
      latest = state;
    },
    publishStatus(status) {
      lastStatus = status;
      io.emit('status', status);
    },
    async close() {
      for (const interval of intervals) clearInterval(interval);
      intervals.clear();
      await new Promise<void>((resolve) => io.close(() => resolve()));
      http.closeAllConnections?.();
    },
  };
}
