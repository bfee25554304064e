/**
 * The first-hour mistakes of issue 22, made with the real `gridloop` process: each answer says what
 * was wrong, where, and what to do, with the documented exit code. The processes run concurrently.
 */

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { budget } from './support/machine-speed.ts';

const root = join(import.meta.dirname, '..');
const bin = join(root, 'bin/gridloop.mjs');
const scratch = mkdtempSync(join(tmpdir(), 'gridloop-cli-mistakes-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs `gridloop …` in the checkout with pipes (not a terminal) for stdout and stderr. */
function gridloop(args: string[], env: NodeJS.ProcessEnv = {}) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [bin, ...args],
      { cwd: root, env: { ...process.env, ...env }, timeout: budget(60_000) },
      (err, stdout, stderr) => {
        resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
      },
    );
  });
}

/** No stack traces, no raw errno codes, no unbalanced quotes: one readable message. */
function expectClean(stderr: string) {
  expect(stderr).not.toMatch(/ENOENT|\n\s+at |Error:/);
  for (const line of stderr.trim().split('\n')) expect((line.match(/'/g) ?? []).length % 2, line).toBe(0);
}

const timeout = budget(90_000);

describe.concurrent('gridloop CLI mistakes', () => {
  it('suggests the closest command for a typo and says how to list them', { timeout }, async () => {
    const r = await gridloop(['simulte', 'scenarios/island-transition.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'simulte'\. Did you mean 'gridloop simulate'\?/);
    expect(r.stderr).toMatch(/Run 'gridloop --help' to list the commands/);
    expectClean(r.stderr);
  });

  it('says a missing scenario file does not exist, as typed, and where to look', { timeout }, async () => {
    const r = await gridloop(['simulate', 'scenarios/island-transtion.yaml', '--no-record']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/scenario file 'scenarios\/island-transtion\.yaml' does not exist/);
    expect(r.stderr).toMatch(/shipped scenarios are in scenarios\//);
    expectClean(r.stderr);
    const run = await gridloop(['run', 'nope.yaml', '--device', 'bess-hw=simulated']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/gridloop run: scenario file 'nope\.yaml' does not exist/);
    const report = await gridloop(['report', 'runs/no-such-run']);
    expect(report.code).toBe(2);
    expect(report.stderr).toMatch(/gridloop report: run folder 'runs\/no-such-run' does not exist.*ls runs/);
    expectClean(report.stderr);
  });

  it('says a missing grid file given to powerflow does not exist, as typed, and where to look', {
    timeout,
  }, async () => {
    const r = await gridloop(['powerflow', 'grids/matpower/case33.m']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /gridloop powerflow: grid file 'grids\/matpower\/case33\.m' does not exist\. Check the path \(relative to .+\); the shipped grids are in grids\/, e\.g\. grids\/demo-33bw-microgrids\.yaml or grids\/matpower\/case33bw\.m\./,
    );
    expectClean(r.stderr);
    const folder = await gridloop(['powerflow', 'grids']);
    expect(folder.code).toBe(2);
    expect(folder.stderr).toMatch(
      /'grids' is a folder, not a grid file; give one MATPOWER \.m or grid \.yaml file in it/,
    );
    expectClean(folder.stderr);
  });

  it('names an unknown option cleanly and points to the command help', { timeout }, async () => {
    const r = await gridloop(['simulate', '--bogus', 'scenarios/island-transition.yaml']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "gridloop simulate: unknown option --bogus. Run 'gridloop simulate --help' for its options.\n",
    );
    const typo = await gridloop(['simulate', '--ot', 'x', 'scenarios/island-transition.yaml']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toMatch(/unknown option --ot \(did you mean --out\?\)/);
    expectClean(typo.stderr);
  });

  it('recognises a MATPOWER case or a grid file given as a scenario', { timeout }, async () => {
    const m = await gridloop(['simulate', 'grids/matpower/case14.m']);
    expect(m.code).toBe(2);
    expect(m.stderr).toMatch(
      /grids\/matpower\/case14\.m is a MATPOWER case, not a scenario: use 'gridloop powerflow grids\/matpower\/case14\.m'.*scenario whose grid: names it/,
    );
    expect(m.stderr).not.toMatch(/YAML|Implicit keys/);
    expectClean(m.stderr);
    const grid = await gridloop(['simulate', 'grids/demo-33bw-microgrids.yaml']);
    expect(grid.code).toBe(2);
    expect(grid.stderr).toMatch(/demo-33bw-microgrids\.yaml is a grid file, not a scenario/);
  });

  it('takes the step as --dt-ms everywhere; --dt (s) still works with a deprecation notice', {
    timeout,
  }, async () => {
    const scenario = 'scenarios/mg1-overcurrent-fault.yaml'; // 5 s of twin time
    const [current, old] = await Promise.all([
      gridloop(['simulate', scenario, '--no-record', '--json', '--dt-ms', '10']),
      gridloop(['simulate', scenario, '--no-record', '--json', '--dt', '0.01']),
    ]);
    expect([0, 1]).toContain(current.code);
    expect(old.code).toBe(current.code);
    // 5 s at 10 ms is 500 steps whichever name gave the step.
    expect(JSON.parse(current.stdout).steps).toBe(500);
    expect(JSON.parse(old.stdout).steps).toBe(500);
    expect(current.stderr).not.toMatch(/deprecated/);
    expect(old.stderr).toMatch(/gridloop simulate: --dt is deprecated and will be removed; use --dt-ms 10/);
  });

  it('prints progress lines when stderr is not a terminal', { timeout }, async () => {
    const r = await gridloop([
      'simulate',
      'scenarios/mg1-overcurrent-fault.yaml',
      '--no-record',
      '--dt-ms',
      '1',
      '--progress',
      '0.05',
    ]);
    expect([0, 1]).toContain(r.code);
    const lines = r.stderr
      .split('\n')
      .filter((l) => l.startsWith('gridloop simulate: mg1-overcurrent-fault'));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) expect(line).toMatch(/ \d+% \(t = \d+\.\d s of 5 s, \d+\.\d s elapsed\)$/);
    // Lines, not a terminal's carriage-return bar.
    expect(r.stderr).not.toMatch(/\r/);
  });

  it('says when start is building the emulated board, and fails cleanly if it cannot', {
    timeout,
  }, async () => {
    // A compiler that does not exist gets its own cache entry, so start must build, and fails fast.
    const r = await gridloop(
      ['start', '--port', '0', '--runs-dir', join(scratch, 'runs'), '--duration', '0.1'],
      { CC: 'gridloop-no-such-cc' },
    );
    expect(r.stderr).toMatch(
      /^gridloop start: starting the twin, the emulated battery board and the live page…\n/,
    );
    expect(r.stderr).toMatch(/gridloop start: building the emulated battery board \(gridloop-no-such-cc\)/);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(
      /gridloop start: cannot build the emulated battery board: C compiler 'gridloop-no-such-cc' not found \(install gcc or set CC\)/,
    );
    expect(r.stderr).not.toMatch(/unexpected failure|\n\s+at /);
  });
});
