import { createReadStream, readdirSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import {
  createServer,
  type Server as HttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createRequire } from 'node:module';
import { extname, join, normalize, sep } from 'node:path';
import type { Duplex } from 'node:stream';
import { Server, type Socket } from 'socket.io';
import type { TwinEvent } from '../../twin/api.ts';
import { checkPreferences } from '../../vpp/telemetry.ts';
import type {
  Actor,
  ApiCommand,
  AuditEntry,
  CampaignProgress,
  ClientData,
  ClientToServerEvents,
  CommandErrorCode,
  CommandResult,
  GridTopology,
  LiveEvent,
  LiveState,
  MarketLiveView,
  PreferencesResult,
  ProsumerPreferences,
  ProsumerView,
  Role,
  RunStatus,
  ServerToClientEvents,
  VppLiveView,
} from './api.ts';
import {
  commandSchema,
  commandsFor,
  requiredRole,
  roleAllows,
  unknownReference,
  validateCommand,
} from './commands.ts';
import { EventBacklog } from './event-backlog.ts';
import { AuditThrottle, TokenBucket } from './rate-limit.ts';
import { type AccessToken, MAX_TOKEN_LENGTH, resolveAccessTokens, TokenRegistry } from './tokens.ts';
import { webPageRoot } from './web-page.ts';

const require = createRequire(import.meta.url);
const webRoot = webPageRoot();
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

/** What the composer answers for an accepted command. */
export interface CommandOutcome {
  /** One line for the operator and the timeline, e.g. "breaker sw-2 opened". */
  message: string;
  event?: TwinEvent;
}

export interface ServerLimits {
  /** Commands per second per client, sustained. @default 5 */
  commandsPerSecond: number;
  /** Commands a client may send at once. @default 10 */
  commandBurst: number;
  /** Packets of any kind per second per client; a client above it is disconnected. @default 100 */
  packetsPerSecond: number;
  /** @default 200 */
  packetBurst: number;
  /** Largest message a client may send (socket.io `maxHttpBufferSize`). @default 65536 */
  maxMessageBytes: number;
  /** Packets queued for one client before it counts as too slow and is dropped. @default 1000 */
  maxQueuedPackets: number;
  /** Commands awaiting a result per client. @default 4 */
  maxPendingCommands: number;
  /** A command the composer has not answered in this time fails. @default 5000 */
  commandTimeout_ms: number;
  /** Highest state rate a client may choose, Hz. @default 50 */
  maxRate_hz: number;
  /** Connected clients at most; more are refused ('server full'), so many clients cannot starve recording. @default 500 */
  maxClients: number;
}

export const DEFAULT_LIMITS: Readonly<ServerLimits> = {
  commandsPerSecond: 5,
  commandBurst: 10,
  packetsPerSecond: 100,
  packetBurst: 200,
  maxMessageBytes: 64 * 1024,
  maxQueuedPackets: 1000,
  maxPendingCommands: 4,
  commandTimeout_ms: 5000,
  maxRate_hz: 50,
  maxClients: 500,
};

export interface LiveServerOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. @default 7410 */
  port?: number;
  /**
   * Who may connect, and as what. A client without a known token is refused.
   * @default tokens from the environment, random ones for roles it leaves out
   */
  tokens?: readonly AccessToken[];
  /** The grid, for the diagram and for checking command ids. @default null */
  topology?: GridTopology | null;
  /**
   * Carries out an authorised, validated command (the composer maps it onto the twin, scenario
   * player or bench). Throw to refuse: the error's message becomes the result's reason.
   */
  onCommand?: (command: ApiCommand, actor: Actor) => Promise<CommandOutcome>;
  /** Receives every audit entry (the composer writes them to the run's audit log). */
  onAudit?: (entry: AuditEntry) => void;
  /**
   * Carries out a prosumer's validated preferences (the composer hands them to the VPP). Throw to
   * refuse: the error's message becomes the reason. Absent: preferences are refused as unavailable.
   */
  onPreferences?: (prosumer: string, preferences: ProsumerPreferences, actor: Actor) => Promise<string>;
  /** Scenario names offered to clients in their welcome (read at each connect). */
  scenarios?: () => string[];
  limits?: Partial<ServerLimits>;
}

