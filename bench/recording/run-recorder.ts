import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { type FrameDirection, pcapFileHeader, pcapRecord } from './frame-capture.ts';
import { GzipAppender } from './gzip-appender.ts';
import { encodeLineInto, escapeKey, type Fields, LineBuffer, type Tags } from './line-protocol.ts';
import {
  type AssertionResult,
  collectGit,
  collectVersions,
  EVENTS_FILE,
  FRAMES_FILE,
  MANIFEST_FORMAT,
  type ManifestInput,
  POINTS_FILE,
  type RunManifest,
  type RunStatus,
  writeManifest,
} from './manifest.ts';
import { REPLAY_FILE, type ReplayRecord, replayLines } from './replay-log.ts';
import type { Measurement, PointFields, PointTags } from './schema.ts';
import { judgeRun } from './verdict.ts';

/**
 * Somewhere else the recorder copies its line protocol to (an InfluxDB server). `write` must
 * return at once; the sink batches, retries and spools on its own.
 */
export interface LineSink {
  readonly name: string;
  /** Newline-terminated line-protocol text holding `lines` points. */
  write(text: string, lines: number): void;
  /** Figures for the manifest and the `recorder` measurement (spooled bytes, retries, …). */
  stats(): Record<string, number | string | boolean>;
  /** Sends everything still queued or spooled (waiting up to the sink's own limit), then stops. */
  close(): Promise<void>;
  /** Called once the run folder exists (e.g. to place a spool in it); `log` adds a run event. */
  open?(runDir: string, log: (kind: string, message: string) => void): Promise<void>;
}

export interface RunRecorderOptions {
  /** Parent folder of run folders, e.g. ./runs. Created if missing. */
  runsDir: string;
  /** Scenario name; becomes part of the run folder name. */
  scenario: string;
  /** Grid, seed, devices, … copied into manifest.json. */
  manifest?: ManifestInput;
  /** How often queued data is compressed and appended. At most 1000. @default 250 */
  flushInterval_ms?: number;
  /** zlib level of points and frames files. @default 1 */
  gzipLevel?: number;
  /** Extra destinations (InfluxDB) that receive every point too. */
  sinks?: LineSink[];
  /** Wall clock in ns since the epoch; injected by tests. @default Date.now() based */
  now_ns?: () => bigint;
  /** Queued text above which a flush starts before the timer. @default 4 MiB */
  eagerFlushBytes?: number;
  /**
   * Database named in points.lp.gz's header, for `influx -import` (InfluxDB 1.x). The header lines
   * are line-protocol comments, so other readers skip them. @default 'gridloop'
   */
  importDatabase?: string;
}

export interface RecorderEvent {
  kind: string;
  message: string;
  target?: string;
  /** Who raised it: twin, operator, scenario, recorder, device… */
  source?: string;
  /** Twin time; placed at start_ns + t_s when `time_ns` is absent. */
  t_s?: number;
  time_ns?: bigint;
  /** Extra details kept in events.jsonl (not sent to InfluxDB). */
  data?: Record<string, unknown>;
}

export interface RecorderStats {
  points: number;
  frames: number;
  events: number;
  nonFiniteFields: number;
  rejectedPoints: number;
  /** Bytes accepted but not yet on disk, now and at worst. */
  queuedBytes: number;
  maxQueuedBytes: number;
  /** Slowest compress+append of one flush, ms. */
  maxFlushMs: number;
}

export interface RunOutcome {
  status: Exclude<RunStatus, 'incomplete'>;
  reason?: string;
  assertions?: AssertionResult[];
  /** Simulated runs: the twin's network-solver work, kept in the manifest. */
  twinSolver?: Record<string, unknown>;
}

/** How often the recorder writes its own `recorder` point (queue depth, backlog), ns. */
const SELF_REPORT_PERIOD_NS = 1_000_000_000n;

function timestampId(date: Date): string {
  const iso = date.toISOString(); // 2026-11-24T13:18:39.123Z
  return `${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}-${iso.slice(20, 23)}`;
}

function safeScenarioName(scenario: string): string {
  const cleaned = scenario.replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '');
  return cleaned.slice(0, 60) || 'run';
}

/**
 * Records one run into its own folder (see the API note in index.ts and docs/recording.md).
 * Every write method is synchronous and cheap: it encodes and queues; a timer compresses and
 * appends queued data at least every second, off the caller's thread.
 */
