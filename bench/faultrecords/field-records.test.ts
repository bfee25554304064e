/**
 * Fault records as they come from the field (issue 16): time stamps that wrap, revision years
 * the standard never had, multi-rate records with slow segments, and replays that would drive
 * the grid somewhere no grid goes. Real records are the fixtures in test/fixtures/comtrade/
 * (SOURCES.md); the wrapped ones are those real records with their stamps rewritten as a
 * wrapping counter would have written them.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseComtrade, parseComtradeConfig } from './comtrade.ts';
import { buildDriveSeries, comtradeSignals, FaultRecordError, MIN_SAMPLES_PER_CYCLE } from './drive.ts';
import { loadFaultRecord, runFaultRecord } from './index.ts';
import { loadComtrade } from './load.ts';

const fixtures = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'comtrade');

async function realRecord(dir: string, stem: string) {
  const cfg = await readFile(join(fixtures, dir, `${stem}.cfg`), 'latin1');
  const dat = new Uint8Array(await readFile(join(fixtures, dir, `${stem}.dat`)));
  return { cfg, dat };
}

/** Rewrites the 32-bit time stamp of every binary sample as `rewrite(stamp)`. */
function rewriteStamps(dat: Uint8Array, recordBytes: number, rewrite: (stamp: number) => number): Uint8Array {
  const copy = dat.slice();
  const view = new DataView(copy.buffer);
  for (let p = 0; p < copy.length; p += recordBytes)
    view.setUint32(p + 4, rewrite(view.getUint32(p + 4, true)), true);
  return copy;
}

const throwsOf = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    return (err as Error).message;
  }
  return 'no error';
};

describe('time stamps that wrap', () => {
  it('16-bit counter, valid rate table (real BINARY32 relay record): times from the rate table, with a warning', async () => {
    const { cfg, dat } = await realRecord('wisp_ritm_binary32_2013', '5');
    const original = parseComtrade(cfg, dat);
    // 202 samples at 2000/s: the µs stamps run to 100,500, past a 16-bit counter's 65,535.
    const wrapped = rewriteStamps(dat, 194, (s) => s % 65536);
    const record = parseComtrade(cfg, wrapped, { cfg: '5.cfg', dat: '5.dat' });
    expect(record.time_s).toHaveLength(202);
    for (let i = 0; i < 202; i++) {
      expect(record.time_s[i]).toBeCloseTo(i / 2000, 12);
      expect(record.time_s[i]).toBeCloseTo(original.time_s[i]!, 12);
    }
    expect(record.warnings.join('\n')).toMatch(
      /5\.dat: sample 133: time stamp 464 goes back from 65500 .*sampling-rate table/,
    );
  });

  it('16-bit counter, no rate table (real C60 record, nrates 0): the wrap is undone, with a warning', async () => {
    const { cfg, dat } = await realRecord('wisp_c60_binary_1999', '3');
    const original = parseComtrade(cfg, dat);
    const wrapped = rewriteStamps(dat, 64, (s) => s % 65536);
    const record = parseComtrade(cfg, wrapped, { cfg: '3.cfg', dat: '3.dat' });
    // The record starts at a stamp that is not 0: times count from it, as in the original.
    expect(Array.from(record.time_s)).toEqual(Array.from(original.time_s));
    expect(record.time_s[record.time_s.length - 1]).toBeGreaterThan(1.6);
    expect(record.warnings.join('\n')).toMatch(/time stamps wrap at 65536 \(a 16-bit counter\); unwrapped/);
  });

  /** 2013 ASCII record, nanosecond stamps, 1000 samples/s for 6 s (stamps pass 2^32 ns ≈ 4.29 s). */
  function nanosecondRecord(nrates: 0 | 1) {
    const n = 6000;
    const cfg = [
      'LAB,RECORDER,2013',
      '1,1A,0D',
      '1,VA,a,bus,V,1,0,0,-100000,100000,1,1,P',
      '50',
      String(nrates),
      nrates === 1 ? `1000,${n}` : `0,${n}`,
      '01/02/2024,00:00:00.000000000',
      '01/02/2024,00:00:01.000000000',
      'ASCII',
      '1',
      '0,0',
      '0,0',
    ].join('\n');
    const rows: string[] = [];
    for (let i = 0; i < n; i++) {
      const stamp = (i * 1_000_000) % 2 ** 32;
      rows.push(`${i + 1},${stamp},${Math.round(1000 * Math.sin((2 * Math.PI * 50 * i) / 1000))}`);
    }
    return { cfg, dat: new TextEncoder().encode(rows.join('\n')) };
  }

  it.each([1, 0] as const)(
    '32-bit nanosecond stamps wrapping after 4.29 s (nrates %i): read, with a warning',
    (nrates) => {
      const { cfg, dat } = nanosecondRecord(nrates);
      const record = parseComtrade(cfg, dat, { cfg: 'ns.cfg', dat: 'ns.dat' });
      expect(record.config.nanosecondTimestamps).toBe(true);
      // Sample 4296 is the first past 2^32 ns = 4.294967296 s.
      for (const i of [0, 4294, 4295, 4296, 5999]) expect(record.time_s[i]).toBeCloseTo(i / 1000, 9);
      expect(record.warnings).toHaveLength(1);
      expect(record.warnings[0]).toContain('ns.dat: sample 4296');
    },
  );
});

