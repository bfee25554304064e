import { describe, expect, it } from 'vitest';
import { derAgents } from '../../market/agents.ts';
import { clear } from '../../market/clearing.ts';
import { type Bidder, MarketController } from '../../market/controller.ts';
import { DEFAULT_MARKET_CONFIG, type Order, type Participant } from '../../market/orders.ts';
import type { TwinState } from '../../twin/api.ts';
import type { ControllerAction, DerInfo, TwinCatalog } from '../../twin/control/contract.ts';
import { VppController } from '../../vpp/controller.ts';
import { bindPortfolio, parsePortfolio } from '../../vpp/portfolio.ts';
import { ordersFromCurve, VppMarketParticipant } from './market.ts';

/**
 * A hand-solvable case: one microgrid, a VPP of three members with linear costs, two other
 * participants. Every figure below is worked out by hand in the comments, not read from the code.
 */
const der = (
  id: string,
  technology: string,
  pmin: number,
  pmax: number,
  more: Partial<DerInfo> = {},
): DerInfo => ({
  id,
  technology,
  bus: '1',
  microgrid: 'mg1',
  rating_mva: Math.max(Math.abs(pmin), pmax),
  pmin_mw: pmin,
  pmax_mw: pmax,
  cost_per_mwh: 50,
  dispatchable: true,
  hardware: false,
  ...more,
});

const CATALOG: TwinCatalog = {
  f0_hz: 50,
  dt_s: 1,
  busIds: ['1'],
  microgrids: [{ id: 'mg1', buses: ['1'] }],
  ders: [
    der('g1', 'gas-genset', 0, 0.2),
    der('g2', 'gas-genset', 0, 0.1),
    der('bat', 'battery', -0.1, 0.1, { capacity_mwh: 0.1 }),
    der('pv', 'pv', 0, 0.3, { dispatchable: false }),
  ],
  fids: [],
  loads: [],
  breakers: [],
};

// Linear costs (a = 0): each member is all or nothing at its marginal cost b.
const PORTFOLIO = `format: gridloop-vpp/1
vpps:
  - id: vpp1
    structure: central
    period_s: 5
    members:
      - { der: g1, cost: { a_per_mw2h: 0, b_per_mwh: 40 } }
      - { der: g2, cost: { a_per_mw2h: 0, b_per_mwh: 120 } }
      - { der: bat, cost: { a_per_mw2h: 0, b_per_mwh: 60 }, soc_min: 0.1, soc_max: 0.9 }
`;

const vpp = bindPortfolio(parsePortfolio(PORTFOLIO, 'hand.yaml'), CATALOG)[0]!;
const CONFIG = { ...DEFAULT_MARKET_CONFIG, interval_s: 900, gateClosure_s: 60 };

function stateAt(t_s: number, soc = 0.5): TwinState {
  const device = (p_mw: number, s?: number) => ({ online: true, tripped: false, p_mw, q_mvar: 0, soc: s });
  return {
    t_s,
    islands: [],
    devices: { g1: device(0.1), g2: device(0), bat: device(0, soc), pv: device(0.25) },
  } as unknown as TwinState;
}

function participantWithHistory(): VppMarketParticipant {
  const p = new VppMarketParticipant({
    id: 'vpp1',
    microgrid: 'mg1',
    members: vpp.members,
    startHour: 12,
    priceStep: 10,
    sample_s: 5,
  });
  for (let t = 0; t < 840; t += 5) p.observe(stateAt(t));
  return p;
}

const order = (
  id: string,
  participant: string,
  side: Order['side'],
  qty_wh: number,
  price: number,
): Order => ({
  id,
  participant,
  side,
  qty_wh,
  price,
  t_s: 840,
});

