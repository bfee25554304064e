import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { main } from '../cli/main.ts';
import { readRunPoints } from './read-run.ts';
import { type FieldType, measurementSchema, RECORDED_SCHEMA } from './schema.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const DOC = 'docs/influx-schema.md';

const TYPE_WORDS: Record<string, FieldType> = {
  float: 'float',
  integer: 'integer',
  bool: 'boolean',
  string: 'string',
};

/** Drops parenthesised remarks (which name values and units, not tags or fields), nested ones too. */
function withoutRemarks(cell: string): string {
  let out = '';
  let depth = 0;
  for (const c of cell) {
    if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if (depth === 0) out += c;
  }
  return out;
}

/** A documented measurement: tags (without `run`, which every point carries) and typed fields. */
interface Documented {
  line: number;
  tags: string[];
  fields: Record<string, FieldType>;
}

/**
 * Reads the measurement tables of docs/influx-schema.md. A field is written `` `name` type`` or, for
 * several of one type, `` `a`, `b` (all float)`` / `` `a`, `b` (float)``; tags are the backticked
 * names of the tags cell outside remarks in parentheses.
 */
function documentedSchema(text: string): Map<string, Documented> {
  const result = new Map<string, Documented>();
  const lines = text.split('\n');
  let inTables = false;
  lines.forEach((line, i) => {
    if (line.startsWith('## ')) inTables = /^## (Measurements written today|Reserved)/.test(line);
    if (!inTables || !line.startsWith('| `')) return;
    const cells = line.split('|').map((c) => c.trim());
    const name = /^`(\w+)`$/.exec(cells[1])?.[1];
    if (name === undefined) throw new Error(`${DOC}:${i + 1}: first cell is not one measurement name`);
    const tags = [...withoutRemarks(cells[2]).matchAll(/`(\w+)`/g)].map((m) => m[1]);
    const fields: Record<string, FieldType> = {};
    // Field names may hold '-' (campaign figures such as `frequency-nadir`).
    for (const m of cells[3].matchAll(/((?:`[\w-]+`, )*`[\w-]+`) \((?:all )?(float|integer|bool|string)\)/g))
      for (const f of m[1].matchAll(/`([\w-]+)`/g)) fields[f[1]] = TYPE_WORDS[m[2]];
    for (const m of cells[3].matchAll(/`([\w-]+)` (float|integer|bool|string)\b/g))
      fields[m[1]] = TYPE_WORDS[m[2]];
    if (result.has(name)) throw new Error(`${DOC}:${i + 1}: ${name} documented twice`);
    result.set(name, { line: i + 1, tags, fields });
  });
  return result;
}

describe('the recorded schema (bench/recording/schema.ts)', () => {
  it(`is what ${DOC} documents: the same measurements, tags, fields and types`, () => {
    const documented = documentedSchema(readFileSync(join(ROOT, DOC), 'utf8'));
    expect([...documented.keys()].sort()).toEqual(Object.keys(RECORDED_SCHEMA).sort());
    for (const [name, doc] of documented) {
      const schema = measurementSchema(name)!;
      const where = `${DOC}:${doc.line} ${name}`;
      expect(doc.tags.sort(), `${where} tags`).toEqual(schema.tags.filter((t) => t !== 'run').sort());
      expect(doc.fields, `${where} fields`).toEqual(schema.fields);
    }
  });

  it('the documentation check catches a field left out, a wrong type and a tag too many', () => {
    const text = readFileSync(join(ROOT, DOC), 'utf8');
    const broken = text
      .replace('`rocof_hz_s` float, ', '')
      .replace('`rejected` integer', '`rejected` float')
      .replace('| `fid` | `fid` (FID id) |', '| `fid` | `fid` (FID id), `island` |');
    const documented = documentedSchema(broken);
    expect(documented.get('island')?.fields).not.toHaveProperty('rocof_hz_s');
    expect(documented.get('auth')?.fields.rejected).toBe('float');
    expect(documented.get('fid')?.tags).toEqual(['fid', 'island']);
  });

  it('imports nothing, so the dashboards can read it without the recorder or the twin', () => {
    const source = readFileSync(join(import.meta.dirname, 'schema.ts'), 'utf8');
    expect(source).not.toMatch(/^\s*(import|export\s.*\sfrom)\s/m);
  });

  it('holds every point a recorded run writes: known measurement, tags and field types', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gridloop-schema-'));
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      const grid = join(ROOT, 'grids/demo-33bw-microgrids.yaml');
      writeFileSync(
        join(dir, 's.yaml'),
        `name: schema\ngrid: ${grid}\nseed: 1\ndt_s: 0.01\nduration_s: 1\nrecord: { every_s: 0.1 }\n` +
          `events:\n  - { at: 0.5, action: load-step, bus: '14', delta_mw: 0.1 }\n` +
          'assertions:\n  - { type: frequency-nadir, island: MG2, min_hz: 45 }\n',
      );
      expect(await main(['simulate', join(dir, 's.yaml'), '--out', join(dir, 'run'), '--json'])).toBe(0);
      const points = await readRunPoints(join(dir, 'run'));
      const problems = new Set<string>();
      const seen = new Set<string>();
      const TYPE_OF: Record<string, FieldType> = {
        number: 'float',
        bigint: 'integer',
        boolean: 'boolean',
        string: 'string',
      };
      for (const p of points) {
        seen.add(p.measurement);
        const schema = measurementSchema(p.measurement);
        if (!schema) {
          problems.add(`measurement ${p.measurement}`);
          continue;
        }
        for (const tag of Object.keys(p.tags))
          if (!schema.tags.includes(tag)) problems.add(`${p.measurement} tag ${tag}`);
        for (const [field, value] of Object.entries(p.fields))
          if (schema.fields[field] !== TYPE_OF[typeof value])
            problems.add(`${p.measurement}.${field} ${typeof value}`);
      }
      expect([...problems]).toEqual([]);
      for (const m of ['island', 'bus', 'device', 'pcc', 'ems', 'loop', 'event', 'assertion', 'verdict'])
        expect(seen, m).toContain(m);
    } finally {
      log.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
