/**
 * npm run bench:campaign — campaign throughput (docs/campaigns.md § Measured).
 *
 * 1. Embedded pool: a campaign of BENCH_CAMPAIGN_RUNS short runs (BENCH_TWIN_S s of twin time
 *    each, the MG2 load-step fixture, seeds as the axis) with 1 worker process, then 2: runs/s,
 *    the speed-up, and the scheduling overhead per run (wall × workers − Σ run times, per run).
 * 2. The same campaign through BullMQ on a local redis-server (started here on loopback, temp dir)
 *    with 2 `gridloop worker` processes: runs/s.
 * 3. Queue throughput: BENCH_QUEUE_JOBS no-op jobs added in bulk, taken by 2 worker processes
 *    (concurrency 50 each), counted from the first add to the last completion: jobs/s.
 *
 * Prints human lines, then one JSON line of figures.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, QueueEvents } from 'bullmq';
import { Redis } from 'ioredis';
import type { RunResult } from '../bench/campaigns/execute.ts';
import { loadCampaign } from '../bench/campaigns/load.ts';
import { WorkerPool } from '../bench/campaigns/pool.ts';
import { RedisBackend } from '../bench/campaigns/redis.ts';
import { runCampaign } from '../bench/campaigns/run.ts';
import { codeVersion } from '../bench/campaigns/version.ts';
import { startRedis } from '../test/servers/index.ts';

const RUNS = Number(process.env.BENCH_CAMPAIGN_RUNS ?? 40);
const TWIN_S = Number(process.env.BENCH_TWIN_S ?? 10);
const QUEUE_JOBS = Number(process.env.BENCH_QUEUE_JOBS ?? 10_000);
const root = join(import.meta.dirname, '..');

const tmp = await mkdtemp(join(tmpdir(), 'gridloop-bench-campaign-'));
const campaignFile = join(tmp, 'bench.yaml');
await writeFile(
  campaignFile,
  `name: bench
scenarios: [${join(root, 'test', 'fixtures', 'campaigns', 'short-load-step.yaml')}]
set: { /duration_s: ${TWIN_S} }
axes:
  - { seeds: ${Math.max(1, RUNS)} }
collect: [frequency-nadir]
`,
);
const campaign = await loadCampaign(campaignFile);
const version = codeVersion();

async function embedded(workers: number) {
  const dir = join(tmp, `embedded-${workers}`);
  const pool = new WorkerPool({ workDir: dir, columns: campaign.figureColumns, workers });
  // The processes are started (tsx compiles the sources) before the clock starts.
  await Promise.all(
    Array.from({ length: workers }, () =>
      pool.runOne(campaign.runs[0]!, 1, { workDir: join(dir, 'warm-up'), columns: [] }),
    ),
  );
  const results: RunResult[] = [];
  let running_s = 0;
  const t0 = performance.now();
  await runCampaign(campaign, {
    dir,
    backend: {
      run: async (specs, hooks) => {
        const r0 = performance.now();
        await pool.run(specs, {
          ...hooks,
          onResult: async (r) => {
            results.push(r);
            await hooks.onResult(r);
          },
        });
        running_s = (performance.now() - r0) / 1000;
      },
      close: () => pool.close(),
    },
    version,
  });
  const wall_s = (performance.now() - t0) / 1000;
  await pool.close();
  const busy_s = results.reduce((s, r) => s + r.wall_s, 0);
  return {
    runs_per_s: RUNS / wall_s,
    wall_s,
    // Scheduling overhead: the time the workers were not running a run while runs were handed
    // out (hand-over, result storage, progress), per run. The outputs (table, JUnit, report with
    // the worst runs' reports) are written once at the end: outputs_s.
    overhead_ms: ((running_s * workers - busy_s) / RUNS) * 1000,
    outputs_s: wall_s - running_s,
    run_s: busy_s / RUNS,
  };
}

// BENCH_CAMPAIGN_RUNS=0 measures the queue alone.
const one = RUNS > 0 ? await embedded(1) : undefined;
const two = RUNS > 0 ? await embedded(2) : undefined;
if (one && two) {
  console.log(
    `embedded, 1 worker: ${one.runs_per_s.toFixed(2)} runs/s (${one.run_s.toFixed(2)} s per run, overhead ${one.overhead_ms.toFixed(1)} ms/run, outputs ${one.outputs_s.toFixed(2)} s)`,
  );
  console.log(
    `embedded, 2 workers: ${two.runs_per_s.toFixed(2)} runs/s (${(two.runs_per_s / one.runs_per_s).toFixed(2)}× one worker, overhead ${two.overhead_ms.toFixed(1)} ms/run, outputs ${two.outputs_s.toFixed(2)} s)`,
  );
}

const redis = await startRedis();
const children: ChildProcess[] = [];
const spawnReady = (args: string[], ready: RegExp, stream: 'stdout' | 'stderr') =>
  new Promise<ChildProcess>((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let text = '';
    child[stream]!.on('data', (d) => {
      text += d;
      if (ready.test(text)) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited ${code}: ${text}`)));
  });
let viaRedis = 0;
let queueRate = 0;
try {
  if (RUNS > 0) {
    const workers = await Promise.all(
      ['a', 'b'].map((w) =>
        spawnReady(
          [
            join(root, 'bin', 'gridloop.mjs'),
            'worker',
            '--redis',
            redis.redisUrl,
            '--dir',
            join(tmp, `worker-${w}`),
          ],
          /taking jobs/,
          'stderr',
        ),
      ),
    );
    const backend = await RedisBackend.connect({
      url: redis.redisUrl,
      campaign,
      dir: join(tmp, 'redis'),
      version,
    });
    const t0 = performance.now();
    const outcome = await runCampaign(campaign, { dir: join(tmp, 'redis'), backend, version });
    viaRedis = RUNS / ((performance.now() - t0) / 1000);
    // A refused or failed run is not throughput: say so rather than print a flattering figure.
    if (outcome.verdict.errorRuns > 0)
      throw new Error(`${outcome.verdict.errorRuns} runs via Redis could not run`);
    await backend.close();
    for (const w of workers) w.kill('SIGTERM');
    console.log(`BullMQ on local Redis, 2 gridloop worker processes: ${viaRedis.toFixed(2)} runs/s`);
  }

  const queueName = 'bench-noop';
  const noop = await Promise.all(
    [0, 1].map(() =>
      spawnReady(
        [
          '--import',
          'tsx',
          join(root, 'benchmarks', 'campaign-noop-worker.ts'),
          redis.redisUrl,
          queueName,
          process.env.BENCH_QUEUE_CONCURRENCY ?? '50',
        ],
        /ready/,
        'stdout',
      ),
    ),
  );
  const connection = new Redis(redis.redisUrl, {
    maxRetriesPerRequest: null,
  });
  const queue = new Queue(queueName, { connection });
  const eventsConnection = connection.duplicate();
  const events = new QueueEvents(queueName, { connection: eventsConnection });
  await events.waitUntilReady();
  let completed = 0;
  const allDone = new Promise<void>((resolve) =>
    events.on('completed', () => {
      if (++completed === QUEUE_JOBS) resolve();
    }),
  );
  const q0 = performance.now();
  for (let i = 0; i < QUEUE_JOBS; i += 1000)
    await queue.addBulk(
      Array.from({ length: Math.min(1000, QUEUE_JOBS - i) }, (_, k) => ({
        name: 'noop',
        data: { i: i + k },
        opts: { jobId: `noop-${i + k}`, removeOnComplete: true },
      })),
    );
  await allDone;
  queueRate = QUEUE_JOBS / ((performance.now() - q0) / 1000);
  console.log(
    `queue: ${QUEUE_JOBS} no-op jobs, 2 worker processes × 50: ${queueRate.toFixed(0)} jobs/s add→completed`,
  );
  for (const w of noop) w.kill('SIGTERM');
  await events.close();
  await queue.close();
  connection.disconnect();
  eventsConnection.disconnect();
} finally {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  await redis.dispose();
  await rm(tmp, { recursive: true, force: true });
}

console.log(
  JSON.stringify({
    bench: 'campaign',
    runs: RUNS,
    twin_s_per_run: TWIN_S,
    embedded_1_runs_per_s: one && Number(one.runs_per_s.toFixed(3)),
    embedded_2_runs_per_s: two && Number(two.runs_per_s.toFixed(3)),
    speedup_2_over_1: one && two && Number((two.runs_per_s / one.runs_per_s).toFixed(3)),
    overhead_ms_per_run_1: one && Number(one.overhead_ms.toFixed(2)),
    overhead_ms_per_run_2: two && Number(two.overhead_ms.toFixed(2)),
    outputs_s_1: one && Number(one.outputs_s.toFixed(2)),
    run_s: two && Number(two.run_s.toFixed(3)),
    redis_2_workers_runs_per_s: RUNS > 0 ? Number(viaRedis.toFixed(3)) : undefined,
    queue_noop_jobs: QUEUE_JOBS,
    queue_noop_jobs_per_s: Math.round(queueRate),
    load_average_1m: Number((await import('node:os')).loadavg()[0]!.toFixed(2)),
  }),
);
process.exit(0);
