/**
 * Campaigns on Redis with BullMQ (docs/campaigns.md § Distributed): the coordinator adds each run
 * as a job on its version's queue `gridloop-runs-<version>` (job id = campaign key + run id, so adding
 * twice is a no-op) and stores results as they complete; `gridloop worker` processes of the same
 * version on any machine take jobs.
 *
 * Exactly-once results rest on three things. A job's id is fixed by the campaign and the run's
 * parameters. A worker renews its lock while it runs; when it dies (SIGKILL, power cut) the lock
 * lapses after `stall_s` and BullMQ's stalled-job check puts the job back for another worker. The
 * coordinator writes each result once (CampaignStore.put is create-only), removes the job only
 * after the result is on disk, and re-adds any pending run Redis no longer knows (a Redis restart
 * without persistence), so a result is neither lost nor duplicated.
 */
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { type Job, Queue, QueueEvents, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { errorResult, type RunResult } from './execute.ts';
import type { Campaign, RunSpec } from './load.ts';
import { type RunBackend, WorkerPool } from './pool.ts';
import { codeVersion } from './version.ts';

/** Prefix of the campaign queues: one per gridloop version, `gridloop-runs-<version>`. */
export const QUEUE_PREFIX = 'gridloop-runs-';

/**
 * The queue of one gridloop version. A worker takes jobs only from its own version's queue, so a
 * worker of another version refuses a campaign's jobs by never taking them: they wait, unfailed,
 * for a worker of the coordinator's version (docs/campaigns.md § Versions).
 */
export const queueName = (version: string) => `${QUEUE_PREFIX}${version}`;

/** BullMQ's key prefix (its default), which its connection names start with. */
const BULL_PREFIX = 'bull';

/**
 * Campaign workers connected to Redis, by gridloop version (from their connection names, which
 * BullMQ sets to the queue's name, base64, and the worker's name). Empty where CLIENT LIST is
 * not allowed (managed Redis).
 */
export async function connectedWorkers(redis: Redis): Promise<{ version: string; name: string }[]> {
  let list: string;
  try {
    list = (await redis.client('LIST')) as string;
  } catch {
    return [];
  }
  const workers: { version: string; name: string }[] = [];
  for (const m of list.matchAll(/ name=(\S+)/g)) {
    const [prefix, queue64, w, name] = m[1]!.split(':');
    if (prefix !== BULL_PREFIX || w !== 'w' || !queue64 || !name) continue;
    const queue = Buffer.from(queue64, 'base64').toString();
    if (queue.startsWith(QUEUE_PREFIX)) workers.push({ version: queue.slice(QUEUE_PREFIX.length), name });
  }
  return workers;
}

/** Default stall time, s: BullMQ's own default lock duration (30 s), stated rather than inherited. */
export const DEFAULT_STALL_S = 30;

/** What a job carries: the run, the figure columns and the coordinator's code version. */
export interface JobData {
  spec: RunSpec;
  columns: string[];
  version: string;
}

/** Redis cannot be used: unreachable, or configured so that BullMQ could lose jobs. */
export class RedisSetupError extends Error {}

/** A connection as BullMQ needs it: commands wait through reconnects instead of failing. */
function connection(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: null, enableReadyCheck: true });
}

/**
 * Checks that Redis answers and keeps every key (maxmemory-policy noeviction): an evicting Redis
 * may drop a job silently. Throws RedisSetupError saying what to do.
 */
