/**
 * Fuzz over bad grid and scenario files (issue 17, acceptance): every numeric and id field of
 * the shipped files is mutated in turn, then random combinations, within a time budget. Each file
 * that is certainly invalid (a non-finite number, a duplicate id, an unknown reference) must be
 * refused as bad input naming its line; nothing may come out with a non-finite number in it. The
 * loaders run in-process for speed; a few cases go through the real CLI process (exit 2, file:line,
 * no stack trace). The test prints which fields it covered.
 */

import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isMap, isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { GridInputError } from '../twin/grid/model.ts';
import { infinityAllowed } from '../twin/grid/validate.ts';
import { parseGridYaml } from '../twin/grid/yaml.ts';
import { parseScenario, ScenarioError } from '../twin/scenario/load.ts';
import { buildScenarioTwin, checkReferences } from '../twin/scenario/runner.ts';
import type { Twin } from '../twin/twin.ts';
import { findNonFinite } from '../twin/yaml-source.ts';
import { runGridloop } from './support/cli.ts';
import { budget } from './support/machine-speed.ts';

const root = join(import.meta.dirname, '..');
const gridFile = join(root, 'grids', 'demo-33bw-microgrids.yaml');
const BUDGET_MS = 3000;

interface Field {
  /** JSON path of the scalar. */
  path: (string | number)[];
  /** Byte range of its text and its 1-based line. */
  range: [number, number];
  line: number;
  value: unknown;
}

/** Every scalar of a YAML text with its path, text range and line. */
function scalars(text: string): Field[] {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const out: Field[] = [];
  const walk = (node: unknown, path: (string | number)[]) => {
    if (isMap(node)) {
      for (const pair of node.items)
        walk(pair.value, [...path, isScalar(pair.key) ? String(pair.key.value) : '?']);
    } else if (isSeq(node)) {
      for (const [i, item] of node.items.entries()) walk(item, [...path, i]);
    } else if (isScalar(node) && node.range) {
      const [start, end] = node.range;
      out.push({ path, range: [start, end], line: lineCounter.linePos(start).line, value: node.value });
    }
  };
  walk(doc.contents, []);
  return out;
}

/** The text with the given scalars replaced (ranges must not overlap). */
function mutate(text: string, edits: { field: Field; text: string }[]): string {
  const sorted = [...edits].sort((a, b) => b.field.range[0] - a.field.range[0]);
  let out = text;
  for (const { field, text: replacement } of sorted)
    out = out.slice(0, field.range[0]) + replacement + out.slice(field.range[1]);
  return out;
}

/** A deterministic generator (the failing case is reproducible from the printed seed). */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NON_FINITE = ['.nan', '.inf', '-.inf'];
const YAML_VALUE: Record<string, number> = { '.nan': Number.NaN, '.inf': Infinity, '-.inf': -Infinity };
const RANDOM_VALUES = ['-1', '0', '1e308', '-1e308', '1e-320', '""', 'x', '[]', '{}', '0.5', '-0.0'];
const fieldName = (path: (string | number)[]) => path.filter((p) => typeof p === 'string').join('.');

const GRID_ID_GROUPS: Record<string, string> = {
  buses: 'buses',
  branches: 'breakers',
  switches: 'breakers',
  loads: 'loads',
  shunts: 'shunts',
  generators: 'units',
  ders: 'units',
  fids: 'fids',
  microgrids: 'microgrids',
};
const GRID_REFERENCES = new Set(['bus', 'from', 'to', 'busA', 'busB', 'microgrid', 'pccSwitch']);
const SCENARIO_REFERENCES = new Set(['bus', 'load', 'unit', 'fid', 'device', 'island']);

const covered = { grid: new Set<string>(), scenario: new Set<string>(), files: 0 };

function gridError(text: string): GridInputError | undefined {
  try {
    const { grid } = parseGridYaml(text, 'fuzz.yaml');
    const bad = findNonFinite(
      grid,
      (path, value) => path.length === 3 && infinityAllowed(String(path[0]), String(path[2]), value),
    );
    expect(bad, 'a grid came out with a non-finite number').toBeUndefined();
    return undefined;
  } catch (err) {
    if (err instanceof GridInputError) return err;
    throw err;
  }
}

