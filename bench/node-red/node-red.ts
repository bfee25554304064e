/**
 * The Node-RED runtime (the `node-red` package) started inside this process through its embedding
 * API (`RED.init`/`RED.start`), with the gridloop nodes from `flows/` preinstalled. Node-RED keeps
 * one runtime per process, so one of these may run at a time.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import {
  createServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import type { Duplex } from 'node:stream';

const require = createRequire(import.meta.url);

/** Where the node package lives in this repository, and the name it installs under. */
export const GRIDLOOP_NODES_DIR = resolve(import.meta.dirname, '..', '..', 'flows');
export const GRIDLOOP_NODES_PACKAGE = '@gridloop/node-red-gridloop';

type Handler = (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void) => void;

/** A flow as Node-RED stores it: tabs, nodes and config nodes, credentials inline. */
export type FlowNode = { id: string; type: string; z?: string; [key: string]: unknown };

/** The parts of the `node-red` module used here (it ships no types). */
interface RedModule {
  init(server: HttpServer, settings: Record<string, unknown>): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  httpAdmin: Handler;
  httpNode: Handler;
  nodes: { getNode(id: string): unknown };
  runtime: {
    flows: {
      setFlows(opts: { flows: { flows: FlowNode[] }; deploymentType?: string }): Promise<unknown>;
      getFlows(opts: Record<string, never>): Promise<{ flows: FlowNode[] }>;
    };
    nodes: {
      getNodeList(
        opts: Record<string, never>,
      ): Promise<{ id: string; module: string; types: string[]; enabled: boolean; err?: string }[]>;
    };
  };
  events: NodeJS.EventEmitter;
}

export interface NodeRedOptions {
  /** Node-RED's user directory (flows, credentials, installed nodes). */
  userDir: string;
  /** Path the editor and admin API are served under. @default '/flows' */
  adminRoot?: string;
  /**
   * The bench's URL: new gridloop-server nodes default to it, and those with no URL use it
   * (Node-RED setting `gridloopServerUrl`).
   */
  benchUrl?: string;
  /**
   * Token gridloop-server nodes with no token of their own connect with (Node-RED setting
   * `gridloopServerToken`, runtime only: the editor never sees it).
   */
  benchToken?: string;
  /** Node-RED's console log level. @default 'warn' */
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
  /**
   * Key for the flows' stored credentials. @default the one in `userDir/credential-secret`,
   * created on first start (see credentialSecretOf)
   */
  credentialSecret?: string;
}

export interface NodeRedRuntime {
  readonly adminRoot: string;
  readonly userDir: string;
  /** The `node-red` module, for tests and embedders that need its runtime API. */
  readonly red: RedModule;
  /** Serves the editor, admin API and HTTP-in nodes; `req.url` relative to the server root. */
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Hands a WebSocket upgrade (editor comms, websocket nodes) to Node-RED. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** Replaces all flows (a full deploy) and resolves once the new flows have started. */
  deploy(flows: FlowNode[]): Promise<void>;
  /** Stops the flows (closing every node) and the runtime. */
  close(): Promise<void>;
}

let running = false;

/** Resolves when Node-RED next starts its flows; rejects when it refuses to (e.g. unknown node types). */
function flowsStarted(red: RedModule, timeout_ms = 15_000): Promise<void> {
  return new Promise<void>((resolveStarted, reject) => {
    const done = (err?: Error) => {
      clearTimeout(timer);
      red.events.off('flows:started', onStarted);
      red.events.off('runtime-event', onRuntimeEvent);
      if (err) reject(err);
      else resolveStarted();
    };
    const onStarted = () => done();
    const onRuntimeEvent = (event: {
      id?: string;
      payload?: { state?: string; error?: string; types?: string[] };
    }) => {
      if (event.id === 'runtime-state' && event.payload?.state === 'stop' && event.payload.error) {
        const detail = event.payload.types ? `: ${event.payload.types.join(', ')}` : '';
        done(new Error(`Node-RED did not start the flows (${event.payload.error}${detail})`));
      }
    };
    const timer = setTimeout(
      () => done(new Error(`Node-RED flows not started within ${timeout_ms} ms`)),
      timeout_ms,
    );
    red.events.on('flows:started', onStarted);
    red.events.on('runtime-event', onRuntimeEvent);
  });
}

/** Links the gridloop node package into `userDir/node_modules`, as `npm install` of it would. */
export async function installGridloopNodes(userDir: string): Promise<void> {
  const target = join(userDir, 'node_modules', ...GRIDLOOP_NODES_PACKAGE.split('/'));
  await mkdir(dirname(target), { recursive: true });
  const existing = await readlink(target).catch(() => undefined);
  if (existing === GRIDLOOP_NODES_DIR) return;
  await rm(target, { recursive: true, force: true });
  await symlink(GRIDLOOP_NODES_DIR, target, 'dir');
}

/** An example flow of the node package (`flows/examples/<name>.json`), as Node-RED imports it. */
export async function readExampleFlow(name: string): Promise<FlowNode[]> {
  const file = join(GRIDLOOP_NODES_DIR, 'examples', `${name}.json`);
  return JSON.parse(await readFile(file, 'utf8')) as FlowNode[];
}

