/**
 * The VPP as a participant of the live market (`module: market` with `vpp:`), at unit level: the
 * controller the bench hosts is built by its run-config factory and attached to a scenario twin
 * in-process (the same Controller contract the bench's worker drives), over 15 min of 5-min
 * intervals. The award is read from the market's own telemetry (its book's fills), the delivery
 * integrated by the test from the twin's states.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { MarketTelemetry } from '../../market/telemetry.ts';
import { budget } from '../../test/support/machine-speed.ts';
import type { ControllerTelemetry } from '../../twin/control/contract.ts';
import { parseScenario } from '../../twin/scenario/load.ts';
import { buildScenarioTwin, runScenario } from '../../twin/scenario/runner.ts';
import type { VppTelemetry } from '../../vpp/telemetry.ts';
import market from '../runtime/controllers/builtin/market.ts';
import { LiveMarketVpp } from './live-market.ts';

const root = join(import.meta.dirname, '../..');
const SHIPPED = join(root, 'scenarios/vpp-market.yaml');
const MEMBERS = ['chp-4', 'pv-24', 'wind-22', 'fc-20', 'bess-25'];

/**
 * The twin of scenarios/vpp-market.yaml (its grid, loads and FIDs) on a coarse step, without its own
 * vpp/market sections: 15 min and the decision at 900 s that meters the interval before.
 */
function twinScenario() {
  const text = readFileSync(SHIPPED, 'utf8')
    .split(/^vpp:$/m)[0]!
    .replace(/^dt_s: 0\.1$/m, 'dt_s: 0.5')
    .replace(/^duration_s: 7200$/m, 'duration_s: 910');
  return parseScenario(text, SHIPPED);
}

/** The options the run config would give (docs/market.md): the shipped scenario's market, live. */
const OPTIONS = {
  interval_s: 300,
  gateClosure_s: 60,
  ledger: false,
  agents: {
    renewableSellPrice: 10,
    battery: { sellPrice: 160, buyPrice: 70, socMin: 0.2, socMax: 0.9 },
    load: { buyPrice: 300, flexPrice: 120 },
  },
  vpp: {
    portfolio: join(root, 'vpp/portfolios/mg1.yaml'),
    price_step: 10,
    reserve_mw: 0.4,
    period_s: 5,
    startHour: 11,
  },
};

describe('module: market with vpp: the VPP bids as one participant on the live bench', {
  timeout: budget(120_000),
}, () => {
  it('follows its award: target = award, members deliver it within 2 %, the market meters the VPP as its members', async () => {
    const scenario = twinScenario();
    const catalog = (await buildScenarioTwin(scenario, scenario.dt_s, { script: false })).catalog();
    const c = (await market(OPTIONS, { id: 'market', catalog })) as LiveMarketVpp;
    expect(c).toBeInstanceOf(LiveMarketVpp);
    // One controller drives the FIDs and the VPP's members; the agents leave the members out.
    for (const id of MEMBERS) expect(c.claims).toContainEqual({ kind: 'der', id });
    expect(c.claims).toContainEqual({ kind: 'fid', id: 'fid-18-33' });
    for (const id of MEMBERS) expect(c.market.market.participants.has(id), id).toBe(false);
    expect(c.market.market.participants.get('mg1')?.microgrid).toBe('MG1');

    const delivered = new Map<number, number>();
    const targets = new Map<number, Set<number>>();
    let lastMarket: MarketTelemetry | undefined;
    let last = 0;
    await runScenario(scenario, {
      dt_s: scenario.dt_s,
      controllers: () => [c],
      onStep: (state) => {
        const dt = state.t_s - last;
        last = state.t_s;
        const k = Math.floor((state.t_s - dt / 2) / 300) * 300;
        let p = 0;
        for (const id of MEMBERS) {
          const d = state.devices[id]!;
          if (d.online && !d.tripped) p += d.p_mw;
        }
        delivered.set(k, (delivered.get(k) ?? 0) + (p * 1e6 * dt) / 3600);
        // As the bench's worker reads it after each decision (one record each).
        for (let t: ControllerTelemetry | undefined = c.telemetry(); t; t = c.telemetry()) {
          if (t.kind === 'market') lastMarket = t as MarketTelemetry;
          if (t.kind !== 'vpp') continue;
          const v = t as VppTelemetry;
          const i = Math.floor((v.t_s + 1e-6) / 300) * 300;
          if (v.t_s > i + 1e-6)
            targets.set(i, (targets.get(i) ?? new Set()).add(Number(v.target_mw.toFixed(9))));
        }
      },
    });

    const history = c.market.market.history.filter((h) => h.result && h.intervalStart_s + 300 <= 900);
    expect(history.map((h) => h.intervalStart_s)).toEqual([300, 600]);
    for (const h of history) {
      const start = h.intervalStart_s;
      // The award from the clearing's fills of participant mg1 (sold − bought).
      let award = 0;
      for (const f of h.result!.fills)
        if (f.participant === 'mg1') award += f.side === 'sell' ? f.filled_wh : -f.filled_wh;
      expect(award, `interval ${start}`).toBeGreaterThan(0.5e6 * (300 / 3600));
      // The VPP's target through the interval was its award as average MW.
      expect([...targets.get(start)!]).toEqual([Number((award / 1e6 / (300 / 3600)).toFixed(9))]);
      const got = delivered.get(start)!;
      expect(
        Math.abs(got - award),
        `interval ${start}: delivered ${got} Wh, award ${award} Wh`,
      ).toBeLessThanOrEqual(0.02 * award);
      // The live meters read the VPP as its members (sampled every second): within 1 % of the test's account.
      const interval = lastMarket!.intervals.find((i) => i.intervalStart_s === start);
      const metered = interval?.deliveries.find((d) => d.participant === 'mg1')?.metered_wh;
      expect(interval?.state, `interval ${start}`).toBe('delivered');
      expect(Math.abs(metered! - got), `interval ${start}: metered ${metered} Wh`).toBeLessThanOrEqual(
        0.01 * got,
      );
    }
  });

  it('refuses a VPP option that cannot be one participant, naming the option', async () => {
    const scenario = twinScenario();
    const catalog = (await buildScenarioTwin(scenario, scenario.dt_s, { script: false })).catalog();
    const build = async (vpp: unknown, more: Record<string, unknown> = {}) =>
      market({ ...OPTIONS, ...more, vpp }, { id: 'market', catalog });
    await expect(build({ ...OPTIONS.vpp, colour: 'red' })).rejects.toThrow(
      /^market: options\.vpp\.colour is unknown \(portfolio, /,
    );
    await expect(build({ ...OPTIONS.vpp, vpp: 'mg9' })).rejects.toThrow(
      /^market: options\.vpp\.vpp 'mg9' is not in/,
    );
    await expect(build({ ...OPTIONS.vpp, price_step: -1 })).rejects.toThrow(
      /^market: options\.vpp\.price_step must be a positive number$/,
    );
    await expect(build(OPTIONS.vpp, { dispatch: ['bess-25'] })).rejects.toThrow(
      /member 'bess-25' is also in options\.dispatch/,
    );
    await expect(build({ ...OPTIONS.vpp, period_s: 2.5 }, { sample_s: 2 })).rejects.toThrow(
      /period_s 2\.5 must be a whole multiple of the market's sample_s 2/,
    );
  });
});
