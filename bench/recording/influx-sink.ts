import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { HttpError, InfluxDB } from '@influxdata/influxdb-client';
import type { LineSink } from './run-recorder.ts';

/** InfluxDB 2.x/3.x/Cloud, or 1.8+ in compatibility mode, or VictoriaMetrics: `/api/v2/write`. */
export interface InfluxV2Target {
  api: 'v2';
  /** e.g. http://127.0.0.1:8086 */
  url: string;
  org: string;
  bucket: string;
  /** API token; for 1.8 compatibility `username:password`. */
  token?: string;
}

/** InfluxDB 1.x: `/write?db=…`. */
export interface InfluxV1Target {
  api: 'v1';
  url: string;
  database: string;
  retentionPolicy?: string;
  username?: string;
  password?: string;
}

export interface InfluxSinkOptions {
  target: InfluxV2Target | InfluxV1Target;
  /** Name used in the manifest, the `sink` measurement and the spool folder. @default "influx" */
  name?: string;
  /**
   * Folder for batches the server could not take. Defaults to `<run folder>/spool/<name>/` when
   * the sink is given to RunRecorder.open.
   */
  spoolDir?: string;
  /** Points per HTTP request. @default 20000 */
  batchLines?: number;
  /** Send a partial batch after this long. @default 200 */
  flushInterval_ms?: number;
  /** Requests in flight at once. @default 2 */
  concurrency?: number;
  /** Wait between back-fill attempts while the server is down. @default 500 */
  retryInterval_ms?: number;
  /**
   * gzip request bodies. It saves bandwidth to a remote server but costs CPU on both ends, which
   * on loopback (server on the same machine) is all it does. @default false for a loopback URL
   * (127.0.0.0/8, ::1, localhost), true otherwise
   */
  gzip?: boolean;
  /** Per-request timeout. @default 10000 */
  timeout_ms?: number;
  /** How long close() keeps trying to back-fill before leaving the spool on disk. @default 30000 */
  closeTimeout_ms?: number;
}

/** A 4xx answer: the data itself was refused (type conflict, bad line); retrying cannot help. */
function isRefusal(err: unknown): boolean {
  return (
    err instanceof HttpError &&
    err.statusCode >= 400 &&
    err.statusCode < 500 &&
    err.statusCode !== 429 &&
    err.statusCode !== 408
  );
}

