import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ComtradeError, parseComtrade, parseComtradeConfig, splitCff } from './comtrade.ts';
import { loadComtrade } from './load.ts';

const fixtures = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'comtrade');

describe('COMTRADE fixtures (facts from test/fixtures/comtrade/SOURCES.md)', () => {
  it('2013 ASCII: channels, rate, samples, and a·x+b scaling of the first row', async () => {
    const r = await loadComtrade(join(fixtures, 'pycomtrade_sample_ascii_2013', 'sample_ascii.cfg'));
    expect(r.config).toMatchObject({
      station: 'SMARTSTATION',
      device: 'IED123',
      revision: '2013',
      format: 'ASCII',
    });
    expect(r.config.analog.map((c) => c.id)).toEqual(['IA', 'IB', 'IC', '3I0']);
    expect(r.config.digital.map((c) => c.id)).toEqual(['51A', '51B', '51C', '51N']);
    expect(r.config.lineFrequency_hz).toBe(60);
    expect(r.config.rates).toEqual([{ rate_hz: 1200, endSample: 40 }]);
    expect(r.config.timeCode).toBe('-5h30');
    expect(r.time_s).toHaveLength(40);
    // Row 1 is "1,72500,-83,68,7,-8,…"; IA = 0.1138916015625·(−83) + 0.05694580078125.
    expect(r.analog[0][0]).toBeCloseTo(0.1138916015625 * -83 + 0.05694580078125, 12);
    expect(r.analog[3][0]).toBeCloseTo(0.1138916015625 * -8 + 0.05694580078125, 12);
    // 51N picks up at sample 11, 51A and 51B at sample 14.
    expect(Array.from(r.digital[3]).indexOf(1)).toBe(10);
    expect(Array.from(r.digital[0]).indexOf(1)).toBe(13);
    expect(Array.from(r.digital[1]).indexOf(1)).toBe(13);
    expect(Array.from(r.digital[2]).indexOf(1)).toBe(-1);
    // Start 12/01/2011 05:55:30.075011 (dd/mm/yyyy) → 12 January 2011.
    expect(r.config.start_ns).toBe(BigInt(Date.UTC(2011, 0, 12, 5, 55, 30)) * 1_000_000n + 75_011_000n);
  });

  it('2013 .cff container holds the same record as the .cfg + .dat pair', async () => {
    const pair = await loadComtrade(join(fixtures, 'pycomtrade_sample_ascii_2013', 'sample_ascii.cfg'));
    const cff = await loadComtrade(join(fixtures, 'pycomtrade_sample_ascii_2013', 'sample_ascii.cff'));
    expect(cff.config).toEqual(pair.config);
    expect(cff.analog).toEqual(pair.analog);
    expect(cff.digital).toEqual(pair.digital);
  });

  it('1999 BINARY (16-bit): 18-byte samples, primary kV, time from the rate (stamps are 0)', async () => {
    const r = await loadComtrade(join(fixtures, 'pycomtrade_sample_bin_1999', 'sample_bin.cfg'));
    expect(r.config).toMatchObject({ revision: '1999', format: 'BINARY' });
    expect(r.config.analog).toHaveLength(4);
    expect(r.config.digital).toHaveLength(16);
    expect(r.config.analog[0]).toMatchObject({ unit: 'kV', primary: 120, secondary: 1, ps: 'P' });
    expect(r.time_s).toHaveLength(5);
    expect(r.time_s[4]).toBeCloseTo(4 / 15360, 12);
    const dat = await readFile(join(fixtures, 'pycomtrade_sample_bin_1999', 'sample_bin.dat'));
    // First VA sample read independently: int16 LE at byte 8, times a = 0.000361849.
    expect(r.analog[0][0]).toBeCloseTo(dat.readInt16LE(8) * 0.000361849, 12);
    expect(r.digital.every((d) => d.every((bit) => bit === 0))).toBe(true);
  });

  it('2013 FLOAT32 in a CR/LF .cff: 301 samples at 100/s, value climbing from ≈2.81 to ≈44.93', async () => {
    const r = await loadComtrade(join(fixtures, 'pycomtrade_sample_float32_2013_cff', 'sample_float32.cff'));
    expect(r.config).toMatchObject({ revision: '2013', format: 'FLOAT32', nanosecondTimestamps: true });
    expect(r.time_s).toHaveLength(301);
    expect(r.time_s[300]).toBeCloseTo(3, 9);
    expect(r.analog[0][0]).toBeCloseTo(2.81, 2);
    expect(r.analog[0][300]).toBeCloseTo(44.93, 2);
    expect(r.config.start_ns % 1_000_000_000n).toBe(422_969_065n);
  });

  it('1991 ASCII: no revision field, mm/dd/yy dates, 8 rate segments, gaps taken from the time stamps', async () => {
    const r = await loadComtrade(join(fixtures, 'comtradeio_ascii_1991_line_diff', 'ascii_1991.cfg'));
    expect(r.config.revision).toBe('1991');
    expect(r.config.analog).toHaveLength(24);
    expect(r.config.digital).toHaveLength(37);
    expect(r.config.rates).toHaveLength(8);
    expect(r.time_s).toHaveLength(2131);
    expect(r.config.start_ns).toBe(BigInt(Date.UTC(2015, 8, 17, 10, 52, 52)) * 1_000_000n + 987_545_000n);
    expect(r.config.trigger_ns - r.config.start_ns).toBe(77_500_000n);
    // Segment 1 ends at sample 289; the next sample comes ≥ 0.28 s later, not 1/1200 s.
    expect(r.time_s[289] - r.time_s[288]).toBeGreaterThan(0.28);
    expect(r.time_s[1] - r.time_s[0]).toBeCloseTo((-76666 + 77500) * 1e-6, 9);
    expect(r.header).toContain('PSL-603');
  });

  it('1999 BINARY with nrates 0: time from stamps, ≈800 samples/s, 64-byte samples', async () => {
    const r = await loadComtrade(join(fixtures, 'wisp_c60_binary_1999', '3.cfg'));
    expect(r.config.analog).toHaveLength(24);
    expect(r.config.digital).toHaveLength(64);
    expect(r.time_s).toHaveLength(1360);
    const step = (r.time_s[1359] - r.time_s[0]) / 1359;
    expect(step).toBeGreaterThan(1248e-6);
    expect(step).toBeLessThan(1251e-6);
    expect(r.config.analog[4].id).toBe('F5-VA');
  });

  it('2013 BINARY32: 194-byte samples, 2000/s, 202 samples, placeholder trigger', async () => {
    const r = await loadComtrade(join(fixtures, 'wisp_ritm_binary32_2013', '5.cfg'));
    expect(r.config).toMatchObject({ revision: '2013', format: 'BINARY32' });
    expect(r.config.analog).toHaveLength(37);
    expect(r.config.digital).toHaveLength(300);
    expect(r.time_s).toHaveLength(202);
    expect(r.config.trigger_ns).toBe(0n);
    // Ia–Ic are zero throughout.
    for (let c = 0; c < 3; c++) expect(r.analog[c].every((x) => x === 0)).toBe(true);
  });
});

