import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PowerFlowSolver } from '../powerflow/index.ts';
import { parseMatpower } from './matpower.ts';
import { GridInputError } from './model.ts';
import { gridSchema, gridToYaml, parseGridYaml } from './yaml.ts';

const docsExample = (() => {
  const md = readFileSync(new URL('../../docs/grid-format.md', import.meta.url), 'utf8');
  const block = /## Example[^\n]*\n+```yaml\n([\s\S]*?)```/.exec(md);
  if (!block) throw new Error('docs/grid-format.md lost its example block');
  return block[1]!;
})();

function errorOf(text: string, file = 'bad.yaml'): GridInputError {
  try {
    parseGridYaml(text, file);
  } catch (err) {
    if (err instanceof GridInputError) return err;
    throw err;
  }
  throw new Error('expected a GridInputError');
}

/** 1-based line of the first occurrence of `needle` in `text`. */
const lineOf = (text: string, needle: string) => text.slice(0, text.indexOf(needle)).split('\n').length;

describe('YAML grid format', () => {
  it('the schema is itself a valid draft-07 JSON Schema', () => {
    const ajv = new Ajv({
      strict: true,
      strictRequired: false,
      strictTypes: false,
      strictTuples: false,
      allowUnionTypes: true,
    });
    expect(() => ajv.compile(gridSchema())).not.toThrow();
  });

  it('reads the documented example: microgrids, DERs with technology parameters, FIDs, switches, coordinates', () => {
    const { grid } = parseGridYaml(docsExample, 'example.yaml');
    expect(grid.baseMVA).toBe(10);
    expect(grid.microgrids.map((m) => m.id)).toEqual(['mg1', 'mg2']);
    expect(grid.buses.find((b) => b.id === 'mg1-a')).toMatchObject({ microgrid: 'mg1', x: 3, y: 0 });
    expect(grid.switches.find((s) => s.id === 'mg2-breaker')).toMatchObject({
      kind: 'breaker',
      closed: false,
    });
    expect(grid.ders.find((d) => d.id === 'mg1-bess')).toMatchObject({
      technology: 'battery',
      control: 'grid-forming',
      params: { energy_mwh: 0.5, soc0: 0.6, virtualInertia_s: 2 },
    });
    expect(grid.fids[0]).toMatchObject({ busA: 'mg1-pcc', busB: 'mg2-pcc', lossFraction: 0.02 });
    // Ohms converted on the from bus's base: 0.32 Ω at 20 kV, 10 MVA → 0.32 / 40.
    expect(grid.branches[0]!.r_pu).toBeCloseTo(0.32 / 40, 12);
    // 2.5 µS × 40 Ω = 1e-4 pu
    expect(grid.branches[0]!.b_pu).toBeCloseTo(1e-4, 12);
  });

  it('the example solves: the open breaker leaves microgrid 2 islanded on its diesel', () => {
    const { grid } = parseGridYaml(docsExample, 'example.yaml');
    const pf = new PowerFlowSolver(grid);
    const result = pf.solve();
    expect(result.converged).toBe(true);
    expect(pf.islands).toHaveLength(2);
    const mg2 = pf.islands.find((i) => i.buses.includes(pf.busIndex('mg2-a')))!;
    expect(pf.net.busIds[mg2.referenceBus]).toBe('mg2-pcc');
    // Island 2 balance: diesel = school load - wind + FID import (0.01 · 0.98) deficit, plus losses.
    const diesel = pf.unitPOut_mw[pf.unitIndex('mg2-diesel')]!;
    expect(diesel).toBeGreaterThan(0.08 - 0.02 - 0.0098);
    expect(diesel).toBeLessThan(0.08 - 0.02 - 0.0098 + 0.002);
  });

  describe('errors name file, line and JSON path', () => {
    it('unknown field (a typo)', () => {
      const text = docsExample.replace('p_mw: 0.12', 'pmw: 0.12');
      const err = errorOf(text);
      expect(err.where).toMatchObject({ line: lineOf(text, 'pmw: 0.12'), path: '/loads/0/pmw' });
      expect(err.message).toMatch(/^bad\.yaml:\d+ \(at \/loads\/0\/pmw\): unknown field 'pmw'/);
    });
    it('parameter of another technology in a DER', () => {
      const text = docsExample.replace('{ energy_mwh: 0.5,', '{ cutIn_m_s: 3, energy_mwh: 0.5,');
      const err = errorOf(text);
      expect(err.where.path).toBe('/ders/0/params/cutIn_m_s');
      expect(err.where.line).toBe(lineOf(text, 'cutIn_m_s: 3, energy'));
    });
    it('bad enum value', () => {
      const err = errorOf(docsExample.replace('technology: wind', 'technology: windmill'));
      expect(err.where.path).toBe('/ders/3/technology');
      expect(err.message).toMatch(/must be one of "pv", "wind"/);
    });
    it('missing required field points at its element', () => {
      const text = docsExample.replace(
        '{ id: school, bus: mg2-a, p_mw: 0.08, q_mvar: 0.02 }',
        '{ id: school, bus: mg2-a }',
      );
      const err = errorOf(text);
      expect(err.message).toMatch(/missing required field 'p_mw'/);
      expect(err.where).toMatchObject({ path: '/loads/1', line: lineOf(text, '{ id: school') });
    });
    it('both pu and ohm impedances', () => {
      const err = errorOf(docsExample.replace('r_ohm: 0.32,', 'r_ohm: 0.32, r_pu: 0.1,'));
      expect(err.where.path).toBe('/branches/0');
      expect(err.message).toMatch(/either as r_pu and x_pu or as r_ohm and x_ohm/);
    });
    it('unknown bus id', () => {
      const text = docsExample.replace('from: mg1-pcc, to: mg1-a', 'from: mg1-pcc, to: mg1-b');
      const err = errorOf(text);
      expect(err.message).toMatch(/unknown bus id 'mg1-b'/);
      expect(err.where).toMatchObject({ path: '/branches/2/to', line: lineOf(text, 'to: mg1-b') });
    });
    it('zero-impedance branch', () => {
      const text = docsExample.replace('r_pu: 0.01, x_pu: 0.06', 'r_pu: 0, x_pu: 0');
      const err = errorOf(text);
      expect(err.message).toMatch(/zero impedance; model it as a switch/);
      expect(err.where.line).toBe(lineOf(text, 'r_pu: 0, x_pu: 0'));
    });
    it('NaN and infinite numbers', () => {
      expect(errorOf(docsExample.replace('p_mw: 0.12', 'p_mw: .nan')).where.path).toBe('/loads/0/p_mw');
      expect(errorOf(docsExample.replace('p_mw: 0.12', 'p_mw: .inf')).where.path).toBe('/loads/0/p_mw');
    });
    it('YAML syntax error and truncated file', () => {
      const broken = docsExample.replace('{ id: house1, bus: mg1-a,', '{ id: house1, bus: [mg1-a,');
      const err = errorOf(broken);
      expect(err.message).toMatch(/^bad\.yaml:\d+: YAML syntax/);
      const truncated = docsExample.slice(0, docsExample.indexOf('{ id: t1,') + 12);
      expect(errorOf(truncated).message).toMatch(/^bad\.yaml:\d+/);
    });
    it('unknown microgrid and pcc switch references', () => {
      expect(
        errorOf(docsExample.replace('microgrid: mg2, xy: [2, -1]', 'microgrid: mg9, xy: [2, -1]')).message,
      ).toMatch(/unknown microgrid 'mg9'/);
      expect(errorOf(docsExample.replace('pccSwitch: mg1-breaker', 'pccSwitch: nope')).where.path).toBe(
        '/microgrids/0/pccSwitch',
      );
    });
    it('wrong format tag and non-mapping documents', () => {
      expect(errorOf(docsExample.replace('gridloop-grid/1', 'gridloop-grid/9')).where.path).toBe('/format');
      expect(errorOf('- just\n- a list\n').message).toMatch(/must be a YAML mapping/);
    });
  });

  it('fuzzed files: parse or fail with GridInputError, never anything else', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            at: fc.nat({ max: docsExample.length }),
            cut: fc.nat({ max: 30 }),
            insert: fc.oneof(
              fc.string({ maxLength: 6 }),
              fc.constantFrom(
                '{',
                '}',
                '[',
                ']',
                ':',
                '- ',
                '\n',
                '  ',
                '.nan',
                '&a',
                '*a',
                '!!binary',
                '#',
                '"',
              ),
            ),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        (edits) => {
          let text = docsExample;
          for (const e of edits) {
            const at = Math.min(e.at, text.length);
            text = text.slice(0, at) + e.insert + text.slice(at + e.cut);
          }
          try {
            parseGridYaml(text, 'fuzz.yaml');
          } catch (err) {
            expect(err).toBeInstanceOf(GridInputError);
            expect((err as Error).message).toMatch(/^fuzz\.yaml/);
          }
        },
      ),
      { numRuns: 80, seed: 11 },
    );
  });
});

