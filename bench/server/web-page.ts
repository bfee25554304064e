/**
 * The live page as the browser gets it: `bench/web/app.ts` and what it imports (the page's modules
 * and the socket contract, `api.ts`) bundled by esbuild into one script, beside `index.html` and
 * `style.css`, in a folder the server serves as its web root.
 *
 * The bundle is made when the server starts and kept in a cache folder named after its sources'
 * content: a start with unchanged sources only reads and hashes them, an edited page is rebuilt on
 * the next start, and servers starting at the same time (parallel tests) each end up with the same
 * complete folder, because a folder appears only by an atomic rename.
 */

import { createHash, randomUUID } from 'node:crypto';
import {
  accessSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync, version as esbuildVersion } from 'esbuild';

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The page's sources in a checkout: TypeScript modules, the HTML shell and the style sheet. */
const WEB_SOURCES = join('bench', 'web');
/** Served as they are, beside the bundle. */
const STATIC_FILES = ['index.html', 'style.css'];
/** Bundles older than this that are not the current one are removed (a running server may still use one). */
const PRUNE_AFTER_MS = 24 * 3600 * 1000;

/** What the last build was made from: source path (relative to the repository) -> content hash. */
interface Manifest {
  key: string;
  inputs: Record<string, string>;
}

export class WebPageBuildError extends Error {
  constructor(detail: string) {
    super(`the live page (bench/web) does not build: ${detail}`);
    this.name = 'WebPageBuildError';
  }
}

let built: string | undefined;

/**
 * The folder holding this checkout's bundled page (`index.html`, `app.js`, `app.js.map`,
 * `style.css`), built if its sources changed since the last build; once per process.
 */
export function webPageRoot(): string {
  if (!built || !existsSync(built)) built = buildWebPage(repoRoot, cacheFolder());
  return built;
}

/**
 * Bundles the page of the checkout at `root` into a folder under `cache`, unless the last build
 * there was made from the same sources; returns the folder. Throws a `WebPageBuildError` naming
 * file, line and column when esbuild cannot bundle the page.
 */
export function buildWebPage(root: string, cache: string): string {
  const webSources = join(root, WEB_SOURCES);
  mkdirSync(cache, { recursive: true });
  const manifestFile = join(cache, 'manifest.json');
  const previous = readManifest(manifestFile);
  if (previous && upToDate(root, previous) && existsSync(join(cache, previous.key, 'app.js'))) {
    return join(cache, previous.key);
  }
  const { outputs, inputs } = bundle(root);
  const key = keyOf(inputs);
  const target = join(cache, key);
  if (!existsSync(join(target, 'app.js'))) {
    const staging = mkdtempSync(join(cache, '.staging-'));
    for (const file of outputs) writeFileSync(join(staging, basename(file.path)), file.contents);
    for (const name of STATIC_FILES) copyFileSync(join(webSources, name), join(staging, name));
    try {
      renameSync(staging, target);
    } catch {
      // Another process put the same bundle there first.
      rmSync(staging, { recursive: true, force: true });
    }
  }
  const manifest: Manifest = { key, inputs };
  const staged = `${manifestFile}.${process.pid}.${randomUUID()}`;
  writeFileSync(staged, `${JSON.stringify(manifest, null, 2)}\n`);
  renameSync(staged, manifestFile);
  prune(cache, key);
  return target;
}

/** `node_modules/.cache` of the checkout, as build tools use it; the temporary folder if that is read-only. */
function cacheFolder(): string {
  for (const dir of [
    join(repoRoot, 'node_modules', '.cache', 'gridloop-web'),
    join(tmpdir(), `gridloop-web-${process.getuid?.() ?? 'user'}`),
  ]) {
    try {
      mkdirSync(dir, { recursive: true });
      accessSync(dir, constants.W_OK);
      return dir;
    } catch {}
  }
  throw new WebPageBuildError('no writable cache folder (node_modules/.cache or the temporary folder)');
}

function bundle(root: string) {
  const webSources = join(root, WEB_SOURCES);
  let result: ReturnType<typeof buildSync>;
  try {
    result = buildSync({
      entryPoints: [join(webSources, 'app.ts')],
      absWorkingDir: root,
      tsconfig: join(webSources, 'tsconfig.json'),
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      sourcemap: 'linked',
      outdir: webSources,
      write: false,
      metafile: true,
      logLevel: 'silent',
    });
  } catch (err) {
    // esbuild's message lists each error as file:line:column: text.
    throw new WebPageBuildError((err as Error).message);
  }
  const sources = [
    ...Object.keys(result.metafile?.inputs ?? {}),
    ...STATIC_FILES.map((name) => join(WEB_SOURCES, name)),
  ];
  const inputs: Record<string, string> = {};
  for (const source of sources.sort()) inputs[source] = hashOf(join(root, source));
  return { outputs: result.outputFiles ?? [], inputs };
}

function hashOf(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** Names the bundle after everything that shaped it: sources, and the bundler's version. */
function keyOf(inputs: Record<string, string>): string {
  const hash = createHash('sha256').update(`esbuild ${esbuildVersion}\n`);
  for (const [source, sha] of Object.entries(inputs)) hash.update(`${source} ${sha}\n`);
  return hash.digest('hex').slice(0, 16);
}

function readManifest(file: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Manifest;
  } catch {
    return undefined;
  }
}

/** True while every source the last build read is unchanged (a new import changes its importer). */
function upToDate(root: string, manifest: Manifest): boolean {
  if (typeof manifest.key !== 'string' || typeof manifest.inputs !== 'object' || !manifest.inputs)
    return false;
  if (keyOf(manifest.inputs) !== manifest.key) return false;
  return Object.entries(manifest.inputs).every(([source, sha]) => {
    try {
      return hashOf(join(root, source)) === sha;
    } catch {
      return false;
    }
  });
}

function prune(cache: string, keep: string): void {
  const now = Date.now();
  for (const name of readdirSync(cache)) {
    if (name === keep || name === 'manifest.json') continue;
    const path = join(cache, name);
    try {
      if (now - statSync(path).mtimeMs > PRUNE_AFTER_MS) rmSync(path, { recursive: true, force: true });
    } catch {}
  }
}
