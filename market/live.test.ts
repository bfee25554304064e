import { describe, expect, it } from 'vitest';
import type { TwinState } from '../twin/api.ts';
import type { ControllerAction } from '../twin/control/contract.ts';
import type { Bidder } from './controller.ts';
import { LIVE_CREDIT, LIVE_DEPOSIT, LiveMarketController } from './live.ts';
import { LiveLedger } from './live-ledger.ts';
import type { Participant } from './orders.ts';
import { isMarketTelemetry, type MarketTelemetry } from './telemetry.ts';
import { derInfo, twoMicrogrids } from './test-catalog.ts';

/** mg1 (pv1) and mg2 (its loads) joined by fid1 (A in mg1, 1 MW). */
const catalog = twoMicrogrids({
  dt_s: 0.1,
  ders: [derInfo({ id: 'pv1', technology: 'pv', microgrid: 'mg1' })],
  loads: [{ id: 'l2', bus: 'b2', microgrid: 'mg2', controllable: false }],
});

const participants = new Map<string, Participant>([
  ['pv1', { id: 'pv1', microgrid: 'mg1', deposit: Number(LIVE_DEPOSIT) }],
  ['load:mg2', { id: 'load:mg2', microgrid: 'mg2', deposit: Number(LIVE_DEPOSIT) }],
]);

/** Every interval: pv1 offers 1000 Wh at 50, mg2's loads want 1500 Wh at up to 200. */
const bidder: Bidder = (state, start) => [
  { id: `pv1@${start}`, participant: 'pv1', side: 'sell', qty_wh: 1000, price: 50, t_s: state.t_s },
  { id: `load@${start}`, participant: 'load:mg2', side: 'buy', qty_wh: 1500, price: 200, t_s: state.t_s },
];

/**
 * The twin as the market sees it: pv1 makes `pv_mw`, fid1 carries 0.06 MW from mg1 to mg2, mg2
 * imports 0.03 MW at its PCC (so its loads take 0.09 MW: 1500 Wh a minute).
 */
const state = (t_s: number, pv_mw: number): TwinState => ({
  t_s,
  step: 0,
  islands: [],
  busIds: ['b1', 'b2'],
  vm_pu: new Float64Array(2),
  va_deg: new Float64Array(2),
  devices: { pv1: { p_mw: pv_mw, q_mvar: 0, online: true } },
  fids: { fid1: { p_a_mw: -0.06, p_b_mw: 0.06, loss_mw: 0 } },
  microgrids: {
    mg1: { pcc_p_mw: 0, pcc_q_mvar: 0, ems: 'low-cost', islanded: false },
    mg2: { pcc_p_mw: 0.03, pcc_q_mvar: 0, ems: 'low-cost', islanded: false },
  },
  events: [],
});

/** Runs the market every second of twin time up to `until_s`; the telemetry records and the actions. */
async function run(
  market: LiveMarketController,
  until_s: number,
  pv_mw: number,
  settle?: () => Promise<void>,
  skipped: (t_s: number) => boolean = () => false,
) {
  market.attach(catalog);
  const records: MarketTelemetry[] = [];
  const actions: { t_s: number; action: ControllerAction }[] = [];
  const out: ControllerAction[] = [];
  for (let t = 0; t <= until_s; t += market.period_s) {
    if (skipped(t)) continue;
    out.length = 0;
    market.decide(state(t, pv_mw), out);
    for (const a of out) actions.push({ t_s: t, action: { ...a } });
    const record = market.telemetry();
    if (record) {
      expect(isMarketTelemetry(record)).toBe(true);
      records.push(record as MarketTelemetry);
    }
    if (settle) await settle();
  }
  return { records, actions };
}

const options = {
  id: 'market',
  fids: ['fid1'],
  participants,
  bidder,
  config: { interval_s: 60, gateClosure_s: 10 },
  prosumers: { pv1: 'house-1' },
};

