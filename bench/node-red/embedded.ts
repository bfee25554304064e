/**
 * `gridloop start --node-red`: the Node-RED editor and runtime on the bench's own HTTP server under
 * /flows, open only to holders of an admin token. A browser opens `/flows/?token=<admin token>`
 * once and gets a session cookie (HttpOnly, SameSite=Strict, scoped to /flows); scripts send
 * `Authorization: Bearer <admin token>`. WebSocket upgrades (the editor's comms) are checked the
 * same way.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { LiveServer } from '../server/live-server.ts';
import { type AccessToken, TokenRegistry } from '../server/tokens.ts';
import { type NodeRedRuntime, readExampleFlow, startNodeRed } from './node-red.ts';

/** The flow a new user directory starts with, connected to the bench: the classroom demonstration. */
export const FIRST_FLOW = 'classroom';

export const FLOWS_PREFIX = '/flows';
const SESSION_COOKIE = 'gridloop_flows';
/** Sessions kept; the oldest is forgotten beyond this (its browser must present the token again). */
const MAX_SESSIONS = 256;

export interface EmbeddedNodeRedOptions {
  live: Pick<LiveServer, 'mount' | 'url'>;
  /** The bench's tokens; only admin ones open the editor. */
  tokens: readonly AccessToken[];
  /** Node-RED's user directory (flows, credentials). */
  userDir: string;
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
}

export interface EmbeddedNodeRed {
  /** The editor's URL (without a token). */
  url: string;
  runtime: NodeRedRuntime;
  close(): Promise<void>;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const DENIED_PAGE = `<!doctype html><meta charset="utf-8"><title>gridloop flows: admin token needed</title>
<p>The flow editor is open to the bench's <b>admin</b> token only. Open
<code>/flows/?token=&lt;admin token&gt;</code> (<code>gridloop start --node-red</code> prints the link;
set the token with <code>GRIDLOOP_ADMIN_TOKEN</code>), or send <code>Authorization: Bearer &lt;admin token&gt;</code>.</p>\n`;

/** Starts Node-RED and mounts it, guarded, under /flows on the bench's server. */
export async function embedNodeRed(options: EmbeddedNodeRedOptions): Promise<EmbeddedNodeRed> {
  const admins = new TokenRegistry(options.tokens.filter((t) => t.role === 'admin'));
  const isAdmin = (token: unknown) => admins.authenticate(token)?.role === 'admin';
  const sessions = new Set<string>();
  const allowed = (req: IncomingMessage): boolean => {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ') && isAdmin(auth.slice(7).trim())) return true;
    const session = cookieValue(req.headers.cookie, SESSION_COOKIE);
    return session !== undefined && sessions.has(session);
  };

  // Flows whose bench connection leaves URL and token empty (the examples do) connect to this
  // bench with its operator token: the editor is the admin's, who may do anything an operator may.
  const operator = options.tokens.find((t) => t.role === 'operator');
  const runtime = await startNodeRed({
    userDir: options.userDir,
    adminRoot: FLOWS_PREFIX,
    benchUrl: options.live.url.replace(/\/$/, ''),
    benchToken: operator?.token,
    logLevel: options.logLevel,
  });
  try {
    // A new user directory opens on the classroom flow, deployed and connected, rather than on an
    // empty "Flow 1"; flows already there (the user's) are left as they are.
    const { flows } = await runtime.red.runtime.flows.getFlows({});
    if (flows.length === 0) await runtime.deploy(await readExampleFlow(FIRST_FLOW));
  } catch (err) {
    await runtime.close();
    throw err;
  }

  const deny = (res: ServerResponse) => {
    res.writeHead(401, { 'content-type': 'text/html; charset=utf-8', 'www-authenticate': 'Bearer' });
    res.end(DENIED_PAGE);
  };
  const unmount = options.live.mount(FLOWS_PREFIX, {
    request(req: IncomingMessage, res: ServerResponse) {
      const url = new URL(req.url ?? '/', 'http://bench');
      const token = url.searchParams.get('token');
      if (token !== null) {
        if (!isAdmin(token)) {
          deny(res);
          return;
        }
        const session = randomBytes(24).toString('base64url');
        sessions.add(session);
        if (sessions.size > MAX_SESSIONS) sessions.delete(sessions.values().next().value as string);
        url.searchParams.delete('token');
        // Redirect so the token leaves the address bar and the browser history.
        res.writeHead(303, {
          location: `${url.pathname}${url.search}`,
          'set-cookie': `${SESSION_COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=${FLOWS_PREFIX}`,
          'cache-control': 'no-store',
        });
        res.end();
        return;
      }
      if (!allowed(req)) {
        deny(res);
        return;
      }
      runtime.handle(req, res);
    },
    upgrade(req: IncomingMessage, socket: Duplex, head: Buffer) {
      if (!allowed(req)) {
        socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      runtime.upgrade(req, socket, head);
    },
  });

  let closed: Promise<void> | undefined;
  return {
    url: `${options.live.url.replace(/\/$/, '')}${FLOWS_PREFIX}/`,
    runtime,
    close() {
      closed ??= (async () => {
        unmount();
        sessions.clear();
        await runtime.close();
      })();
      return closed;
    },
  };
}
