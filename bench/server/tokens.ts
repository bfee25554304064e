/**
 * Access tokens: one or more per role, from a token file (GRIDLOOP_TOKEN_FILE), the environment
 * (GRIDLOOP_VIEWER_TOKEN, GRIDLOOP_OPERATOR_TOKEN, GRIDLOOP_ADMIN_TOKEN), or generated at start.
 * Prosumer tokens (one per prosumer id) come from the token file only: none is ever generated.
 * Tokens are compared through their SHA-256 digests in constant time and never logged: the audit
 * log names a holder by `name` or by a short fingerprint.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { YamlSourceError, yamlToJs } from '../../twin/yaml-source.ts';
import { ROLES, type Role, STAFF_ROLES, type StaffRole } from './api.ts';

export interface AccessToken {
  token: string;
  role: Role;
  /** Who holds it (shown in the audit log); defaults to `<role>-<fingerprint>`. */
  name?: string;
  /** Role `prosumer` only (required there): the prosumer whose data the holder sees. */
  prosumer?: string;
}

/** A prosumer id: what VPP portfolios and market data name a prosumer by. */
export const PROSUMER_ID = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Tokens shorter than this are refused: they would be guessable. */
export const MIN_TOKEN_LENGTH = 12;
export const MAX_TOKEN_LENGTH = 512;

/** Names a token file (YAML or JSON, see parseTokenFile). */
export const TOKEN_FILE_ENV = 'GRIDLOOP_TOKEN_FILE';

export const TOKEN_ENV: Readonly<Record<StaffRole, string>> = {
  viewer: 'GRIDLOOP_VIEWER_TOKEN',
  operator: 'GRIDLOOP_OPERATOR_TOKEN',
  admin: 'GRIDLOOP_ADMIN_TOKEN',
};

export class TokenConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TokenConfigError';
  }
}

export function generateToken(): string {
  return randomBytes(18).toString('base64url');
}

const digest = (token: string) => createHash('sha256').update(token, 'utf8').digest();

export function fingerprint(token: string): string {
  return digest(token).subarray(0, 4).toString('hex');
}

function checkToken(token: unknown, where: string): string {
  if (typeof token !== 'string') throw new TokenConfigError(`${where}: token must be a string`);
  if (token.length < MIN_TOKEN_LENGTH || token.length > MAX_TOKEN_LENGTH) {
    throw new TokenConfigError(
      `${where}: token must be ${MIN_TOKEN_LENGTH}..${MAX_TOKEN_LENGTH} characters, got ${token.length}`,
    );
  }
  return token;
}

/**
 * Reads a token file: YAML or JSON `{ tokens: [{ role, token, name?, prosumer? }] }` (`prosumer`:
 * required for, and only for, role `prosumer`). Errors name the file, line and path of the bad entry.
 */
export async function loadTokenFile(path: string): Promise<AccessToken[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new TokenConfigError(`${path}: cannot read token file: ${(err as Error).message}`);
  }
  return parseTokenFile(text, path);
}

/** The token file named by GRIDLOOP_TOKEN_FILE, read at start (small, once). */
export function tokenFileFromEnv(env: Readonly<Record<string, string | undefined>>): AccessToken[] {
  const path = env[TOKEN_FILE_ENV];
  if (path === undefined || path === '') return [];
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new TokenConfigError(
      `${path} (from ${TOKEN_FILE_ENV}): cannot read token file: ${(err as Error).message}`,
    );
  }
  return parseTokenFile(text, path);
}

