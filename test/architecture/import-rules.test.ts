import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  checkImportEdges,
  checkImportRules,
  folderCycles,
  type ImportEdge,
  importEdges,
  importSpecifiers,
  ROOM_RULES,
  readSourceTree,
  TWIN_CONTRACT_FILES,
} from './import-rules.ts';

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

describe('import rules on the project tree', () => {
  let tree: Map<string, string>;
  let treeEdges: ImportEdge[];
  beforeAll(() => {
    tree = readSourceTree(PROJECT_ROOT);
    treeEdges = importEdges(tree);
  });

  /** The findings once these files are written into the project tree (only they are parsed again). */
  const checkWith = (changed: Record<string, string>): string[] => {
    const files = new Map([...tree, ...Object.entries(changed)]);
    const kept = treeEdges.filter((edge) => !(edge.from in changed));
    return checkImportEdges([...kept, ...importEdges(files, Object.keys(changed))]);
  };

  it('the tree keeps every room rule and has no import cycle between folders', () => {
    expect(tree.size).toBeGreaterThan(200);
    expect(tree.has('twin/twin.ts')).toBe(true);
    expect(checkImportRules(tree)).toEqual([]);
  });

  it.each([
    ['twin/new-stage.ts', "import { startDemo } from '../bench/demo.ts';\n", 'twin/ rule'],
    [
      'twin/der/new-der.ts',
      "import { encodeFrame } from '../../firmware-protocol/ts/frame.ts';\n",
      'twin/ rule',
    ],
    [
      'firmware-protocol/ts/new.ts',
      "import type { TwinState } from '../../twin/api.ts';\n",
      'firmware-protocol/ts/ rule',
    ],
    [
      'firmware-protocol/ts/messages/new.ts',
      "export { startDemo } from '../../../bench/demo.ts';\n",
      'firmware-protocol/ts/ rule',
    ],
    [
      'firmware-protocol/host/new.ts',
      "import { Twin } from '../../twin/twin.ts';\n",
      'firmware-protocol/ rule',
    ],
    ['dashboards/new-row.ts', "import type { TwinState } from '../twin/api.ts';\n", 'dashboards/ rule'],
    ['flows/nodes/new-node.js', "const { Twin } = require('../../twin/twin.ts');\n", 'flows/ rule'],
    ['vpp/aggregate.ts', "import { Twin } from '../twin/twin.ts';\n", 'vpp/ rule'],
    ['vpp/aggregate.ts', "import { DerUnit } from '../twin/der/unit.ts';\n", 'vpp/ rule'],
    ['market/clear.ts', "const demo = await import('../bench/demo.ts');\n", 'market/ rule'],
  ])('a new %s that imports %j is refused (%s)', (file, text, rule) => {
    // (twin/ → bench/ also closes a cycle, bench/ importing the twin: that finding is checked below)
    const findings = checkWith({ [file]: text }).filter((f) => !f.startsWith('import cycle'));
    expect(findings).toHaveLength(1);
    expect(findings[0]).toContain(`${file}:1 imports`);
    expect(findings[0]).toContain(rule);
  });

  it("vpp/ and market/ may use the twin's contract files and each other", () => {
    const findings = checkWith({
      'vpp/plant.ts':
        "import type { TwinState } from '../twin/api.ts';\nimport type { Controller } from '../twin/control/contract.ts';\n",
      'market/clear.ts': "import type { TwinState } from '../twin/api.ts';\nimport '../vpp/plant.ts';\n",
    });
    expect(findings).toEqual([]);
  });

  it('a new import that closes a ring between folders is refused, naming every import of the ring', () => {
    // twin/channels/channel.ts is imported by twin/attacks/; importing attacks back closes a cycle.
    const findings = checkWith({
      'twin/channels/replay.ts': "import { AttackEngine } from '../attacks/engine.ts';\n",
      'twin/channels/channel.ts': `${tree.get('twin/channels/channel.ts')}\nimport './replay.ts';\n`,
    });
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatch(/^import cycle between folders .*twin\/attacks.*twin\/channels/);
    expect(findings[0]).toContain("twin/channels/replay.ts:1 imports '../attacks/engine.ts'");
  });
});

describe('docs/architecture.md', () => {
  it('states every room rule and names the twin contract files', () => {
    const doc = readFileSync(path.join(PROJECT_ROOT, 'docs/architecture.md'), 'utf8');
    const table = doc.slice(doc.indexOf('## Import rules'));
    for (const rule of ROOM_RULES) expect(table).toContain(`\`${rule.room}\``);
    for (const file of TWIN_CONTRACT_FILES) expect(table).toContain(`\`${file}\``);
  });
});

