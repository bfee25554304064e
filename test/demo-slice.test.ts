/**
 * End to end through every layer of the demo: `gridloop start` as a user runs it (a real process,
 * a real emulated board on a pseudo-terminal opened through serialport, real recording, a real
 * socket.io connection), then the recorded run is read back.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io as connect } from 'socket.io-client';
import { afterAll, describe, expect, it } from 'vitest';
import { readRunPoints } from '../bench/recording/index.ts';
import type { LiveState } from '../bench/server/api.ts';
import { budget } from './support/machine-speed.ts';

const repoRoot = join(import.meta.dirname, '..');
const children: ChildProcess[] = [];
const tempDirs: string[] = [];

function startCli(args: string[]) {
  const child = spawn(process.execPath, [join(repoRoot, 'bin/gridloop.mjs'), ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    exited,
    output: () => ({ stdout, stderr }),
    async waitFor(pattern: RegExp, timeout_ms = 45_000): Promise<RegExpMatchArray> {
      const deadline = Date.now() + budget(timeout_ms);
      while (Date.now() < deadline) {
        const match = stdout.match(pattern);
        if (match) return match;
        if (child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`no ${pattern} in output.\nstdout: ${stdout}\nstderr: ${stderr}`);
    },
  };
}

function tempRunsDir() {
  const dir = mkdtempSync(join(tmpdir(), 'gridloop-slice-'));
  tempDirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

describe('gridloop start (the demo slice)', () => {
  it('streams state over socket.io, records frequency and power, and stops cleanly on SIGINT', {
    timeout: budget(90_000),
  }, async () => {
    const runsDir = tempRunsDir();
    const cli = startCli(['start', '--port', '0', '--runs-dir', runsDir]);
    const [, url] = await cli.waitFor(/running: (http:\/\/\S+)/);
    const [, viewerToken] = await cli.waitFor(/viewer link: \S+#token=(\S+)/);

    const socket = connect(url, { transports: ['websocket'], auth: { token: viewerToken } });
    const state = await new Promise<LiveState>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no state message within 15 s')), 15_000);
      socket.on('state', (s: LiveState) => {
        // Wait until the board has answered, so the test sees the whole loop closed.
        if (s.devices['bess-hw']?.online && s.t_s > 1) {
          clearTimeout(timer);
          resolve(s);
        }
      });
    });
    socket.close();
    expect(state.islands.length).toBeGreaterThan(0);
    for (const island of state.islands) {
      expect(island.f_hz).toBeGreaterThan(45);
      expect(island.f_hz).toBeLessThan(55);
    }

    cli.child.kill('SIGINT');
    expect(await cli.exited).toBe(0);

    const [, runDir] = cli.output().stdout.match(/run saved in (\S+)/) ?? [];
    expect(runDir).toBeTruthy();
    const points = await readRunPoints(runDir!);
    const frequency = points.filter((p) => p.measurement === 'island' && typeof p.fields.f_hz === 'number');
    const boardPower = points.filter((p) => p.measurement === 'device' && p.tags.device === 'bess-hw');
    expect(frequency.length).toBeGreaterThan(0);
    expect(boardPower.length).toBeGreaterThan(0);
    expect(boardPower.some((p) => p.fields.online === true)).toBe(true);
  });

  it('fails with a clear message, not a stack trace, when the port is taken (e.g. started twice)', {
    timeout: budget(60_000),
  }, async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const cli = startCli(['start', '--port', String(port), '--runs-dir', tempRunsDir()]);
      expect(await cli.exited).toBe(3);
      const { stderr } = cli.output();
      expect(stderr).toMatch(new RegExp(`port ${port} .*already in use`));
      expect(stderr).not.toMatch(/\n\s+at /);
    } finally {
      blocker.close();
    }
  });

  it('rejects a bad option with exit code 2 and names it', { timeout: budget(30_000) }, async () => {
    const cli = startCli(['start', '--port', 'eighty']);
    expect(await cli.exited).toBe(2);
    expect(cli.output().stderr).toMatch(/--port/);
  });
});
