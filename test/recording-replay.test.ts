/**
 * Deterministic replay: a run driven by changing device inputs, an operator command and a
 * scheduled action is recorded with step-stamped replay records; `replayRun` and
 * `gridloop replay` rebuild the twin without hardware and get bit-identical outputs (SHA-256
 * checkpoints), and a one-ulp change in one recorded input is caught at the next checkpoint.
 */

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { ReplayLogWriter, RunRecorder, readRunFrames } from '../bench/recording/index.ts';
import { replayRun } from '../bench/replay/replay-run.ts';
import type { DeviceLinkConfig } from '../bench/runtime/messages.ts';
import { createTwin } from '../bench/runtime/twin-factory.ts';
import type { DeviceInput, TwinCommand } from '../twin/api.ts';
import { budget } from './support/machine-speed.ts';

const repoRoot = join(import.meta.dirname, '..');
const grid = join(repoRoot, 'grids', 'demo-33bw-microgrids.yaml');
const STEPS = 2000;
const tempDirs: string[] = [];
afterAll(async () => {
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

/** Records a run the way the loop process does: inputs and commands before, state after each step. */
async function recordRun(): Promise<string> {
  const runsDir = await mkdtemp(join(tmpdir(), 'gridloop-replay-'));
  tempDirs.push(runsDir);
  const loop = {
    twin: { grid, seed: 7, dt_s: 0.001 },
    devices: [{ id: 'bess-hw' }],
    schedule: [{ t_s: 0.8, action: { kind: 'load-step', bus: '10', delta_mw: 0.2 } }],
  };
  const rec = await RunRecorder.open({
    runsDir,
    scenario: 'replay',
    manifest: { loop, grid, seed: 7, dt_s: 0.001 },
  });
  const twin = await createTwin(loop.twin, loop.devices as DeviceLinkConfig[]);
  for (const item of loop.schedule) twin.scheduleAt(item.t_s, item.action as never);
  const writer = new ReplayLogWriter(500);
  const inputs: DeviceInput[] = [{ deviceId: 'bess-hw', p_mw: 0, q_mvar: 0, online: false }];
  for (let step = 0; step < STEPS; step++) {
    if (step === 1200) {
      const command: TwinCommand = { kind: 'breaker', id: 'pcc-mg1', closed: false };
      twin.command(command);
      writer.command(step, command);
    }
    if (step % 10 === 0 && step >= 20) {
      // A fresh object per exchange, as a device link produces when a DEVICE_STATE frame arrives.
      inputs[0] = {
        deviceId: 'bess-hw',
        p_mw: 0.05 * Math.sin(step / 97),
        q_mvar: 0.01,
        online: true,
        soc: 0.5 - step * 1e-6,
      };
    }
    writer.inputs(step, inputs);
    const state = twin.step(inputs);
    writer.state(step, state);
    if (step % 50 === 49) rec.replay(writer.drain());
  }
  writer.finish();
  rec.replay(writer.drain());
  await rec.close({ status: 'complete' });
  return rec.dir;
}

function cli(args: string[], stdin = '') {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, 'bin/gridloop.mjs'), ...args], { cwd: repoRoot });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.stdin.end(stdin);
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('deterministic replay', () => {
  let dir: string;

  it('replays bit-identically (every checkpoint hash equal)', { timeout: budget(60_000) }, async () => {
    dir = await recordRun();
    const result = await replayRun(dir);
    expect(result.steps).toBe(STEPS);
    // One every 500 steps, and one at the end of every batch handed to the recorder (50 steps).
    expect(result.checkpoints).toBe(STEPS / 50);
    expect(result.divergence).toBeUndefined();
    expect(result.identical).toBe(true);
  });

  it('detects a one-ulp change in one recorded device input at the next checkpoint', {
    timeout: budget(60_000),
  }, async () => {
    const path = join(dir, 'replay.jsonl.gz');
    const lines = gunzipSync(await readFile(path))
      .toString()
      .trimEnd()
      .split('\n');
    const index = lines.findIndex((l) => l.startsWith('{"s":1010,"k":"in"'));
    expect(index).toBeGreaterThan(0);
    const record = JSON.parse(lines[index]);
    const bits = new Float64Array([record.d[0].p_mw]);
    new BigInt64Array(bits.buffer)[0] += 1n; // next representable double
    record.d[0].p_mw = bits[0];
    lines[index] = JSON.stringify(record);
    const tampered = await mkdtemp(join(tmpdir(), 'gridloop-replay-tampered-'));
    tempDirs.push(tampered);
    await writeFile(join(tampered, 'manifest.json'), await readFile(join(dir, 'manifest.json')));
    await writeFile(join(tampered, 'replay.jsonl.gz'), gzipSync(`${lines.join('\n')}\n`));
    const result = await replayRun(tampered);
    expect(result.identical).toBe(false);
    expect(result.divergence?.step).toBe(1049);
  });

  it('gridloop replay: exit 0 when identical, single-steps from standard input, exit 2 without a replay log', {
    timeout: budget(150_000),
  }, async () => {
    const ok = await cli(['replay', dir, '--every', '0.5']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/bit-identical: yes \(40 checkpoints/);
    expect(ok.stdout).toMatch(/t = 1\.000 s {2}step 999 {2}MG1/);

    const stepped = await cli(['replay', dir, '--step'], '\n\n\nq\n');
    expect(stepped.code).toBe(0);
    expect(stepped.stdout).toMatch(/t = 0\.001 s {2}step 0/);
    expect(stepped.stdout).toMatch(/t = 0\.003 s {2}step 2/);
    expect(stepped.stdout).toMatch(/stopped at step 3/);

    const paced = await cli(['replay', dir, '--speed', '4', '--every', '10']);
    expect(paced.code).toBe(0);
    const [, wall] = paced.stdout.match(/in ([\d.]+) s/) ?? [];
    expect(Number(wall)).toBeGreaterThan(0.4); // 2 s of twin time at ×4 cannot finish sooner

    const empty = await mkdtemp(join(tmpdir(), 'gridloop-replay-empty-'));
    tempDirs.push(empty);
    await writeFile(join(empty, 'manifest.json'), await readFile(join(dir, 'manifest.json')));
    const missing = await cli(['replay', empty]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/replay\.jsonl\.gz: no replay log/);
  });

  it('a real-time demo run (emulated board on a pseudo-terminal) replays bit-identically without the board', {
    timeout: budget(150_000),
  }, async () => {
    const runsDir = await mkdtemp(join(tmpdir(), 'gridloop-replay-demo-'));
    tempDirs.push(runsDir);
    const run = await cli(['start', '--port', '0', '--runs-dir', runsDir, '--duration', '2']);
    expect(run.code, run.stderr).toBe(0);
    const [, runDir] = run.stdout.match(/run saved in (\S+)/) ?? [];
    expect(runDir).toBeTruthy();
    const { frames } = await readRunFrames(runDir!);
    expect(frames.filter((f) => f.direction === 'rx').length).toBeGreaterThan(10);
    const result = await replayRun(runDir!);
    expect(result.steps).toBe(2000);
    expect(result.divergence).toBeUndefined();
    expect(result.identical).toBe(true);
    const replayed = await cli(['replay', runDir!, '--every', '1']);
    expect(replayed.code).toBe(0);
    expect(replayed.stdout).toMatch(/bit-identical: yes \(\d+ checkpoints/);
  });
});