/** Size of the buffers lines are encoded into; a full one is handed to the points file. */
const CHUNK_BYTES = 1 << 20;
/**
 * A chunk is sealed once less than this is left in it, so that a line (almost) never outgrows
 * it: growing copies the whole chunk. Only a line longer than this (a huge string field) does.
 */
const CHUNK_HEADROOM = 64 * 1024;

export class RunRecorder {
  /**
   * Lines are encoded straight into byte chunks rather than concatenated into one long string:
   * a string rope of a second's worth of lines survives into V8's old generation and made garbage
   * collection the largest cost of recording.
   */
  private readonly chunk = new LineBuffer(CHUNK_BYTES);
  private readonly filled: Buffer[] = [];
  private filledBytes = 0;
  private textLines = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly runTag: string;
  private readonly skipped = { nonFinite: 0 };
  private readonly assertions: AssertionResult[] = [];
  private readonly counts = { points: 0, frames: 0, events: 0, rejectedPoints: 0, replayRecords: 0 };
  private readonly errors: string[] = [];
  private lastSelfReport_ns = 0n;
  private accepting = true;
  private closing: Promise<RunManifest> | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private sinksClosing = false;

  private constructor(
    /** The run folder. */
    readonly dir: string,
    readonly manifest: RunManifest,
    /** Run start, ns since the Unix epoch: twin time 0. */
    readonly start_ns: bigint,
    private readonly pointsFile: GzipAppender,
    private readonly framesFile: GzipAppender,
    private readonly eventsFile: GzipAppender,
    private readonly replayFile: GzipAppender,
    private readonly sinks: LineSink[],
    private readonly now_ns: () => bigint,
    flushInterval_ms: number,
    private readonly eagerFlushBytes: number,
  ) {
    this.runTag = `,run=${escapeKey(manifest.id)}`;
    this.timer = setInterval(() => this.flushQueued(), flushInterval_ms);
    this.timer.unref();
  }

