/**
 * Tokens as `gridloop start` takes them: from the environment, from the file GRIDLOOP_TOKEN_FILE
 * names, or generated; a bad token file stops the start with exit code 2 and says where.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { client, closeClients, refused, send, welcomed } from './socket-api-helpers.ts';
import { budget } from './support/machine-speed.ts';

const repoRoot = join(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'gridloop-token-cli-'));
const children: ChildProcess[] = [];

afterAll(() => {
  closeClients();
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function start(env: Record<string, string>) {
  const child = spawn(
    process.execPath,
    [join(repoRoot, 'bin/gridloop.mjs'), 'start', '--port', '0', '--runs-dir', join(dir, 'runs')],
    { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  const out = { stdout: '', stderr: '' };
  child.stdout!.on('data', (d) => {
    out.stdout += d;
  });
  child.stderr!.on('data', (d) => {
    out.stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out, exited };
}

describe('gridloop start tokens', () => {
  it('refuses a bad token file with exit code 2, naming file, line and field', {
    timeout: budget(30_000),
  }, async () => {
    const path = join(dir, 'tokens.yaml');
    writeFileSync(path, 'tokens:\n  - role: operator\n    token: short\n');
    const { out, exited } = start({ GRIDLOOP_TOKEN_FILE: path });
    expect(await exited).toBe(2);
    expect(out.stderr).toContain(`${path}:2 (at /tokens/0)/token: token must be 12..512 characters, got 5`);
    expect(out.stderr).not.toMatch(/\n\s+at /);
  });

  it('uses the operator token from the environment and a named holder from the token file', {
    timeout: budget(60_000),
  }, async () => {
    const path = join(dir, 'named.yaml');
    writeFileSync(path, 'tokens:\n  - { role: viewer, token: class-of-2026-token, name: class-2026 }\n');
    const operatorToken = 'env-operator-token-123456';
    const { child, out } = start({ GRIDLOOP_TOKEN_FILE: path, GRIDLOOP_OPERATOR_TOKEN: operatorToken });
    const deadline = Date.now() + 45_000;
    while (!/operator link: \S+/.test(out.stdout) && Date.now() < deadline && child.exitCode === null) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(out.stdout).toMatch(new RegExp(`operator link: http://\\S+/#token=${operatorToken} `));
    expect(out.stdout).toMatch(
      /viewer link: http:\/\/\S+\/#token=class-of-2026-token {2}<- give this one to students/,
    );
    const url = out.stdout.match(/running: (http:\/\/\S+)/)![1];
    const viewer = await welcomed(client(url, 'class-of-2026-token'));
    expect(viewer).toMatchObject({ role: 'viewer', name: 'class-2026' });
    const operator = client(url, operatorToken);
    expect((await welcomed(operator)).role).toBe('operator');
    expect(await send(operator, { type: 'breaker', id: 'no-such-breaker', closed: true })).toMatchObject({
      ok: false,
      code: 'invalid',
    });
    await refused(client(url, 'generated-tokens-are-random'));
    child.kill('SIGINT');
    await new Promise((r) => child.once('exit', r));
  });
});
