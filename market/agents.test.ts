import { describe, expect, it } from 'vitest';
import type { TwinState } from '../twin/api.ts';
import type { ControllerAction, DerInfo, TwinCatalog } from '../twin/control/contract.ts';
import { type DerAgentOptions, derAgents, derParticipants } from './agents.ts';
import { MarketController } from './controller.ts';
import { DEFAULT_MARKET_CONFIG } from './orders.ts';

const der = (d: Partial<DerInfo> & Pick<DerInfo, 'id' | 'technology' | 'microgrid'>): DerInfo => ({
  bus: 'b1',
  rating_mva: 1,
  pmin_mw: 0,
  pmax_mw: 1,
  cost_per_mwh: 0,
  dispatchable: false,
  hardware: false,
  ...d,
});

/** Two microgrids joined by fid1 (2 MW): PV and a battery in mg1, a diesel and the hardware slot in mg2. */
const catalog: TwinCatalog = {
  f0_hz: 50,
  dt_s: 0.1,
  busIds: ['b1', 'b2', 'b3'],
  microgrids: [
    { id: 'mg1', buses: ['b1', 'b2'] },
    { id: 'mg2', buses: ['b3'] },
  ],
  ders: [
    der({ id: 'pv1', technology: 'pv', microgrid: 'mg1' }),
    der({
      id: 'bat1',
      technology: 'battery',
      microgrid: 'mg1',
      pmin_mw: -0.5,
      pmax_mw: 0.5,
      capacity_mwh: 1,
      dispatchable: true,
    }),
    der({
      id: 'gen1',
      technology: 'diesel-genset',
      microgrid: 'mg2',
      pmin_mw: 0.2,
      pmax_mw: 0.8,
      cost_per_mwh: 80,
      dispatchable: true,
    }),
    der({
      id: 'hw',
      technology: 'hardware',
      microgrid: 'mg2',
      pmin_mw: -0.1,
      pmax_mw: 0.1,
      dispatchable: true,
      hardware: true,
    }),
  ],
  fids: [{ id: 'fid1', busA: 'b2', busB: 'b3', rating_mw: 2 }],
  loads: [
    { id: 'l1', bus: 'b1', microgrid: 'mg1', controllable: true },
    { id: 'l2', bus: 'b2', microgrid: 'mg1', controllable: false },
    { id: 'l3', bus: 'b3', microgrid: 'mg2', controllable: false },
  ],
  breakers: [],
};

/** PV 0.6 MW, battery 0.1 MW at 85 %, diesel 0.3 MW, the board idle at 80 %; mg1 imports 0.2 MW at its
 * PCC and sends 0.1 MW to mg2 through fid1. */
const state = (t_s: number): TwinState => ({
  t_s,
  step: 0,
  islands: [],
  busIds: ['b1', 'b2', 'b3'],
  vm_pu: new Float64Array(3),
  va_deg: new Float64Array(3),
  devices: {
    pv1: { p_mw: 0.6, q_mvar: 0, online: true },
    bat1: { p_mw: 0.1, q_mvar: 0, soc: 0.85, online: true },
    gen1: { p_mw: 0.3, q_mvar: 0, online: true },
    hw: { p_mw: 0, q_mvar: 0, soc: 0.8, online: true },
  },
  fids: { fid1: { p_a_mw: -0.1, p_b_mw: 0.1, loss_mw: 0 } },
  microgrids: {
    mg1: { pcc_p_mw: 0.2, pcc_q_mvar: 0, ems: 'low-cost', islanded: false },
    mg2: { pcc_p_mw: 0, pcc_q_mvar: 0, ems: 'low-cost', islanded: true },
  },
  events: [],
});

/** The board's capacity (the catalog cannot know a real board's) makes it trade as a battery. */
const options: DerAgentOptions = { byId: { hw: { capacity_mwh: 0.05 } } };