export interface LiveServer {
  url: string;
  port: number;
  /** Offers the newest state; each client receives it at its own chosen rate. */
  publishState(state: LiveState): void;
  publishStatus(status: RunStatus): void;
  /** A campaign's progress: sent to every client (coalesced to 4 per second) and in welcomes. */
  publishCampaign(progress: CampaignProgress): void;
  /** Adds to the event timeline; `time` defaults to now. */
  publishEvent(event: Omit<LiveEvent, 'time'> & { time?: string }): void;
  /** The VPP after a decision: to every client but prosumers. */
  publishVpp(view: VppLiveView): void;
  /** One prosumer's own data: to that prosumer's clients only (and kept for the next to connect). */
  publishProsumer(view: ProsumerView): void;
  /** The market after an interval's news: to every client but prosumers (and kept for the next to connect). */
  publishMarket(view: MarketLiveView): void;
  setTopology(topology: GridTopology): void;
  /**
   * Hands requests (and WebSocket upgrades) whose path is `prefix` or starts with `prefix/` to
   * another app on the same port, e.g. the embedded Node-RED under /flows. Returns an unmount.
   */
  mount(prefix: string, app: MountedApp): () => void;
  /** Connected clients by role. */
  clients(): Record<Role, number>;
  /** What each client asked for and what it was actually sent (see ClientDelivery). */
  stats(): ClientDelivery[];
  close(): Promise<void>;
}

/**
 * One client's state stream: the rate it chose and the rate it was sent over the last whole
 * second. Below the chosen rate, the server (or the client's connection) cannot keep up: states
 * it could not write at once were dropped (volatile), never queued.
 */
export interface ClientDelivery {
  clientId: string;
  role: Role;
  name: string;
  rate_hz: number;
  /** States written to this client per second, over the last whole second; NaN in its first second. */
  delivered_hz: number;
}

export interface MountedApp {
  request(req: IncomingMessage, res: ServerResponse): void;
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer): void;
}

/**
 * Thrown by a command handler for a command this run cannot carry out at all (loop not started):
 * the client gets code 'unavailable' rather than 'failed'.
 */
export class CommandUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandUnavailableError';
  }
}

/**
 * Thrown by a command handler while the bench is still starting (the loop not yet stepping): the
 * client gets code 'not-ready' at once, and nothing is queued or done.
 */
export class CommandNotReadyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandNotReadyError';
  }
}

/**
 * Thrown by a command handler for a command that passed the schema but names something unusable
 * (a scenario name outside the scenario folder): the client gets code 'invalid'.
 */
export class CommandInvalidError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CommandInvalidError';
  }
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

/** Every field some command may carry (the schema's properties): nothing else reaches the audit log. */
const COMMAND_FIELDS = new Set(
  commandSchema.oneOf.flatMap((branch) => Object.keys(branch.properties as Record<string, unknown>)),
);

/**
 * What the audit log keeps of what a client sent: the fields commands have, each value cut to
 * 128 characters when it is a string and left out when it is anything bigger than a number or a
 * boolean; other fields are only counted (`otherFields`), so junk a client adds never fills the disk.
 */
function auditable(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return typeof value === 'string' ? { notAnObject: value.slice(0, 128) } : { notAnObject: typeof value };
  }
  const kept: Record<string, unknown> = {};
  let otherFields = 0;
  for (const [key, v] of Object.entries(value)) {
    if (!COMMAND_FIELDS.has(key)) otherFields++;
    else if (typeof v === 'string') kept[key] = v.length <= 128 ? v : `${v.slice(0, 128)}…`;
    else if (typeof v === 'number' || typeof v === 'boolean' || v === null) kept[key] = v;
    else kept[key] = `[${Array.isArray(v) ? 'array' : typeof v}]`;
  }
  return otherFields > 0 ? { ...kept, otherFields } : kept;
}