describe('import rules on a temporary tree written to disk', () => {
  let root: string;
  beforeAll(() => {
    root = mkdtempSync(path.join(tmpdir(), 'gridloop-import-rules-'));
    const write = (file: string, text: string): void => {
      mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
      writeFileSync(path.join(root, file), text);
    };
    write('twin/api.ts', 'export interface TwinState { t: number }\n');
    write(
      'twin/twin.ts',
      "import type { TwinState } from './api.ts';\nimport { lag } from './dynamics/lag.ts';\n",
    );
    write('twin/dynamics/lag.ts', "import { deriveSeed } from '../random.ts';\nexport const lag = 1;\n");
    write('twin/random.ts', 'export const deriveSeed = 1;\n');
    write(
      'bench/devices/link.ts',
      "import { LoopConfig } from '../runtime/config.js';\nexport const link = 1;\n",
    );
    write(
      'bench/runtime/config.ts',
      "// the loop builds its links\nimport {\n  link,\n} from '../devices/link.ts';\nexport type LoopConfig = {};\n",
    );
    write('dashboards/panel.ts', "\n\nimport type { TwinState } from '../twin/api.ts';\n");
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('fires on the forbidden import (file:line) and on the cycle, and passes the room composing its subfolders', () => {
    const findings = checkImportRules(readSourceTree(root), { knownCycles: [] });
    expect(findings).toHaveLength(2);
    expect(findings[0]).toMatch(/^dashboards\/panel\.ts:3 imports '\.\.\/twin\/api\.ts' .*dashboards\/ rule/);
    expect(findings[1]).toBe(
      'import cycle between folders bench/devices ↔ bench/runtime: ' +
        "bench/devices/link.ts:1 imports '../runtime/config.js'; bench/runtime/config.ts:2 imports '../devices/link.ts'",
    );
  });

  it('a cycle on the known list is tolerated, also once part of it is gone', () => {
    const files = readSourceTree(root);
    files.delete('dashboards/panel.ts');
    expect(
      checkImportRules(files, { knownCycles: [['bench/devices', 'bench/runtime', 'bench/recording']] }),
    ).toEqual([]);
  });
});

describe('reading imports with the TypeScript parser', () => {
  it('finds every form of import and nothing in comments or strings', () => {
    const text = [
      "import a from './a.ts';",
      "import type { B } from './b.ts';",
      'import {',
      '  c,',
      "} from './c.ts';",
      "export * from './d.ts';",
      "export { e } from './e.ts';",
      "const f = await import('./f.ts');",
      "const g = require('./g.js');",
      "type H = import('./h.ts').H;",
      "// import x from './commented.ts';",
      'const s = "import y from \'./string.ts\'";',
      "/* require('./block-comment.js') */",
    ].join('\n');
    expect(importSpecifiers('x.ts', text)).toEqual([
      { specifier: './a.ts', line: 1 },
      { specifier: './b.ts', line: 2 },
      { specifier: './c.ts', line: 3 },
      { specifier: './d.ts', line: 6 },
      { specifier: './e.ts', line: 7 },
      { specifier: './f.ts', line: 8 },
      { specifier: './g.js', line: 9 },
      { specifier: './h.ts', line: 10 },
    ]);
  });

  it('resolves .js specifiers to .ts files and directory imports to index files, and skips packages', () => {
    const files = new Map([
      ['bench/a.ts', "import './b.js';\nimport './lib';\nimport 'yaml';\nimport 'node:fs';\n"],
      ['bench/b.ts', ''],
      ['bench/lib/index.ts', ''],
    ]);
    expect(importEdges(files).map((edge) => edge.to)).toEqual(['bench/b.ts', 'bench/lib/index.ts']);
  });

  it('a test file is no part of a cycle (nothing imports it)', () => {
    const files = new Map([
      ['bench/a/x.ts', "import '../b/y.ts';\n"],
      ['bench/b/y.ts', ''],
      ['bench/b/y.test.ts', "import '../a/x.ts';\n"],
    ]);
    expect(folderCycles(importEdges(files))).toEqual([]);
    files.set('bench/b/y.ts', "import '../a/x.ts';\n");
    expect(folderCycles(importEdges(files)).map((cycle) => cycle.folders)).toEqual([['bench/a', 'bench/b']]);
  });
});
