import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseMatpower } from './matpower.ts';
import { GridInputError } from './model.ts';

const casePath = (name: string) => new URL(`../../grids/matpower/${name}.m`, import.meta.url);
const caseText = (name: string) => readFileSync(casePath(name), 'utf8');

const tiny = `function mpc = tiny
mpc.version = '2';
mpc.baseMVA = 100;
mpc.bus = [
	1	3	0	0	0	0	1	1	0	138	1	1.1	0.9;
	2	1	50	20	0	0	1	1	0	138	1	1.1	0.9;
];
mpc.gen = [
	1	0	0	100	-100	1.02	100	1	200	0;
];
mpc.branch = [
	1	2	0.01	0.1	0.02	0	0	0	0	0	1	-360	360;
];
`;

function errorOf(text: string): GridInputError {
  try {
    parseMatpower(text, 'bad.m');
  } catch (err) {
    if (err instanceof GridInputError) return err;
    throw err;
  }
  throw new Error('expected a GridInputError');
}

describe('parseMatpower', () => {
  it('reads buses, loads, generators and branches of case14', () => {
    const { grid } = parseMatpower(caseText('case14'), 'case14.m');
    expect(grid.name).toBe('case14');
    expect(grid.baseMVA).toBe(100);
    expect(grid.buses).toHaveLength(14);
    expect(grid.generators).toHaveLength(5);
    expect(grid.branches).toHaveLength(20);
    expect(grid.buses[0]).toMatchObject({ id: '1', kind: 'slack', vm_pu: 1.06, va_deg: 0 });
    // Bus 2: Pd 21.7, Qd 12.7 in the file.
    expect(grid.loads.find((l) => l.bus === '2')).toMatchObject({ p_mw: 21.7, q_mvar: 12.7 });
    // Bus 9 carries Bs = 19 Mvar.
    expect(grid.shunts.find((s) => s.bus === '9')).toMatchObject({ b_mvar: 19 });
    // Branch 4-7 is a transformer with ratio 0.978.
    expect(grid.branches.find((b) => b.from === '4' && b.to === '7')).toMatchObject({
      kind: 'transformer',
      tap: 0.978,
    });
  });

  it('applies case33bw trailing conversion: ohms to pu on (12.66 kV)²/10 MVA, kW to MW', () => {
    const { grid, convertedUnits } = parseMatpower(caseText('case33bw'), 'case33bw.m');
    expect(convertedUnits).toEqual({ ohmsToPu: true, kwToMw: true });
    const zBase = 12.66 ** 2 / 10; // 16.02756 Ω
    // First branch 1-2 is 0.0922 + j0.0470 Ω in the file.
    expect(grid.branches[0]!.r_pu).toBeCloseTo(0.0922 / zBase, 12);
    expect(grid.branches[0]!.x_pu).toBeCloseTo(0.047 / zBase, 12);
    // Bus 2 load is 100 kW + 60 kvar.
    expect(grid.loads.find((l) => l.bus === '2')).toMatchObject({ p_mw: 0.1, q_mvar: 0.06 });
    const total = grid.loads.reduce((s, l) => s + l.p_mw, 0);
    expect(total).toBeCloseTo(3.715, 9); // Baran & Wu: 3715 kW total load
    // The five tie switches are out of service.
    expect(grid.branches.filter((b) => !b.inService).map((b) => `${b.from}-${b.to}`)).toEqual([
      '21-8',
      '9-15',
      '12-22',
      '18-33',
      '25-29',
    ]);
  });

  it('applies the same conversion to case69', () => {
    const { grid, convertedUnits } = parseMatpower(caseText('case69'), 'case69.m');
    expect(convertedUnits).toEqual({ ohmsToPu: true, kwToMw: true });
    const total = grid.loads.reduce((s, l) => s + l.p_mw, 0);
    // MATPOWER's v2 data sums to 3802.1 kW (the paper's tables give 3802.19 kW).
    expect(total).toBeCloseTo(3.8021, 9);
  });

  it('reads bus names from mpc.bus_name', () => {
    const { grid } = parseMatpower(caseText('case118'), 'case118.m');
    expect(grid.buses[0]!.name).toBe('Riversde  V2');
  });

  describe('bad input names the file and line', () => {
    it('unknown bus id in a branch', () => {
      const err = errorOf(tiny.replace('\t1\t2\t0.01', '\t1\t7\t0.01'));
      expect(err.message).toMatch(/^bad\.m:12 .*unknown bus id '7'/);
      expect(err.where.path).toBe('/branches/0/to');
    });
    it('unknown bus id in a generator', () => {
      const err = errorOf(tiny.replace('\t1\t0\t0\t100', '\t5\t0\t0\t100'));
      expect(err.message).toMatch(/^bad\.m:9 .*unknown bus id '5'/);
    });
    it('zero-impedance branch', () => {
      const err = errorOf(tiny.replace('0.01\t0.1\t0.02', '0\t0\t0.02'));
      expect(err.message).toMatch(/^bad\.m:12 .*zero impedance/);
    });
    it('NaN and Inf values', () => {
      expect(errorOf(tiny.replace('0.01\t0.1', 'NaN\t0.1')).message).toMatch(
        /^bad\.m:12 .*'NaN' in mpc\.branch: values must be finite/,
      );
      expect(errorOf(tiny.replace('50\t20', 'Inf\t20')).message).toMatch(
        /^bad\.m:6 .*'Inf' in mpc\.bus: values must be finite/,
      );
      expect(errorOf(tiny.replace('50\t20', '5x0\t20')).message).toMatch(
        /^bad\.m:6 .*'5x0' in mpc\.bus: not a number/,
      );
    });
    it('±Inf only where MATPOWER means "no limit": gen QMAX = Inf, QMIN = -Inf (PEGASE cases)', () => {
      const unlimited = parseMatpower(tiny.replace('0\t0\t100\t-100', '0\t0\tInf\t-Inf'), 'ok.m').grid;
      expect(unlimited.generators[0]).toMatchObject({
        qmax_mvar: Number.POSITIVE_INFINITY,
        qmin_mvar: Number.NEGATIVE_INFINITY,
      });
      // Wrong sign, NaN, or any other column: still refused, with the column named.
      const wrongSign = errorOf(tiny.replace('0\t0\t100\t-100', '0\t0\t-Inf\t-Inf'));
      expect(wrongSign.message).toMatch(
        /^bad\.m:9 .*'-Inf' in mpc\.gen: values must be finite \(QMAX may be Inf/,
      );
      expect(wrongSign.where.path).toBe('/mpc/gen/3');
      expect(errorOf(tiny.replace('0\t0\t100\t-100', '0\t0\tNaN\t-100')).message).toMatch(
        /^bad\.m:9 .*'NaN' in mpc\.gen: values must be finite/,
      );
      expect(errorOf(tiny.replace('0\t0\t100\t-100', 'Inf\t0\t100\t-100')).message).toMatch(
        /^bad\.m:9 .*'Inf' in mpc\.gen: values must be finite \(only QMAX = Inf and QMIN = -Inf/,
      );
    });
    it('truncated file', () => {
      const cut = tiny.slice(0, tiny.indexOf('mpc.branch') + 30);
      const err = errorOf(cut);
      expect(err.message).toMatch(/^bad\.m:\d+: file ends inside mpc\.branch \(opened at line 11\)/);
    });
    it('missing blocks and short rows', () => {
      expect(errorOf(tiny.replace(/mpc\.gen = \[[^\]]*\];/, '')).message).toMatch(/mpc\.gen is missing/);
      expect(
        errorOf(tiny.replace('\t1\t0\t0\t100\t-100\t1.02\t100\t1\t200\t0;', '\t1\t0\t0;')).message,
      ).toMatch(/^bad\.m:9 .*3 columns, needs at least 10/);
    });
    it('duplicate bus id', () => {
      const err = errorOf(tiny.replace('\t2\t1\t50', '\t1\t1\t50'));
      expect(err.message).toMatch(/^bad\.m:6 .*duplicate bus id '1'/);
    });
    it('MATLAB code it does not understand', () => {
      const err = errorOf(`${tiny}mpc.branch(:, 3) = 2 * mpc.branch(:, 3);\n`);
      expect(err.message).toMatch(/^bad\.m:14: unsupported MATLAB statement/);
    });
  });

  it('fuzzed files: parse or fail with GridInputError, never anything else', () => {
    const source = caseText('case14');
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            at: fc.nat({ max: source.length }),
            cut: fc.nat({ max: 40 }),
            insert: fc.oneof(
              fc.string({ maxLength: 8 }),
              fc.constantFrom(']', '[', ';', '%', "'", 'NaN', '-Inf', '\n', '...', '{', '}', '1e999', '\t0'),
            ),
          }),
          { minLength: 1, maxLength: 6 },
        ),
        (edits) => {
          let text = source;
          for (const e of edits) {
            const at = Math.min(e.at, text.length);
            text = text.slice(0, at) + e.insert + text.slice(at + e.cut);
          }
          try {
            const { grid } = parseMatpower(text, 'fuzz.m');
            for (const b of grid.branches) expect(Number.isFinite(b.r_pu)).toBe(true);
          } catch (err) {
            expect(err).toBeInstanceOf(GridInputError);
            expect((err as GridInputError).message).toMatch(/^fuzz\.m/);
          }
        },
      ),
      { numRuns: 400, seed: 42 },
    );
  });
});
