/**
 * gridloop devices / probe / run as a user runs them (node bin/gridloop.mjs), against the C
 * emulated battery board on a real pseudo-terminal.
 */

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifest } from '../bench/recording/index.ts';
import { type EmulatedBoard, startEmulatedBoard } from '../firmware-protocol/host/boards.ts';
import { budget } from './support/machine-speed.ts';

const root = new URL('..', import.meta.url).pathname;
const work = mkdtempSync(join(tmpdir(), 'gridloop-bench-cli-'));

function gridloop(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['bin/gridloop.mjs', ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), budget(60_000));
    child.on('exit', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

function scenario(name: string, minNadir: number): string {
  const file = join(work, `${name}.yaml`);
  writeFileSync(
    file,
    [
      `name: ${name}`,
      `grid: ${resolve(root, 'grids/demo-33bw-microgrids.yaml')}`,
      'seed: 1',
      'dt_s: 0.001',
      'duration_s: 1.5',
      'events:',
      "  - { at: 0.5, action: load-step, bus: '18', delta_mw: 0.3 }",
      'assertions:',
      `  - { type: frequency-nadir, island: MG2, min_hz: ${minNadir} }`,
      '',
    ].join('\n'),
  );
  return file;
}

describe('gridloop devices, probe and run', { timeout: budget(120_000) }, () => {
  let board: EmulatedBoard;
  beforeAll(async () => {
    board = await startEmulatedBoard('battery', { deviceId: 1 });
  });
  afterAll(async () => {
    await board?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('devices lists the board’s pseudo-terminal without udev, and never crashes', async () => {
    const r = await gridloop('devices', '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.ports).toContainEqual(expect.objectContaining({ path: board.path, kind: 'pty' }));
    expect(out.sources.join()).toMatch(/scan of \/dev/);
  });

  it('probe shows HELLO, capabilities and RTT; a missing port exits 3 and names it', async () => {
    const r = await gridloop('probe', board.path, '--count', '10');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    // What the battery firmware declares (battery.c): 5000 W rated; frequency-watt, grid-forming,
    // SoC management and constant power supported; no key given, so signing is not offered.
    expect(r.stdout).toMatch(/HELLO from .*: battery, device id 1/);
    expect(r.stdout).toMatch(/rated 5000 W/);
    expect(r.stdout).toMatch(
      /functions: frequency-watt, grid-forming, SoC management, constant power; signing not supported/,
    );
    expect(r.stdout).toMatch(/round trips: 10\/10 answered, RTT p50 \d+ µs/);

    const missing = await gridloop('probe', '/dev/gridloop-no-such-tty');
    expect(missing.code).toBe(3);
    expect(missing.stderr).toMatch(/gridloop probe: .*gridloop-no-such-tty.*cannot open/);
    const usage = await gridloop('probe');
    expect(usage.code).toBe(2);
  });

  it('run: the scenario in real time with the board; exit 0 when assertions pass, 1 when one fails', async () => {
    const ok = await gridloop(
      'run',
      scenario('cli-pass', 49.0),
      '--device',
      `bess-hw=${board.path}`,
      '--port',
      '0',
      '--runs-dir',
      join(work, 'runs'),
      '--json',
    );
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const result = JSON.parse(ok.stdout.trim().split('\n').at(-1)!);
    expect(result.passed).toBe(true);
    expect(result.reason).toBe('duration');
    // The run's one verdict, in its manifest too (what `gridloop report` reads), the assertion once.
    const manifest = await readManifest(result.runDir);
    expect(manifest.verdict).toMatchObject({ passed: true, assertions: 1 });
    expect(manifest.assertions?.map((a) => [a.name, a.passed, a.span_s])).toEqual([
      ['frequency-nadir island=MG2 min_hz=49', true, [0, 1.5]],
    ]);
    expect(result.timing.steps).toBe(1500);
    // The board answered (whether it is still online at the last step depends on machine load).
    expect(result.links[0]).toMatchObject({ deviceId: 'bess-hw', badFrames: 0 });
    expect(result.links[0].framesRx).toBeGreaterThan(0);

    const fail = await gridloop(
      'run',
      scenario('cli-fail', 49.999),
      '--device',
      `bess-hw=${board.path}`,
      '--port',
      '0',
      '--runs-dir',
      join(work, 'runs'),
    );
    expect(fail.code).toBe(1);
    expect(fail.stdout).toMatch(/FAIL .*nadir/i);
  });

  it('run: bad device mappings exit 2 naming where', async () => {
    const mapping = join(work, 'devices.yaml');
    writeFileSync(mapping, 'devices:\n  - id: bess-hw\n    path: /dev/null\n    powerScale: -3\n');
    const r = await gridloop('run', scenario('cli-bad', 49), '--devices', mapping);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/devices\.yaml:4 \(at \/devices\/0\/powerScale\)/);
    const bad = await gridloop('run', scenario('cli-bad2', 49), '--device', 'nonsense');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--device 'nonsense': expected name=/);
  });
});
