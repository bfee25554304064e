import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  fingerprint,
  loadTokenFile,
  parseTokenFile,
  resolveAccessTokens,
  TokenConfigError,
  TokenRegistry,
} from './tokens.ts';

const dir = mkdtempSync(join(tmpdir(), 'gridloop-tokens-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('resolveAccessTokens', () => {
  it('takes tokens from the environment and generates the missing roles', () => {
    const { tokens, generated } = resolveAccessTokens({ GRIDLOOP_OPERATOR_TOKEN: 'operator-secret-123' });
    expect(tokens.find((t) => t.role === 'operator')?.token).toBe('operator-secret-123');
    expect(generated).toEqual(['viewer', 'admin']);
    const viewer = tokens.find((t) => t.role === 'viewer')!.token;
    expect(viewer).toMatch(/^[A-Za-z0-9_-]{24}$/);
    expect(resolveAccessTokens({}).tokens.find((t) => t.role === 'viewer')!.token).not.toBe(viewer);
  });

  it('refuses a guessable token from the environment, naming the variable', () => {
    expect(() => resolveAccessTokens({ GRIDLOOP_ADMIN_TOKEN: 'admin' })).toThrow(
      /environment variable GRIDLOOP_ADMIN_TOKEN: token must be 12\.\.512 characters, got 5/,
    );
  });

  it('reads the token file GRIDLOOP_TOKEN_FILE names, and names it when it is missing', () => {
    const path = file('env.yaml', 'tokens:\n  - { role: admin, token: lab-admin-token-1, name: lab }\n');
    const { tokens, generated } = resolveAccessTokens({ GRIDLOOP_TOKEN_FILE: path });
    expect(tokens).toContainEqual({ role: 'admin', token: 'lab-admin-token-1', name: 'lab' });
    expect(generated).toEqual(['viewer', 'operator']);
    expect(() => resolveAccessTokens({ GRIDLOOP_TOKEN_FILE: join(dir, 'nope.yaml') })).toThrow(
      /nope\.yaml \(from GRIDLOOP_TOKEN_FILE\): cannot read token file/,
    );
  });

  it('file tokens count: a role given by the file is not generated', () => {
    const { generated } = resolveAccessTokens({}, [{ role: 'viewer', token: 'class-of-2026-token' }]);
    expect(generated).toEqual(['operator', 'admin']);
  });
});

describe('loadTokenFile', () => {
  it('reads YAML tokens with names', async () => {
    const path = file(
      'ok.yaml',
      'tokens:\n  - role: operator\n    token: alice-operator-token\n    name: alice\n',
    );
    expect(await loadTokenFile(path)).toEqual([
      { role: 'operator', token: 'alice-operator-token', name: 'alice' },
    ]);
  });

  it.each([
    [
      'bad role',
      'tokens:\n  - role: viewer\n    token: fine-viewer-token\n  - role: root\n    token: fine-root-token1\n',
      /bad role\.yaml:4 \(at \/tokens\/1\)\/role: must be one of viewer, operator, admin, prosumer, got "root"/,
    ],
    [
      'short token',
      'tokens:\n  - role: viewer\n    token: short\n',
      /short token\.yaml:2 \(at \/tokens\/0\)\/token: token must be 12\.\.512/,
    ],
    [
      'unknown field',
      'tokens:\n  - role: viewer\n    token: fine-viewer-token\n    expires: never\n',
      /unknown field 'expires'/,
    ],
    ['no list', 'tokens: yes\n', /\(at \/tokens\): expected a list of tokens/],
    ['broken yaml', 'tokens:\n  - role: [viewer\n', /broken yaml\.yaml:\d+: /],
  ])('refuses a file with %s, naming file, line and path', async (name, text, message) => {
    await expect(loadTokenFile(file(`${name}.yaml`, text))).rejects.toThrow(message);
    await expect(loadTokenFile(file(`${name}.yaml`, text))).rejects.toBeInstanceOf(TokenConfigError);
  });

  it('names a missing file', async () => {
    await expect(loadTokenFile(join(dir, 'absent.yaml'))).rejects.toThrow(
      /absent\.yaml: cannot read token file/,
    );
  });
});

