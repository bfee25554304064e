/**
 * Campaigns on a real Redis (Debian redis-server on loopback, started here) with real
 * `gridloop worker` processes: one worker is SIGKILLed in the middle of a run and every result is
 * still there exactly once; the table equals the embedded pool's for the same campaign; a worker of
 * another version refuses jobs; an unreachable Redis is a clear error.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../bench/campaigns/execute.ts';
import { loadCampaign } from '../bench/campaigns/load.ts';
import { RedisBackend } from '../bench/campaigns/redis.ts';
import { freePort, type RedisServer, startRedis } from './servers/index.ts';
import { repoRoot, runGridloop } from './support/cli.ts';
import { budget, until } from './support/machine-speed.ts';

const campaignFile = join(repoRoot, 'test', 'fixtures', 'campaigns', 'small.yaml');
const bin = join(repoRoot, 'bin', 'gridloop.mjs');

let redis: RedisServer;
let tmp: string;
const children: ChildProcess[] = [];

interface WorkerProcess {
  child: ChildProcess;
  dir: string;
  stderr: () => string;
}

function startWorker(name: string): WorkerProcess {
  const dir = join(tmp, name);
  const child = spawn(
    process.execPath,
    [bin, 'worker', '--redis', redis.redisUrl, '--stall-s', '2', '--dir', dir],
    {
      cwd: repoRoot,
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d) => {
    err += d;
  });
  return { child, dir, stderr: () => err };
}

beforeAll(async () => {
  redis = await startRedis();
  tmp = await mkdtemp(join(tmpdir(), 'gridloop-campaign-redis-'));
}, 60_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await redis?.dispose();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function storedResults(dir: string): Promise<RunResult[]> {
  const names = (await readdir(join(dir, 'results'))).filter((n) => n.endsWith('.json'));
  return Promise.all(names.map(async (n) => JSON.parse(await readFile(join(dir, 'results', n), 'utf8'))));
}

describe('campaigns on Redis (BullMQ)', () => {
  it('a worker killed mid-run has its run retried by the other; every result exactly once; same table as the embedded pool', async () => {
    const a = startWorker('worker-a');
    const b = startWorker('worker-b');
    await until(
      'both workers take jobs',
      () => /taking jobs/.test(a.stderr()) && /taking jobs/.test(b.stderr()),
      60_000,
      50,
    );
    const out = join(tmp, 'redis-campaign');
    const coordinator = runGridloop(
      ['campaign', campaignFile, '--redis', redis.redisUrl, '--stall-s', '2', '--out', out, '--json'],
      { timeout_ms: 180_000 },
    );
    // Kill worker A (and with it its run's child process) as soon as it has started a run.
    const killedRun = await until(
      'worker A starts a run',
      () => /run (\S+) \(/.exec(a.stderr())?.[1],
      120_000,
      20,
    );
    a.child.kill('SIGKILL');
    const done = await coordinator;
    expect(done.stderr).toBe('');
    expect(done.code).toBe(0);
    const summary = JSON.parse(done.stdout);
    expect(summary).toMatchObject({ runs: 4, missing: 0, ran: 4 });

    const campaign = await loadCampaign(campaignFile);
    const results = await storedResults(out);
    expect(results.map((r) => r.id).sort()).toEqual(campaign.runs.map((r) => r.id).sort());
    // The killed run was finished by worker B: its run folder is on B's disk.
    const retried = results.find((r) => r.id === killedRun)!;
    expect(retried.status).not.toBe('error');
    expect(retried.runDir).toContain(`${b.dir}/runs/${killedRun}`);
    const lines = (await readFile(join(out, 'results.jsonl'), 'utf8')).trim().split('\n');
    expect(lines).toHaveLength(4);
    expect(new Set(lines.map((l) => JSON.parse(l).id)).size).toBe(4);

    // The embedded pool gives the same table, byte for byte.
    const embeddedOut = join(tmp, 'embedded-campaign');
    const embedded = await runGridloop(
      ['campaign', campaignFile, '--workers', '2', '--out', embeddedOut, '--json'],
      {
        timeout_ms: 180_000,
      },
    );
    expect(embedded.code).toBe(0);
    expect(await readFile(join(embeddedOut, 'results.csv'), 'utf8')).toBe(
      await readFile(join(out, 'results.csv'), 'utf8'),
    );
    expect(await readFile(join(embeddedOut, 'results.jsonl'), 'utf8')).toBe(
      await readFile(join(out, 'results.jsonl'), 'utf8'),
    );
  }, 400_000);

  it(
    'a worker of another gridloop version refuses the job: a failed result naming both versions, not a hole',
    async () => {
      const w = startWorker('worker-c');
      await until('worker takes jobs', () => /taking jobs/.test(w.stderr()), 60_000, 50);
      const campaign = await loadCampaign(campaignFile);
      campaign.runs = campaign.runs.slice(0, 1);
      const backend = await RedisBackend.connect({
        url: redis.redisUrl,
        campaign,
        dir: join(tmp, 'stale'),
        version: 'not-this-version',
        stall_s: 2,
      });
      const results: RunResult[] = [];
      try {
        await backend.run(campaign.runs, { onStart() {}, onResult: async (r) => void results.push(r) });
      } finally {
        await backend.close();
        w.child.kill('SIGTERM');
      }
      expect(results).toHaveLength(1);
      expect(results[0]).toMatchObject({ id: campaign.runs[0]!.id, status: 'error' });
      expect(results[0]!.verdict).toMatch(
        /refused by worker .* runs gridloop version [0-9a-f]{16}, the campaign was made by version not-this-version/,
      );
    },
    budget(120_000),
  );

  it('a Redis restart mid-campaign (without persistence: its jobs are gone) loses no run and duplicates none', async () => {
    const w = startWorker('worker-d');
    await until('worker takes jobs', () => /taking jobs/.test(w.stderr()), 60_000, 50);
    const out = join(tmp, 'restart-campaign');
    const coordinator = runGridloop(
      ['campaign', campaignFile, '--redis', redis.redisUrl, '--stall-s', '2', '--out', out, '--json'],
      { timeout_ms: 240_000 },
    );
    // Once the first result is stored, Redis crashes and comes back empty.
    await until(
      'a first result',
      async () => (await readdir(join(out, 'results')).catch(() => [])).some((n) => n.endsWith('.json')),
      120_000,
      50,
    );
    await redis.kill();
    await redis.restart();
    const done = await coordinator;
    w.child.kill('SIGTERM');
    expect(done.code).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ runs: 4, missing: 0, errorRuns: 0 });
    const campaign = await loadCampaign(campaignFile);
    const results = await storedResults(out);
    expect(results.map((r) => r.id).sort()).toEqual(campaign.runs.map((r) => r.id).sort());
  }, 400_000);

  it('an unreachable Redis is a clear error (exit 3) naming the URL and what to do', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`;
    const r = await runGridloop(['campaign', campaignFile, '--redis', url, '--out', join(tmp, 'none')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(`cannot reach Redis at ${url}`);
    expect(r.stderr).toMatch(/start it .*or check the --redis URL/);
    const w = await runGridloop(['worker', '--redis', url]);
    expect(w.code).toBe(3);
    expect(w.stderr).toContain(`cannot reach Redis at ${url}`);
  }, 60_000);
});