/** Parses token file text; `path` names it in errors. */
export function parseTokenFile(text: string, path: string): AccessToken[] {
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new TokenConfigError(`${path}:${e.linePos?.[0].line ?? '?'}: ${e.message.split('\n')[0]}`);
  }
  const lineOf = (offset: number | undefined) =>
    offset === undefined ? '' : `:${text.slice(0, offset).split('\n').length}`;
  let root: unknown;
  try {
    root = yamlToJs(doc, text);
  } catch (err) {
    if (err instanceof YamlSourceError)
      throw new TokenConfigError(`${path}${err.line === undefined ? '' : `:${err.line}`}: ${err.reason}`);
    throw err;
  }
  const list = (root as { tokens?: unknown } | null)?.tokens;
  if (!Array.isArray(list)) throw new TokenConfigError(`${path} (at /tokens): expected a list of tokens`);
  const nodes = (doc.get('tokens', true) as { items?: { range?: [number] }[] } | undefined)?.items ?? [];
  return list.map((entry: unknown, i): AccessToken => {
    const where = `${path}${lineOf(nodes[i]?.range?.[0])} (at /tokens/${i})`;
    if (typeof entry !== 'object' || entry === null)
      throw new TokenConfigError(`${where}: expected an object`);
    const { role, token, name, prosumer, ...rest } = entry as Record<string, unknown>;
    const unknown = Object.keys(rest)[0];
    if (unknown !== undefined) throw new TokenConfigError(`${where}: unknown field '${unknown}'`);
    if (!ROLES.includes(role as Role)) {
      throw new TokenConfigError(
        `${where}/role: must be one of ${ROLES.join(', ')}, got ${JSON.stringify(role)}`,
      );
    }
    if (name !== undefined && (typeof name !== 'string' || name.length > 64)) {
      throw new TokenConfigError(`${where}/name: must be a string of at most 64 characters`);
    }
    if (role === 'prosumer' && (typeof prosumer !== 'string' || !PROSUMER_ID.test(prosumer))) {
      throw new TokenConfigError(
        `${where}/prosumer: a prosumer token names its prosumer id (1–64 letters, digits, _ . : -), got ${JSON.stringify(prosumer)}`,
      );
    }
    if (role !== 'prosumer' && prosumer !== undefined) {
      throw new TokenConfigError(
        `${where}/prosumer: only a prosumer token names a prosumer (role is ${role})`,
      );
    }
    return {
      role: role as Role,
      token: checkToken(token, `${where}/token`),
      name: name as string | undefined,
      ...(prosumer === undefined ? {} : { prosumer: prosumer as string }),
    };
  });
}

export interface ResolvedTokens {
  tokens: AccessToken[];
  /** Roles that had no configured token and got a generated one. */
  generated: StaffRole[];
}

/**
 * Combines file tokens (by default the file GRIDLOOP_TOKEN_FILE names) and environment tokens;
 * any role left without a token gets a random one, so a server never runs open.
 */
export function resolveAccessTokens(
  env: Readonly<Record<string, string | undefined>>,
  fileTokens: readonly AccessToken[] = tokenFileFromEnv(env),
): ResolvedTokens {
  const tokens = [...fileTokens];
  for (const role of STAFF_ROLES) {
    const value = env[TOKEN_ENV[role]];
    if (value !== undefined && value !== '') {
      tokens.push({ role, token: checkToken(value, `environment variable ${TOKEN_ENV[role]}`) });
    }
  }
  const generated: StaffRole[] = [];
  for (const role of STAFF_ROLES) {
    if (!tokens.some((t) => t.role === role)) {
      tokens.push({ role, token: generateToken() });
      generated.push(role);
    }
  }
  return { tokens, generated };
}

export interface TokenHolder {
  role: Role;
  name: string;
  fingerprint: string;
  /** The prosumer a prosumer token belongs to. */
  prosumer?: string;
}

/** The server's live set of tokens; admins can rotate a role's tokens while it runs. */
export class TokenRegistry {
  private entries: { digest: Buffer; holder: TokenHolder }[] = [];

  constructor(tokens: readonly AccessToken[]) {
    for (const t of tokens) this.add(t);
  }

  private add(t: AccessToken): void {
    checkToken(t.token, `token for ${t.role}`);
    if ((t.role === 'prosumer') !== (t.prosumer !== undefined && PROSUMER_ID.test(t.prosumer)))
      throw new TokenConfigError(
        `token for ${t.role}: a prosumer id is required for, and only for, role prosumer`,
      );
    const print = fingerprint(t.token);
    this.entries.push({
      digest: digest(t.token),
      holder: {
        role: t.role,
        name: t.name ?? `${t.role === 'prosumer' ? `prosumer-${t.prosumer}` : t.role}-${print}`,
        fingerprint: print,
        ...(t.prosumer === undefined ? {} : { prosumer: t.prosumer }),
      },
    });
  }

  /** The holder of `token`, or undefined. Every entry is compared, so timing reveals nothing. */
  authenticate(token: unknown): TokenHolder | undefined {
    if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) return undefined;
    const candidate = digest(token);
    let found: TokenHolder | undefined;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, candidate)) found = entry.holder;
    }
    return found;
  }

  /** Replaces every token of `role` with one new token, which is returned. */
  rotate(role: StaffRole): string {
    const token = generateToken();
    this.entries = this.entries.filter((e) => e.holder.role !== role);
    this.add({ role, token });
    return token;
  }
}
