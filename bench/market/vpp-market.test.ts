import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { budget } from '../../test/support/machine-speed.ts';
import type { TwinState } from '../../twin/api.ts';
import { parseScenario, type Scenario, ScenarioError } from '../../twin/scenario/load.ts';
import { main } from '../cli/main.ts';
import { simulateRunOpener } from '../cli/scenario-run.ts';
import { readRunPoints } from '../recording/read-run.ts';
import { simulateRecorded } from '../recording/simulate-run.ts';
import { marketDayOf } from './market-day.ts';

const SHIPPED = new URL('../../scenarios/vpp-market.yaml', import.meta.url).pathname;
const MEMBERS = ['chp-4', 'pv-24', 'wind-22', 'fc-20', 'bess-25'];
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The shipped scenario with 5-min intervals, cut to 15 min: intervals at 300 s and 600 s are cleared and run. */
function shortRun(): Scenario {
  const text = readFileSync(SHIPPED, 'utf8')
    .replace(/^duration_s: 7200$/m, 'duration_s: 900')
    .replace(/^ {2}interval_s: 900$/m, '  interval_s: 300');
  return parseScenario(text, SHIPPED);
}

describe('the VPP in the P2P market, in simulate (scenarios/vpp-market.yaml)', {
  timeout: budget(120_000),
}, () => {
  it('delivers each interval’s award within 2 % (measured from the twin’s state), bids its members alone, and records award and delivery', async () => {
    const scenario = shortRun();
    const market = (await marketDayOf(scenario, scenario.dt_s))!;
    expect(market.vpp).toBeDefined();
    // The test's own account of what the members delivered per interval, from the published state.
    const delivered = new Map<number, number>();
    const targets = new Map<number, Set<number>>();
    let last = 0;
    const onStep = (state: TwinState) => {
      market.onStep(state);
      const dt = state.t_s - last;
      last = state.t_s;
      const k = Math.floor((state.t_s - dt / 2) / 300) * 300;
      let p = 0;
      for (const id of MEMBERS) {
        const d = state.devices[id]!;
        if (d.online && !d.tripped) p += d.p_mw;
      }
      delivered.set(k, (delivered.get(k) ?? 0) + (p * 1e6 * dt) / 3600);
      const status = market.vpp!.run.vpp.controller.status;
      if (status.t_s > k && status.t_s < k + 300) {
        const seen = targets.get(k) ?? new Set<number>();
        seen.add(Number(status.target_mw.toFixed(9)));
        targets.set(k, seen);
      }
    };
    const runsDir = mkdtempSync(join(tmpdir(), 'vpp-market-'));
    dirs.push(runsDir);
    const run = await simulateRecorded(scenario, {
      dt_s: scenario.dt_s,
      every_s: 60,
      controllers: () => [market.controller],
      vpp: market.vpp!.run,
      onStep,
      recordMore: market.recordPoints,
      open: simulateRunOpener(runsDir, scenario),
    });
    expect(run.verdict.passed, JSON.stringify(run.result.assertions)).toBe(true);

    // The award of each interval, from the clearing's fills of participant mg1 (sold − bought).
    const history = market.controller.history;
    const checked = history.filter((h) => h.intervalStart_s + 300 <= 900 && h.result);
    expect(checked.map((h) => h.intervalStart_s)).toEqual([300, 600]);
    for (const h of checked) {
      const fills = h.result!.fills;
      let award = 0;
      for (const f of fills)
        if (f.participant === 'mg1') award += f.side === 'sell' ? f.filled_wh : -f.filled_wh;
      // A real sale (else the check would be empty): more than 0.5 MW over the interval.
      expect(award).toBeGreaterThan(0.5e6 * (300 / 3600));
      const got = delivered.get(h.intervalStart_s)!;
      expect(
        Math.abs(got - award),
        `interval ${h.intervalStart_s}: delivered ${got} Wh, award ${award} Wh`,
      ).toBeLessThanOrEqual(0.02 * award);
      // The VPP's target through the interval was its award, as average MW.
      expect([...targets.get(h.intervalStart_s)!]).toEqual([Number((award / 1e6 / (300 / 3600)).toFixed(9))]);
      // No double selling: no order of a member's own, every member bid by the VPP alone.
      for (const f of fills) expect(MEMBERS, `${f.orderId}`).not.toContain(f.participant);
      expect(fills.some((f) => f.participant === 'mg1' && f.side === 'sell')).toBe(true);
    }
    for (const m of MEMBERS) expect(market.controller.participants.has(m), m).toBe(false);
    expect(market.controller.participants.get('mg1')?.microgrid).toBe('MG1');
    expect(market.notes()[0]).toMatch(
      /VPP 'mg1' bids as one participant in MG1 for chp-4, pv-24, wind-22, fc-20, bess-25/,
    );

    // The report and the run folder carry the same award and delivery.
    const report = market.report();
    expect(report.vpp!.intervals.map((d) => d.intervalStart_s)).toEqual([300, 600]);
    const points = (await readRunPoints(run.runDir!)).filter((p) => p.measurement === 'market_vpp');
    expect(points).toHaveLength(2);
    for (const [i, d] of report.vpp!.intervals.entries()) {
      expect(d.delivered_wh).toBeCloseTo(delivered.get(d.intervalStart_s)!, 3);
      expect(points[i]!.tags).toMatchObject({ vpp: 'mg1', microgrid: 'MG1' });
      expect(points[i]!.fields.award_wh).toBe(d.award_wh);
      expect(points[i]!.fields.delivered_wh).toBeCloseTo(d.delivered_wh, 6);
    }
    const trades = (await readRunPoints(run.runDir!)).filter(
      (p) => p.measurement === 'market_trade' && p.tags.participant === 'mg1',
    );
    expect(trades.length).toBeGreaterThan(0);
  });
});

