/**
 * A recording process killed with SIGKILL leaves readable files holding everything flushed
 * before the kill, and a manifest that still says the run is incomplete.
 */

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readManifest, readRunEvents, readRunFrames, readRunPoints } from '../bench/recording/index.ts';
import { replayRun } from '../bench/replay/replay-run.ts';
import { generateReport } from '../bench/reports/index.ts';
import { budget } from './support/machine-speed.ts';

const repoRoot = join(import.meta.dirname, '..');
const tempDirs: string[] = [];
afterAll(async () => {
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

describe('recording survives SIGKILL', () => {
  it('keeps every point, frame and event flushed before the kill, and the manifest says incomplete', {
    timeout: budget(120_000),
  }, async () => {
    const runsDir = await mkdtemp(join(tmpdir(), 'gridloop-crash-'));
    tempDirs.push(runsDir);
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(import.meta.dirname, 'recording-crash-child.ts'), runsDir],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
      child.on('exit', (code, signal) => resolve(signal ?? code)),
    );
    const lastFlush = await new Promise<{ points: number; frames: number; steps: number; dir: string }>(
      (resolve, reject) => {
        let buffered = '';
        child.stdout!.on('data', (chunk) => {
          buffered += chunk;
          const lines = buffered.split('\n');
          buffered = lines.pop()!;
          for (const line of lines) {
            const [, points, frames, steps, dir] = line.split(' ');
            // Kill well into the run, mid-stream, right after a flush was confirmed.
            if (Number(points) >= 20_000) {
              child.kill('SIGKILL');
              resolve({ points: Number(points), frames: Number(frames), steps: Number(steps), dir });
            }
          }
        });
        child.on('exit', () => reject(new Error(`child exited before enough data: ${stderr}`)));
      },
    );
    expect(await exited).toBe('SIGKILL');

    const manifest = await readManifest(lastFlush.dir);
    expect(manifest.status).toBe('incomplete');
    expect(manifest.end).toBeUndefined();

    const points = (await readRunPoints(lastFlush.dir)).filter((p) => p.measurement === 'loop');
    expect(points.length).toBeGreaterThanOrEqual(lastFlush.points);
    points.forEach((p, i) => {
      expect(p.fields.seq).toBe(BigInt(i));
    });
    const { frames } = await readRunFrames(lastFlush.dir);
    expect(frames.length).toBeGreaterThanOrEqual(lastFlush.frames);
    expect(frames.every((f, i) => f.bytes[0] === (i & 0xff))).toBe(true);
    const events = await readRunEvents(lastFlush.dir);
    expect(events[0].kind).toBe('run-start');
    expect(events.filter((e) => e.kind === 'tick').length).toBeGreaterThanOrEqual(
      Math.floor(lastFlush.frames / 10),
    );

    // The replay log is flushed with the other files: the killed run replays, bit-identically,
    // at least up to the last flush the child confirmed, and says it is incomplete.
    const replay = await replayRun(lastFlush.dir);
    expect(replay.identical).toBe(true);
    expect(replay.status).toBe('incomplete');
    expect(replay.steps).toBeGreaterThanOrEqual(lastFlush.steps);
    const cli = await new Promise<{ code: number | null; stdout: string }>((resolve) => {
      const replayCli = spawn(process.execPath, [
        join(repoRoot, 'bin/gridloop.mjs'),
        'replay',
        lastFlush.dir,
      ]);
      let stdout = '';
      replayCli.stdout.on('data', (d) => {
        stdout += d;
      });
      replayCli.on('exit', (code) => resolve({ code, stdout }));
    });
    expect(cli.code, cli.stdout).toBe(0);
    expect(cli.stdout).toContain('bit-identical: yes');
    expect(cli.stdout).toMatch(/incomplete.*replayed to t = \d+\.\d{3} s/);
    // The report says how far the killed run can be replayed.
    const report = await generateReport(lastFlush.dir);
    expect(report.passed).toBe(false);
    const html = await readFile(report.htmlPath, 'utf8');
    const [, replayable] =
      html.match(/incomplete \(killed or crashed before it closed; replayable to t = (\d+\.\d{3}) s/) ?? [];
    expect(Number(replayable)).toBeCloseTo(replay.steps * replay.dt_s, 6);
  });
});
