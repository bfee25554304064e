/**
 * `gridloop start` with GRIDLOOP_INFLUX_* set records to a real InfluxDB 1.x as well as to the run
 * folder, and a bad setting is refused before anything starts.
 */

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRunPoints } from '../bench/recording/index.ts';
import { type Influxdb1Server, startInfluxdb1 } from './servers/index.ts';
import { budget } from './support/machine-speed.ts';

const repoRoot = join(import.meta.dirname, '..');
let influx: Influxdb1Server;
const runsDir = mkdtempSync(join(tmpdir(), 'gridloop-demo-influx-'));

beforeAll(async () => {
  influx = await startInfluxdb1();
  await influx.createDatabase('gridloop');
}, budget(60_000));
afterAll(async () => {
  await influx?.dispose();
  rmSync(runsDir, { recursive: true, force: true });
});

function startCli(args: string[], env: Record<string, string>) {
  const child = spawn(process.execPath, [join(repoRoot, 'bin/gridloop.mjs'), ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { exited, output: () => ({ stdout, stderr }) };
}

describe('gridloop start recording to InfluxDB', () => {
  it('writes the same island points to the run folder and to InfluxDB 1.x', {
    timeout: budget(90_000),
  }, async () => {
    const cli = startCli(['start', '--port', '0', '--runs-dir', runsDir, '--duration', '3'], {
      GRIDLOOP_INFLUX_URL: influx.url,
      GRIDLOOP_INFLUX_API: 'v1',
      GRIDLOOP_INFLUX_DB: 'gridloop',
    });
    const code = await cli.exited;
    expect(code, cli.output().stderr).toBe(0);
    const runDir = cli.output().stdout.match(/run saved in (\S+)/)?.[1];
    expect(runDir).toBeTruthy();
    const filePoints = (await readRunPoints(runDir!)).filter((p) => p.measurement === 'island');
    expect(filePoints.length).toBeGreaterThan(0);
    const series = await influx.query('SELECT count(f_hz) FROM island', 'gridloop');
    const total = series.reduce((sum, s) => sum + Number(s.values[0][1]), 0);
    expect(total).toBe(filePoints.length);
  });

  it('refuses an incomplete InfluxDB setting with exit 2, naming the variable', {
    timeout: budget(30_000),
  }, async () => {
    const cli = startCli(['start', '--port', '0', '--runs-dir', runsDir], {
      GRIDLOOP_INFLUX_URL: influx.url,
    });
    expect(await cli.exited).toBe(2);
    expect(cli.output().stderr).toMatch(/GRIDLOOP_INFLUX_ORG must be set/);
  });
});