describe('the VPP as one participant of the P2P market (hand-solved case)', () => {
  // The VPP's supply curve over the 900 s interval (0.25 h), battery at 50 % of 0.1 MWh in its
  // 10–90 % band (0.04 MWh either way over 0.25 h = 0.16 MW, so its 0.1 MW rating binds):
  //   λ < 40: battery charges −0.1 MW                          → −0.1 MW = −25 000 Wh
  //   40 ≤ λ < 60: g1 0.2, battery −0.1                         →  0.1 MW =  25 000 Wh
  //   60 ≤ λ < 120: g1 0.2, battery +0.1                        →  0.3 MW =  75 000 Wh
  //   λ ≥ 120: + g2 0.1                                         →  0.4 MW = 100 000 Wh
  // As orders: buy 25 000 Wh below 40 (limit 39), sell 25 000 at 40, 50 000 at 60, 25 000 at 120.
  const VPP_ORDERS = [
    { side: 'sell', qty_wh: 25_000, price: 40 },
    { side: 'sell', qty_wh: 50_000, price: 60 },
    { side: 'sell', qty_wh: 25_000, price: 120 },
    { side: 'buy', qty_wh: 25_000, price: 39 },
  ];

  it('turns its bid curve at gate closure into the orders worked out by hand, from data before the gate only', () => {
    const p = participantWithHistory();
    const orders = p.orders(900, 840, CONFIG);
    const shape = (os: Order[]) =>
      os
        .map((o) => ({ side: o.side, qty_wh: o.qty_wh, price: o.price }))
        .sort((x, y) => x.side.localeCompare(y.side) * -1 || x.price - y.price);
    expect(shape(orders)).toEqual(VPP_ORDERS);
    expect(new Set(orders.map((o) => o.participant))).toEqual(new Set(['vpp1']));
    // A sample stamped after the gate (the battery found empty) changes nothing: the bid cannot see it.
    p.observe(stateAt(845, 0.1));
    expect(shape(p.orders(900, 840, CONFIG))).toEqual(VPP_ORDERS);
  });

  it('clears against two other participants as computed by hand, and its award becomes its target', () => {
    // Load L buys 120 000 Wh up to 100; seller S offers 40 000 Wh from 50.
    // Merit order of asks: VPP 25 000@40, S 40 000@50, VPP 50 000@60, VPP 25 000@120; bids: L@100, VPP@39.
    // L takes 25 000 + 40 000 + 50 000 = 115 000 Wh; the next ask (120) is above its 100, and the
    // VPP's bid at 39 is below every ask. Price bracket: lo = max(last filled ask 60, unfilled
    // bid L 100) = 100, hi = min(filled bid 100, unfilled ask 120) = 100 → price 100.
    // VPP award: sold 25 000 + 50 000 = 75 000 Wh, bought 0 → 0.3 MW over the interval.
    const p = participantWithHistory();
    const others: Bidder = (state) =>
      [order('L/buy', 'L', 'buy', 120_000, 100), order('S/sell', 'S', 'sell', 40_000, 50)].map((o) => ({
        ...o,
        t_s: state.t_s,
      }));
    const participants = new Map<string, Participant>([
      ['vpp1', p.participant(1e15)],
      ['L', { id: 'L', microgrid: 'mg1', deposit: 1e15 }],
      ['S', { id: 'S', microgrid: 'mg1', deposit: 1e15 }],
    ]);
    const market = new MarketController({ fids: [], participants, bidder: p.bidder(others), config: CONFIG });
    p.connect(market);
    market.attach(CATALOG);
    expect(p.target(600)).toBeUndefined();
    market.decide(stateAt(840), []);
    const result = market.history[0]!.result!;
    expect(result.prices[0]!.price).toBe(100);
    expect(p.awardOf(900)).toEqual({ award_wh: 75_000, sold_wh: 75_000, bought_wh: 0, price: 100 });
    expect(p.target(900)).toBeCloseTo(0.3, 12);
    expect(p.target(1799)).toBeCloseTo(0.3, 12);

    // The VPP controller takes the award as its target and dispatches its members to it:
    // at λ between 60 and 120, g1 0.2 + battery 0.1 + g2 0 = 0.3 MW.
    const controller = new VppController({ vpp, target: p.target, clampTarget: true });
    controller.attach(CATALOG);
    const actions: ControllerAction[] = [];
    controller.decide(stateAt(900), actions);
    expect(controller.status.target_mw).toBeCloseTo(0.3, 12);
    const set = Object.fromEntries(
      actions.map((a) => [a.id, a.kind === 'der-setpoint' ? a.p_mw : Number.NaN]),
    );
    expect(set.g1).toBeCloseTo(0.2, 9);
    expect(set.bat).toBeCloseTo(0.1, 9);
    expect(set.g2).toBeCloseTo(0, 9);
  });

  it('buys when the market is long: its storage charges at a low clearing price', () => {
    // S offers 200 000 Wh from 10; L buys 30 000 Wh up to 100. S fills L (30 000) and the VPP's bid
    // at 39 (25 000); S keeps 145 000 unfilled at 10, so lo = hi = 10: price 10. Below 40 the VPP's
    // curve is −0.1 MW: it buys 25 000 Wh, award −25 000 Wh = −0.1 MW.
    const p = participantWithHistory();
    const book = [
      ...p.orders(900, 840, CONFIG),
      order('S/sell', 'S', 'sell', 200_000, 10),
      order('L/buy', 'L', 'buy', 30_000, 100),
    ];
    const participants = new Map<string, Participant>([
      ['vpp1', p.participant(1e15)],
      ['L', { id: 'L', microgrid: 'mg1', deposit: 1e15 }],
      ['S', { id: 'S', microgrid: 'mg1', deposit: 1e15 }],
    ]);
    const result = clear(book, participants, CONFIG);
    expect(result.prices[0]!.price).toBe(10);
    const vppFills = result.fills.filter((f) => f.participant === 'vpp1' && f.filled_wh > 0);
    expect(vppFills.map((f) => [f.side, f.filled_wh])).toEqual([['buy', 25_000]]);
  });

  it('makes orders whose award at any price is the curve’s quantity there, never crossing its own orders', () => {
    // A curve from −0.2 MW (buying) to 0.3 MW (selling), over one hour.
    const curve = [
      { price_per_mwh: 0, quantity_mw: -0.2 },
      { price_per_mwh: 50, quantity_mw: -0.05 },
      { price_per_mwh: 80, quantity_mw: 0.1 },
      { price_per_mwh: 200, quantity_mw: 0.3 },
    ];
    const orders = ordersFromCurve(curve, { participant: 'v', intervalStart_s: 0, hours: 1, t_s: 0 });
    const net = (price: number) =>
      orders.reduce(
        (x, o) =>
          x + (o.side === 'sell' ? (price >= o.price ? o.qty_wh : 0) : price <= o.price ? -o.qty_wh : 0),
        0,
      );
    // By hand: below 50, −200 000 Wh; 50..79, −50 000; 80..199, +100 000; from 200, +300 000.
    expect([0, 49, 50, 79, 80, 199, 200, 1000].map(net)).toEqual([
      -200_000, -200_000, -50_000, -50_000, 100_000, 100_000, 300_000, 300_000,
    ]);
    const maxBuy = Math.max(...orders.filter((o) => o.side === 'buy').map((o) => o.price));
    const minSell = Math.min(...orders.filter((o) => o.side === 'sell').map((o) => o.price));
    expect(maxBuy).toBeLessThan(minSell);
  });
});

describe('no DER is bid twice', () => {
  it('the per-DER agents leave out the DERs the VPP bids for; the VPP bids them as one participant', () => {
    const p = participantWithHistory();
    const agents = derAgents({ biddenBy: p.biddenBy });
    const state = stateAt(840);
    const ctx = { catalog: CATALOG, config: CONFIG };
    const book = p.bidder(agents)(state, 900, ctx) as Order[];
    const byParticipant = new Map<string, number>();
    for (const o of book) byParticipant.set(o.participant, (byParticipant.get(o.participant) ?? 0) + 1);
    // g1, g2 and bat are the VPP's: only 'vpp1' bids for them; pv is not a member, its agent bids it.
    for (const m of ['g1', 'g2', 'bat']) expect(byParticipant.has(m), m).toBe(false);
    expect(byParticipant.get('vpp1')).toBe(4);
    expect(byParticipant.get('pv')).toBe(1);
    // Without the VPP the same agents bid every DER (what the VPP's members would otherwise sell twice).
    const alone = derAgents()(state, 900, ctx) as Order[];
    expect(new Set(alone.map((o) => o.participant))).toEqual(new Set(['g1', 'g2', 'bat', 'pv', 'load:mg1']));
  });
});
