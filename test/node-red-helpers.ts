/**
 * Helpers for the Node-RED suites: a loopback TCP proxy between Node-RED and the bench (to drop
 * the link on purpose and count connections), flow loading, and message collection from nodes of
 * a running flow.
 */

import { readFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { join } from 'node:path';
import type { FlowNode, NodeRedRuntime } from '../bench/node-red/node-red.ts';
import { until as untilScaled } from './support/machine-speed.ts';

const repoRoot = join(import.meta.dirname, '..');

export interface LinkProxy {
  port: number;
  url: string;
  /** Client connections currently open through the proxy. */
  open(): number;
  /** Connections accepted so far. */
  accepted(): number;
  /** Cuts every connection at once, as a pulled cable or a crashed switch would. */
  dropAll(): void;
  close(): Promise<void>;
}

export async function startLinkProxy(targetPort: number): Promise<LinkProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let accepted = 0;
  const server = createServer((client) => {
    accepted++;
    const upstream = new Socket();
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    upstream.connect(targetPort, '127.0.0.1', () => {
      client.pipe(upstream);
      upstream.pipe(client);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  const dropAll = () => {
    for (const [client, upstream] of pairs) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    open: () => pairs.size,
    accepted: () => accepted,
    dropAll,
    async close() {
      dropAll();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** An example flow from flows/examples, pointed at `url` with `token` (as a user would set them). */
export function exampleFlow(name: string, url: string, token: string): FlowNode[] {
  const nodes = JSON.parse(
    readFileSync(join(repoRoot, 'flows', 'examples', `${name}.json`), 'utf8'),
  ) as FlowNode[];
  for (const node of nodes) {
    if (node.type === 'gridloop-server') {
      node.url = url;
      node.credentials = { token };
    }
  }
  return nodes;
}

/** Sets a tab environment variable of a loaded flow. */
export function setTabEnv(nodes: FlowNode[], name: string, value: string): void {
  const tab = nodes.find((n) => n.type === 'tab');
  const env = (tab?.env ?? []) as { name: string; value: string }[];
  const entry = env.find((e) => e.name === name);
  if (!entry) throw new Error(`flow has no tab variable ${name}`);
  entry.value = value;
}

export type Msg = { topic?: string; payload?: unknown; [key: string]: unknown };

interface InputNode {
  on(event: 'input', listener: (msg: Msg) => void): void;
}

/** Every message that reaches node `id` of the running flows, as it arrived. */
export function collect(runtime: NodeRedRuntime, id: string): Msg[] {
  const node = runtime.red.nodes.getNode(id) as InputNode | null;
  if (!node) throw new Error(`no node ${id} in the running flows`);
  const seen: Msg[] = [];
  // A copy: the receiving node may change the message afterwards (a command node puts its result in).
  node.on('input', (msg) => seen.push(JSON.parse(JSON.stringify(msg)) as Msg));
  return seen;
}

/** Waits until `probe` returns a value other than undefined/false (budget scaled to the machine). */
export function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeout_ms = 20_000,
): Promise<T> {
  return untilScaled(what, probe, timeout_ms, 50);
}

/** The gridloop-server config node's link, as the nodes see it. */
export interface ServerLink {
  state: 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'refused' | 'error';
  status: { fill: string; shape: string; text: string };
  detail?: string;
}

export function linkOf(runtime: NodeRedRuntime, serverId: string): ServerLink | undefined {
  const node = runtime.red.nodes.getNode(serverId) as { link?: ServerLink } | null;
  return node?.link;
}

export type NodeStatus = { fill?: string; shape?: string; text?: string };

/**
 * The latest status of every node, from the runtime's `node-status` events (what the editor
 * shows), including those set while flows start. Call before deploying; `stop()` when done.
 */
export function watchStatuses(runtime: NodeRedRuntime): {
  of(id: string): NodeStatus | undefined;
  stop(): void;
} {
  const latest = new Map<string, NodeStatus>();
  const onStatus = (event: { id: string; status: NodeStatus }) => latest.set(event.id, event.status);
  runtime.red.events.on('node-status', onStatus);
  return {
    of: (id) => latest.get(id),
    stop: () => runtime.red.events.off('node-status', onStatus),
  };
}