describe('COMTRADE bad input names the file and line or byte', () => {
  const cfg = `S,D,1999\n2,1A,1D\n1,VA,A,,V,0.5,1,0,-32767,32767,1,1,S\n1,TRIP,,,0\n50\n1\n1000,3\n01/02/2020,00:00:00.000000\n01/02/2020,00:00:00.001000\nASCII\n1\n`;

  it('parses a hand-written 1999 ASCII record', () => {
    const r = parseComtrade(cfg, new TextEncoder().encode('1,0,10,0\n2,1000,20,1\n3,2000,99999,1\n'));
    expect(Array.from(r.analog[0])).toEqual([6, 11, Number.NaN]);
    expect(Array.from(r.digital[0])).toEqual([0, 1, 1]);
    expect(Array.from(r.time_s)).toEqual([0, 0.001, 0.002]);
  });

  it('reports configuration errors with file:line', () => {
    expect(() => parseComtradeConfig(cfg.replace('2,1A,1D', '3,1A,1D'), 'x.cfg')).toThrow(
      'x.cfg:2: 1A + 1D does not add up to 3 channels',
    );
    expect(() => parseComtradeConfig(cfg.replace('0.5,1', 'half,1'), 'x.cfg')).toThrow(
      "x.cfg:3: multiplier a 'half'",
    );
    expect(() => parseComtradeConfig(cfg.replace('ASCII', 'EBCDIC'), 'x.cfg')).toThrow(
      'x.cfg:10: data file type',
    );
    expect(() =>
      parseComtradeConfig(cfg.replace('01/02/2020,00:00:00.000000', 'yesterday'), 'x.cfg'),
    ).toThrow("x.cfg:8: date/time 'yesterday'");
    expect(() => parseComtradeConfig('S,D,1999\n', 'x.cfg')).toThrow(
      /x\.cfg:2: file ends before the channel count/,
    );
    expect(() => parseComtradeConfig('S,D,20x2\n', 'x.cfg')).toThrow(/revision year '20x2'/);
  });

  it('reports data errors with file:line (ASCII) and byte offset (binary)', () => {
    expect(() =>
      parseComtrade(cfg, new TextEncoder().encode('1,0,10,0\n2,1,x,1\n3,2,1,1\n'), {
        cfg: 'x.cfg',
        dat: 'x.dat',
      }),
    ).toThrow("x.dat:2: analog 1 'x' is not a number");
    expect(() =>
      parseComtrade(cfg, new TextEncoder().encode('1,0,10,0\n2,1,1,2\n3,2,1,1\n'), {
        cfg: 'x.cfg',
        dat: 'x.dat',
      }),
    ).toThrow("x.dat:2: digital 1 is '2'");
    expect(() =>
      parseComtrade(cfg, new TextEncoder().encode('1,0,10,0\n'), { cfg: 'x.cfg', dat: 'x.dat' }),
    ).toThrow('x.dat:2: 1 samples, but the configuration announces 3');
    const binary = cfg.replace('ASCII', 'BINARY');
    expect(() => parseComtrade(binary, new Uint8Array(25), { cfg: 'x.cfg', dat: 'x.dat' })).toThrow(
      'x.dat: byte 24: 25 bytes is not a whole number of 12-byte samples',
    );
    expect(() => splitCff(new TextEncoder().encode('--- file type: CFG ---\nS,D\n'), 'x.cff')).toThrow(
      /x\.cff: no '--- file type: DAT/,
    );
  });

  it('a missing file is a clear error, not a crash', async () => {
    await expect(loadComtrade(join(fixtures, 'nope.cfg'))).rejects.toThrow(ComtradeError);
    await expect(loadComtrade(join(fixtures, 'SOURCES.md'))).rejects.toThrow(
      /\.cfg \(\+ \.dat\), or a \.cff/,
    );
  });
});