describe('revision years the standard never had', () => {
  it.each([
    ['2001', '1999'],
    ['1997', '1999'],
    ['2042', '2013'],
    ['1990', '1991'],
  ])('%s is read as %s, with a warning (real 2013 record)', async (year, as) => {
    const { cfg, dat } = await realRecord('pycomtrade_sample_ascii_2013', 'sample_ascii');
    const record = parseComtrade(cfg.replace('IED123,2013', `IED123,${year}`), dat, {
      cfg: 'x.cfg',
      dat: 'x.dat',
    });
    expect(record.config.revision).toBe(as);
    expect(record.time_s).toHaveLength(40);
    expect(record.warnings).toEqual([`x.cfg:1: revision year ${year} is not a standard one; read as ${as}`]);
  });

  it('a revision field that is not a year is still refused', () => {
    expect(() => parseComtradeConfig('S,D,rev9\n', 'x.cfg')).toThrow(
      /x\.cfg:1: revision year 'rev9' is not a year/,
    );
  });
});

/**
 * A multi-rate ASCII record of a 50 Hz, 1 pu (RMS 1000) voltage as a disturbance recorder writes
 * it: `segments` of [rate Hz, seconds], with an optional gap (s) after the first segment.
 */
function multiRate(segments: [number, number][], gap_s = 0, phase = 0.3) {
  const rates: string[] = [];
  const rows: string[] = [];
  let t = 0;
  let n = 0;
  segments.forEach(([rate, seconds], k) => {
    const count = Math.round(rate * seconds);
    for (let i = 0; i < count; i++) {
      const v = 1000 * Math.SQRT2 * Math.sin(2 * Math.PI * 50 * t + phase);
      rows.push(`${n + 1},${Math.round(t * 1e6)},${v.toFixed(3)}`);
      n++;
      t += 1 / rate;
    }
    if (k === 0) t += gap_s;
    rates.push(`${rate},${n}`);
  });
  const cfg = [
    'SUB,DFR,1999',
    '1,1A,0D',
    '1,VA,a,bus,V,1,0,0,-100000,100000,1,1,P',
    '50',
    String(rates.length),
    ...rates,
    '01/02/2024,00:00:00.000000',
    '01/02/2024,00:00:00.100000',
    'ASCII',
    '1',
  ].join('\n');
  const record = parseComtrade(cfg, new TextEncoder().encode(rows.join('\n')), {
    cfg: 'm.cfg',
    dat: 'm.dat',
  });
  return comtradeSignals(record);
}

