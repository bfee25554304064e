/**
 * A worker's version: a hash of the lockfile and of the sources a run executes (twin/, bench/,
 * firmware-protocol/ TypeScript, schemas), not package.json's version string. Two checkouts
 * with the same hash compute the same results; a worker with another refuses a campaign's jobs
 * rather than mixing incomparable results into its table.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
const SOURCE_DIRS = ['twin', 'bench', 'firmware-protocol'];
const SOURCE = /\.(ts|mts|mjs|js|json)$/;
/** Not run by a campaign: tests, the web page, emulated boards' build products. */
const SKIP = /(\.test\.ts|\.test-d\.ts)$|(^|\/)(node_modules|web|build|dist)(\/|$)/;

let cached: string | undefined;

/** Hex digest (16 characters) of package-lock.json and every source file, by path and content. */
export function codeVersion(root = ROOT): string {
  if (cached && root === ROOT) return cached;
  const hash = createHash('sha256');
  hash.update(readFileSync(join(root, 'package-lock.json')));
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      const rel = relative(root, path);
      if (SKIP.test(rel)) continue;
      if (entry.isDirectory()) walk(path);
      else if (SOURCE.test(entry.name)) files.push(rel);
    }
  };
  for (const d of SOURCE_DIRS) walk(join(root, d));
  files.sort();
  for (const rel of files) {
    hash.update(`\0${rel}\0`);
    hash.update(readFileSync(join(root, rel)));
  }
  const digest = hash.digest('hex').slice(0, 16);
  if (root === ROOT) cached = digest;
  return digest;
}
