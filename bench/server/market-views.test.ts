import { describe, expect, it } from 'vitest';
import type { MarketTelemetry } from '../../market/telemetry.ts';
import { marketLiveViewOf, marketProsumers, prosumerMarketViewOf, withMarket } from './market-views.ts';

const order = (participant: string, microgrid: string, filled: number) => ({
  id: `${participant}@0`,
  participant,
  microgrid,
  side: 'sell' as const,
  qty_wh: 1000,
  limit: 10,
  filled_wh: filled,
  price: 100,
  amount: filled * 100,
  grid_amount: (1000 - filled) * 50,
});
const account = (balance: number) => ({ balance, deposit: 5, debt: 0, penalties: 1, reputation: 2 });

const t: MarketTelemetry = {
  kind: 'market',
  market: 'market',
  t_s: 50,
  interval_s: 60,
  gateClosure_s: 10,
  pricing: 'uniform',
  participants: {
    'pv-1': { microgrid: 'MG1', prosumer: 'ada' },
    'bess-2': { microgrid: 'MG2', prosumer: 'bob' },
    'load:MG1': { microgrid: 'MG1' },
  },
  intervals: [
    {
      intervalStart_s: 0,
      clearedAt_s: -10,
      state: 'settled',
      prices: [
        { microgrid: 'MG1', price: 100, lo: 100, hi: 100, bought_wh: 1000, sold_wh: 1000 },
        { microgrid: 'MG2', price: 120, lo: 120, hi: 120, bought_wh: 0, sold_wh: 0 },
      ],
      volume_wh: 1000,
      pool: 0,
      orders: [order('pv-1', 'MG1', 1000), order('bess-2', 'MG2', 0), order('load:MG1', 'MG1', 1000)],
      refused: [],
      fids: [{ fid: 'fid1', cleared_wh: 0, delivered_wh: 3, binding: false }],
      deliveries: [
        { participant: 'bess-2', cleared_wh: 1000, metered_wh: 900 },
        { participant: 'pv-1', cleared_wh: 1000, metered_wh: 990 },
      ],
    },
  ],
  history: [],
  ledger: {
    state: 'live',
    authorities: 3,
    blocks: 7,
    settled: 1,
    accounts: { 'pv-1': account(11), 'bess-2': account(22), 'load:MG1': account(33) },
    pool: 9,
  },
};

describe('market views', () => {
  it('operators get the whole record, without its telemetry kind', () => {
    const view = marketLiveViewOf(t);
    expect(view).not.toHaveProperty('kind');
    expect(view.intervals[0]!.orders).toHaveLength(3);
    expect(marketProsumers(t)).toEqual(['ada', 'bob']);
  });

  it('a prosumer gets its own orders, deliveries, account and microgrid price: nothing of anyone else', () => {
    const ada = prosumerMarketViewOf(t, 'ada')!;
    expect(ada).toEqual({
      market: 'market',
      interval_s: 60,
      participants: { 'pv-1': { microgrid: 'MG1' } },
      intervals: [
        {
          intervalStart_s: 0,
          state: 'settled',
          prices: { MG1: 100 },
          orders: [order('pv-1', 'MG1', 1000)],
          deliveries: [{ participant: 'pv-1', cleared_wh: 1000, metered_wh: 990 }],
        },
      ],
      accounts: { 'pv-1': account(11) },
      ledger: { state: 'live', settled: 1 },
    });
    const text = JSON.stringify(ada);
    for (const other of ['bess-2', 'load:MG1', 'bob', 'MG2', 'fid1']) expect(text).not.toContain(other);
    expect(prosumerMarketViewOf(t, 'carol')).toBeUndefined();
  });

  it('a prosumer only in the market gets its market units’ live output as its meter', () => {
    const view = withMarket(undefined, t, 'ada', {
      'pv-1': { p_mw: 0.3, q_mvar: 0, online: true },
      'bess-2': { p_mw: 0.2, q_mvar: 0, soc: 0.5, online: true },
    })!;
    expect(view.meter).toEqual({ p_mw: 0.3, units: { 'pv-1': { p_mw: 0.3 } } });
    expect(view.price_per_mwh).toBeNull();
    expect(withMarket(undefined, t, 'carol')).toBeUndefined();
  });
});