/** File in a Node-RED user directory holding the key its flows' credentials are encrypted with. */
export const CREDENTIAL_SECRET_FILE = 'credential-secret';

/**
 * The credential key of `userDir`: read from its `credential-secret` file, or made (32 random
 * bytes, hex) and written there, readable by the owner only, on first use. Without a key of ours
 * Node-RED makes one itself and warns at every start that the credentials depend on it.
 */
export async function credentialSecretOf(userDir: string): Promise<string> {
  const file = join(userDir, CREDENTIAL_SECRET_FILE);
  const existing = await readFile(file, 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new Error(`cannot read Node-RED's credential key ${file}: ${err.message}`);
  });
  if (existing !== undefined) {
    const secret = existing.trim();
    if (secret.length < 16) throw new Error(`${file}: the credential key is shorter than 16 characters`);
    return secret;
  }
  const secret = randomBytes(32).toString('hex');
  await writeFile(file, `${secret}\n`, { mode: 0o600, flag: 'wx' });
  return secret;
}

/** Starts Node-RED with the gridloop nodes installed. Reject if one is already running here. */
export async function startNodeRed(options: NodeRedOptions): Promise<NodeRedRuntime> {
  if (running) throw new Error('a Node-RED runtime is already running in this process');
  running = true;
  try {
    const adminRoot = (options.adminRoot ?? '/flows').replace(/\/+$/, '');
    if (!/^\/[\w-]+(\/[\w-]+)*$/.test(adminRoot)) {
      throw new TypeError(`adminRoot must be a path like /flows, got '${options.adminRoot}'`);
    }
    await mkdir(options.userDir, { recursive: true });
    await installGridloopNodes(options.userDir);
    const red = require('node-red') as RedModule;
    // Node-RED attaches its WebSocket handlers to this server; it never listens: the embedder
    // forwards upgrades to it (see `upgrade`), so nothing opens a port of its own.
    const upgrades = createServer();
    const settings: Record<string, unknown> = {
      userDir: options.userDir,
      flowFile: 'flows.json',
      httpAdminRoot: `${adminRoot}/`,
      httpNodeRoot: `${adminRoot}/api/`,
      uiHost: '127.0.0.1',
      logging: { console: { level: options.logLevel ?? 'warn', metrics: false, audit: false } },
      // No calls home: no telemetry or update checks, no diagnostics endpoint.
      telemetry: { enabled: false, updateNotification: false },
      diagnostics: { enabled: false },
      // The palette manager's catalogue is fetched by the browser from nodered.org: off, so a lab
      // bench works offline and the editor calls out nowhere. Install extra nodes with npm in userDir.
      editorTheme: { projects: { enabled: false }, tours: false, palette: { catalogues: [] } },
      externalModules: { autoInstall: false },
      functionExternalModules: false,
      gridloopServerUrl: options.benchUrl ?? 'http://127.0.0.1:7410',
    };
    if (options.benchToken) settings.gridloopServerToken = options.benchToken;
    settings.credentialSecret = options.credentialSecret ?? (await credentialSecretOf(options.userDir));
    red.init(upgrades, settings);
    // RED.start resolves before the stored flows have started; wait for them. Flows that cannot
    // start (e.g. a node type not installed) or start late do not stop the editor: Node-RED has
    // logged why, and the user fixes it there. Handled at once, so that a failing RED.start leaves
    // no rejection behind.
    const firstStart = flowsStarted(red).catch(() => {});
    await red.start();
    await firstStart;

    const nodeRoot = `${adminRoot}/api`;
    const strip = (req: IncomingMessage, prefix: string) => {
      req.url = req.url!.slice(prefix.length) || '/';
    };
    const notFound = (res: ServerResponse) => () => {
      if (!res.headersSent) res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('not found\n');
    };
    let stopped: Promise<void> | undefined;
    return {
      adminRoot,
      userDir: options.userDir,
      red,
      handle(req, res) {
        const path = (req.url ?? '/').split('?')[0];
        if (path === adminRoot) {
          // The editor loads its files relative to the page: it must be opened with the slash.
          const query = (req.url ?? '').slice(path.length);
          res.writeHead(301, { location: `${adminRoot}/${query}` }).end();
          return;
        }
        if (path === nodeRoot || path.startsWith(`${nodeRoot}/`)) {
          strip(req, nodeRoot);
          red.httpNode(req, res, notFound(res));
        } else {
          strip(req, adminRoot);
          red.httpAdmin(req, res, notFound(res));
        }
      },
      upgrade(req, socket, head) {
        upgrades.emit('upgrade', req, socket, head);
      },
      async deploy(flows) {
        const started = flowsStarted(red);
        await red.runtime.flows.setFlows({ flows: { flows }, deploymentType: 'full' });
        await started;
      },
      close() {
        stopped ??= (async () => {
          try {
            await red.stop();
          } finally {
            upgrades.close();
            running = false;
          }
        })();
        return stopped;
      },
    };
  } catch (err) {
    running = false;
    throw err;
  }
}
