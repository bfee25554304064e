/**
 * Builds C targets of `firmware-protocol/c/Makefile` into a private directory, for tests that
 * compile C: each caller gets its own build dir, so parallel test files never share objects.
 *
 *   const dir = await makeBuildDir();                 // mkdtemp under os.tmpdir()
 *   const { stdout } = await makeTarget('test', dir);  // runs `make -C firmware-protocol/c BUILD=dir test`
 *   await rm(dir, { recursive: true, force: true });
 */
import { execFile } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { C_SOURCE_DIR } from './boards.ts';

const execFileAsync = promisify(execFile);

export function makeBuildDir(prefix = 'gridloop-c-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export interface MakeResult {
  stdout: string;
  stderr: string;
}

/** Runs make for `target` with BUILD=buildDir. Rejects with make's output when it fails. */
export async function makeTarget(
  target: string,
  buildDir: string,
  extraVariables: Record<string, string> = {},
): Promise<MakeResult> {
  const vars = Object.entries({ BUILD: buildDir, ...extraVariables }).map(([k, v]) => `${k}=${v}`);
  try {
    return await execFileAsync('make', ['-s', '-j2', '-C', C_SOURCE_DIR, ...vars, target], {
      maxBuffer: 16 << 20,
    });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`make ${target} failed:\n${e.stdout ?? ''}${e.stderr ?? e.message}`);
  }
}

export { C_SOURCE_DIR };