describe('MATPOWER → YAML export', () => {
  it.each(['case33bw', 'case118'])('%s round-trips to the same model and the same power flow', (name) => {
    const text = readFileSync(new URL(`../../grids/matpower/${name}.m`, import.meta.url), 'utf8');
    const { grid } = parseMatpower(text, `${name}.m`);
    const yamlText = gridToYaml(grid, { header: `exported from ${name}.m` });
    expect(yamlText.startsWith(`# exported from ${name}.m\nformat: gridloop-grid/1\n`)).toBe(true);
    const back = parseGridYaml(yamlText, `${name}.yaml`).grid;
    expect(back).toEqual(grid);
    const a = new PowerFlowSolver(grid, { enforceQLimits: true });
    const b = new PowerFlowSolver(back, { enforceQLimits: true });
    a.solve();
    b.solve();
    expect(Array.from(b.vm_pu)).toEqual(Array.from(a.vm_pu));
  });
});

describe('hostile grid files are refused with file, line and path (issue 17)', () => {
  const refused = (from: string, to: string, path: string, message: RegExp, needle = to) => {
    expect(docsExample).toContain(from);
    const text = docsExample.replace(from, to);
    const err = errorOf(text);
    expect(err.where.path).toBe(path);
    // The last occurrence: a duplicate is reported where it repeats.
    expect(err.where.line).toBe(text.slice(0, text.lastIndexOf(needle)).split('\n').length);
    expect(err.message).toMatch(message);
  };

  it.each([
    ['branch', '{ id: mg2-line,', '{ id: mg1-line,', '/branches/3/id', /duplicate branch id 'mg1-line'/],
    ['load', '{ id: school,', '{ id: house1,', '/loads/1/id', /duplicate load id 'house1'/],
    [
      'FID',
      '  - { id: fid12, busA: mg1-pcc, busB: mg2-pcc, rating_mva: 0.1, p_ab_mw: 0.01 }',
      '  - { id: fid12, busA: mg1-pcc, busB: mg2-pcc, rating_mva: 0.1, p_ab_mw: 0.01 }\n  - { id: fid12, busA: mg1-a, busB: mg2-a, rating_mva: 0.1 }',
      '/fids/1/id',
      /duplicate FID id 'fid12'/,
    ],
    [
      'branch and switch (both breakers)',
      '{ id: mg2-line,',
      '{ id: mg2-breaker,',
      '/switches/1/id',
      /duplicate switch id 'mg2-breaker' \(already used by branches\[3\]\)/,
    ],
    [
      'generator and DER (both units)',
      'id: mg2-wind',
      'id: utility',
      '/ders/3/id',
      /duplicate DER id 'utility'/,
    ],
  ])('duplicate %s ids', (_what, from, to, path, message) => {
    const needle = to.includes('\n') ? to.split('\n')[1]! : to;
    refused(from, to, path, message, needle);
  });

  it('negative resistance of a line', () => {
    refused(
      'r_ohm: 0.02, x_ohm: 0.01 }\n  - { id: mg2-line',
      'r_ohm: -0.02, x_ohm: 0.01 }\n  - { id: mg2-line',
      '/branches/2/r_pu',
      /line 'mg1-line' has negative resistance/,
      'r_ohm: -0.02',
    );
  });

  it('non-finite numbers, wherever they are', () => {
    refused(
      'p_mw: 0.12',
      'p_mw: .inf',
      '/loads/0/p_mw',
      /\.inf is not allowed here: every number must be finite/,
    );
    refused('h_s: 1.2', 'h_s: .nan', '/ders/2/params/h_s', /\.nan is not allowed/);
    refused('baseMVA: 10', 'baseMVA: .inf', '/baseMVA', /\.inf is not allowed/);
    refused('qmin_mvar: -10', 'qmin_mvar: .inf', '/generators/0/qmin_mvar', /\.inf is not allowed/);
  });

  it('non-positive ratings and limits the wrong way round', () => {
    refused('rating_mva: 0.1, p_ab_mw', 'rating_mva: 0, p_ab_mw', '/fids/0/rating_mva', /must be > 0/);
    refused('rating_mva: 0.05', 'rating_mva: -0.05', '/ders/3/rating_mva', /must be > 0/);
    refused(
      'qmin_mvar: -10, qmax_mvar: 10',
      'qmin_mvar: 10, qmax_mvar: -10',
      '/generators/0/qmin_mvar',
      /qmin_mvar 10 is above qmax_mvar -10/,
    );
  });

  it('what real data legitimately carries is accepted', () => {
    // A series capacitor (negative x), a transformer's star-point leg (negative r and x), and
    // a generator without reactive limits (MATPOWER's ±Inf).
    const text = docsExample
      .replace(
        'r_ohm: 0.02, x_ohm: 0.01 }\n  - { id: mg2-line',
        'r_ohm: 0.02, x_ohm: -0.01 }\n  - { id: mg2-line',
      )
      .replace('r_pu: 0.01, x_pu: 0.06, tap', 'r_pu: -0.001, x_pu: -0.006, tap')
      .replace('qmin_mvar: -10, qmax_mvar: 10', 'qmin_mvar: -.inf, qmax_mvar: .inf');
    const { grid } = parseGridYaml(text, 'ok.yaml');
    expect(grid.generators[0]).toMatchObject({ qmin_mvar: -Infinity, qmax_mvar: Infinity });
    expect(grid.branches[1]!.r_pu).toBe(-0.001);
  });

  it('a YAML alias bomb is refused at its first alias', () => {
    const levels = ['a0: &a0 [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 10; i++)
      levels.push(
        `a${i}: &a${i} [${Array(9)
          .fill(`*a${i - 1}`)
          .join(', ')}]`,
      );
    const err = errorOf(`baseMVA: 1\nbuses: [{ id: 1, baseKV: 1 }]\n${levels.join('\n')}\n`);
    expect(err.message).toContain('too many YAML aliases');
    expect(err.where.line).toBe(4);
  });
});
