/** The `gridloop` command run as a user runs it: a real process from the repository root. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { budget } from './machine-speed.ts';

export const repoRoot = join(import.meta.dirname, '..', '..');
const bin = join(repoRoot, 'bin', 'gridloop.mjs');

export interface CliResult {
  /** Exit code; null when the process ended on a signal (e.g. killed at the budget). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `gridloop …args`; killed after `budget(timeout_ms)` so that a hang fails the test. */
export function runGridloop(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeout_ms?: number } = {},
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], {
      cwd: repoRoot,
      env: { ...process.env, ...options.env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), budget(options.timeout_ms ?? 60_000));
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
