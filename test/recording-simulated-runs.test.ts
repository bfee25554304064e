/**
 * Runs made without the real-time loop are recorded like real-time ones: `gridloop simulate` and
 * `gridloop attack` runs replay bit-identically (`gridloop replay`), and Ctrl-C during a
 * simulation closes the run as interrupted, says so, and leaves every file readable.
 */

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, onTestFinished, vi } from 'vitest';
import { main } from '../bench/cli/main.ts';
import { readManifest, readRunEvents, readRunPoints } from '../bench/recording/index.ts';
import { replayRun } from '../bench/replay/replay-run.ts';
import { budget } from './support/machine-speed.ts';

const repoRoot = join(import.meta.dirname, '..');
const GRID = join(repoRoot, 'grids', 'demo-33bw-microgrids.yaml');
const tempDirs: string[] = [];
afterAll(async () => {
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  vi.restoreAllMocks();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gridloop-simulated-'));
  tempDirs.push(dir);
  return dir;
}

/** Runs a gridloop command in this process; returns its exit code and what it printed. */
async function cli(args: string[]) {
  const out: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a) => {
    out.push(a.join(' '));
  });
  const error = vi.spyOn(console, 'error').mockImplementation((...a) => {
    out.push(a.join(' '));
  });
  try {
    const code = await main(args);
    return { code, output: out.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

const scenarioYaml = (delta_mw: number, duration_s = 3) => `name: replayable
grid: ${GRID}
seed: 5
dt_s: 0.002
duration_s: ${duration_s}
record: { every_s: 0.05 }
events:
  - { at: 1, action: load-step, bus: '14', delta_mw: ${delta_mw} }
  - { at: 2, action: island, microgrid: MG1 }
assertions:
  - { type: frequency-nadir, island: MG2, min_hz: 45 }
`;

describe('simulated runs replay bit-identically', () => {
  it('gridloop simulate → gridloop replay: identical; a changed scenario file diverges', {
    timeout: budget(120_000),
  }, async () => {
    const dir = await tempDir();
    const file = join(dir, 'replayable.yaml');
    await writeFile(file, scenarioYaml(0.2));
    const run = join(dir, 'run');
    expect((await cli(['simulate', file, '--out', run, '--json'])).code).toBe(0);
    // A valid gzip stream, not an empty file.
    expect((await stat(join(run, 'replay.jsonl.gz'))).size).toBeGreaterThan(20);
    // No two lines of one series at one instant (InfluxDB would keep only the last).
    const series = new Set<string>();
    for (const p of await readRunPoints(run)) {
      const key = `${p.measurement}${JSON.stringify(Object.entries(p.tags).sort())}@${p.time_ns}`;
      expect(series.has(key), key).toBe(false);
      series.add(key);
    }

    const replay = await cli(['replay', run, '--every', '100']);
    expect(replay.output).toMatch(/replayed 1500 steps \(3\.000 s of twin time\)/);
    expect(replay.output).toMatch(/bit-identical: yes \(2 checkpoints/);
    expect(replay.code).toBe(0);

    // The replay really re-runs the scenario: a different load step is caught from step 500 on
    // (t = 1 s), at the first checkpoint after it.
    await writeFile(file, scenarioYaml(0.25));
    const changed = await replayRun(run);
    expect(changed.identical).toBe(false);
    expect(changed.divergence?.step).toBe(999);
  });

  it('gridloop attack → gridloop replay: identical (attack engine, detectors and board inputs replayed)', {
    timeout: budget(120_000),
  }, async () => {
    const dir = await tempDir();
    const run = join(dir, 'attack');
    const attack = await cli([
      'attack',
      join(repoRoot, 'scenarios', 'attacks', 'compromised-battery.yaml'),
      '--out',
      run,
      '--json',
    ]);
    expect(attack.code, attack.output).toBe(0);
    const manifest = await readManifest(run);
    expect(manifest.loop?.devices).toEqual([{ id: 'bess-hw' }]);
    const replay = await cli(['replay', run, '--every', '100']);
    expect(replay.output).toMatch(/replayed 2000 steps \(20\.000 s of twin time\)/);
    expect(replay.output).toMatch(/bit-identical: yes/);
    expect(replay.code).toBe(0);
  });
});

describe('Ctrl-C during gridloop simulate', () => {
  it('closes the run as interrupted, says so, exits 130 and keeps every file readable', {
    timeout: budget(120_000),
  }, async () => {
    const dir = await tempDir();
    const file = join(dir, 'long.yaml');
    await writeFile(file, scenarioYaml(0.2, 3600));
    const runsDir = join(dir, 'runs');
    const child = spawn(
      process.execPath,
      [join(repoRoot, 'bin/gridloop.mjs'), 'simulate', file, '--runs-dir', runsDir],
      { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // However this test ends, the hour-long simulation must not outlive it.
    onTestFinished(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    });
    // "Some progress": the replay log holds a first batch (1000 steps, 2 s of twin time) on disk.
    // Polled; bounded by the test's timeout, not by a guess at the machine's speed.
    let where: string | undefined;
    while (!where) {
      if (child.exitCode !== null) throw new Error(`simulate ended early: ${output}`);
      await new Promise((r) => setTimeout(r, 100));
      const [id] = existsSync(runsDir) ? await readdir(runsDir) : [];
      if (id && ((await stat(join(runsDir, id, 'replay.jsonl.gz')).catch(() => undefined))?.size ?? 0) > 0)
        where = join(runsDir, id);
    }
    child.kill('SIGINT');
    expect(await exited, output).toBe(130);
    expect(output).toMatch(
      /gridloop simulate: replayable interrupted \(SIGINT\) at t = \d+\.\d{3} s of 3600 s/,
    );
    expect(output).toContain('what was recorded is kept in');

    const manifest = await readManifest(where);
    expect(manifest.status).toBe('aborted');
    expect(manifest.reason).toMatch(/^interrupted \(SIGINT\) at t = /);
    const t_s = Number(manifest.reason!.match(/t = ([\d.]+) s/)![1]);
    expect(t_s).toBeGreaterThan(0);
    expect(t_s).toBeLessThan(3600);
    const points = await readRunPoints(where);
    expect(points.some((p) => p.measurement === 'island')).toBe(true);
    const events = await readRunEvents(where);
    expect(events.at(-1)?.kind).toBe('run-end');
    expect(events.at(-1)?.message).toMatch(/aborted: interrupted/);
    // The replay log goes up to the interruption, and replays.
    const replay = await replayRun(where);
    expect(replay.identical).toBe(true);
    expect(replay.steps * replay.dt_s).toBeCloseTo(t_s, 6);
    expect(JSON.parse(await readFile(join(where, 'manifest.json'), 'utf8')).status).toBe('aborted');
  });
});