describe('a market VPP section that cannot be used', { timeout: budget(60_000) }, () => {
  const text = readFileSync(SHIPPED, 'utf8');
  const load = (t: string) => marketDayOf(parseScenario(t, SHIPPED), 0.2);
  const at = (path: string) => new RegExp(`vpp-market\\.yaml:\\d+ \\(at ${path.replace(/\//g, '\\/')}\\): `);

  it('names a VPP id the market does not know, with file, line and path', async () => {
    const bad = text.replace('vpp: { id: mg1, price_step', 'vpp: { id: mg9, price_step');
    await expect(load(bad)).rejects.toThrow(ScenarioError);
    await expect(load(bad)).rejects.toThrow(at('/market/vpp/id'));
    await expect(load(bad)).rejects.toThrow(/unknown VPP 'mg9': the scenario's VPP .* is 'mg1'/);
  });

  it('gridloop simulate says so and exits 2 (usage), without a crash or a run folder', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vpp-market-bad-'));
    dirs.push(dir);
    const file = join(dir, 'vpp-market.yaml');
    const absolute = text
      .replace('grid: ../grids/', `grid: ${join(SHIPPED, '../../grids/')}`)
      .replace('portfolio: ../vpp/', `portfolio: ${join(SHIPPED, '../../vpp/')}`);
    writeFileSync(file, absolute.replace('vpp: { id: mg1, price_step', 'vpp: { id: mg9, price_step'));
    const errors: string[] = [];
    const spy = vi.spyOn(console, 'error').mockImplementation((...a) => void errors.push(a.join(' ')));
    const code = await main(['simulate', file, '--runs-dir', join(dir, 'runs')]);
    spy.mockRestore();
    expect(code).toBe(2);
    expect(existsSync(join(dir, 'runs'))).toBe(false);
    expect(errors.join('\n')).toMatch(
      /gridloop simulate: .*vpp-market\.yaml:\d+ \(at \/market\/vpp\/id\): unknown VPP 'mg9'/,
    );
  });

  it('refuses a DER both sides claim: dispatched by the market, or bid by its agents', async () => {
    const dispatched = text.replace(/^ {2}interval_s: 900$/m, '  interval_s: 900\n  dispatch: [bess-25]');
    await expect(load(dispatched)).rejects.toThrow(at('/market/dispatch/0'));
    await expect(load(dispatched)).rejects.toThrow(/'bess-25' is a member of VPP 'mg1'/);
    const bidden = text.replace(
      '    load: { buyPrice: 300, flexPrice: 120 }',
      '    load: { buyPrice: 300, flexPrice: 120 }\n    byId:\n      pv-24: { sellPrice: 5 }',
    );
    await expect(load(bidden)).rejects.toThrow(at('/market/agents/byId/pv-24'));
  });

  it('refuses a VPP that is not one participant of one microgrid, holds a load, or whose id another participant has', async () => {
    const inline = (members: string, id = 'mg1') =>
      text.replace(
        'portfolio: ../vpp/portfolios/mg1.yaml',
        `portfolio:\n    format: gridloop-vpp/1\n    vpps:\n      - id: ${id}\n        members: [ ${members} ]`,
      );
    // The VPP's inline portfolio is read from the scenario file itself: these go through a file.
    const loadFile = (t: string) => {
      const dir = mkdtempSync(join(tmpdir(), 'vpp-market-bad-'));
      dirs.push(dir);
      const file = join(dir, 'vpp-market.yaml');
      const absolute = t.replace('grid: ../grids/', `grid: ${join(SHIPPED, '../../grids/')}`);
      writeFileSync(file, absolute);
      return marketDayOf(parseScenario(absolute, file), 0.2);
    };
    const spread = inline('{ der: chp-4 }, { der: pv-14 }');
    await expect(loadFile(spread)).rejects.toThrow(at('/market/vpp/id'));
    await expect(loadFile(spread)).rejects.toThrow(
      /has members in MG1, MG2: a market participant sits in one microgrid/,
    );
    // A load member: its curtailment is not in the twin's published state, so its delivery could not be measured.
    const withLoad = inline('{ der: chp-4 }, { load: load-24, load_mw: 0.4 }').replace(
      '  loads:\n    default:',
      '  loads:\n    byId:\n      load-24: { controllable: true }\n    default:',
    );
    await expect(loadFile(withLoad)).rejects.toThrow(
      /holds load 'load-24': a load's curtailment is not in the twin's published state/,
    );
    // A VPP named like a DER of the grid (pv-14, bid by its own agent).
    const taken = inline('{ der: chp-4 }', 'pv-14')
      .replace(/^ {2}id: mg1$/m, '  id: pv-14')
      .replace('vpp: { id: mg1,', 'vpp: { id: pv-14,');
    await expect(loadFile(taken)).rejects.toThrow(/'pv-14' is already a participant of the market/);
  });

  it('refuses a market VPP without its vpp section, and targets that disagree with the market', async () => {
    const noVpp = text
      .replace(/^vpp:\n(?: {2}.*\n)+/m, '')
      .replace(/^ {2}- \{ type: vpp-tracks-target.*\n/m, '');
    expect(() => parseScenario(noVpp, SHIPPED)).toThrow(at('/market/vpp/id'));
    const fixed = text.replace('target: { market: p2p }', 'target: { mw: 1 }');
    await expect(load(fixed)).rejects.toThrow(at('/vpp/target'));
    const noMarketVpp = text.replace(/^ {2}vpp: \{ id: mg1.*\n/m, '');
    expect(() => parseScenario(noMarketVpp, SHIPPED)).toThrow(at('/vpp/target/market'));
    expect(() =>
      parseScenario(text.replace('target: { market: p2p }', 'target: { market: spot }'), SHIPPED),
    ).toThrow(at('/vpp/target/market'));
  });
});
