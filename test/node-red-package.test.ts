/**
 * The node package on its own: packed with npm, installed into an empty Node-RED user directory
 * outside the repository, and loaded by a Node-RED runtime in a child process. Nothing of the bench
 * is reachable from there, so a stray import of bench code fails.
 *
 * The install is offline with an empty, private npm cache: the package's dependencies are packed
 * from the project's own node_modules and installed from those tarballs beside it. Whatever npm's
 * cache on this machine happens to hold (a fresh CI machine's holds no registry metadata) cannot
 * change the outcome, and no request leaves the machine.
 */

import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { startNodeRed } from '../bench/node-red/node-red.ts';
import { budget } from './support/machine-speed.ts';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const repoRoot = join(import.meta.dirname, '..');
const flowsDir = join(repoRoot, 'flows');

/** Where Node's resolution finds `name` from `fromDir` (its own node_modules, then its parents'). */
function installedPackageDir(fromDir: string, name: string): string {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`${name} (a dependency of ${fromDir}) is not installed`);
  }
}

/** The installed folders of a package's runtime dependencies, transitively, by package name. */
function runtimeDependencyDirs(packageDir: string, found = new Map<string, string>()): Map<string, string> {
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8')) as {
    dependencies?: Record<string, string>;
  };
  for (const name of Object.keys(manifest.dependencies ?? {})) {
    const dir = installedPackageDir(packageDir, name);
    const known = found.get(name);
    if (known === dir) continue;
    // Two versions of one package cannot both sit at the top of the user directory.
    if (known !== undefined) throw new Error(`${name} is installed twice (${known}, ${dir})`);
    found.set(name, dir);
    runtimeDependencyDirs(dir, found);
  }
  return found;
}

const LOAD_NODES = `
const http = require('node:http');
const RED = require(process.argv[1]);
RED.init(http.createServer(), {
  userDir: process.cwd(),
  httpAdminRoot: false,
  httpNodeRoot: false,
  logging: { console: { level: 'fatal' } },
  telemetry: { enabled: false },
});
RED.start().then(async () => {
  const list = await RED.runtime.nodes.getNodeList({});
  const ours = list.filter((n) => n.module === '@gridloop/node-red-gridloop');
  await RED.stop();
  process.stdout.write(JSON.stringify(ours.map((n) => ({ types: n.types, enabled: n.enabled, err: n.err ?? null }))));
});
`;

describe('the @gridloop/node-red-gridloop package', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('packs with its nodes, help and examples, installs into an empty user directory and loads there', {
    timeout: budget(120_000),
  }, async () => {
    const userDir = mkdtempSync(join(tmpdir(), 'gridloop-nr-pkg-'));
    dirs.push(userDir);
    const packed = JSON.parse(
      (await run('npm', ['pack', '--json', '--pack-destination', userDir], { cwd: flowsDir })).stdout,
    ) as { filename: string; files: { path: string }[] }[];
    const files = packed[0].files.map((f) => f.path).sort();
    expect(files).toEqual([
      'README.md',
      'examples/alarms.json',
      'examples/classroom.json',
      'examples/peak-shaving.json',
      'nodes/gridloop-command.html',
      'nodes/gridloop-command.js',
      'nodes/gridloop-event.html',
      'nodes/gridloop-event.js',
      'nodes/gridloop-scenario.html',
      'nodes/gridloop-scenario.js',
      'nodes/gridloop-server.html',
      'nodes/gridloop-server.js',
      'nodes/gridloop-state.html',
      'nodes/gridloop-state.js',
      'nodes/protocol.js',
      'package.json',
    ]);

    const dependencyTarballs: string[] = [];
    for (const dir of runtimeDependencyDirs(flowsDir).values()) {
      const [dependency] = JSON.parse(
        (await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', userDir, dir])).stdout,
      ) as { filename: string }[];
      dependencyTarballs.push(join(userDir, dependency.filename));
    }
    expect(dependencyTarballs.some((t) => /socket\.io-client-[\d.]+\.tgz$/.test(t))).toBe(true);

    writeFileSync(join(userDir, 'package.json'), '{ "name": "node-red-project", "private": true }\n');
    const emptyCache = mkdtempSync(join(tmpdir(), 'gridloop-nr-cache-'));
    dirs.push(emptyCache);
    await run(
      'npm',
      [
        'install',
        '--offline',
        '--cache',
        emptyCache,
        '--no-audit',
        '--no-fund',
        join(userDir, packed[0].filename),
        ...dependencyTarballs,
      ],
      { cwd: userDir },
    );
    const installed = join(userDir, 'node_modules', '@gridloop', 'node-red-gridloop');
    expect(realpathSync(installed)).toBe(installed);
    expect(realpathSync(join(userDir, 'node_modules', 'socket.io-client'))).toMatch(
      new RegExp(`^${userDir}`),
    );

    const { stdout } = await run(process.execPath, ['-e', LOAD_NODES, require.resolve('node-red')], {
      cwd: userDir,
    });
    const loaded = JSON.parse(stdout) as { types: string[]; enabled: boolean; err: unknown }[];
    expect(loaded.flatMap((n) => n.types).sort()).toEqual([
      'gridloop-command',
      'gridloop-event',
      'gridloop-scenario',
      'gridloop-server',
      'gridloop-state',
    ]);
    expect(loaded.every((n) => n.enabled && n.err === null)).toBe(true);
  });

  it('Node-RED still starts when stored flows use a node type that is not installed', async () => {
    const userDir = mkdtempSync(join(tmpdir(), 'gridloop-nr-missing-'));
    dirs.push(userDir);
    writeFileSync(
      join(userDir, 'flows.json'),
      JSON.stringify([
        { id: 't', type: 'tab', label: 'old flow' },
        { id: 'n', type: 'some-uninstalled-node', z: 't', wires: [] },
      ]),
    );
    const runtime = await startNodeRed({ userDir, logLevel: 'fatal' });
    try {
      const stored = await runtime.red.runtime.flows.getFlows({});
      expect(stored.flows.map((n) => n.type)).toContain('some-uninstalled-node');
      // The editor's API answers, so the user can fix the flow there.
      expect(runtime.red.nodes.getNode('n')).toBeNull();
    } finally {
      await runtime.close();
    }
  });
});
