/** The `gridloop` command as a user's shell sees it: help, unknown commands, closed pipes. */

import { execFile, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { commands } from '../bench/cli/commands/index.ts';
import { budget } from './support/machine-speed.ts';

const bin = join(import.meta.dirname, '../bin/gridloop.mjs');
const run = promisify(execFile);

async function gridloop(...args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('gridloop CLI', () => {
  it('lists every command with its exit codes under --help', async () => {
    const { code, stdout } = await gridloop('--help');
    expect(code).toBe(0);
    for (const command of commands) expect(stdout).toContain(command.name);
    expect(stdout).toMatch(/0 ok, 1 scenario assertions failed, 2 usage or input error, 3 runtime failure/);
  });

  it('gives every command its own --help', { timeout: budget(60_000) }, async () => {
    for (const command of commands) {
      const { code, stdout } = await gridloop(command.name, '--help');
      expect(code, command.name).toBe(0);
      expect(stdout, command.name).toMatch(/Usage|usage/);
    }
  });

  it('exits 2 naming an unknown command, and 2 with no command at all', async () => {
    const unknown = await gridloop('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/unknown command 'frobnicate'/);
    expect((await gridloop()).code).toBe(2);
  });

  it('ends quietly when its reader closes the pipe early', { timeout: budget(30_000) }, () => {
    const result = spawnSync(
      'bash',
      ['-c', `"${process.execPath}" "${bin}" powerflow grids/matpower/case300.m | head -1`],
      {
        cwd: join(import.meta.dirname, '..'),
        encoding: 'utf8',
      },
    );
    expect(result.stdout.split('\n')[0]).toMatch(/case300/);
    expect(result.stderr).not.toMatch(/EPIPE|Error/);
  });
});