export async function checkRedis(url: string): Promise<void> {
  let probe: Redis;
  try {
    probe = new Redis(url, {
      lazyConnect: true,
      connectTimeout: 3000,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
  } catch (err) {
    throw new RedisSetupError(
      `--redis ${url}: not a Redis URL (${(err as Error).message}); e.g. redis://127.0.0.1:6379`,
    );
  }
  probe.on('error', () => {});
  try {
    await probe.connect();
  } catch (err) {
    probe.disconnect();
    throw new RedisSetupError(
      `cannot reach Redis at ${url} (${(err as Error).message}): start it (Debian: apt-get install redis-server) or check the --redis URL`,
    );
  }
  try {
    const [, policy] = ((await probe.config('GET', 'maxmemory-policy')) as string[]) ?? [];
    if (policy && policy !== 'noeviction')
      throw new RedisSetupError(
        `Redis at ${url} has maxmemory-policy ${policy}: it may evict queued jobs. Set it to noeviction (redis-cli -u ${url} config set maxmemory-policy noeviction, and in redis.conf)`,
      );
  } catch (err) {
    if (err instanceof RedisSetupError) throw err;
    // CONFIG disabled (managed Redis): BullMQ warns about the policy itself.
  } finally {
    probe.disconnect();
  }
}

export interface RedisBackendOptions {
  url: string;
  campaign: Campaign;
  dir: string;
  version: string;
  /** @default DEFAULT_STALL_S */
  stall_s?: number;
  /** Jobs queued in Redis at once. @default DEFAULT_WINDOW */
  window?: number;
  /** Notices for the terminal (no worker of this version connected, and when one comes). */
  log?: (line: string) => void;
}

/** Jobs the coordinator keeps queued at once (more are added as results come in). */
export const DEFAULT_WINDOW = 2000;

/** The coordinator's side: jobs in, results out. */
export class RedisBackend implements RunBackend {
  private closed = false;
  private wake?: () => void;

  private constructor(
    private readonly options: RedisBackendOptions,
    private readonly queue: Queue<JobData, RunResult>,
    private readonly events: QueueEvents,
    /** BullMQ leaves connections it was given open: closed here. */
    private readonly connections: Redis[],
  ) {}

  static async connect(options: RedisBackendOptions): Promise<RedisBackend> {
    await checkRedis(options.url);
    const connections = [connection(options.url), connection(options.url)];
    const name = queueName(options.version);
    const queue = new Queue<JobData, RunResult>(name, { connection: connections[0]! });
    const events = new QueueEvents(name, { connection: connections[1]! });
    queue.on('error', () => {});
    events.on('error', () => {});
    await queue.waitUntilReady();
    await events.waitUntilReady();
    return new RedisBackend(options, queue, events, connections);
  }

  private jobId(id: string): string {
    return `${this.options.campaign.key}-${id}`;
  }

  private async add(specs: readonly RunSpec[]): Promise<void> {
    const attempts = this.options.campaign.retries + 1;
    for (let i = 0; i < specs.length; i += 500) {
      await this.queue.addBulk(
        specs.slice(i, i + 500).map((spec) => ({
          name: spec.campaign,
          data: { spec, columns: this.options.campaign.figureColumns, version: this.options.version },
          opts: {
            jobId: this.jobId(spec.id),
            attempts,
            backoff: { type: 'fixed', delay: 200 },
            removeOnComplete: false,
            removeOnFail: false,
          },
        })),
      );
    }
  }

  async run(
    specs: readonly RunSpec[],
    hooks: { onStart(id: string): void; onResult(result: RunResult): Promise<void> },
  ): Promise<void> {
    // Jobs in Redis at once: each carries its scenario and grid (~20 kB for the demo grid), so a
    // 100,000-run campaign is fed in a window rather than queued whole (docs/campaigns.md).
    const window = this.options.window ?? DEFAULT_WINDOW;
    const waiting = [...specs];
    const pending = new Map<string, RunSpec>();
    const topUp = async () => {
      const batch = waiting.splice(0, Math.max(0, window - pending.size));
      for (const spec of batch) pending.set(this.jobId(spec.id), spec);
      if (batch.length) await this.add(batch);
    };
    const columns = this.options.campaign.figureColumns;
    const started = new Set<string>();
    // Jobs to look at: those an event named, and every pending one on a full sweep (events are a
    // stream a reconnect can miss; the job's own state in Redis is the truth).
    const named = new Set<string>();
    const onFinished = ({ jobId }: { jobId: string }) => {
      if (!pending.has(jobId)) return;
      named.add(jobId);
      this.wake?.();
    };
    const onActive = ({ jobId }: { jobId: string }) => {
      const spec = pending.get(jobId);
      if (spec && !started.has(jobId)) {
        started.add(jobId);
        hooks.onStart(spec.id);
      }
    };
    this.events.on('completed', onFinished);
    this.events.on('failed', onFinished);
    this.events.on('active', onActive);
    await topUp();
    let lastSweep = performance.now();
    const harvest = async (ids: string[]) => {
      for (let i = 0; i < ids.length; i += 200) {
        const batch = ids.slice(i, i + 200);
        const jobs = await Promise.all(batch.map((id) => this.queue.getJob(id)));
        const missing: RunSpec[] = [];
        // States of the finished ones at once (their round trips overlap rather than queue).
        const states = await Promise.all(jobs.map((job) => (job?.finishedOn ? job.getState() : undefined)));
        const stored: Job<JobData, RunResult>[] = [];
        for (const [k, job] of jobs.entries()) {
          const id = batch[k]!;
          const spec = pending.get(id);
          if (!spec) continue;
          if (!job) {
            missing.push(spec);
            continue;
          }
          const state = states[k];
          let result: RunResult | undefined;
          if (state === 'completed' && job.returnvalue)
            result = { ...job.returnvalue, attempts: job.attemptsMade };
          else if (state === 'failed')
            result = errorResult(
              spec,
              columns,
              `failed on every attempt: ${job.failedReason}`,
              'redis',
              job.attemptsMade,
            );
          if (!result) continue;
          await hooks.onResult(result);
          pending.delete(id);
          stored.push(job);
        }
        // Only once their results are on disk: a crash before this leaves the jobs to harvest again.
        await Promise.all(stored.map((job) => job.remove().catch(() => {})));
        // A run Redis no longer knows (restarted without its data) is added again; BullMQ leaves
        // known ids alone, so this never duplicates a job.
        if (missing.length) await this.add(missing);
      }
    };
    while ((pending.size > 0 || waiting.length > 0) && !this.closed) {
      await topUp();
      const sweep = performance.now() - lastSweep > 2000;
      const ids = sweep ? [...pending.keys()] : [...named];
      named.clear();
      if (sweep) {
        lastSweep = performance.now();
        await this.checkWorkers();
      }
      await harvest(ids);
      if (pending.size < window || named.size > 0) {
        if (waiting.length > 0 || named.size > 0) continue;
        if (pending.size === 0) break;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 500);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    this.events.off('completed', onFinished);
    this.events.off('failed', onFinished);
    this.events.off('active', onActive);
  }

  private alone = false;

  /** Says so when no worker of this version is connected (its jobs wait) and when one comes. */
  private async checkWorkers(): Promise<void> {
    const log = this.options.log;
    if (!log) return;
    const workers = await connectedWorkers(this.connections[0]!);
    const mine = workers.filter((w) => w.version === this.options.version);
    if (mine.length === 0 && !this.alone) {
      const others = [...new Set(workers.map((w) => w.version))];
      log(
        `no worker of version ${this.options.version} is connected to ${this.options.url}; the runs wait for one${
          others.length
            ? ` (connected workers run version ${others.join(', ')}: bring their checkout to this commit, npm ci, and restart them)`
            : ' (start gridloop worker --redis URL from a checkout at this commit)'
        }`,
      );
    } else if (mine.length > 0 && this.alone) {
      log(`${mine.length} worker(s) of version ${this.options.version} connected: runs resume`);
    }
    this.alone = mine.length === 0;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake?.();
    await this.events.close().catch(() => {});
    await this.queue.close().catch(() => {});
    for (const c of this.connections) c.disconnect();
  }
}

export interface RedisWorkerOptions {
  url: string;
  /** Where the run folders go (the worker's own disk). */
  dir: string;
  /** Runs at once. @default 1 */
  concurrency?: number;
  /** @default DEFAULT_STALL_S */
  stall_s?: number;
  /** Called for each job taken or finished, and for queued runs of other versions (the terminal). */
  log?: (line: string) => void;
}

/** How long a stopping worker waits for its runs in progress, s (then it stops anyway). */
export const DEFAULT_STOP_S = 60;
/** A stopping worker whose Redis has not answered for this long stops at once, ms. */
const UNREACHABLE_MS = 3000;

/** How a worker stopped: after its runs, or without waiting (and why). */
export interface WorkerStop {
  clean: boolean;
  reason: string;
}

export interface RedisWorker {
  version: string;
  /**
   * Stops taking jobs and waits for the runs in progress, at most `stop_s` seconds, and not at all
   * once Redis has been unreachable for a few seconds (nothing could be delivered). A run left
   * unfinished is not lost: its lock lapses and it is retried elsewhere after the stall time.
   */
  close(stop_s?: number): Promise<WorkerStop>;
  /** Stops at once: runs in progress are killed (and retried elsewhere after the stall time). */
  kill(): void;
}

/**
 * A worker taking campaign jobs: each run goes to a child process (the embedded pool's worker),
 * so the twin's computation never blocks the lock renewal that tells BullMQ this worker is alive.
 * It takes jobs only from its own version's queue: runs queued by another gridloop version are
 * left waiting for a worker of that version (logged, never failed).
 */
export async function startRedisWorker(options: RedisWorkerOptions): Promise<RedisWorker> {
  await checkRedis(options.url);
  const version = codeVersion();
  const stall_ms = (options.stall_s ?? DEFAULT_STALL_S) * 1000;
  const concurrency = options.concurrency ?? 1;
  const log = options.log ?? (() => {});
  const workDir = resolve(options.dir);
  const pool = new WorkerPool({ workDir, columns: [], workers: concurrency });
  // Its processes ready before the first job: a job's time is the run's, not a process start.
  await pool.warm();
  const where = `${hostname()}/${process.pid}`;
  const redis = connection(options.url);
  redis.on('error', () => {});
  const worker = new Worker<JobData, RunResult>(
    queueName(version),
    async (job: Job<JobData, RunResult>) => {
      const { spec, columns } = job.data;
      log(`run ${spec.id} (${spec.campaign}, attempt ${job.attemptsMade + 1})`);
      const reply = await poolRun(pool, workDir, spec, columns, job.attemptsMade + 1);
      if ('died' in reply) throw new Error(reply.died);
      return { ...reply, runDir: reply.runDir ? `${hostname()}:${join(workDir, reply.runDir)}` : undefined };
    },
    {
      connection: redis,
      concurrency,
      lockDuration: stall_ms,
      stalledInterval: stall_ms,
      // A run whose worker dies is retried as often as one that fails.
      maxStalledCount: 3,
      // Names the connection (the coordinator lists connected workers by version).
      name: where,
    },
  );
  // Once per outage, not once per reconnect attempt.
  let lastError = '';
  worker.on('error', (err) => {
    if (err.message !== lastError) log(`redis: ${err.message} (retrying)`);
    lastError = err.message;
  });
  worker.on('failed', (job, err) => {
    if (job) log(`run ${job.data.spec.id}: ${err.message}`);
  });
  await worker.waitUntilReady();

  // Runs queued for other versions: said once per change, so a stale worker's log tells why it idles.
  let foreign = '';
  let looking = false;
  const lookForeign = async () => {
    if (looking || redis.status !== 'ready') return;
    looking = true;
    try {
      const waiting = await waitingByVersion(redis);
      const text = waiting
        .filter((w) => w.version !== version)
        .map((w) => `${w.count} of version ${w.version}`)
        .join(', ');
      if (text && text !== foreign)
        log(
          `not taking ${text} queued on ${options.url}: this worker runs version ${version} (bring its checkout to the campaign's commit, npm ci, and restart it)`,
        );
      foreign = text;
    } catch {
      // Redis went away mid-look: the next look says what is queued.
    } finally {
      looking = false;
    }
  };
  await lookForeign();
  const looker = setInterval(lookForeign, 5000);
  looker.unref();

  let unreachableSince: number | undefined = redis.status === 'ready' ? undefined : performance.now();
  redis.on('close', () => {
    unreachableSince ??= performance.now();
  });
  redis.on('ready', () => {
    if (unreachableSince !== undefined && lastError) log(`redis: connected again to ${options.url}`);
    unreachableSince = undefined;
    lastError = '';
  });
  const kill = () => {
    clearInterval(looker);
    void worker.close(true).catch(() => {});
    pool.kill();
    redis.disconnect();
  };
  return {
    version,
    kill,
    async close(stop_s = DEFAULT_STOP_S) {
      clearInterval(looker);
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        worker.close().then(() => ({ clean: true, reason: 'after the runs in progress' })),
        new Promise<WorkerStop>((resolve) => {
          const t0 = performance.now();
          timer = setInterval(() => {
            if (unreachableSince !== undefined && performance.now() - unreachableSince > UNREACHABLE_MS)
              resolve({
                clean: false,
                reason: `without waiting: Redis at ${options.url} is unreachable; runs in progress are retried elsewhere after the stall time`,
              });
            else if (performance.now() - t0 > stop_s * 1000)
              resolve({
                clean: false,
                reason: `without waiting longer: runs still in progress after ${stop_s} s are retried elsewhere after the stall time`,
              });
          }, 100);
        }),
      ]).catch((err: Error) => ({ clean: false, reason: `after an error: ${err.message}` }));
      clearInterval(timer);
      if (outcome.clean && unreachableSince !== undefined)
        outcome.reason = `with Redis at ${options.url} unreachable (no run was in progress)`;
      if (outcome.clean) {
        await pool.close();
        redis.disconnect();
      } else kill();
      return outcome;
    },
  };
}

/** Waiting campaign jobs in Redis by gridloop version (the queues' wait lists). */
async function waitingByVersion(redis: Redis): Promise<{ version: string; count: number }[]> {
  const found: { version: string; count: number }[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(
      cursor,
      'MATCH',
      `${BULL_PREFIX}:${QUEUE_PREFIX}*:wait`,
      'COUNT',
      1000,
    );
    cursor = next;
    for (const key of keys) {
      const count = await redis.llen(key);
      const name = key.slice(BULL_PREFIX.length + 1, -':wait'.length);
      if (count > 0) found.push({ version: name.slice(QUEUE_PREFIX.length), count });
    }
  } while (cursor !== '0');
  return found;
}

/** The pool with this job's figure columns (the pool's own are per campaign; a worker serves many). */
function poolRun(pool: WorkerPool, workDir: string, spec: RunSpec, columns: string[], attempt: number) {
  return pool.runOne(spec, attempt, { workDir, columns });
}
