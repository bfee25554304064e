import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const twinDir = import.meta.dirname;
const core = [
  'twin.ts',
  'addons.ts',
  ...['core', 'stages', 'control'].flatMap((d) =>
    readdirSync(join(twinDir, d))
      .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
      .map((f) => `${d}/${f}`),
  ),
];

/** Module specifiers a file imports (static and dynamic, type-only included). */
function importsOf(file: string): string[] {
  const text = readFileSync(join(twinDir, file), 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*'([^']+)'/g)].map((m) => m[1]);
}

describe('add-ons attach from outside', () => {
  it('the core (twin.ts, core/, stages/, control/) imports nothing from attacks/ or detection/', () => {
    expect(core.length).toBeGreaterThan(10);
    const offending = core.flatMap((f) =>
      importsOf(f)
        .filter((spec) => /(^|\/)(attacks|detection)\//.test(spec))
        .map((spec) => `${f} → ${spec}`),
    );
    expect(offending).toEqual([]);
  });

  it('attacks and detectors see the twin through TwinAddOnHost, never the Twin class', () => {
    const addOns = ['attacks', 'detection'].flatMap((d) =>
      readdirSync(join(twinDir, d))
        .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'security.ts')
        .map((f) => `${d}/${f}`),
    );
    const onTwin = addOns.filter((f) => importsOf(f).includes('../twin.ts'));
    expect(onTwin).toEqual([]);
    // No hidden per-twin registries at module level: live attacks live on the twin instance.
    expect(readFileSync(join(twinDir, 'attacks/live.ts'), 'utf8')).not.toMatch(/^const \w+ = new WeakMap/m);
  });
});
