/**
 * gridloop attack and gridloop export-dataset as a user runs them (node bin/gridloop.mjs): the run
 * folder holds the attack labels, detector samples and metrics in the Security dashboard's
 * measurements, and the dataset's label column matches the interval the scenario file declares.
 */

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRunEvents, readRunPoints } from '../bench/recording/index.ts';
import { replayRun } from '../bench/replay/replay-run.ts';
import { budget } from './support/machine-speed.ts';

const root = join(import.meta.dirname, '..');
function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun) => {
    const child = spawn(process.execPath, ['bin/gridloop.mjs', ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolveRun({ code, stdout, stderr }));
  });
}

/** RFC 4180 fields of one line (quoted fields may hold commas). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  out.push(cur);
  return out;
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'gridloop-attack-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('gridloop attack + export-dataset', { timeout: budget(120_000) }, () => {
  it('records labels, detector samples, alarms and metrics; the dataset is labelled from them', async () => {
    const run = join(tmp, 'spoof');
    const r = await cli(['attack', 'scenarios/attacks/spoof-setpoint.yaml', '--out', run, '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(summary.passed).toBe(true);
    const points = await readRunPoints(run);
    const attack = points.filter((p) => p.measurement === 'attack');
    expect(attack).toHaveLength(1);
    expect(attack[0].tags).toMatchObject({ attack: 'spoof-sp', kind: 'spoof' });
    expect(attack[0].fields.target).toBe('bess-hw.setpoint_mw');
    expect(points.some((p) => p.measurement === 'detector' && p.tags.detector === 'setpoint-rate')).toBe(
      true,
    );
    const detection = points.filter((p) => p.measurement === 'detection');
    expect(detection[0].fields.detected).toBe(true);
    const events = await readRunEvents(run);
    expect(events.some((e) => e.kind === 'alarm' && e.target === 'bess-hw.setpoint_mw')).toBe(true);
    expect(events.some((e) => e.kind === 'security-metrics')).toBe(true);

    const x = await cli(['export-dataset', run, '--json']);
    expect(x.code).toBe(0);
    const csv = (await readFile(join(run, 'dataset.csv'), 'utf8')).trim().split('\n');
    const header = csvFields(csv[0]);
    const tCol = header.indexOf('t_s');
    const labelCol = header.indexOf('attack');
    expect(tCol).toBe(0);
    // The scenario file says the spoof runs from 8 s to 12 s.
    let labelled = 0;
    for (const line of csv.slice(1)) {
      const cells = csvFields(line);
      expect(cells).toHaveLength(header.length);
      const t = Number(cells[tCol]);
      const label = cells[labelCol];
      expect(label).toBe(t >= 8 - 1e-9 && t < 12 - 1e-9 ? '1' : '0');
      if (label === '1') labelled++;
    }
    expect(labelled).toBeGreaterThan(300);
    expect(header.some((h) => h.startsWith('detector{detector=setpoint-rate}.statistic'))).toBe(true);

    // The HTML report shows detection against the labels.
    const rep = await cli(['report', run]);
    expect(rep.code).toBe(0);
    const html = await readFile(join(run, 'report.html'), 'utf8');
    const security = html.slice(html.indexOf('<h2>Security</h2>'), html.indexOf('<h2>Plots</h2>'));
    expect(security).toContain('Detection rate 100 % (1 of 1 attacks)');
    expect(security).toMatch(
      /spoof-sp<\/td><td>spoof<\/td><td>bess-hw\.setpoint_mw<\/td><td>8\.00–12\.00<\/td><td class="ok">detected/,
    );
    expect(security).toContain('setpoint-rate');
  });

  it('a link run records rejected frames by reason for the Rejected frames panel', async () => {
    const run = join(tmp, 'signed');
    const r = await cli(['attack', 'scenarios/attacks/replay-signed-link.yaml', '--out', run, '--json']);
    expect(r.code).toBe(0);
    const auth = (await readRunPoints(run)).filter((p) => p.measurement === 'auth');
    expect(auth.length).toBeGreaterThan(0);
    expect(new Set(auth.map((p) => p.tags.reason))).toEqual(new Set(['replay-window']));
    expect(auth.every((p) => p.tags.device === 'bess-hw' && typeof p.fields.rejected === 'bigint')).toBe(
      true,
    );
    // The board's inputs are in the replay log: the run replays bit-identically without the board.
    const replay = await replayRun(run);
    expect(replay.steps).toBeGreaterThan(0);
    expect(replay.identical).toBe(true);
  });

  it('bad input: not a run folder, a bad scenario — exit 2 with where and why', async () => {
    const notRun = await cli(['export-dataset', tmp]);
    expect(notRun.code).toBe(2);
    expect(notRun.stderr).toMatch(/manifest/);
    const bad = join(tmp, 'bad.yaml');
    await writeFile(
      bad,
      `name: bad\ngrid: ${join(root, 'grids/demo-33bw-microgrids.yaml')}\nduration_s: 5\nsecurity:\n  attacks:\n    - { kind: bias, target: x, start_s: 1, bais: 2 }\n`,
    );
    const r = await cli(['attack', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad\.yaml:6 \(at \/security\/attacks\/0\/bais\).*unknown property 'bais'/);
  });
});
