/**
 * `npm run dashboards`: writes every dashboard to dashboards/generated/<uid>.json (committed, and
 * provisioned into Grafana from there). JSON files in that folder that no dashboard produces any
 * more are removed. `--check` writes nothing and exits 1 when the committed files are stale.
 * Exit codes: 0 ok, 1 stale (with --check), 2 unknown argument.
 */

import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { dashboards, renderDashboard } from './index.ts';

export const GENERATED_DIR = join(dirname(fileURLToPath(import.meta.url)), 'generated');

/** File name → contents for every dashboard. Throws on a missing or duplicated uid. */
export function renderAll(): Map<string, string> {
  const files = new Map<string, string>();
  for (const make of dashboards) {
    const builder = make();
    const { uid, title } = builder.build();
    if (!uid) throw new TypeError(`dashboard '${title}' has no uid`);
    const name = `${uid}.json`;
    if (files.has(name)) throw new TypeError(`dashboard uid '${uid}' is used twice`);
    files.set(name, renderDashboard(builder));
  }
  return files;
}

function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Names of files that differ from what the sources produce (missing, changed or orphaned). */
export function staleFiles(dir = GENERATED_DIR): string[] {
  const expected = renderAll();
  const stale: string[] = [];
  for (const [name, text] of expected) {
    if (readIfPresent(join(dir, name)) !== text) stale.push(name);
  }
  for (const name of existsSync(dir) ? readdirSync(dir) : []) {
    if (name.endsWith('.json') && !expected.has(name)) stale.push(name);
  }
  return stale.sort();
}

const USAGE = 'Usage: npm run dashboards [-- --check]';

function main(argv: readonly string[]): number {
  const unknown = argv.filter((a) => a !== '--check');
  if (unknown.length > 0) {
    console.error(`dashboards: unknown argument ${unknown[0]}\n${USAGE}`);
    return 2;
  }
  if (argv.includes('--check')) {
    const stale = staleFiles();
    if (stale.length === 0) return 0;
    console.error(`dashboards/generated is stale (${stale.join(', ')}): run npm run dashboards`);
    return 1;
  }
  const files = renderAll();
  mkdirSync(GENERATED_DIR, { recursive: true });
  for (const name of readdirSync(GENERATED_DIR)) {
    if (name.endsWith('.json') && !files.has(name)) rmSync(join(GENERATED_DIR, name));
  }
  for (const [name, text] of files) writeFileSync(join(GENERATED_DIR, name), text);
  console.log(`wrote ${files.size} dashboards to ${GENERATED_DIR}`);
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.slice(2));
