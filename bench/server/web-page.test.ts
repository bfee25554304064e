/**
 * The live page's bundle: built from a copy of this checkout's page in a temporary folder, so
 * edits there cannot disturb the real page or other tests.
 */
import { appendFileSync, cpSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildWebPage, WebPageBuildError } from './web-page.ts';

const repoRoot = join(import.meta.dirname, '..', '..');

describe('the live page bundle', () => {
  let root: string;
  let cache: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'gridloop-web-page-'));
    cpSync(join(repoRoot, 'bench', 'web'), join(root, 'bench', 'web'), { recursive: true });
    cpSync(join(repoRoot, 'bench', 'server', 'api.ts'), join(root, 'bench', 'server', 'api.ts'));
    cache = join(root, 'cache');
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('is one script beside the page shell, and is reused while its sources are unchanged', () => {
    const first = buildWebPage(root, cache);
    for (const name of ['index.html', 'style.css', 'app.js', 'app.js.map']) {
      expect(existsSync(join(first, name)), name).toBe(true);
    }
    const script = readFileSync(join(first, 'app.js'), 'utf8');
    // The page's modules and the contract's values are in it; nothing is left to import.
    expect(script).toContain('// bench/web/diagram.ts');
    expect(script).toContain('// bench/server/api.ts');
    expect(script).not.toMatch(/^import /m);
    expect(readFileSync(join(first, 'index.html'), 'utf8')).toContain('<script src="/app.js" type="module">');
    const builtAt = statSync(join(first, 'app.js')).mtimeMs;
    expect(buildWebPage(root, cache)).toBe(first);
    expect(statSync(join(first, 'app.js')).mtimeMs).toBe(builtAt);
  });

  it('is rebuilt when a page module or the socket contract it imports changes', () => {
    const before = buildWebPage(root, cache);
    appendFileSync(join(root, 'bench', 'web', 'charts.ts'), '\nexport const EDITED_CHART = 1;\n');
    const afterPageEdit = buildWebPage(root, cache);
    expect(afterPageEdit).not.toBe(before);
    appendFileSync(join(root, 'bench', 'server', 'api.ts'), '\nexport const EDITED_CONTRACT = 2;\n');
    const afterContractEdit = buildWebPage(root, cache);
    expect(afterContractEdit).not.toBe(afterPageEdit);
    appendFileSync(join(root, 'bench', 'web', 'style.css'), '\n/* edited */\n');
    const afterStyleEdit = buildWebPage(root, cache);
    expect(afterStyleEdit).not.toBe(afterContractEdit);
    expect(readFileSync(join(afterStyleEdit, 'style.css'), 'utf8')).toContain('/* edited */');
  });

  it('names file, line and column when the page does not parse', () => {
    const file = join(root, 'bench', 'web', 'diagram.ts');
    const lines = readFileSync(file, 'utf8').split('\n').length;
    appendFileSync(file, 'export const broken = ;\n');
    expect(() => buildWebPage(root, cache)).toThrow(WebPageBuildError);
    expect(() => buildWebPage(root, cache)).toThrow(
      new RegExp(`does not build: [^]*bench/web/diagram\\.ts:${lines}:\\d+: ERROR: Unexpected ";"`),
    );
  });
});
