import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, type LoopbackServer, startLoopbackServer } from './loopback-server.ts';

export interface InfluxQLSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: unknown[][];
}

export interface Influxdb1Server extends LoopbackServer {
  /** Runs an InfluxQL statement (GET /query, epoch=ns) and returns the series of its first result. */
  query(influxql: string, database?: string): Promise<InfluxQLSeries[]>;
  /** CREATE DATABASE (idempotent). */
  createDatabase(name: string): Promise<void>;
}

/**
 * Starts Debian's InfluxDB 1.x (`influxd`) on 127.0.0.1 with everything in a temp directory:
 * HTTP API on a free port, the RPC (backup) port on another free loopback port, no usage
 * reporting, no self-monitoring, fsync-free WAL (tests don't need durability against power loss,
 * only against the process being killed).
 */
export async function startInfluxdb1(): Promise<Influxdb1Server> {
  const rpcPort = await freePort();
  const server = await startLoopbackServer({
    name: 'influxd',
    command: 'influxd',
    readyPath: '/ping',
    async prepare(dir, port) {
      for (const sub of ['meta', 'data', 'wal']) await mkdir(join(dir, sub), { recursive: true });
      await writeFile(
        join(dir, 'influxdb.conf'),
        `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"
[meta]
  dir = "${join(dir, 'meta')}"
  logging-enabled = false
[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false
  cache-snapshot-write-cold-duration = "10s"
[monitor]
  store-enabled = false
[subscriber]
  enabled = false
[continuous_queries]
  enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${port}"
  log-enabled = false
  pprof-enabled = false
  max-body-size = 0
[logging]
  level = "warn"
`,
      );
    },
    args: (dir) => ['-config', join(dir, 'influxdb.conf')],
  });
  const query = async (influxql: string, database?: string): Promise<InfluxQLSeries[]> => {
    const params = new URLSearchParams({ q: influxql, epoch: 'ns' });
    if (database) params.set('db', database);
    const response = await fetch(`${server.url}/query`, {
      method: 'POST',
      body: params,
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await response.json()) as {
      error?: string;
      results?: { error?: string; series?: InfluxQLSeries[] }[];
    };
    const error = body.error ?? body.results?.[0]?.error;
    if (!response.ok || error) throw new Error(`influxd query '${influxql}': ${error ?? response.status}`);
    return body.results?.[0]?.series ?? [];
  };
  return Object.assign(server, {
    query,
    createDatabase: async (name: string) => {
      await query(`CREATE DATABASE "${name.replace(/"/g, '\\"')}"`);
    },
  });
}
