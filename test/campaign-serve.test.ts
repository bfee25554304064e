/**
 * `gridloop campaign --serve`: the campaign's progress over the socket API (event `campaign`, and
 * in the welcome), as a real socket.io client sees it while a real campaign runs.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  CampaignProgress,
  ClientToServerEvents,
  ServerToClientEvents,
  Welcome,
} from '../bench/server/api.ts';
import { repoRoot } from './support/cli.ts';
import { budget, until } from './support/machine-speed.ts';

const campaignFile = join(repoRoot, 'test', 'fixtures', 'campaigns', 'small.yaml');
const VIEWER = 'campaign-viewer-token-0123';
let tmp: string;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'gridloop-campaign-serve-'));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('gridloop campaign --serve', () => {
  it('publishes done/failed/running, rate and time left to socket.io clients until the last run', async () => {
    const child = spawn(
      process.execPath,
      [
        join(repoRoot, 'bin', 'gridloop.mjs'),
        'campaign',
        campaignFile,
        '--workers',
        '1',
        '--serve',
        '0',
        '--out',
        join(tmp, 'c'),
      ],
      {
        cwd: repoRoot,
        env: { ...process.env, GRIDLOOP_VIEWER_TOKEN: VIEWER },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const timer = setTimeout(() => child.kill('SIGKILL'), budget(180_000));
    let socket: Socket<ServerToClientEvents, ClientToServerEvents> | undefined;
    try {
      const url = await until(
        'the progress URL',
        () => /progress live at (\S+)#token=(\S+)/.exec(stderr) ?? undefined,
        60_000,
        20,
      );
      expect(url[2]).toBe(VIEWER);
      socket = connect(url[1], { transports: ['websocket'], auth: { token: VIEWER }, reconnection: false });
      const seen: CampaignProgress[] = [];
      let welcome: Welcome | undefined;
      socket.on('welcome', (w) => {
        welcome = w;
      });
      socket.on('campaign', (p) => seen.push(p));
      await until('the welcome', () => welcome, 30_000, 20);
      expect(welcome!.role).toBe('viewer');
      await until('the final progress', () => seen.some((p) => p.done === 4 && p.running === 0), 150_000, 50);
      const final = seen[seen.length - 1]!;
      expect(final).toMatchObject({
        campaign: 'small-sweep',
        total: 4,
        done: 4,
        failed: 2,
        running: 0,
        skipped: 0,
      });
      expect(final.rate).toBeGreaterThan(0);
      // Seen while it ran, not only at the end: a run in progress, and counts that only grow.
      expect([welcome!.campaign, ...seen].some((p) => p && p.done < 4 && p.running >= 1)).toBe(true);
      for (let k = 1; k < seen.length; k++) expect(seen[k]!.done).toBeGreaterThanOrEqual(seen[k - 1]!.done);
      const midway = seen.find((p) => p.done > 0 && p.done < 4);
      if (midway) expect(midway.eta_s).toBeGreaterThan(0);
      expect(await exited).toBe(0);
    } finally {
      clearTimeout(timer);
      socket?.close();
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  }, 240_000);
});