  /** Creates `runsDir/<timestamp>-<scenario>/`, its files and an `incomplete` manifest. */
  static async open(options: RunRecorderOptions): Promise<RunRecorder> {
    const now_ns = options.now_ns ?? (() => BigInt(Date.now()) * 1_000_000n);
    const flushInterval_ms = options.flushInterval_ms ?? 250;
    if (!(flushInterval_ms > 0 && flushInterval_ms <= 1000)) {
      throw new RangeError(`flushInterval_ms must be in (0, 1000], got ${flushInterval_ms}`);
    }
    const start_ns = now_ns();
    const startDate = new Date(Number(start_ns / 1_000_000n));
    await mkdir(options.runsDir, { recursive: true });
    const base = `${timestampId(startDate)}-${safeScenarioName(options.scenario)}`;
    let id = base;
    let dir = join(options.runsDir, id);
    for (let attempt = 2; ; attempt++) {
      try {
        await mkdir(dir);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 1000) throw err;
        id = `${base}-${attempt}`;
        dir = join(options.runsDir, id);
      }
    }
    const [versions, git] = await Promise.all([collectVersions(), collectGit()]);
    const input = options.manifest ?? {};
    const manifest: RunManifest = {
      ...input,
      format: MANIFEST_FORMAT,
      id,
      scenario: options.scenario,
      devices: input.devices ?? [],
      versions,
      git,
      start: startDate.toISOString(),
      start_ns: String(start_ns),
      status: 'incomplete',
      files: { points: POINTS_FILE, frames: FRAMES_FILE, events: EVENTS_FILE, replay: REPLAY_FILE },
    };
    await writeManifest(dir, manifest);
    const level = options.gzipLevel ?? 1;
    const pointsFile = await GzipAppender.open(join(dir, POINTS_FILE), level);
    const framesFile = await GzipAppender.open(join(dir, FRAMES_FILE), level);
    const eventsFile = await GzipAppender.open(join(dir, EVENTS_FILE), 0);
    const replayFile = await GzipAppender.open(join(dir, REPLAY_FILE), level);
    framesFile.append(pcapFileHeader());
    // InfluxDB 1.x's `influx -import` needs a DML section naming the database; to line-protocol
    // readers (influx write, Telegraf, our reader) these are comments.
    const database = (options.importDatabase ?? 'gridloop').replace(/[\r\n]/g, '');
    pointsFile.append(`# DML\n# CONTEXT-DATABASE: ${database}\n`);
    const recorder = new RunRecorder(
      dir,
      manifest,
      start_ns,
      pointsFile,
      framesFile,
      eventsFile,
      replayFile,
      options.sinks ?? [],
      now_ns,
      flushInterval_ms,
      options.eagerFlushBytes ?? 4 * 1024 * 1024,
    );
    for (const sink of options.sinks ?? []) {
      await sink.open?.(dir, (kind, message) => {
        recorder.event({ kind, message, source: 'recorder', target: sink.name });
        // While the sinks close the timer is stopped: hand this event (`sink-up` as a back-fill
        // ends) to them at once, or it would reach the files but never the servers.
        if (recorder.sinksClosing) void recorder.flushQueued();
      });
    }
    recorder.event({
      kind: 'run-start',
      message: `run ${id} started`,
      source: 'recorder',
      time_ns: start_ns,
    });
    return recorder;
  }

  /** The run id (folder name). */
  get id(): string {
    return this.manifest.id;
  }

  /** Converts twin time (s since start) to a point timestamp. */
  timeOf(t_s: number): bigint {
    return this.start_ns + BigInt(Math.round(t_s * 1e9));
  }

  /**
   * Queues one point. The `run` tag is added. A point that cannot be written (no finite field,
   * empty name) is not thrown at the caller: it is counted and logged as a `recorder-error` event.
   */
  point<M extends Measurement>(
    measurement: M,
    tags: PointTags<M>,
    fields: PointFields<M>,
    time_ns: bigint,
  ): void {
    this.line(measurement, tags as Tags, fields as Fields, time_ns);
  }

  /**
   * Queues one point of any measurement, outside the published schema (bench/recording/schema.ts):
   * for tests of the line format and for tools that record their own measurements.
   */
  line(measurement: string, tags: Tags, fields: Fields, time_ns: bigint): void {
    if (!this.accepting) return;
    time_ns = this.distinctTime(measurement, tags, time_ns);
    try {
      encodeLineInto(this.chunk, measurement, tags, fields, time_ns, this.skipped, this.runTag);
    } catch (err) {
      this.counts.rejectedPoints++;
      if (this.counts.rejectedPoints <= 10) {
        this.event({
          kind: 'recorder-error',
          source: 'recorder',
          message: `point rejected: ${(err as Error).message}`,
          time_ns,
        });
      }
      return;
    }
    this.textLines++;
    this.counts.points++;
    if (this.chunk.length > CHUNK_BYTES - CHUNK_HEADROOM) this.sealChunk();
    if (this.filledBytes + this.chunk.length >= this.eagerFlushBytes) this.flushQueued();
  }

  /**
   * InfluxDB keeps one point per series and timestamp: a second line of the same series at the
   * same nanosecond (a link going offline and online within one batch, two breaker events in
   * one step) would silently replace the first. Such a line is written 1 ns after the series'
   * latest line instead (docs/influx-schema.md, "One line per series and instant"). Writers
   * write each series in time order; a line older than its series' latest is left where it is.
   */
  private distinctTime(measurement: string, tags: Tags, time_ns: bigint): bigint {
    let series = measurement;
    for (const key in tags) {
      const value = tags[key];
      if (value !== undefined && value !== '') series += `,${key}=${value}`;
    }
    const latest = this.seriesLatest.get(series);
    if (latest === undefined) {
      this.seriesLatest.set(series, { asked: time_ns, written: time_ns });
      return time_ns;
    }
    if (time_ns < latest.asked) return time_ns;
    const written = time_ns > latest.written ? time_ns : latest.written + 1n;
    latest.asked = time_ns;
    latest.written = written;
    return written;
  }
  /** Per series (measurement and tags): the latest timestamp asked for and the one written. */
  private readonly seriesLatest = new Map<string, { asked: bigint; written: bigint }>();

  private sealChunk(): void {
    if (this.chunk.length === 0) return;
    this.filledBytes += this.chunk.length;
    this.filled.push(this.chunk.take(CHUNK_BYTES));
  }

  /** Logs an event or annotation (also operator commands) to events.jsonl and as an `event` point. */
  event(event: RecorderEvent): void {
    if (!this.accepting) return;
    const time_ns =
      event.time_ns ??
      (event.t_s !== undefined && Number.isFinite(event.t_s) ? this.timeOf(event.t_s) : this.now_ns());
    const record: Record<string, unknown> = {
      time_ns: String(time_ns),
      t_s: event.t_s ?? Number(time_ns - this.start_ns) / 1e9,
      kind: event.kind,
      message: event.message,
    };
    if (event.target !== undefined) record.target = event.target;
    if (event.source !== undefined) record.source = event.source;
    if (event.data !== undefined) record.data = event.data;
    let json: string;
    try {
      json = JSON.stringify(record);
    } catch (err) {
      json = JSON.stringify({ ...record, data: `unserialisable: ${(err as Error).message}` });
    }
    this.eventsFile.append(`${json}\n`);
    this.counts.events++;
    const tags: PointTags<'event'> = { kind: event.kind, source: event.source };
    const fields: PointFields<'event'> = { message: event.message };
    if (event.target !== undefined) fields.target = event.target;
    this.point('event', tags, fields, time_ns);
  }

  /** Captures one raw device frame as it crossed the link. */
  frame(direction: FrameDirection, deviceId: string, bytes: Uint8Array, time_ns: bigint): void {
    if (!this.accepting) return;
    try {
      this.framesFile.append(pcapRecord(direction, deviceId, bytes, time_ns));
      this.counts.frames++;
    } catch (err) {
      this.event({
        kind: 'recorder-error',
        source: 'recorder',
        message: `frame not captured: ${(err as Error).message}`,
        target: deviceId,
        time_ns,
      });
    }
  }

  /** Appends step-stamped replay records (device inputs, commands, output hashes) from the loop. */
  replay(records: readonly ReplayRecord[]): void {
    if (!this.accepting || records.length === 0) return;
    this.replayFile.append(replayLines(records));
    this.counts.replayRecords += records.length;
  }

  /**
   * Records a judged scenario assertion (an `assertion` point and a manifest entry). Give each
   * assertion once: here or in `close({ assertions })`, not both.
   */
  assertion(result: AssertionResult): void {
    if (!this.accepting) return;
    this.assertions.push(result);
    const time_ns = result.t_s !== undefined ? this.timeOf(result.t_s) : this.now_ns();
    const fields: PointFields<'assertion'> = { passed: result.passed };
    if (result.value !== undefined && Number.isFinite(result.value)) fields.value = result.value;
    if (result.message !== undefined) fields.message = result.message;
    this.point('assertion', { name: result.name }, fields, time_ns);
  }

  stats(): RecorderStats {
    return {
      ...this.counts,
      nonFiniteFields: this.skipped.nonFinite,
      queuedBytes:
        this.filledBytes +
        this.chunk.length +
        this.pointsFile.stats.queuedBytes +
        this.framesFile.stats.queuedBytes +
        this.eventsFile.stats.queuedBytes +
        this.replayFile.stats.queuedBytes,
      maxQueuedBytes: this.pointsFile.stats.maxQueuedBytes + this.framesFile.stats.maxQueuedBytes,
      maxFlushMs: Math.max(this.pointsFile.stats.maxFlushMs, this.framesFile.stats.maxFlushMs),
    };
  }

  private selfReport(): void {
    const now = this.now_ns();
    if (now - this.lastSelfReport_ns < SELF_REPORT_PERIOD_NS) return;
    this.lastSelfReport_ns = now;
    const s = this.stats();
    this.point(
      'recorder',
      {},
      {
        queue_bytes: s.queuedBytes,
        max_queue_bytes: s.maxQueuedBytes,
        max_flush_ms: s.maxFlushMs,
        points: s.points,
        frames: s.frames,
        rejected_points: s.rejectedPoints,
      },
      now,
    );
    for (const sink of this.sinks) {
      // InfluxSink's figures are the `sink` fields of the schema; other sinks may report others.
      const fields: Fields = { ...sink.stats() };
      if (Object.keys(fields).length > 0) this.line('sink', { sink: sink.name }, fields, now);
    }
  }

  /** Hands queued data to the files (compressed off-thread) and the sinks. */
  private flushQueued(): Promise<void> {
    if (this.accepting) this.selfReport();
    this.sealChunk();
    if (this.filled.length > 0) {
      const chunks = this.filled.splice(0);
      const lines = this.textLines;
      this.filledBytes = 0;
      this.textLines = 0;
      for (const chunk of chunks) this.pointsFile.append(chunk);
      const text = this.sinks.length > 0 ? chunks.map((c) => c.toString('utf8')).join('') : '';
      for (const sink of this.sinks) {
        try {
          sink.write(text, lines);
        } catch (err) {
          this.noteError(`sink ${sink.name}: ${(err as Error).message}`);
        }
      }
    }
    const done = Promise.all([
      this.pointsFile.flush(),
      this.framesFile.flush(),
      this.eventsFile.flush(),
      this.replayFile.flush(),
    ]).then(
      () => {},
      (err: Error) => this.noteError(err.message),
    );
    this.flushing = done;
    return done;
  }

  private noteError(message: string): void {
    if (this.errors.length < 20 && !this.errors.includes(message)) this.errors.push(message);
  }

  /** Resolves once everything queued so far is on disk (readable by another process). */
  async flush(): Promise<void> {
    await this.flushQueued();
  }

  /**
   * Flushes, closes the files and sinks, and writes the final manifest. Safe to call twice; the
   * first outcome wins.
   */
  close(outcome: RunOutcome = { status: 'complete' }): Promise<RunManifest> {
    this.closing ??= this.finish(outcome);
    return this.closing;
  }

  private async finish(outcome: RunOutcome): Promise<RunManifest> {
    clearInterval(this.timer);
    const end_ns = this.now_ns();
    for (const a of outcome.assertions ?? []) this.assertion(a);
    // Judged with what is known now; judged again below should closing the files fail.
    const verdict = judgeRun({ ...outcome, assertions: this.assertions });
    const judgedAt = this.assertions.reduce(
      (latest, a) => (a.t_s !== undefined && this.timeOf(a.t_s) > latest ? this.timeOf(a.t_s) : latest),
      end_ns,
    );
    this.point(
      'verdict',
      {},
      {
        passed: verdict.passed,
        status: outcome.status,
        assertions: BigInt(verdict.assertions),
        failures: BigInt(verdict.failed.length),
        summary: verdict.summary,
      },
      judgedAt,
    );
    this.event({
      kind: 'run-end',
      message: `run ${this.id} ${outcome.status}${outcome.reason ? `: ${outcome.reason}` : ''}; ${verdict.summary}`,
      source: 'recorder',
      time_ns: end_ns,
    });
    this.lastSelfReport_ns = 0n;
    this.selfReport();
    // Everything up to run-end goes to the sinks; then the sinks drain (their back-fill may log
    // sink-up events while they do, which still reach the files), then the files close.
    await this.flushing;
    await this.flushQueued();
    this.sinksClosing = true;
    const sinkResults = await Promise.allSettled(this.sinks.map((sink) => sink.close()));
    this.accepting = false;
    await this.flushQueued();
    const closeResults = [
      ...sinkResults,
      ...(await Promise.allSettled([
        this.pointsFile.close(),
        this.framesFile.close(),
        this.eventsFile.close(),
        this.replayFile.close(),
      ])),
    ];
    for (const result of closeResults) {
      if (result.status === 'rejected') this.noteError((result.reason as Error).message);
    }
    const stats = this.stats();
    const status = this.errors.length > 0 && outcome.status === 'complete' ? 'failed' : outcome.status;
    const reason = [outcome.reason, ...this.errors].filter(Boolean).join('; ');
    const manifest: RunManifest = {
      ...this.manifest,
      end: new Date(Number(end_ns / 1_000_000n)).toISOString(),
      end_ns: String(end_ns),
      status,
      counts: {
        points: stats.points,
        frames: stats.frames,
        events: stats.events,
        nonFiniteFields: stats.nonFiniteFields,
        rejectedPoints: stats.rejectedPoints,
        replayRecords: this.counts.replayRecords,
      },
      recorder: {
        maxQueuedBytes: stats.maxQueuedBytes,
        maxFlushMs: Math.round(stats.maxFlushMs * 1000) / 1000,
        pointsFileBytes: this.pointsFile.stats.fileBytes,
        framesFileBytes: this.framesFile.stats.fileBytes,
      },
      assertions: this.assertions,
      verdict:
        status === outcome.status ? verdict : judgeRun({ status, reason, assertions: this.assertions }),
    };
    if (reason) manifest.reason = reason;
    if (outcome.twinSolver) manifest.twinSolver = outcome.twinSolver;
    if (this.sinks.length > 0) manifest.sinks = this.sinks.map((s) => ({ name: s.name, ...s.stats() }));
    await writeManifest(this.dir, manifest);
    Object.assign(this.manifest, manifest);
    return manifest;
  }
}