describe('TokenRegistry', () => {
  const registry = new TokenRegistry([
    { role: 'viewer', token: 'viewer-token-abcdef' },
    { role: 'operator', token: 'operator-token-abcdef', name: 'bob' },
  ]);

  it('authenticates known tokens only, and names holders without revealing tokens', () => {
    expect(registry.authenticate('operator-token-abcdef')).toEqual({
      role: 'operator',
      name: 'bob',
      fingerprint: fingerprint('operator-token-abcdef'),
    });
    expect(registry.authenticate('viewer-token-abcdef')?.name).toBe(
      `viewer-${fingerprint('viewer-token-abcdef')}`,
    );
    for (const wrong of [
      'viewer-token-abcdeg',
      '',
      undefined,
      42,
      { token: 'viewer-token-abcdef' },
      'x'.repeat(10_000),
    ]) {
      expect(registry.authenticate(wrong)).toBeUndefined();
    }
  });

  it('rotation replaces every token of the role', () => {
    const r = new TokenRegistry([
      { role: 'viewer', token: 'viewer-token-one-1' },
      { role: 'viewer', token: 'viewer-token-two-2' },
      { role: 'admin', token: 'admin-token-three-3' },
    ]);
    const fresh = r.rotate('viewer');
    expect(r.authenticate('viewer-token-one-1')).toBeUndefined();
    expect(r.authenticate('viewer-token-two-2')).toBeUndefined();
    expect(r.authenticate(fresh)?.role).toBe('viewer');
    expect(r.authenticate('admin-token-three-3')?.role).toBe('admin');
  });
});

describe('prosumer tokens', () => {
  it('a prosumer token names its prosumer; it authenticates as that prosumer', () => {
    const tokens = parseTokenFile(
      'tokens:\n  - { role: prosumer, token: house-24-token-abc, prosumer: house-24 }\n  - { role: viewer, token: viewer-token-abcdef }\n',
      't.yaml',
    );
    expect(tokens[0]).toEqual({
      role: 'prosumer',
      token: 'house-24-token-abc',
      prosumer: 'house-24',
      name: undefined,
    });
    const holder = new TokenRegistry(tokens).authenticate('house-24-token-abc');
    expect(holder).toMatchObject({ role: 'prosumer', prosumer: 'house-24' });
    expect(holder?.name).toBe(`prosumer-house-24-${fingerprint('house-24-token-abc')}`);
  });

  it('refuses a prosumer token without a valid prosumer id, and a prosumer id on any other role', () => {
    expect(() =>
      parseTokenFile(
        'tokens:\n  - { role: viewer, token: viewer-token-abcdef }\n  - { role: prosumer, token: house-24-token-abc }\n',
        't.yaml',
      ),
    ).toThrow(
      /^t\.yaml:3 \(at \/tokens\/1\)\/prosumer: a prosumer token names its prosumer id .*got undefined/,
    );
    expect(() =>
      parseTokenFile(
        'tokens:\n  - { role: prosumer, token: house-24-token-abc, prosumer: "a b" }\n',
        't.yaml',
      ),
    ).toThrow(/\/prosumer: a prosumer token names its prosumer id/);
    expect(() =>
      parseTokenFile(
        'tokens:\n  - { role: operator, token: operator-token-abc, prosumer: house-24 }\n',
        't.yaml',
      ),
    ).toThrow(
      /^t\.yaml:2 \(at \/tokens\/0\)\/prosumer: only a prosumer token names a prosumer \(role is operator\)/,
    );
    expect(() => new TokenRegistry([{ role: 'prosumer', token: 'house-24-token-abc' }])).toThrow(
      /prosumer id is required/,
    );
  });

  it('no prosumer token is ever generated; staff roles still are', () => {
    const { tokens, generated } = resolveAccessTokens({});
    expect(generated).toEqual(['viewer', 'operator', 'admin']);
    expect(tokens.some((t) => t.role === 'prosumer')).toBe(false);
  });
});