/** Top-level directories of this machine: an absolute path starts with one, a JSON path does not. */
const ROOT_ENTRIES = new Set(
  (() => {
    try {
      return readdirSync('/');
    } catch {
      return [];
    }
  })(),
);

/**
 * A reason as a client may read it: absolute paths on the server become their last part, so
 * replies never tell a client how the bench's disk is laid out (the audit log keeps them whole).
 * JSON paths in reasons (`/events/0/at`) are left alone.
 */
export function clientReason(reason: string): string {
  return reason.replace(/(?<![\w.~-])\/([^\s/:'"`()]+)((?:\/[^\s/:'"`()]+)*)/g, (path, first, rest) =>
    ROOT_ENTRIES.has(first) ? (rest ? rest.slice(rest.lastIndexOf('/') + 1) : first) : path,
  );
}

const EVENTS_PER_BATCH = 100;
const EVENT_FLUSH_MS = 100;
const SLOW_CHECK_MS = 250;
/** Refused connections are audited at most this often (per second, with a burst), the rest counted. */
const REFUSED_AUDIT_RATE = 2;
/**
 * Largest message the transport takes at all. Between `maxMessageBytes` and this the server reads
 * the message far enough to refuse it with a reason (a `connect_error`, or an audited eviction);
 * beyond it the transport closes the connection without one.
 */
const TRANSPORT_LIMIT_BYTES = 1024 * 1024;
/** Forbidden commands a client may send (per second, with a burst) before it is disconnected. */
const FORBIDDEN_PER_SECOND = 1;
const FORBIDDEN_BURST = 10;

interface EnginePacket {
  type: string;
  data?: unknown;
}

/** Size of an engine.io message, bytes; exact only when it could exceed `limit`. */
function messageBytes(data: unknown, limit: number): number {
  if (typeof data === 'string') return data.length * 3 <= limit ? data.length : Buffer.byteLength(data);
  if (data instanceof ArrayBuffer || ArrayBuffer.isView(data)) return data.byteLength;
  return 0;
}

/** The room of every prosumer client: broadcasts of the whole bench leave it out. */
const PROSUMERS_ROOM = 'prosumers';
const prosumerRoom = (prosumer: string) => `prosumer:${prosumer}`;

type LiveSocket = Socket<ClientToServerEvents, ServerToClientEvents, Record<string, never>, ClientData>;

/** Starts the HTTP server with the live page and the socket.io API. */
/** Campaign progress reaches clients at most this often, ms. */
const CAMPAIGN_EMIT_MS = 250;

export async function startLiveServer(options: LiveServerOptions = {}): Promise<LiveServer> {
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const host = options.host ?? '127.0.0.1';
  const registry = new TokenRegistry(options.tokens ?? resolveAccessTokens(process.env).tokens);
  let topology: GridTopology | null = options.topology ?? null;
  const onAudit = options.onAudit ?? (() => {});
  let auditSeq = 0;
  const audit = (entry: Omit<AuditEntry, 'id' | 'time'>): string => {
    const id = `a${++auditSeq}`;
    try {
      onAudit({ id, time: new Date().toISOString(), ...entry });
    } catch {
      // A failing sink must not turn a client's request into a server crash.
    }
    return id;
  };

  const mounts = new Map<string, MountedApp>();
  const mountedAt = (url: string | undefined): MountedApp | undefined => {
    const path = (url ?? '/').split('?')[0];
    for (const [prefix, app] of mounts) {
      if (path === prefix || path.startsWith(`${prefix}/`)) return app;
    }
    return undefined;
  };
  const http = createServer((req, res) => {
    const mounted = mountedAt(req.url);
    if (mounted) mounted.request(req, res);
    else serveStatic(req, res).catch(() => res.destroy());
  });
  // socket.io answers its own upgrades (/socket.io/); others go to the app mounted at their path.
  http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    mountedAt(req.url)?.upgrade?.(req, socket, head);
  });
  const port = await listen(http, host, options.port ?? 7410);
  const io = new Server<ClientToServerEvents, ServerToClientEvents, Record<string, never>, ClientData>(http, {
    serveClient: true,
    maxHttpBufferSize: Math.max(limits.maxMessageBytes, TRANSPORT_LIMIT_BYTES),
  });

  let latest: LiveState | undefined;
  let latestSeq = 0;
  let lastStatus: RunStatus | null = null;
  let lastVpp: VppLiveView | undefined;
  let lastMarket: MarketLiveView | undefined;
  const lastProsumer = new Map<string, ProsumerView>();
  let lastCampaign: CampaignProgress | undefined;
  let campaignTimer: NodeJS.Timeout | undefined;
  const backlog = new EventBacklog();
  let pendingEvents: LiveEvent[] = [];
  let droppedEvents = 0;

  // One timer per chosen rate: a state is encoded once per rate, not once per client.
  const rateTimers = new Map<number, { timer: NodeJS.Timeout; sentSeq: number }>();
  const roomOf = (rate: number) => `rate:${rate}`;
  const ensureRate = (rate: number) => {
    if (rateTimers.has(rate)) return;
    const entry = {
      sentSeq: 0,
      timer: setInterval(() => {
        if (!latest || entry.sentSeq === latestSeq) return;
        entry.sentSeq = latestSeq;
        // A slow client gets the newest state or nothing: volatile drops instead of queueing.
        io.to(roomOf(rate)).volatile.emit('state', {
          ...latest,
          // The wall clock, as documented: timeOrigin + now() drifts from Date.now() over a long run.
          sent_ms: Date.now(),
        });
      }, 1000 / rate),
    };
    rateTimers.set(rate, entry);
  };
  const releaseRate = (rate: number) => {
    const entry = rateTimers.get(rate);
    if (entry && (io.sockets.adapter.rooms.get(roomOf(rate))?.size ?? 0) === 0) {
      clearInterval(entry.timer);
      rateTimers.delete(rate);
    }
  };

  const eventTimer = setInterval(() => {
    if (pendingEvents.length === 0) return;
    const batch = pendingEvents;
    pendingEvents = [];
    if (droppedEvents > 0) {
      batch.push({
        t_s: batch[batch.length - 1].t_s,
        kind: 'events-dropped',
        message: `${droppedEvents} more events not shown live (all are in the run's recording)`,
        severity: 'warning',
        source: 'bench',
        time: new Date().toISOString(),
      });
      droppedEvents = 0;
    }
    // Events name devices and operators of the whole bench: never to a prosumer.
    io.except(PROSUMERS_ROOM).emit('events', batch);
  }, EVENT_FLUSH_MS);

  const actorOf = (socket: LiveSocket): Actor => ({
    clientId: socket.id,
    role: socket.data.role ?? null,
    name: socket.data.name ?? 'anonymous',
    address: socket.data.address ?? socket.handshake.address,
  });

  /** Drops a client now, even when its transport is blocked by a full TCP window. */
  const evict = (socket: LiveSocket, code: 'flood' | 'slow-client' | 'too-large', reason: string) => {
    if (!socket.connected) return;
    audit({ action: 'disconnect', actor: actorOf(socket), result: 'rejected', code, reason });
    socket.disconnect(true);
    socket.conn.close(true);
    (socket.conn.transport as unknown as { socket?: { terminate?: () => void } }).socket?.terminate?.();
  };

  // States written to each client, counted as engine.io creates the packet (a volatile state a
  // client could not take at once never gets that far), and the rate over the last second.
  const delivery = new Map<
    string,
    { rate_hz: number; sent: number; counted: number; delivered_hz: number }
  >();
  const STATE_PACKET = '2["state"';
  const rateTimer = setInterval(() => {
    for (const d of delivery.values()) {
      d.delivered_hz = d.sent - d.counted;
      d.counted = d.sent;
    }
  }, 1000);

  const slowTimer = setInterval(() => {
    for (const socket of io.sockets.sockets.values()) {
      const queued = (socket.conn as unknown as { writeBuffer: unknown[] }).writeBuffer.length;
      if (queued > limits.maxQueuedPackets) {
        evict(socket, 'slow-client', `${queued} packets queued: the client is not reading`);
      }
    }
  }, SLOW_CHECK_MS);

  // Refused connections are audited per kind (server full, bad token, too large), each line
  // carrying the count of its own kind's unwritten refusals.
  const refusedConnections = new AuditThrottle(() => new TokenBucket(REFUSED_AUDIT_RATE, 20));
  /** Engine connections whose last message was over `maxMessageBytes`, and its size. */
  const oversized = new WeakMap<object, number>();
  io.engine.on('connection', (conn: { on(event: 'packet', fn: (packet: EnginePacket) => void): void }) => {
    conn.on('packet', (packet) => {
      if (packet.type !== 'message') return;
      const bytes = messageBytes(packet.data, limits.maxMessageBytes);
      if (bytes > limits.maxMessageBytes) oversized.set(conn, bytes);
    });
  });
  io.use((socket, next) => {
    const refuse = (code: 'flood' | 'unauthenticated' | 'too-large', reason: string) => {
      const { write, suppressed } = refusedConnections.admit(code);
      if (write) {
        audit({
          action: 'connect',
          actor: { clientId: socket.id, role: null, name: 'anonymous', address: socket.handshake.address },
          result: 'rejected',
          code,
          reason,
          ...(suppressed ? { suppressed } : {}),
        });
      }
      next(new Error(`${code === 'flood' ? '' : `${code}: `}${reason}`));
    };
    if (io.sockets.sockets.size >= limits.maxClients) {
      refuse('flood', `server full: ${limits.maxClients} clients connected`);
      return;
    }
    const auth = socket.handshake.auth as Record<string, unknown> | undefined;
    const token = auth && typeof auth === 'object' ? auth.token : undefined;
    if (typeof token === 'string' && token.length > MAX_TOKEN_LENGTH) {
      refuse(
        'unauthenticated',
        `token of ${token.length} characters; tokens have at most ${MAX_TOKEN_LENGTH}`,
      );
      return;
    }
    const handshakeBytes = oversized.get(socket.conn);
    if (handshakeBytes !== undefined) {
      refuse(
        'too-large',
        `handshake of ${handshakeBytes} bytes; messages are at most ${limits.maxMessageBytes}`,
      );
      return;
    }
    const holder = registry.authenticate(token);
    if (!holder) {
      refuse('unauthenticated', token === undefined ? 'no token in auth.token' : 'unknown token');
      return;
    }
    socket.data = {
      role: holder.role,
      name: holder.name,
      address: socket.handshake.address,
      tokenFingerprint: holder.fingerprint,
      ...(holder.prosumer === undefined ? {} : { prosumer: holder.prosumer }),
    };
    next();
  });

  io.on('connection', (socket) => {
    const actor = actorOf(socket);
    audit({ action: 'connect', actor, result: 'ok' });
    const packets = new TokenBucket(limits.packetsPerSecond, limits.packetBurst);
    const commands = new TokenBucket(limits.commandsPerSecond, limits.commandBurst);
    let pending = 0;
    // Refusals are audited at most once a second per kind; the next line of a kind carries the
    // count of its unwritten ones, and the rest are summarised when the client leaves.
    const refusals = new AuditThrottle(() => new TokenBucket(1, 1));
    const forbidden = new TokenBucket(FORBIDDEN_PER_SECOND, FORBIDDEN_BURST);

    socket.use((_packet, next) => {
      const bytes = oversized.get(socket.conn);
      if (bytes !== undefined) {
        oversized.delete(socket.conn);
        evict(
          socket,
          'too-large',
          `message of ${bytes} bytes; messages are at most ${limits.maxMessageBytes}`,
        );
      } else if (packets.take()) next();
      else evict(socket, 'flood', `more than ${limits.packetsPerSecond} messages per second`);
    });

    const delivered = { rate_hz: 0, sent: 0, counted: 0, delivered_hz: Number.NaN };
    delivery.set(socket.id, delivered);
    socket.conn.on('packetCreate', (packet: EnginePacket) => {
      if (
        packet.type === 'message' &&
        typeof packet.data === 'string' &&
        packet.data.startsWith(STATE_PACKET)
      )
        delivered.sent++;
    });

    const prosumer = socket.data.role === 'prosumer' ? socket.data.prosumer : undefined;
    let rate = 0;
    const subscribe = (requested: unknown) => {
      // A prosumer gets its own view only, never the whole state stream.
      if (socket.data.role === 'prosumer') return;
      const raw = typeof requested === 'number' ? requested : Number.NaN;
      const next = Number.isFinite(raw) ? Math.min(limits.maxRate_hz, Math.max(1, Math.round(raw))) : 20;
      if (next === rate) return;
      const previous = rate;
      if (previous) socket.leave(roomOf(previous));
      rate = next;
      delivered.rate_hz = rate;
      ensureRate(rate);
      socket.join(roomOf(rate));
      if (previous) releaseRate(previous);
    };
    subscribe(Math.min(20, limits.maxRate_hz));

    if (prosumer !== undefined) {
      socket.join(PROSUMERS_ROOM);
      socket.join(prosumerRoom(prosumer));
    }
    socket.emit('welcome', {
      clientId: socket.id,
      role: socket.data.role,
      name: socket.data.name,
      ...(prosumer === undefined ? {} : { prosumer }),
      commands: commandsFor(socket.data.role),
      // The grid and the timeline show everyone's units: not for a prosumer.
      topology: prosumer === undefined ? topology : null,
      status: lastStatus,
      recentEvents: prosumer === undefined ? backlog.events() : [],
      ...(options.scenarios ? { scenarios: options.scenarios() } : {}),
      ...(lastCampaign ? { campaign: lastCampaign } : {}),
      limits: {
        commandsPerSecond: limits.commandsPerSecond,
        commandBurst: limits.commandBurst,
        maxMessageBytes: limits.maxMessageBytes,
        maxRate_hz: limits.maxRate_hz,
      },
    });

    if (prosumer === undefined && lastVpp) socket.emit('vpp', lastVpp);
    if (prosumer === undefined && lastMarket) socket.emit('market', lastMarket);
    const ownView = prosumer === undefined ? undefined : lastProsumer.get(prosumer);
    if (ownView) socket.emit('prosumer', ownView);

    socket.on('subscribe', (opts) => {
      subscribe(
        typeof opts === 'object' && opts !== null ? (opts as { rate_hz?: unknown }).rate_hz : undefined,
      );
    });

    const refuse = (raw: unknown, code: CommandErrorCode, reason: string): CommandResult => {
      const reply = clientReason(reason);
      if (code === 'forbidden' && !forbidden.take()) {
        evict(socket, 'flood', `kept sending commands role ${socket.data.role} may not send`);
        return { ok: false, auditId: '', code, reason: reply };
      }
      const { write, suppressed } = refusals.admit(code);
      if (!write) return { ok: false, auditId: '', code, reason: reply };
      const auditId = audit({
        action: 'command',
        actor: actorOf(socket),
        command: auditable(raw),
        result: 'rejected',
        code,
        reason,
        ...(suppressed ? { suppressed } : {}),
      });
      return { ok: false, auditId, code, reason: reply };
    };

    const execute = async (raw: unknown): Promise<CommandResult> => {
      const role = socket.data.role;
      if (commandsFor(role).length === 0)
        return refuse(raw, 'forbidden', `role ${role} may not send commands`);
      if (!commands.take()) {
        return refuse(raw, 'rate-limited', `more than ${limits.commandsPerSecond} commands per second`);
      }
      const validation = validateCommand(raw);
      if (!validation.ok) return refuse(raw, 'invalid', validation.reason);
      const command = validation.command;
      const needed = requiredRole(command, topology);
      if (!roleAllows(role, needed)) {
        return refuse(raw, 'forbidden', `${command.type} needs role ${needed}; this client is ${role}`);
      }
      const unknown = unknownReference(command, topology);
      if (unknown) return refuse(raw, 'invalid', unknown);

      if (command.type === 'rotate-token') {
        const token = registry.rotate(command.role);
        for (const other of io.sockets.sockets.values()) {
          if (other.data.role === command.role && other.id !== socket.id) other.disconnect(true);
        }
        const message = `${command.role} tokens rotated; ${command.role} clients disconnected`;
        const auditId = audit({
          action: 'command',
          actor: actorOf(socket),
          command,
          result: 'ok',
          reason: message,
        });
        return { ok: true, auditId, message, token };
      }
      if (!options.onCommand) return refuse(raw, 'unavailable', 'this server does not accept commands');
      if (pending >= limits.maxPendingCommands) {
        return refuse(raw, 'rate-limited', `${pending} commands still awaiting a result`);
      }
      pending++;
      let timer: NodeJS.Timeout | undefined;
      try {
        const outcome = await Promise.race([
          options.onCommand(command, actorOf(socket)),
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`no result within ${limits.commandTimeout_ms} ms`)),
              limits.commandTimeout_ms,
            );
          }),
        ]);
        const auditId = audit({
          action: 'command',
          actor: actorOf(socket),
          command,
          result: 'ok',
          reason: outcome.message,
          event: outcome.event,
        });
        publish({
          t_s: outcome.event?.t_s ?? latest?.t_s ?? 0,
          kind: `command:${command.type}`,
          message: `${socket.data.name}: ${outcome.message}`,
          target: outcome.event?.target,
          ...(outcome.event?.data ? { data: outcome.event.data } : {}),
          severity: command.type === 'emergency-stop' ? 'alarm' : 'info',
          source: 'operator',
        });
        return { ok: true, auditId, message: outcome.message, event: outcome.event };
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        if (err instanceof CommandUnavailableError) return refuse(command, 'unavailable', reason);
        if (err instanceof CommandNotReadyError) return refuse(command, 'not-ready', reason);
        if (err instanceof CommandInvalidError) return refuse(command, 'invalid', reason);
        const auditId = audit({
          action: 'command',
          actor: actorOf(socket),
          command,
          result: 'failed',
          code: 'failed',
          reason,
        });
        return { ok: false, auditId, code: 'failed', reason: clientReason(reason) };
      } finally {
        clearTimeout(timer);
        pending--;
      }
    };

    /** A prosumer's preferences: checked, handed to the composer, audited; never throws. */
    const setPreferences = async (raw: unknown): Promise<PreferencesResult> => {
      const refusePreferences = (code: CommandErrorCode, reason: string): PreferencesResult => {
        const auditId = audit({
          action: 'preferences',
          actor: actorOf(socket),
          command: auditable(raw),
          result: 'rejected',
          code,
          reason,
        });
        return { ok: false, auditId, code, reason: clientReason(reason) };
      };
      if (prosumer === undefined) {
        if (!forbidden.take()) {
          evict(socket, 'flood', `kept sending preferences role ${socket.data.role} may not send`);
          return {
            ok: false,
            auditId: '',
            code: 'forbidden',
            reason: 'preferences are for prosumer clients',
          };
        }
        return refusePreferences(
          'forbidden',
          `preferences are for prosumer clients; this client is ${socket.data.role}`,
        );
      }
      if (!commands.take())
        return refusePreferences('rate-limited', `more than ${limits.commandsPerSecond} messages per second`);
      const checked = checkPreferences(raw);
      if (!checked.ok) return refusePreferences('invalid', `preferences${checked.reason}`);
      if (!options.onPreferences)
        return refusePreferences('unavailable', 'this run has no VPP to take preferences');
      try {
        const message = await options.onPreferences(prosumer, checked.preferences, actorOf(socket));
        const auditId = audit({
          action: 'preferences',
          actor: actorOf(socket),
          command: checked.preferences,
          result: 'ok',
          reason: message,
        });
        return { ok: true, auditId, message };
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        if (err instanceof CommandNotReadyError) return refusePreferences('not-ready', reason);
        if (err instanceof CommandUnavailableError) return refusePreferences('unavailable', reason);
        return refusePreferences('failed', reason);
      }
    };

    socket.on('preferences', (raw: unknown, ack: unknown) => {
      const reply = typeof ack === 'function' ? (ack as (result: PreferencesResult) => void) : () => {};
      setPreferences(raw).then(
        (result) => {
          if (socket.connected) reply(result);
        },
        () => {},
      );
    });

    socket.on('command', (raw: unknown, ack: unknown) => {
      const reply = typeof ack === 'function' ? (ack as (result: CommandResult) => void) : () => {};
      execute(raw).then(
        (result) => {
          if (socket.connected) reply(result);
        },
        () => {},
      );
    });

    socket.on('disconnect', () => {
      for (const [code, suppressed] of refusals.drain()) {
        audit({
          action: 'command',
          actor: actorOf(socket),
          result: 'rejected',
          code: code as CommandErrorCode,
          reason: `${code} commands not logged individually`,
          suppressed,
        });
      }
      if (rate) releaseRate(rate);
      delivery.delete(socket.id);
    });
  });

  const publish = (event: Omit<LiveEvent, 'time'> & { time?: string }) => {
    const full: LiveEvent = { ...event, time: event.time ?? new Date().toISOString() };
    backlog.add(full);
    if (pendingEvents.length < EVENTS_PER_BATCH) pendingEvents.push(full);
    else droppedEvents++;
  };

  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}/`,
    port,
    publishState(state) {
      latest = state;
      latestSeq++;
    },
    publishStatus(status) {
      lastStatus = status;
      io.emit('status', status);
    },
    publishCampaign(progress) {
      lastCampaign = progress;
      const final = progress.done === progress.total && progress.running === 0;
      if (final) {
        clearTimeout(campaignTimer);
        campaignTimer = undefined;
        io.emit('campaign', progress);
        return;
      }
      // A run finishing every millisecond must not flood the clients: the latest, 4 times a second.
      campaignTimer ??= setTimeout(() => {
        campaignTimer = undefined;
        if (lastCampaign) io.emit('campaign', lastCampaign);
      }, CAMPAIGN_EMIT_MS);
    },
    publishEvent: publish,
    setTopology(next) {
      topology = next;
      io.except(PROSUMERS_ROOM).emit('topology', next);
    },
    publishVpp(view) {
      lastVpp = view;
      io.except(PROSUMERS_ROOM).emit('vpp', view);
    },
    publishProsumer(view) {
      lastProsumer.set(view.prosumer, view);
      io.to(prosumerRoom(view.prosumer)).emit('prosumer', view);
    },
    publishMarket(view) {
      lastMarket = view;
      io.except(PROSUMERS_ROOM).emit('market', view);
    },
    mount(prefix, app) {
      mounts.set(prefix, app);
      return () => {
        if (mounts.get(prefix) === app) mounts.delete(prefix);
      };
    },
    clients() {
      const counts = { viewer: 0, operator: 0, admin: 0, prosumer: 0 };
      for (const socket of io.sockets.sockets.values()) counts[socket.data.role]++;
      return counts;
    },
    stats() {
      const out: ClientDelivery[] = [];
      for (const socket of io.sockets.sockets.values()) {
        const d = delivery.get(socket.id);
        if (!d) continue;
        out.push({
          clientId: socket.id,
          role: socket.data.role,
          name: socket.data.name,
          rate_hz: d.rate_hz,
          delivered_hz: d.delivered_hz,
        });
      }
      return out;
    },
    async close() {
      clearInterval(rateTimer);
      for (const [code, suppressed] of refusedConnections.drain()) {
        audit({
          action: 'connect',
          actor: { clientId: '', role: null, name: 'anonymous', address: '' },
          result: 'rejected',
          code: code as 'flood' | 'unauthenticated' | 'too-large',
          reason: `${code} refusals not logged individually`,
          suppressed,
        });
      }
      for (const { timer } of rateTimers.values()) clearInterval(timer);
      rateTimers.clear();
      clearInterval(eventTimer);
      clearTimeout(campaignTimer);
      clearInterval(slowTimer);
      // io.close() closes the HTTP server, whose callback waits for every connection to end: a page
      // with a request in flight (or a keep-alive socket) would hold it open for ever, so the
      // connections are cut first and then waited for.
      const closed = new Promise<void>((resolve) => io.close(() => resolve()));
      http.closeAllConnections?.();
      await closed;
    },
  };
}
