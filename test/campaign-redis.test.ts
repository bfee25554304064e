/**
 * Campaigns on a real Redis (Debian redis-server on loopback, started here) with real
 * `gridloop worker` processes: one worker is SIGKILLed in the middle of a run and every result is
 * still there exactly once; the table equals the embedded pool's for the same campaign; a worker of
 * another version leaves jobs to one of the right version; a worker whose Redis is gone stops on
 * SIGTERM; an unreachable Redis is a clear error.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFile, cp, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunResult } from '../bench/campaigns/execute.ts';
import { loadCampaign } from '../bench/campaigns/load.ts';
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

function startWorker(name: string, gridloop = bin, url = redis.redisUrl): WorkerProcess {
  const dir = join(tmp, name);
  const child = spawn(
    process.execPath,
    [gridloop, 'worker', '--redis', url, '--stall-s', '2', '--dir', dir],
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
    'a worker of another gridloop version leaves the jobs to a worker of the right version: every run done by it, none failed',
    async () => {
      // A stale checkout: the same sources with one file changed, so another code version.
      const stale = join(tmp, 'stale-checkout');
      for (const d of ['bin', 'bench', 'twin', 'firmware-protocol', 'vpp', 'market', 'grids'])
        await cp(join(repoRoot, d), join(stale, d), { recursive: true });
      for (const f of ['package.json', 'package-lock.json', 'tsconfig.json'])
        await cp(join(repoRoot, f), join(stale, f));
      await symlink(join(repoRoot, 'node_modules'), join(stale, 'node_modules'));
      await appendFile(join(stale, 'twin', 'api.ts'), '\n// an older checkout\n');

      // No worker of an earlier test may take these runs: only the stale one and, later, the good one.
      await Promise.all(
        children
          .filter((c) => c.exitCode === null && c.signalCode === null)
          .map((c) => new Promise((resolve) => c.once('exit', resolve).kill('SIGKILL'))),
      );
      const old = startWorker('worker-stale', join(stale, 'bin', 'gridloop.mjs'));
      await until('the stale worker takes jobs', () => /taking jobs/.test(old.stderr()), 60_000, 50);
      const out = join(tmp, 'mixed-versions');
      const coordinator = runGridloop(
        [
          'campaign',
          campaignFile,
          '--redis',
          redis.redisUrl,
          '--stall-s',
          '2',
          '--out',
          out,
          '--json',
          '--progress',
          '1',
        ],
        { timeout_ms: 240_000 },
      );
      // Alone with the stale worker, the campaign says why nothing runs; its jobs wait.
      await until(
        'the stale worker says it leaves the runs',
        () => /not taking 4 of version [0-9a-f]{16} queued/.test(old.stderr()),
        60_000,
        50,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\nstale worker: ${old.stderr()}`);
      });
      const good = startWorker('worker-good');
      const done = await coordinator;
      old.child.kill('SIGTERM');
      good.child.kill('SIGTERM');
      expect(done.code).toBe(0);
      expect(done.stderr).toMatch(
        /no worker of version [0-9a-f]{16} is connected .*; the runs wait for one \(connected workers run version [0-9a-f]{16}: bring their checkout to this commit/,
      );
      expect(JSON.parse(done.stdout)).toMatchObject({ runs: 4, missing: 0, errorRuns: 0, ran: 4 });
      const results = await storedResults(out);
      expect(results).toHaveLength(4);
      for (const r of results) {
        expect(r.status).not.toBe('error');
        expect(r.attempts).toBe(1);
        expect(r.runDir).toContain(`${good.dir}/runs/`);
      }
      expect(old.stderr()).not.toMatch(/run \S+ \(/);
    },
    budget(300_000),
  );

  it('a worker whose Redis is gone stops on SIGTERM within a bound, saying why', async () => {
    const own = await startRedis();
    try {
      const w = startWorker('worker-orphan', bin, own.redisUrl);
      await until('worker takes jobs', () => /taking jobs/.test(w.stderr()), 60_000, 50);
      const exited = new Promise<number | null>((resolve) => w.child.once('exit', (code) => resolve(code)));
      await own.kill();
      // Its connection has seen Redis go (a reconnect attempt) before the signal.
      await new Promise((r) => setTimeout(r, 500));
      const t0 = performance.now();
      w.child.kill('SIGTERM');
      const code = await Promise.race([
        exited,
        new Promise<'hung'>((r) => setTimeout(() => r('hung'), budget(20_000))),
      ]);
      expect(code).toBe(0);
      // Bound: the 3 s unreachable grace plus process exit, scaled for a loaded machine.
      expect(performance.now() - t0).toBeLessThan(budget(10_000));
      expect(w.stderr()).toMatch(
        /stopped (without waiting: Redis at redis:\/\/127\.0\.0\.1:\d+ is unreachable|with Redis at redis:\/\/127\.0\.0\.1:\d+ unreachable)/,
      );
    } finally {
      await own.dispose();
    }
  }, 120_000);

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
