import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Every server process started by these helpers, so none outlives the test process. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** A port nobody listens on right now, on 127.0.0.1 (the kernel picks it). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface LoopbackServer {
  /** e.g. "influxd" */
  readonly name: string;
  /** HTTP port on 127.0.0.1; stays the same across stop/kill and restart. */
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** Temp directory holding the server's config and data; kept across restarts. */
  readonly dir: string;
  readonly running: boolean;
  /** Graceful stop (SIGTERM; SIGKILL after 10 s). Data is kept for restart(). */
  stop(): Promise<void>;
  /** Abrupt stop, as in a crash (SIGKILL). Data is kept for restart(). */
  kill(): Promise<void>;
  /** Starts the process again on the same port with the same data; resolves when it answers. */
  restart(): Promise<void>;
  /** Stops the process and deletes the temp directory. Safe to call twice. */
  dispose(): Promise<void>;
  /** The last few KiB of the server's stdout/stderr, for failure messages. */
  log(): string;
}

export interface LaunchSpec {
  name: string;
  /** Executable, looked up in PATH. */
  command: string;
  /** Prepares the data dir (config files) for this port; called before the first start. */
  prepare?(dir: string, port: number): Promise<void>;
  args(dir: string, port: number): string[];
  /** Path answered with 2xx once the server is ready, e.g. /ping (HTTP servers). */
  readyPath?: string;
  /** For servers that do not speak HTTP (Redis): resolves true once the server answers. */
  isReady?(port: number): Promise<boolean>;
  /** @default 30000 */
  readyTimeout_ms?: number;
}

const LOG_TAIL = 8192;

/**
 * Starts a server process on a free loopback port inside a fresh temp directory, waits until
 * its HTTP ready path answers, and returns a handle to stop, kill, restart and dispose of it.
 * A missing executable is an error (the suite fails), never a skip.
 */
export async function startLoopbackServer(spec: LaunchSpec): Promise<LoopbackServer> {
  const dir = await mkdtemp(join(tmpdir(), `gridloop-${spec.name}-`));
  let lastError: Error | undefined;
  // The port can be taken between freePort() and the server's bind: try a few.
  for (let attempt = 0; attempt < 4; attempt++) {
    const port = await freePort();
    await spec.prepare?.(dir, port);
    const handle = new ServerHandle(spec, dir, port);
    try {
      await handle.restart();
      return handle;
    } catch (err) {
      lastError = err as Error;
      await handle.stop();
      if (!/address already in use|bind/i.test(handle.log())) break;
    }
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError ?? new Error(`${spec.name} did not start`);
}

class ServerHandle implements LoopbackServer {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private output = '';
  private disposed = false;

  constructor(
    private readonly spec: LaunchSpec,
    readonly dir: string,
    readonly port: number,
  ) {}

  get name() {
    return this.spec.name;
  }
  get url() {
    return `http://127.0.0.1:${this.port}`;
  }
  get running() {
    return this.child !== undefined;
  }
  log() {
    return this.output;
  }

  async restart(): Promise<void> {
    if (this.child) throw new Error(`${this.name} is already running`);
    if (this.disposed) throw new Error(`${this.name} was disposed`);
    const child = spawn(this.spec.command, this.spec.args(this.dir, this.port), {
      cwd: this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    live.add(child);
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-LOG_TAIL);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    let exitInfo: string | undefined;
    this.exited = new Promise((resolve) => {
      child.once('error', (err) => {
        exitInfo = `could not start '${this.spec.command}': ${err.message} (is the Debian package installed? see scripts/ensure-test-deps.sh)`;
        live.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
      child.once('exit', (code, signal) => {
        exitInfo ??= `exited with ${signal ?? code}`;
        live.delete(child);
        if (this.child === child) this.child = undefined;
        resolve();
      });
    });
    const deadline = Date.now() + (this.spec.readyTimeout_ms ?? 30_000);
    while (Date.now() < deadline) {
      if (exitInfo) throw new Error(`${this.name} on port ${this.port} ${exitInfo}\n${this.output}`);
      try {
        if (this.spec.isReady) {
          if (await this.spec.isReady(this.port)) return;
        } else {
          const response = await fetch(`${this.url}${this.spec.readyPath ?? '/'}`, {
            signal: AbortSignal.timeout(1000),
          });
          await response.arrayBuffer();
          if (response.ok) return;
        }
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await this.kill();
    throw new Error(
      `${this.name} on port ${this.port} did not answer ${this.spec.readyPath ?? 'its readiness probe'} in time\n${this.output}`,
    );
  }

  private async signal(signal: NodeJS.Signals, grace_ms: number): Promise<void> {
    const child = this.child;
    if (!child) return this.exited;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), grace_ms);
    await this.exited;
    clearTimeout(timer);
  }

  stop(): Promise<void> {
    return this.signal('SIGTERM', 10_000);
  }

  kill(): Promise<void> {
    return this.signal('SIGKILL', 0);
  }

  async dispose(): Promise<void> {
    await this.stop();
    this.disposed = true;
    await rm(this.dir, { recursive: true, force: true });
  }
}