/** Whether `url` names this machine (no network between us and the server). */
export function isLoopbackUrl(url: string): boolean {
  let host: string;
  try {
    host = new URL(url).hostname;
  } catch {
    return false;
  }
  return host === 'localhost' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

interface SpoolFile {
  name: string;
  lines: number;
}

/**
 * Copies the recorder's line protocol to an InfluxDB server through @influxdata/influxdb-client.
 *
 * Batches are sent in the background. When a request fails because the server is unreachable,
 * times out or answers 5xx/429, the batch goes to a spool folder on disk and the sink switches to
 * spooling every later batch too; a back-fill loop re-sends spooled batches oldest first and,
 * once the spool is empty, the sink sends directly again. Points are never dropped: a batch the
 * server refuses (4xx) is kept in the spool folder as `refused-*.lp` and counted.
 */
export class InfluxSink implements LineSink {
  readonly name: string;
  private readonly client: InfluxDB;
  /** `/api/v2/write?org…` or `/write?db…` with precision=ns. */
  private readonly writePath: string;
  private spoolDir: string | undefined;
  private pendingText = '';
  private pendingLines = 0;
  private inFlight = 0;
  private readonly idle: (() => void)[] = [];
  private readonly spool: SpoolFile[] = [];
  private spoolWrites: Promise<void> = Promise.resolve();
  private spoolWritesPending = 0;
  private log: (kind: string, message: string) => void = () => {};
  private spoolSeq = 0;
  private down = false;
  private backfilling: Promise<void> | undefined;
  private closed = false;
  private closeDeadline = Number.POSITIVE_INFINITY;
  private readonly timer: NodeJS.Timeout;
  private readonly counters = {
    sent_points: 0,
    spooled_points: 0,
    backfilled_points: 0,
    refused_points: 0,
    failures: 0,
    max_backlog_points: 0,
    /** Points neither sent nor spooled (the spool folder was unwritable); still in points.lp.gz. */
    lost_points: 0,
  };
  private lastError = '';
  private readonly batchLines: number;
  private readonly concurrency: number;
  private readonly retryInterval_ms: number;
  private readonly closeTimeout_ms: number;
  /** Bodies larger than this are gzipped (the client's option); infinite for no gzip. */
  private readonly gzipThreshold: number;

  constructor(options: InfluxSinkOptions) {
    this.name = options.name ?? 'influx';
    if (!/^[A-Za-z0-9._-]+$/.test(this.name))
      throw new TypeError(`sink name '${this.name}' must be [A-Za-z0-9._-]+`);
    this.batchLines = options.batchLines ?? 20_000;
    this.concurrency = Math.max(1, options.concurrency ?? 2);
    this.retryInterval_ms = options.retryInterval_ms ?? 500;
    this.closeTimeout_ms = options.closeTimeout_ms ?? 30_000;
    this.spoolDir = options.spoolDir;
    const target = options.target;
    const timeout = options.timeout_ms ?? 10_000;
    this.gzipThreshold = (options.gzip ?? !isLoopbackUrl(target.url)) ? 1000 : Number.POSITIVE_INFINITY;
    if (target.api === 'v2') {
      // The client's transport sends to the v2 write endpoint exactly as its WriteApi does (token
      // header, gzip, timeout, HttpError), but takes the batch as one text: WriteApi splits it into
      // lines and measures each line's UTF-8 length in JavaScript, which capped throughput.
      // Batching, retries and buffering are this class's job, with a disk spool.
      this.client = new InfluxDB({ url: target.url, token: target.token, timeout });
      const params = new URLSearchParams({ org: target.org, bucket: target.bucket, precision: 'ns' });
      this.writePath = `/api/v2/write?${params}`;
    } else {
      this.client = new InfluxDB({ url: target.url, timeout });
      const params = new URLSearchParams({ db: target.database, precision: 'ns' });
      if (target.retentionPolicy) params.set('rp', target.retentionPolicy);
      if (target.username !== undefined) params.set('u', target.username);
      if (target.password !== undefined) params.set('p', target.password);
      this.writePath = `/write?${params}`;
    }
    this.timer = setInterval(() => this.dispatch(), options.flushInterval_ms ?? 200);
    this.timer.unref();
  }

  /** Called by RunRecorder.open with the run folder, to place the spool inside it. */
  async open(runDir: string, log?: (kind: string, message: string) => void): Promise<void> {
    this.spoolDir ??= join(runDir, 'spool', this.name);
    if (log) this.log = log;
  }

  write(text: string, lines: number): void {
    if (this.closed) return;
    this.pendingText += text;
    this.pendingLines += lines;
    if (this.pendingLines >= this.batchLines) this.dispatch();
  }

  /** Points accepted but not yet confirmed by the server (pending, in flight or spooled). */
  backlogPoints(): number {
    return this.pendingLines + this.spool.reduce((n, f) => n + f.lines, 0) + this.inFlightLines;
  }
  private inFlightLines = 0;

  stats(): Record<string, number | string | boolean> {
    return {
      ...this.counters,
      backlog_points: this.backlogPoints(),
      spool_files: this.spool.length,
      state: this.down ? 'down' : 'up',
      ...(this.lastError ? { last_error: this.lastError } : {}),
    };
  }

  private dispatch(): void {
    if (this.pendingLines === 0) return;
    const backlog = this.backlogPoints();
    if (backlog > this.counters.max_backlog_points) this.counters.max_backlog_points = backlog;
    if (this.down || this.spool.length > 0) {
      this.takeBatches((text, lines) => this.toSpool(text, lines));
      return;
    }
    // Keep at most `concurrency` requests in flight; the rest waits in memory up to a few
    // batches, beyond which it goes to disk rather than growing without bound.
    this.takeBatches((text, lines) => {
      if (this.inFlight < this.concurrency) void this.send(text, lines);
      else if (this.inFlightLines + lines > this.batchLines * (this.concurrency + 4))
        this.toSpool(text, lines);
      else this.queued.push({ text, lines });
    });
  }
  private readonly queued: { text: string; lines: number }[] = [];

  /** Cuts pending text into batches of at most batchLines (at line boundaries). */
  private takeBatches(use: (text: string, lines: number) => void): void {
    let text = this.pendingText;
    let lines = this.pendingLines;
    this.pendingText = '';
    this.pendingLines = 0;
    while (lines > this.batchLines * 1.5) {
      let cut = 0;
      for (let i = 0; i < this.batchLines; i++) cut = text.indexOf('\n', cut) + 1;
      use(text.slice(0, cut), this.batchLines);
      text = text.slice(cut);
      lines -= this.batchLines;
    }
    if (lines > 0) use(text, lines);
  }

  private async post(text: string): Promise<void> {
    await this.client.transport.request(this.writePath, text, {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      gzipThreshold: this.gzipThreshold,
    });
  }

  private async send(text: string, lines: number): Promise<void> {
    this.inFlight++;
    this.inFlightLines += lines;
    try {
      await this.post(text);
      this.counters.sent_points += lines;
    } catch (err) {
      this.counters.failures++;
      this.lastError = (err as Error).message;
      if (isRefusal(err)) this.refuse(text, lines);
      else {
        if (!this.down) this.log('sink-down', `sink ${this.name}: ${this.lastError}; spooling to disk`);
        this.down = true;
        this.toSpool(text, lines);
        for (const q of this.queued.splice(0)) this.toSpool(q.text, q.lines);
      }
    } finally {
      this.inFlight--;
      this.inFlightLines -= lines;
      const next = this.queued.shift();
      if (next) {
        if (this.down) this.toSpool(next.text, next.lines);
        else void this.send(next.text, next.lines);
      }
      if (this.inFlight === 0) for (const wake of this.idle.splice(0)) wake();
    }
  }

  private spoolPath(name: string): string {
    if (!this.spoolDir)
      throw new Error(`sink ${this.name}: no spool folder (give spoolDir or pass the sink to RunRecorder)`);
    return join(this.spoolDir, name);
  }

  private toSpool(text: string, lines: number): void {
    const name = `${String(++this.spoolSeq).padStart(8, '0')}-${lines}.lp`;
    this.counters.spooled_points += lines;
    this.spoolWritesPending++;
    this.spoolWrites = this.spoolWrites.then(async () => {
      try {
        await mkdir(this.spoolPath(''), { recursive: true });
        await writeFile(this.spoolPath(name), text);
        this.spool.push({ name, lines });
      } catch (err) {
        // Still in the run's points.lp.gz; the manifest says this sink lost it.
        this.counters.lost_points += lines;
        this.lastError = `spool write failed: ${(err as Error).message}`;
      } finally {
        this.spoolWritesPending--;
      }
    });
    this.startBackfill();
  }

  private refuse(text: string, lines: number): void {
    this.counters.refused_points += lines;
    const name = `refused-${String(++this.spoolSeq).padStart(8, '0')}-${lines}.lp`;
    this.spoolWrites = this.spoolWrites.then(async () => {
      try {
        await mkdir(this.spoolPath(''), { recursive: true });
        await writeFile(this.spoolPath(name), text);
      } catch (err) {
        this.lastError = `keeping refused batch failed: ${(err as Error).message}`;
      }
    });
  }

  private startBackfill(): void {
    this.backfilling ??= this.backfill().finally(() => {
      this.backfilling = undefined;
      // A batch spooled while the loop was deciding to stop would otherwise wait forever.
      if ((this.spool.length > 0 || this.spoolWritesPending > 0) && Date.now() <= this.closeDeadline) {
        this.startBackfill();
      }
    });
  }

  /** Re-sends spooled batches oldest first until the spool is empty, then resumes direct sending. */
  private async backfill(): Promise<void> {
    for (;;) {
      await this.spoolWrites;
      const oldest = this.spool[0];
      if (!oldest) {
        if (this.spoolWritesPending > 0) continue;
        if (this.down)
          this.log('sink-up', `sink ${this.name}: back-filled ${this.counters.backfilled_points} points`);
        this.down = false;
        return;
      }
      if (Date.now() > this.closeDeadline) return;
      const path = this.spoolPath(oldest.name);
      try {
        await this.post(await readFile(path, 'utf8'));
        this.spool.shift();
        this.counters.backfilled_points += oldest.lines;
        await unlink(path);
      } catch (err) {
        this.counters.failures++;
        this.lastError = (err as Error).message;
        if (isRefusal(err)) {
          this.spool.shift();
          this.counters.refused_points += oldest.lines;
          await rename(path, this.spoolPath(`refused-${oldest.name}`)).catch(() => {});
          continue;
        }
        await new Promise((r) => setTimeout(r, this.retryInterval_ms));
      }
    }
  }

  /**
   * Sends what is pending and waits (up to closeTimeout_ms) for the spool to drain. Whatever is
   * still spooled then stays on disk, and stats() says how much. Lines written while it closes
   * (the recorder hands over the `sink-up` event this sink logs as its back-fill ends) are sent
   * too: close() repeats until nothing new is pending.
   */
  close(): Promise<void> {
    this.closing ??= this.drainAndClose();
    return this.closing;
  }
  private closing: Promise<void> | undefined;

  private async drainAndClose(): Promise<void> {
    clearInterval(this.timer);
    this.closeDeadline = Date.now() + this.closeTimeout_ms;
    do {
      this.dispatch();
      while (this.inFlight > 0) await new Promise<void>((r) => this.idle.push(r));
      await this.spoolWrites;
      while (this.backfilling) await this.backfilling;
      await this.spoolWrites;
      if (this.spool.length > 0 && Date.now() <= this.closeDeadline) {
        this.startBackfill();
        await this.backfilling;
      }
    } while (this.pendingLines > 0 && Date.now() <= this.closeDeadline);
    this.closed = true;
  }
}