describe('fuzzed grid files (shipped demo grid, every numeric and id field)', () => {
  it('each field mutated in turn, then random combinations: refused at the right line, never non-finite', {
    timeout: budget(60_000),
  }, async () => {
    const text = await readFile(gridFile, 'utf8');
    const fields = scalars(text);
    // Every field name, at its first two places (every instance would cost ~25 ms of CPU each).
    const seen = new Map<string, number>();
    const firstTwo = (f: Field) => {
      const key = fieldName(f.path);
      seen.set(key, (seen.get(key) ?? 0) + 1);
      return seen.get(key)! <= 2;
    };
    const numeric = fields.filter((f) => typeof f.value === 'number').filter(firstTwo);
    const ids = fields.filter((f) => f.path.length === 3 && f.path[2] === 'id');
    const refs = fields
      .filter((f) => f.path.length === 3 && GRID_REFERENCES.has(String(f.path[2])))
      .filter(firstTwo);
    expect(numeric.length).toBeGreaterThan(60);
    numeric.forEach((field, k) => {
      const value = NON_FINITE[k % 3]!;
      const err = gridError(mutate(text, [{ field, text: value }]));
      const allowed = infinityAllowed(String(field.path[0]), String(field.path[2]), YAML_VALUE[value]!);
      if (!allowed) {
        expect(err, `${fieldName(field.path)} = ${value} accepted`).toBeDefined();
        expect(err!.where.line, `${fieldName(field.path)} = ${value}`).toBe(field.line);
      }
      covered.grid.add(fieldName(field.path));
      covered.files++;
    });
    // Ids: each made a duplicate of the previous id in its group.
    const lastOfGroup = new Map<string, Field>();
    for (const field of ids) {
      const group = GRID_ID_GROUPS[String(field.path[0])]!;
      const previous = lastOfGroup.get(group);
      lastOfGroup.set(group, field);
      if (!previous || !firstTwo(field)) continue;
      const err = gridError(mutate(text, [{ field, text: JSON.stringify(String(previous.value)) }]));
      expect(err, `duplicate ${fieldName(field.path)} accepted`).toBeDefined();
      expect(err!.message).toMatch(/duplicate .* id/);
      expect(err!.where.line).toBe(field.line);
      covered.grid.add(`${fieldName(field.path)} (duplicate)`);
      covered.files++;
    }
    for (const field of refs) {
      const err = gridError(mutate(text, [{ field, text: 'no-such-element' }]));
      expect(err, `unknown ${fieldName(field.path)} accepted`).toBeDefined();
      expect(err!.where.line).toBe(field.line);
      covered.grid.add(`${fieldName(field.path)} (unknown)`);
      covered.files++;
    }
    // Random combinations: one certainly-bad edit plus up to three random ones.
    const random = rng(17);
    const pick = <T>(list: readonly T[]) => list[Math.floor(random() * list.length)]!;
    let combos = 0;
    const t0 = performance.now();
    while ((performance.now() - t0 < BUDGET_MS && combos < 60) || combos < 5) {
      const bad = pick(numeric);
      if (infinityAllowed(String(bad.path[0]), String(bad.path[2]), Number.POSITIVE_INFINITY)) continue;
      const edits = [{ field: bad, text: '.nan' }];
      const extra = Math.floor(random() * 4);
      for (let i = 0; i < extra; i++) {
        const field = pick(numeric);
        if (edits.some((e) => e.field === field)) continue;
        edits.push({ field, text: pick([...RANDOM_VALUES, ...NON_FINITE]) });
      }
      const err = gridError(mutate(text, edits));
      expect(err, `combination ${combos} accepted`).toBeDefined();
      expect(err!.where.line, `combination ${combos}: ${err!.message}`).toBeDefined();
      combos++;
      covered.files++;
    }
  });
});

