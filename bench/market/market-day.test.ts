import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { TwinState } from '../../twin/api.ts';
import { parseScenario, type Scenario, ScenarioError } from '../../twin/scenario/load.ts';
import { buildScenarioTwin } from '../../twin/scenario/runner.ts';
import { simulateRunOpener } from '../cli/scenario-run.ts';
import { readRunPoints } from '../recording/read-run.ts';
import { simulateRecorded } from '../recording/simulate-run.ts';
import { MarketDay, marketDayOf, transferOf } from './market-day.ts';

const SHIPPED = new URL('../../scenarios/market-day.yaml', import.meta.url).pathname;
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The shipped market day, cut to `hours` from `startHour` (the full day is measured by bench:market). */
function shippedSlice(hours: number, startHour: number, extra = ''): Scenario {
  const text = readFileSync(SHIPPED, 'utf8')
    .replace(/^duration_s: 86400$/m, `duration_s: ${hours * 3600}`)
    .replace(/^startHour: 0$/m, `startHour: ${startHour}`);
  return parseScenario(text + extra, SHIPPED);
}

describe('a market day in simulate (scenarios/market-day.yaml)', () => {
  it('each interval the FIDs carry the cleared exchange within 1 %, and the run folder holds the market points', async () => {
    const scenario = shippedSlice(2, 11);
    const market = (await marketDayOf(scenario, scenario.dt_s))!;
    // An independent account of the FID energy: the mean of what left one side and reached the other.
    const byInterval = new Map<number, Map<string, number>>();
    let last = 0;
    const onStep = (state: TwinState) => {
      market.onStep(state);
      const dt = state.t_s - last;
      last = state.t_s;
      const k = Math.floor((state.t_s - dt / 2) / 900) * 900;
      const m = byInterval.get(k) ?? new Map<string, number>();
      for (const [id, f] of Object.entries(state.fids ?? {}))
        m.set(id, (m.get(id) ?? 0) + (((f.p_b_mw - f.p_a_mw) / 2) * 1e6 * dt) / 3600);
      byInterval.set(k, m);
    };
    const runsDir = mkdtempSync(join(tmpdir(), 'market-day-'));
    dirs.push(runsDir);
    const run = await simulateRecorded(scenario, {
      dt_s: scenario.dt_s,
      every_s: 60,
      controllers: () => [market.controller],
      onStep,
      recordMore: market.recordPoints,
      open: simulateRunOpener(runsDir, scenario),
    });
    expect(run.verdict.passed, JSON.stringify(run.verdict)).toBe(true);
    const report = market.report();
    // 8 intervals of 15 min; the first starts before any gate closure: 7 cleared and delivered.
    expect(report.intervals.map((i) => i.intervalStart_s)).toEqual([900, 1800, 2700, 3600, 4500, 5400, 6300]);
    expect(report.shortfalls).toEqual([]);
    expect(report.maxError).toBeLessThanOrEqual(0.01);
    // The market did move energy between the microgrids (else the check would be empty).
    expect(report.exchanged_wh).toBeGreaterThan(50_000);
    for (const interval of report.intervals)
      for (const f of interval.fids) {
        const independent = byInterval.get(interval.intervalStart_s)!.get(f.fid)!;
        // The mean of both sides differs from the transfer by half the losses (2 % of the transfer).
        expect(Math.abs(independent - f.delivered_wh)).toBeLessThanOrEqual(
          0.011 * Math.abs(f.cleared_wh) + 1,
        );
        expect(Math.abs(f.delivered_wh - f.cleared_wh)).toBeLessThanOrEqual(0.01 * 75_000);
      }
    // Run folder: a market_fid point per FID per delivered interval, with the same figures.
    const points = await readRunPoints(run.runDir!);
    const fidPoints = points.filter((p) => p.measurement === 'market_fid');
    expect(fidPoints).toHaveLength(2 * report.intervals.length);
    const first = report.intervals[0].fids[0];
    const recorded = fidPoints.find((p) => p.tags.fid === first.fid)!;
    expect(recorded.fields.cleared_wh).toBe(first.cleared_wh);
    expect(recorded.fields.delivered_wh).toBeCloseTo(first.delivered_wh, 6);
    expect(recorded.fields.shortfall).toBe(false);
    const prices = points.filter((p) => p.measurement === 'market_interval');
    // Three microgrids per cleared interval (7 delivered + the one cleared for the next, not yet run).
    expect(prices).toHaveLength(3 * 8);
    const traded = new Set(
      points.filter((p) => p.measurement === 'market_trade').map((p) => p.tags.participant),
    );
    expect(traded.has('pv-24')).toBe(true);
    // No board is on the hardware slot in simulate: nothing measured, so it does not bid.
    expect(traded.has('bess-hw')).toBe(false);
  });

  it('the evening of the shipped day keeps MG3 alive: the island reserve holds its exports (no trip, no shedding, every interval within 1 %)', async () => {
    // The shipped day from 20:00 to 21:30 with bess-32 where the day leaves it at 20:00 before the
    // island reserve (18 % charge: measured) — without the reserve, MG3 exported 0.5–0.6 MW through
    // both FIDs with its gensets at their rating and the battery covering the rest, ran it to its
    // lowest charge (10 %) and collapsed under frequency (IEEE 1547 UF2 trips, 20:55 in the day).
    const dir = mkdtempSync(join(tmpdir(), 'market-evening-'));
    dirs.push(dir);
    const gridFile = join(dir, 'grid.yaml');
    const grid = readFileSync(new URL('../../grids/demo-33bw-microgrids.yaml', import.meta.url), 'utf8');
    const low = grid.replace(/(id: bess-32,.*energy_mwh: 0\.8, soc0: )0\.55/, '$10.18');
    expect(low).not.toBe(grid);
    writeFileSync(gridFile, low);
    const text = readFileSync(SHIPPED, 'utf8')
      .replace(/^grid: .*$/m, `grid: ${gridFile}`)
      .replace(/^duration_s: 86400$/m, 'duration_s: 5400')
      .replace(/^startHour: 0$/m, 'startHour: 20');
    const scenario = parseScenario(text, SHIPPED);
    const market = (await marketDayOf(scenario, scenario.dt_s))!;
    const trouble: string[] = [];
    let lowestSoc = 1;
    let mg3Dark = false;
    await simulateRecorded(scenario, {
      dt_s: scenario.dt_s,
      every_s: 60,
      controllers: () => [market.controller],
      onStep: (state) => {
        market.onStep(state);
        for (const e of state.events)
          if (e.kind === 'der-trip' || e.kind === 'ufls') trouble.push(`${e.t_s} s ${e.message}`);
        lowestSoc = Math.min(lowestSoc, state.devices['bess-32'].soc ?? 1);
        if (state.islands.some((i) => i.buses.includes('30') && !i.energised)) mg3Dark = true;
      },
    });
    expect(trouble).toEqual([]);
    expect(mg3Dark).toBe(false);
    // The battery never reaches its lowest charge (10 %), where it stops discharging.
    expect(lowestSoc).toBeGreaterThan(0.12);
    const report = market.report();
    expect(report.intervals).toHaveLength(5);
    expect(report.shortfalls).toEqual([]);
    expect(report.maxError).toBeLessThanOrEqual(0.01);
    // The reserve did bind (MG3's exports held, its grid-forming offers held back), and the run says so.
    const held = report.intervals.flatMap((i) => i.binding).filter((b) => b.startsWith('MG3 island reserve'));
    expect(held.length).toBeGreaterThan(0);
    for (const b of held)
      expect(b).toMatch(/^MG3 island reserve \(.*\): (grid-forming offers|export|import) held to \d+ Wh/);
  });

  it('ramps the FID schedules at interval boundaries: islanded MG3 stays within 0.3 Hz after 00:15, where a step dipped it 0.79 Hz', async () => {
    /** The shipped day's first half hour, ramped over `ramp_s`: MG3's largest |f − 50 Hz| in [900, 960) s. */
    const excursion = async (ramp_s: number) => {
      const text = readFileSync(SHIPPED, 'utf8').replace(/^ {2}fidRamp_s: 60$/m, `  fidRamp_s: ${ramp_s}`);
      const scenario = parseScenario(text.replace(/^duration_s: 86400$/m, 'duration_s: 1800'), SHIPPED);
      const market = (await marketDayOf(scenario, scenario.dt_s))!;
      let worst = 0;
      await simulateRecorded(scenario, {
        dt_s: scenario.dt_s,
        every_s: 60,
        controllers: () => [market.controller],
        recordMore: market.recordPoints,
        onStep: (state) => {
          market.onStep(state);
          const mg3 = state.islands.find((i) => i.id === 'MG3');
          if (mg3 && state.t_s >= 900 && state.t_s < 960) worst = Math.max(worst, Math.abs(mg3.f_hz - 50));
        },
      });
      return { worst, report: market.report() };
    };
    const ramped = await excursion(60);
    const step = await excursion(0);
    // At 00:15 MG3 goes from importing 0.1 MW to exporting ≈ 0.44 MW through both FIDs.
    expect(step.worst).toBeGreaterThan(0.5);
    expect(ramped.worst).toBeLessThan(0.3);
    // Both deliver the cleared energy; the ramped set-points are chosen to keep it.
    for (const r of [ramped.report, step.report]) {
      expect(r.intervals).toHaveLength(1);
      expect(r.maxError).toBeLessThanOrEqual(0.01);
    }
    expect(ramped.report.maxError).toBeLessThanOrEqual(0.001);
  });

  it('while the ledger cannot make progress the FIDs keep the last schedule for one interval, then carry nothing, and the run folder says so', async () => {
    const scenario = shippedSlice(1.25, 11);
    const twin = await buildScenarioTwin(scenario, scenario.dt_s);
    // The authorities go offline at 1600 s: before [1800, 2700) is cleared (at the controller's last
    // wake-up ahead of its gate closure, ≈ 1680 s).
    let now = 0;
    const market = new MarketDay(scenario, twin.catalog(), { ledgerLive: () => now < 1600 });
    const carried = new Map<number, Map<string, number>>();
    let last = 0;
    const runsDir = mkdtempSync(join(tmpdir(), 'market-ledger-down-'));
    dirs.push(runsDir);
    const run = await simulateRecorded(scenario, {
      dt_s: scenario.dt_s,
      every_s: 60,
      controllers: () => [market.controller],
      onStep: (state) => {
        now = state.t_s;
        market.onStep(state);
        const dt = state.t_s - last;
        last = state.t_s;
        const k = Math.floor((state.t_s - dt / 2) / 900) * 900;
        const m = carried.get(k) ?? new Map<string, number>();
        for (const [id, f] of Object.entries(state.fids ?? {}))
          m.set(id, (m.get(id) ?? 0) + (transferOf(f) * 1e6 * dt) / 3600);
        carried.set(k, m);
      },
      recordMore: market.recordPoints,
      open: simulateRunOpener(runsDir, scenario),
    });
    const history = market.controller.history;
    expect(history.map((h) => [h.intervalStart_s, h.note ?? 'cleared'])).toEqual([
      [900, 'cleared'],
      [1800, 'ledger cannot make progress: FIDs keep the last cleared schedule for this interval'],
      [2700, 'ledger cannot make progress: FIDs return to zero exchange'],
      [3600, 'ledger cannot make progress: FIDs return to zero exchange'],
      [4500, 'ledger cannot make progress: FIDs return to zero exchange'],
    ]);
    // What the FIDs carried (independently integrated): [1800, 2700) what [900, 1800) cleared, within
    // 1 % of the rated 75 kWh; afterwards nothing but the ramp to zero (under 1 %).
    const cleared = history[0].result!.links;
    expect(cleared.some((l) => Math.abs(l.flow_wh) > 10_000)).toBe(true);
    for (const l of cleared) {
      expect(Math.abs(carried.get(1800)!.get(l.id)! - l.flow_wh)).toBeLessThanOrEqual(750);
      expect(Math.abs(carried.get(2700)!.get(l.id)!)).toBeLessThanOrEqual(750);
      expect(Math.abs(carried.get(3600)!.get(l.id)!)).toBeLessThanOrEqual(1);
    }
    // The run folder says so: each such interval's market_interval points carry the note.
    const points = await readRunPoints(run.runDir!);
    const notes = points
      .filter((p) => p.measurement === 'market_interval' && p.tags.microgrid === 'MG1')
      .map((p) => p.fields.note ?? 'cleared');
    expect(notes).toEqual([
      'cleared',
      'ledger cannot make progress: FIDs keep the last cleared schedule for this interval',
      'ledger cannot make progress: FIDs return to zero exchange',
      'ledger cannot make progress: FIDs return to zero exchange',
      'ledger cannot make progress: FIDs return to zero exchange',
    ]);
  });

  it('names the constraint of an interval the FIDs could not deliver (MG3 blacked out)', async () => {
    // Every grid-forming unit of MG3 trips at 1000 s: MG3 loses voltage and both FIDs stop.
    const scenario = shippedSlice(
      1,
      11,
      'events:\n  - { at: 1000, action: generator-trip, unit: ct-30 }\n  - { at: 1000, action: generator-trip, unit: gas-27 }\n  - { at: 1000, action: generator-trip, unit: bess-32 }\n',
    );
    const market = (await marketDayOf(scenario, scenario.dt_s))!;
    await simulateRecorded(scenario, {
      dt_s: scenario.dt_s,
      every_s: 60,
      controllers: () => [market.controller],
      onStep: market.onStep,
    });
    const report = market.report();
    expect(report.shortfalls.length).toBeGreaterThan(0);
    expect(report.shortfallFraction).toBeGreaterThan(0.02);
    for (const s of report.shortfalls) {
      expect(s.intervalStart_s).toBeGreaterThanOrEqual(900);
      expect(s.constraint).toMatch(
        /converter stopped for [\d.]+ s \(a side lost voltage or the FID is out of service\)/,
      );
    }
  });

  it('refuses a market section naming an unknown FID or DER, or a gate closure that does not divide the interval', async () => {
    const bad = (market: string) =>
      readFileSync(SHIPPED, 'utf8').replace(/^market:\n(?: {2}.*\n)+/m, `market:\n${market}`);
    await expect(marketDayOf(parseScenario(bad('  fids: [fid-nope]\n'), SHIPPED), 0.2)).rejects.toThrow(
      /\(at \/market\/fids\/0\): unknown FID 'fid-nope'/,
    );
    await expect(marketDayOf(parseScenario(bad('  dispatch: [bess-nope]\n'), SHIPPED), 0.2)).rejects.toThrow(
      ScenarioError,
    );
    expect(() => parseScenario(bad('  interval_s: 900\n  gateClosure_s: 70\n'), SHIPPED)).toThrow(
      /market-day.yaml:\d+ \(at \/market\/gateClosure_s\): must divide/,
    );
    expect(() => parseScenario(bad('  interval_s: -5\n'), SHIPPED)).toThrow(/\/market\/interval_s/);
    expect(() => parseScenario(bad('  fidRamp_s: -1\n'), SHIPPED)).toThrow(/\/market\/fidRamp_s/);
    expect(() => parseScenario(bad('  interval_s: 900\n  fidRamp_s: 900\n'), SHIPPED)).toThrow(
      /market-day.yaml:\d+ \(at \/market\/fidRamp_s\): must be shorter than interval_s \(900 s\)/,
    );
  });

  it('reads the converter transfer from what its two sides see', () => {
    // 0.3 MW A→B with 2 % losses: A sends 0.306, B gets 0.3; B→A: B sends 0.306, A gets 0.3.
    expect(transferOf({ p_a_mw: -0.306, p_b_mw: 0.3 })).toBeCloseTo(0.3, 12);
    expect(transferOf({ p_a_mw: 0.3, p_b_mw: -0.306 })).toBeCloseTo(-0.3, 12);
    // Idle with a no-load loss: A supplies the loss, nothing is transferred.
    expect(transferOf({ p_a_mw: -0.001, p_b_mw: 0 })).toBe(0);
  });
});
