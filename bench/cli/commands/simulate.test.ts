import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { readManifest, readRunEvents, readRunPoints } from '../../recording/index.ts';
import { main } from '../main.ts';

const GRID = join(process.cwd(), 'grids/demo-33bw-microgrids.yaml');

describe('gridloop simulate', () => {
  let dir: string;
  let out: string[];
  let err: string[];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'gridloop-simulate-'));
    out = [];
    err = [];
    vi.spyOn(console, 'log').mockImplementation((...a) => {
      out.push(a.join(' '));
    });
    vi.spyOn(console, 'error').mockImplementation((...a) => {
      err.push(a.join(' '));
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
    rmSync(dir, { recursive: true, force: true });
  });

  const scenario = (minHz: number) => `name: cli-test
grid: ${GRID}
seed: 5
dt_s: 0.002
duration_s: 3
record: { every_s: 0.05 }
events:
  - { at: 1, action: load-step, bus: '14', delta_mw: 0.2 }
assertions:
  - { type: frequency-nadir, island: MG2, min_hz: ${minHz} }
`;

  it('runs, records a run folder like a real-time run, and exits 0 when assertions pass', async () => {
    const file = join(dir, 'ok.yaml');
    writeFileSync(file, scenario(49));
    const runDir = join(dir, 'run');
    const code = await main(['simulate', file, '--out', runDir, '--json']);
    expect(err).toEqual([]);
    expect(code).toBe(0);
    const summary = JSON.parse(out.at(-1)!);
    expect(summary).toMatchObject({ scenario: 'cli-test', passed: true, steps: 1500 });
    const manifest = await readManifest(runDir);
    expect(manifest).toMatchObject({ scenario: 'cli-test', status: 'complete', seed: 5, mode: 'simulate' });
    expect(manifest.assertions?.[0].passed).toBe(true);
    // The twin's solver work: one structure build, no failed solve, a solve per step (issue 24).
    expect(summary.solver).toMatchObject({
      structureRebuilds: 1,
      rebuildsByCause: { initial: 1 },
      failedSolves: 0,
    });
    expect(summary.solver.networkSolves).toBeGreaterThanOrEqual(1500);
    expect(manifest.twinSolver).toEqual(summary.solver);
    const points = await readRunPoints(runDir);
    const islands = points.filter((p) => p.measurement === 'island' && p.tags.island === 'MG2');
    expect(islands.length).toBeGreaterThanOrEqual(59);
    expect(Math.min(...islands.map((p) => p.fields.f_hz as number))).toBeLessThan(49.95);
    expect(points.some((p) => p.measurement === 'bus')).toBe(true);
    // PCC power and EMS mode per microgrid at every sample (docs/influx-schema.md).
    const pcc = points.filter((p) => p.measurement === 'pcc' && p.tags.microgrid === 'MG1');
    expect(pcc.length).toBe(islands.length);
    expect(pcc.every((p) => (p.fields.p_mw as number) > 0.1 && typeof p.fields.q_mvar === 'number')).toBe(
      true,
    );
    const ems = points.filter((p) => p.measurement === 'ems');
    expect(new Set(ems.map((p) => `${p.tags.microgrid}=${p.fields.mode}`))).toEqual(
      new Set(['MG1=peak-shaving', 'MG2=stand-alone', 'MG3=low-cost']),
    );
    const events = await readRunEvents(runDir);
    expect(events.some((e) => e.kind === 'load-step' && e.t_s === 1)).toBe(true);
  });

  it('exits 1 when an assertion fails', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, scenario(49.99));
    expect(await main(['simulate', file, '--no-record'])).toBe(1);
    expect(out.join('\n')).toContain('FAIL');
  });

  it('exits 2 with file:line and JSON path for a bad scenario', async () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, scenario(49).replace('delta_mw: 0.2', 'delta_mw: big'));
    expect(await main(['simulate', file])).toBe(2);
    expect(err.join('\n')).toMatch(/broken\.yaml:8 \(at \/events\/0\/delta_mw\)/);
  });

  it('exits 2 for bad arguments', async () => {
    expect(await main(['simulate'])).toBe(2);
    expect(await main(['simulate', 'x.yaml', '--dt', 'fast'])).toBe(2);
  });

  it('runs a market: section and reports its delivery check (text and JSON; a short day fails it)', async () => {
    const market = `name: cli-market
grid: ${GRID}
seed: 24
dt_s: 0.1
duration_s: 1800
startHour: 11
record: { every_s: 60, buses: false }
twin:
  fids:
    fid-18-33: { mode: fixed, ramp_mw_s: 0.3 }
    fid-25-29: { mode: fixed, ramp_mw_s: 0.1 }
market: { interval_s: 900, gateClosure_s: 60 }
`;
    const file = join(dir, 'market.yaml');
    writeFileSync(file, market);
    expect(await main(['simulate', file, '--no-record'])).toBe(0);
    expect(out.join('\n')).toMatch(
      /PASS {2}market delivery: 1 intervals, FID energy within 1\.0 % of the cleared exchange/,
    );
    out.length = 0;
    expect(await main(['simulate', file, '--no-record', '--json'])).toBe(0);
    const json = JSON.parse(out.at(-1)!);
    expect(json.market.intervals).toHaveLength(1);
    expect(json.market.shortfalls).toEqual([]);
    // Every grid-forming unit of MG3 trips: the FIDs stop, the interval is short, the run fails.
    writeFileSync(
      file,
      `${market}events:\n  - { at: 1000, action: generator-trip, unit: ct-30 }\n  - { at: 1000, action: generator-trip, unit: gas-27 }\n  - { at: 1000, action: generator-trip, unit: bess-32 }\n`,
    );
    out.length = 0;
    expect(await main(['simulate', file, '--no-record'])).toBe(1);
    expect(out.join('\n')).toMatch(/SHORTFALL {2}interval at 900 s: fid-18-33 carried .* converter stopped/);
    expect(out.join('\n')).toMatch(/FAILED \(no assertions; market delivery short\)/);
  }, 120_000);
});