describe('per-DER bidding agents', () => {
  it('bid each DER and each microgrid load from the forecast, at the limit prices (checked by hand)', () => {
    const orders = derAgents(options)(state(780), 900, { catalog, config: DEFAULT_MARKET_CONFIG });
    const brief = orders.map((o) => {
      const { participant, side, qty_wh, price } = o as Record<string, unknown>;
      return `${participant} ${side} ${qty_wh} @${price}`;
    });
    // Over 15 min (0.25 h):
    expect(brief).toEqual([
      // PV: 0.6 MW by persistence = 150 000 Wh, at the renewable limit (default 0).
      'pv1 sell 150000 @0',
      // Battery at 85 %: above 20 % = 650 kWh, capped by 0.5 MW × 0.25 h = 125 000 Wh, at 150;
      // room below 90 % = 0.05 × 1 MWh = 50 000 Wh (under the 125 000 Wh cap), at 90.
      'bat1 sell 125000 @150',
      'bat1 buy 50000 @90',
      // Diesel: its minimum output 0.2 MW × 0.25 h = 50 000 Wh at the floor (it runs whatever the price),
      // the rest of its capability, (0.8 − 0.2) × 0.25 = 150 000 Wh, at its marginal cost, 80.
      'gen1 sell 50000 @0',
      'gen1 sell 150000 @80',
      // The board (measured 80 % of 0.05 MWh): above 20 % = 30 000 Wh, capped by 0.1 MW × 0.25 h = 25 000;
      // room below 90 % = 5 000 Wh.
      'hw sell 25000 @150',
      'hw buy 5000 @90',
      // mg1's demand: made 0.6 + 0.1, imported 0.2 (PCC) − 0.1 (fid1) = 0.8 MW = 200 000 Wh; one of its two
      // loads is controllable: half firm at 300, half flexible at 120.
      'load:mg1 buy 100000 @300',
      'load:mg1 buy 100000 @120',
      // mg2's: made 0.3 + 0, imported 0.1 through fid1 = 0.4 MW = 100 000 Wh, all firm.
      'load:mg2 buy 100000 @300',
    ]);
    for (const o of orders) expect((o as { t_s: number }).t_s).toBe(780);
  });

  it('take user limits per DER, leave out DERs that do not trade, and never bid outside the price cap', () => {
    const orders = derAgents({
      renewableSellPrice: 40,
      byId: { gen1: { sellPrice: 5000 }, bat1: { trade: false } },
    })(state(780), 900, { catalog, config: DEFAULT_MARKET_CONFIG }) as {
      id: string;
      participant: string;
      price: number;
    }[];
    expect(orders.find((o) => o.participant === 'pv1')?.price).toBe(40);
    expect(orders.find((o) => o.id === 'gen1/sell@900')?.price).toBe(DEFAULT_MARKET_CONFIG.priceCap);
    expect(orders.some((o) => o.participant === 'bat1')).toBe(false);
    // The board without a capacity is not a battery the agent can reason about: it does not trade.
    expect(orders.some((o) => o.participant === 'hw')).toBe(false);
  });

  it('the hardware slot bids only while its board reports a measured state', () => {
    const s = state(780);
    s.devices.hw = { p_mw: 0, q_mvar: 0, online: false };
    const orders = derAgents(options)(s, 900, { catalog, config: DEFAULT_MARKET_CONFIG }) as {
      participant: string;
    }[];
    expect(orders.some((o) => o.participant === 'hw')).toBe(false);
  });

  it('a battery near empty only buys, one near full only sells', () => {
    const s = state(780);
    s.devices.bat1.soc = 0.2;
    let orders = derAgents()(s, 900, { catalog, config: DEFAULT_MARKET_CONFIG }) as { id: string }[];
    expect(orders.filter((o) => o.id.startsWith('bat1/')).map((o) => o.id)).toEqual(['bat1/buy@900']);
    s.devices.bat1.soc = 0.9;
    orders = derAgents()(s, 900, { catalog, config: DEFAULT_MARKET_CONFIG }) as { id: string }[];
    expect(orders.filter((o) => o.id.startsWith('bat1/')).map((o) => o.id)).toEqual(['bat1/sell@900']);
  });

  it('clear across the microgrids and dispatch the trading battery (checked by hand)', () => {
    const participants = derParticipants(catalog, options, 1e12);
    expect([...participants.keys()].sort()).toEqual(['bat1', 'gen1', 'hw', 'load:mg1', 'load:mg2', 'pv1']);
    const m = new MarketController({
      fids: ['fid1'],
      participants,
      bidder: derAgents(options),
      dispatch: ['bat1'],
    });
    m.attach(catalog);
    expect(m.claims).toContainEqual({ kind: 'der', id: 'bat1' });
    const actions: ControllerAction[] = [];
    m.decide(state(840), actions);
    m.decide(state(900), actions);
    const r = m.history[0].result!;
    // Merit order over one price zone (fid1 is not binding): the 300 bids (200 000 Wh) take PV's 150 000 Wh
    // and 50 000 Wh of the diesel; the 120 bid takes 100 000 Wh of the diesel; its last 50 000 Wh go to the
    // 90 bids, where bat1's is first by id. Then the next ask (150) is above every bid left (90): stop.
    expect(r.volume_wh).toBe(350_000);
    // Price: the last ask filled is 80, the lowest bid filled and the best one left are 90, the next ask
    // is 150: the bracket is [90, 90].
    expect(r.prices.map((p) => p.price)).toEqual([90, 90]);
    // mg1 buys 100 000 + 100 000 + 50 000, sells 150 000: imports 100 000 Wh = 0.4 MW from mg2 (B→A).
    expect(actions).toEqual([
      { kind: 'fid-setpoint', id: 'fid1', p_mw: -0.4 },
      // bat1 bought 50 000 Wh: it charges at 0.2 MW.
      { kind: 'der-setpoint', id: 'bat1', p_mw: -0.2 },
    ]);
  });
});