describe('multi-rate records in waveform mode', () => {
  it('a segment at one sample per cycle is refused for waveform mode, naming it (not replayed at 69.5 Hz)', () => {
    const signals = multiRate([
      [3200, 0.5],
      [50, 6],
      [3200, 0.5],
    ]);
    for (const spec of [
      { voltage: { channel: 'VA', from: 'waveform' as const, base: 1000 } },
      { frequency: { channel: 'VA', from: 'waveform' as const } },
    ]) {
      const message = throwsOf(() => buildDriveSeries(signals, spec, 0.001, 50));
      expect(message).toContain(`needs at least ${MIN_SAMPLES_PER_CYCLE} samples per 50 Hz cycle`);
      expect(message).toMatch(/samples 1601-1900 \(0\.500-6\.480 s\) at 50 Hz = 1\.0 samples per cycle/);
    }
  });

  it('fast segments at different rates, with a gap, each analysed at its own rate: 1 pu and 50 Hz throughout', () => {
    // The gap's edges fall near zero crossings: a one-cycle window straddling it would read ~0.7 pu.
    const signals = multiRate(
      [
        [3200, 0.5],
        [1600, 0.5],
      ],
      0.25,
      0,
    );
    const drive = buildDriveSeries(
      signals,
      {
        frequency: { channel: 'VA', from: 'waveform' },
        voltage: { channel: 'VA', from: 'waveform', base: 1000 },
      },
      0.001,
      50,
    );
    // Closed form: RMS of √2·1000·sin is 1000 = 1 pu, frequency 50 Hz.
    for (let k = 0; k < drive.t_s.length; k++) {
      expect(Math.abs(drive.v_pu[k]! - 1), `v at ${drive.t_s[k]} s`).toBeLessThan(0.005);
      expect(Math.abs(drive.f_hz[k]! - 50), `f at ${drive.t_s[k]} s`).toBeLessThan(0.01);
    }
    expect(drive.t_s[drive.t_s.length - 1]).toBeGreaterThan(1.2);
  });
});

describe('a replay that leaves a sane range stops with a clear error', () => {
  it('voltage base off by 1.48 (real C60 record): refused before the grid sits at 1.48 pu', async () => {
    const record = await loadFaultRecord(join(fixtures, 'wisp_c60_binary_1999', '3.cfg'));
    const message = throwsOf(() =>
      buildDriveSeries(
        record.signals,
        { voltage: { channel: 'SRC 1  Vag Mag', base: 195 / 1.48 } },
        0.001,
        50,
      ),
    );
    expect(message).toMatch(
      /implausible replay: voltage above 1\.3 pu for more than 0\.5 s .*--voltage-base/,
    );
  });

  it('a waveform whose zero crossings say 69.5 Hz on a 50 Hz record is refused', () => {
    const n = 3200;
    const time_s = Float64Array.from({ length: n }, (_, i) => i / 3200);
    const values = time_s.map((t) => Math.sin(2 * Math.PI * 69.5 * t));
    const signals = new Map([['VA', { name: 'VA', unit: 'V', time_s, values }]]);
    const spec = { frequency: { channel: 'VA', from: 'waveform' as const } };
    expect(() => buildDriveSeries(signals, spec, 0.001, 50)).toThrow(FaultRecordError);
    expect(throwsOf(() => buildDriveSeries(signals, spec, 0.001, 50))).toMatch(
      /implausible replay: frequency 69\.5\d Hz at t = 0\.\d+ s is outside 42\.5-57\.5 Hz \(nominal 50 Hz ± 15 %\)/,
    );
  });

  it("the twin's grid frequency is the reference: a 50 Hz record scaled to 69.5 Hz does not reach a 50 Hz grid", async () => {
    const runsDir = join(tmpdir(), `gridloop-implausible-${process.pid}`);
    const run = runFaultRecord({
      record: join(fixtures, 'wisp_c60_binary_1999', '3.cfg'),
      grid: join(import.meta.dirname, '..', '..', 'grids', 'demo-33bw-microgrids.yaml'),
      spec: { frequency: { channel: 'F5-VA', from: 'waveform', scale: 69.5 / 50 } },
      runsDir,
    });
    await expect(run).rejects.toThrow(/implausible replay: frequency 69\.\d+ Hz .* outside 42\.5-57\.5 Hz/);
    expect(existsSync(runsDir)).toBe(false);
  });

  it('the same record read right stays in range (the check does not refuse real disturbances)', async () => {
    const record = await loadComtrade(join(fixtures, 'wisp_c60_binary_1999', '3.cfg'));
    const drive = buildDriveSeries(
      comtradeSignals(record),
      {
        frequency: { channel: 'F5-VA', from: 'waveform' },
        voltage: { channel: 'SRC 1  Vag Mag', base: 195 },
      },
      0.001,
      50,
    );
    expect(Math.min(...drive.v_pu)).toBeLessThan(0.1);
  });
});
