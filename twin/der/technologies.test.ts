import { readFileSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import type { Der } from '../grid/model.ts';
import { gridSchema } from '../grid/yaml.ts';
import { createDerUnit, derTechnologyOf } from './factory.ts';
import { DER_TECHNOLOGIES, gridSchemaWith } from './technologies.ts';

const der = (technology: string, params: Der['params'] = {}): Der => ({
  id: `x-${technology}`,
  bus: '1',
  technology,
  control: 'pq',
  rating_mva: 1,
  p_mw: 0.5,
  q_mvar: 0,
  qmin_mvar: -1,
  qmax_mvar: 1,
  vset_pu: 1,
  participation: 0,
  inService: true,
  params,
});

describe('the DER technology registry', () => {
  it('is what the published grid schema lists (run `npm run schema:grid` after changing it)', () => {
    const published = gridSchema();
    const generated = gridSchemaWith(DER_TECHNOLOGIES);
    expect(isDeepStrictEqual(published, generated)).toBe(true);
    const items = (
      published as { properties: { ders: { items: { properties: { technology: { enum: string[] } } } } } }
    ).properties.ders.items;
    expect(items.properties.technology.enum).toEqual(
      DER_TECHNOLOGIES.filter((t) => !t.variantOf).map((t) => t.name),
    );
  });

  it('the published file is byte-for-byte what `npm run schema:grid` writes', () => {
    const text = readFileSync(new URL('../grid/grid.schema.json', import.meta.url), 'utf8');
    expect(text).toBe(`${JSON.stringify(gridSchemaWith(), null, 2)}\n`);
  });

  it('builds every technology, and every variant through params.model', () => {
    for (const technology of DER_TECHNOLOGIES) {
      const entry = technology.variantOf
        ? der(technology.variantOf[0], { model: technology.name })
        : der(technology.name);
      expect(derTechnologyOf(entry)).toBe(technology);
      const unit = createDerUnit(entry, { f0_hz: 50, seed: 1 });
      expect(unit.technology).toBe(technology.name);
      expect(unit.protection).not.toBeNull();
      expect([...technology.glyph]).toHaveLength(1);
    }
  });

  it('names are unique, and each variant refines registered technologies', () => {
    const names = DER_TECHNOLOGIES.map((t) => t.name);
    expect(new Set(names).size).toBe(names.length);
    for (const t of DER_TECHNOLOGIES) for (const parent of t.variantOf ?? []) expect(names).toContain(parent);
  });

  it('an unknown technology or model is refused, naming the DER', () => {
    expect(() => createDerUnit(der('tidal'), { f0_hz: 50, seed: 1 })).toThrow(
      /DER 'x-tidal': technology 'tidal'/,
    );
    expect(() => createDerUnit(der('diesel-genset', { model: 'steam' }), { f0_hz: 50, seed: 1 })).toThrow(
      /params.model 'steam' is not one of/,
    );
  });

  it('docs/twin.md and docs/grid-format.md document every registered technology', () => {
    const twinDoc = readFileSync(new URL('../../docs/twin.md', import.meta.url), 'utf8');
    const formatDoc = readFileSync(new URL('../../docs/grid-format.md', import.meta.url), 'utf8');
    for (const { name } of DER_TECHNOLOGIES) {
      expect(twinDoc).toContain(`| \`${name}\``);
      expect(formatDoc).toContain(`\`${name}\``);
    }
  });
});