describe('the market on the live bench (LiveMarketController)', () => {
  it('reports the book, the price, the FID schedule and each delivery of an interval (checked by hand)', async () => {
    const market = new LiveMarketController(options);
    expect(market.period_s).toBe(1);
    const { records, actions } = await run(market, 121, 0.06);
    // Cleared at the gate closure (50 s) for the interval at 60 s; delivered from 60 s.
    const cleared = records.find((r) => r.intervals.some((i) => i.intervalStart_s === 60))!;
    expect(cleared.t_s).toBe(50);
    // 1000 Wh trade; 500 Wh of the bid stay unfilled at 200, so the price is 200 (the bracket
    // [max(filled ask 50, unfilled bid 200), min(filled bid 200, no unfilled ask → cap)] = [200, 200]).
    const done = records.at(-1)!.intervals.find((i) => i.intervalStart_s === 60)!;
    expect(done.prices.map((p) => [p.microgrid, p.price])).toEqual([
      ['mg1', 200],
      ['mg2', 200],
    ]);
    expect(done.volume_wh).toBe(1000);
    expect(done.orders).toEqual([
      {
        id: 'pv1@60',
        participant: 'pv1',
        microgrid: 'mg1',
        side: 'sell',
        qty_wh: 1000,
        limit: 50,
        filled_wh: 1000,
        price: 200,
        amount: 200_000,
        grid_amount: 0,
      },
      {
        id: 'load@60',
        participant: 'load:mg2',
        microgrid: 'mg2',
        side: 'buy',
        qty_wh: 1500,
        limit: 200,
        filled_wh: 1000,
        price: 200,
        amount: 200_000,
        // 500 Wh at the retail price 250.
        grid_amount: 125_000,
      },
    ]);
    // fid1 scheduled at 1000 Wh per minute = 0.06 MW from 60 s, and it carried 0.06 MW × 60 s.
    expect(actions.filter((a) => a.t_s === 60).map((a) => a.action)).toEqual([
      { kind: 'fid-setpoint', id: 'fid1', p_mw: expect.closeTo(0.06, 12) },
    ]);
    expect(done.fids).toEqual([{ fid: 'fid1', cleared_wh: 1000, delivered_wh: 1000, binding: false }]);
    // The meters: pv1 0.06 MW × 1 min = 1000 Wh; mg2's loads (0.06 + 0.03) MW × 1 min = 1500 Wh.
    expect(done.state).toBe('delivered');
    expect(done.deliveries).toEqual([
      { participant: 'load:mg2', cleared_wh: -1500, metered_wh: -1500 },
      { participant: 'pv1', cleared_wh: 1000, metered_wh: 1000 },
    ]);
    expect(records.at(-1)!.participants.pv1).toEqual({ microgrid: 'mg1', prosumer: 'house-1' });
    expect(records.at(-1)!.history.map((h) => h.intervalStart_s)).toEqual([60, 120]);
    expect(records.at(-1)!.ledger.state).toBe('off');
    // A record only when there is news: cleared (50 s, 110 s), delivering (60 s, 120 s), delivered (120 s).
    expect(records.map((r) => r.t_s)).toEqual([50, 60, 110, 120]);
  });

  it('settles each delivered interval on the embedded chain: balances, penalty and reputation read back from the contract (checked by hand)', async () => {
    const market = new LiveMarketController({
      ...options,
      authorities: 3,
      ledger: () =>
        LiveLedger.start(
          [...participants.keys()],
          { retailPrice: 250, feedInPrice: 50, toleranceWh: 100, tolerancePermille: 50, penaltyPerWh: 100 },
          3,
          'live-test',
        ),
    });
    // pv1 makes 0.045 MW: 750 Wh of the 1000 Wh it sold.
    let pending: Promise<void> = Promise.resolve();
    const { records } = await run(market, 121, 0.045, async () => {
      pending = (market as unknown as { queue: Promise<void> }).queue;
      await pending;
    });
    const last = records.at(-1)!;
    expect(last.ledger).toMatchObject({ state: 'live', authorities: 3, settled: 1, lastSettled_s: 60 });
    expect(last.intervals.find((i) => i.intervalStart_s === 60)!.state).toBe('settled');
    const start = Number(LIVE_CREDIT - LIVE_DEPOSIT);
    // pv1: +1000 Wh × 200 for its trade; 250 Wh short, bought back at retail 250 (−62 500); beyond the
    // tolerance 100 + 1000 × 50/1000 = 150 Wh by 100 Wh: penalty 100 × 100 = 10 000 from its deposit.
    expect(last.ledger.accounts.pv1).toEqual({
      balance: start + 200_000 - 62_500,
      deposit: Number(LIVE_DEPOSIT) - 10_000,
      debt: 0,
      penalties: 10_000,
      reputation: 0,
    });
    // mg2's loads paid 1000 Wh × 200 + 500 Wh × 250 and took what they declared: no penalty, reputation 1.
    expect(last.ledger.accounts['load:mg2']).toEqual({
      balance: start - 325_000,
      deposit: Number(LIVE_DEPOSIT),
      debt: 0,
      penalties: 0,
      reputation: 1,
    });
    expect(last.ledger.pool).toBe(10_000);
    expect(last.ledger.blocks).toBeGreaterThan(0);
    market.detach();
  }, 60_000);

  it('meters an interval in full when samples are late across its start (the worker was busy)', async () => {
    // No samples from 59 s to 62 s: pv1's 0.06 MW held from 58 s counts 2 s in the interval before
    // and 3 s in this one, so the interval still meters 0.06 MW × 60 s = 1000 Wh.
    const market = new LiveMarketController(options);
    const { records } = await run(market, 121, 0.06, undefined, (t) => t > 58 && t < 63);
    const done = records.at(-1)!.intervals.find((i) => i.intervalStart_s === 60)!;
    expect(done.deliveries.find((d) => d.participant === 'pv1')).toEqual({
      participant: 'pv1',
      cleared_wh: 1000,
      metered_wh: 1000,
    });
    expect(done.fids[0]!.delivered_wh).toBe(1000);
  });

  it('refuses a sampling period that does not divide the gate closure', () => {
    expect(() => new LiveMarketController({ ...options, sample_s: 3 })).toThrow(
      /sample_s 3 must divide the gate-closure time 10 s/,
    );
  });
});