describe('fuzzed scenario files (every shipped scenario, every numeric and reference field)', () => {
  let twin: Twin | undefined;

  it('each field mutated in turn: refused at the right line, never non-finite', {
    timeout: budget(60_000),
  }, async () => {
    const dirs = [join(root, 'scenarios'), join(root, 'scenarios', 'attacks')];
    const files: string[] = [];
    for (const dir of dirs)
      for (const name of await readdir(dir)) if (name.endsWith('.yaml')) files.push(join(dir, name));
    expect(files.length).toBeGreaterThan(20);
    const t0 = performance.now();
    for (const file of files) {
      const text = await readFile(file, 'utf8');
      const fields = scalars(text);
      fields
        .filter((f) => typeof f.value === 'number')
        .forEach((field, k) => {
          const value = NON_FINITE[k % 3]!;
          let err: unknown;
          try {
            parseScenario(mutate(text, [{ field, text: value }]), file);
          } catch (e) {
            err = e;
          }
          expect(err, `${file}: ${fieldName(field.path)} = ${value} accepted`).toBeInstanceOf(ScenarioError);
          expect((err as ScenarioError).line, `${file}: ${fieldName(field.path)}`).toBe(field.line);
          covered.scenario.add(fieldName(field.path));
          covered.files++;
        });
      // References to the grid: renamed to something the grid does not have.
      const refs = fields.filter(
        (f) =>
          (f.path[0] === 'events' || f.path[0] === 'assertions') &&
          f.path.length === 3 &&
          SCENARIO_REFERENCES.has(String(f.path[2])),
      );
      for (const field of refs) {
        if (!twin) {
          const original = parseScenario(text, file);
          twin = await buildScenarioTwin(original, original.dt_s, { script: false });
        }
        const s = parseScenario(mutate(text, [{ field, text: 'no-such-element' }]), file);
        let err: unknown;
        try {
          checkReferences(s, twin);
        } catch (e) {
          err = e;
        }
        expect(err, `${file}: unknown ${fieldName(field.path)} accepted`).toBeInstanceOf(ScenarioError);
        expect((err as ScenarioError).line).toBe(
          s.lines[field.path[0] as 'events' | 'assertions'][field.path[1] as number],
        );
        covered.scenario.add(`${fieldName(field.path)} (unknown)`);
        covered.files++;
      }
      if (performance.now() - t0 > BUDGET_MS) break;
    }
  });
});

const cli = (args: string[]) => runGridloop(args);

describe('bad files through the real CLI process', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
    console.log(
      `hostile-files fuzz: ${covered.files} files; grid fields covered (${covered.grid.size}): ${[...covered.grid].sort().join(', ')}; scenario fields covered (${covered.scenario.size}): ${[...covered.scenario].sort().join(', ')}`,
    );
  });

  it('exit 2 with file:line and no stack trace; a 200,000-character path is not echoed whole', {
    timeout: budget(120_000),
  }, async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gridloop-hostile-'));
    dirs.push(dir);
    const gridText = await readFile(gridFile, 'utf8');
    await writeFile(join(dir, 'dup.yaml'), gridText.replace('{ id: L3-4,', '{ id: L2-3,'));
    const scenario = (extra: string, grid = gridFile) =>
      `name: t\ngrid: ${grid}\ndt_s: 0.01\nduration_s: 0.1\n${extra}`;
    const levels = ['a0: &a0 [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 10; i++)
      levels.push(
        `a${i}: &a${i} [${Array(9)
          .fill(`*a${i - 1}`)
          .join(', ')}]`,
      );
    const cases: [string, string, RegExp][] = [
      ['bomb.yaml', scenario(`${levels.join('\n')}\n`), /bomb\.yaml:6: too many YAML aliases/],
      [
        'island.yaml',
        scenario('assertions:\n  - { type: frequency-nadir, island: MG9, min_hz: 49 }\n'),
        /island\.yaml:6 \(at \/assertions\/0\/island\): unknown island 'MG9'/,
      ],
      [
        'dupgrid.yaml',
        scenario('', join(dir, 'dup.yaml')),
        /dup\.yaml:\d+ \(at \/branches\/1\/id\): duplicate branch id 'L2-3'/,
      ],
      ['longpath.yaml', scenario('', `${'a'.repeat(200_000)}.yaml`), /cannot read grid file/],
    ];
    for (const [name, text] of cases) await writeFile(join(dir, name), text);
    // Concurrently: each CLI start compiles the sources, which is most of its time.
    const runs = await Promise.all(
      cases.map(([name]) => cli(['simulate', '--no-record', '--json', join(dir, name)])),
    );
    for (const [k, [name, , expected]] of cases.entries()) {
      const run = runs[k]!;
      expect(run.code, `${name}: ${run.stderr}`).toBe(2);
      expect(run.stderr).toMatch(expected);
      expect(run.stderr).not.toMatch(/\n\s+at /);
      expect(run.stderr.length, name).toBeLessThan(2000);
      expect(run.stdout).not.toMatch(/NaN|Infinity/);
    }
  });
});
