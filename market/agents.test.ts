import { describe, expect, it } from 'vitest';
import type { TwinState } from '../twin/api.ts';
import type { ControllerAction, TwinCatalog } from '../twin/control/contract.ts';
import { type DerAgentOptions, derAgents, derParticipants, flexLoads } from './agents.ts';
import { MarketController } from './controller.ts';
import { ObservationLog } from './forecast.ts';
import { DEFAULT_MARKET_CONFIG } from './orders.ts';
import { derInfo } from './test-catalog.ts';

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
    derInfo({ id: 'pv1', technology: 'pv', microgrid: 'mg1' }),
    derInfo({
      id: 'bat1',
      technology: 'battery',
      microgrid: 'mg1',
      pmin_mw: -0.5,
      pmax_mw: 0.5,
      capacity_mwh: 1,
      dispatchable: true,
    }),
    derInfo({
      id: 'gen1',
      technology: 'diesel-genset',
      microgrid: 'mg2',
      pmin_mw: 0.2,
      pmax_mw: 0.8,
      cost_per_mwh: 80,
      dispatchable: true,
    }),
    derInfo({
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
      // loads is controllable: half firm at 300, half flexible (its own participant) at 120.
      'load:mg1 buy 100000 @300',
      'flex:mg1 buy 100000 @120',
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
    expect([...participants.keys()].sort()).toEqual([
      'bat1',
      'flex:mg1',
      'gen1',
      'hw',
      'load:mg1',
      'load:mg2',
      'pv1',
    ]);
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

  it('curtail the flexible loads by what their participant did not clear, and bid them back in full', () => {
    const participants = derParticipants(catalog, options, 1e12);
    expect(flexLoads(catalog)).toEqual({ 'flex:mg1': ['l1'] });
    const m = new MarketController({
      fids: ['fid1'],
      participants,
      // mg1's flexible half (100 000 Wh at 120) against nothing cheaper than the diesel's 80 and
      // the battery's 150: set the diesel out so only PV (150 000) and the board sell below 120.
      bidder: derAgents({ ...options, byId: { ...options.byId, gen1: { trade: false } } }),
      curtail: flexLoads(catalog),
    });
    m.attach(catalog);
    expect(m.claims).toContainEqual({ kind: 'load', id: 'l1' });
    const actions: ControllerAction[] = [];
    m.decide(state(840), actions);
    m.decide(state(900), actions);
    // Asks: PV 150 000 @0, hw 25 000 @150, bat1 125 000 @150. Bids: load:mg1 100 000 @300,
    // load:mg2 100 000 @300, flex:mg1 100 000 @120, bat1 50 000 @90, hw 5 000 @90. The 300 bids take
    // PV's 150 000 and 50 000 at 150; the flexible bid (120) is below every ask left: unfilled.
    const flex = m.history[0].result!.fills.find((f) => f.participant === 'flex:mg1')!;
    expect([flex.filled_wh, flex.unmatched_wh]).toEqual([0, 100_000]);
    expect(actions).toContainEqual({ kind: 'load-curtail', id: 'l1', fraction: 1 });
    // At the next gate closure the agent sees what mg1 is served with that curtailment in force and
    // adds the curtailed part back (else the flexible load would bid less and less).
    const orders = derAgents(options)(state(1740), 1800, {
      catalog,
      config: DEFAULT_MARKET_CONFIG,
      inForce: [{ kind: 'load-curtail', id: 'l1', fraction: 1 }],
    }) as { participant: string; qty_wh: number }[];
    // The served 0.8 MW with the flexible half (share ½) curtailed fully is 0.8 / (1 − ½) = 1.6 MW
    // uncurtailed: 400 000 Wh, half firm, half flexible.
    expect(
      orders.filter((o) => o.participant.endsWith(':mg1')).map((o) => [o.participant, o.qty_wh]),
    ).toEqual([
      ['load:mg1', 200_000],
      ['flex:mg1', 200_000],
    ]);
  });
});

describe('forecasting agents (market/forecast.ts)', () => {
  /** The agents with forecasts, fed the same state at t, with PV and mg2's demand as given. */
  function observed(samples: [t_s: number, pv_mw: number][], startHour: number, loadProfile?: number[]) {
    const bidder = derAgents({ ...options, forecast: { startHour, loadProfile, window_s: 300 } });
    const ctx = { catalog, config: DEFAULT_MARKET_CONFIG };
    for (const [t, pv] of samples) {
      const s = state(t);
      s.devices.pv1 = { p_mw: pv, q_mvar: 0, online: true };
      bidder.observe!(s, ctx);
    }
    return bidder;
  }
  const qty = (orders: unknown[], id: string) =>
    (orders as { id: string; qty_wh: number }[]).find((o) => o.id === id)?.qty_wh;

  it('PV on the clear-sky shape, loads on the daily profile (checked by hand)', () => {
    // Start hour 9: the gate of [900, 1800) closes at 840 s (9:14); PV seen 0.4 MW over 9:09–9:14.
    const samples: [number, number][] = [540, 600, 660, 720, 780, 840].map((t) => [t, 0.4]);
    // Load profile: 1.0 at 9:00, 1.2 at 10:00 (linear between, as the twin's): demand scales with it.
    const profile = Array.from({ length: 24 }, (_, h) => (h >= 10 ? 1.2 : 1.0));
    const bidder = observed(samples, 9, profile);
    const orders = bidder(state(840), 900, { catalog, config: DEFAULT_MARKET_CONFIG });
    // Clear sky s(h) = sin(π (h − 6) / 12). Factor: 0.4 × 6 / Σ s(9 + t/3600) over the samples in the
    // window [540, 840]; forecast: factor × mean of s over 9:15–9:30.
    const s = (h: number) => Math.sin((Math.PI * (h - 6)) / 12);
    const ts = [540, 600, 660, 720, 780, 840];
    const factor = (0.4 * ts.length) / ts.reduce((a, t) => a + s(9 + t / 3600), 0);
    let ahead = 0;
    for (let k = 0; k < 15; k++) ahead += s(9.25 + (k + 0.5) / 60) / 15;
    expect(qty(orders, 'pv1/sell@900')).toBe(Math.floor(factor * ahead * 0.25e6 + 1e-6));
    // More than persistence (the sun is rising) and less than PV's rating.
    expect(qty(orders, 'pv1/sell@900')).toBeGreaterThan(100_000);
    // mg2's demand 0.4 MW observed at 9:09…9:14, where the profile is 1 + 0.2·(t/3600): Σ over the
    // six samples = 6 + 0.2 × 4140/3600 = 6.23. Over 9:15–9:30 the profile's mean is 1.075:
    // 0.4 × 6 / 6.23 × 1.075 MW × 0.25 h = 103 531.3 Wh.
    expect(qty(orders, 'load:mg2/firm@900')).toBe(103_531);
  });

  it('cannot see data stamped after the gate closure', () => {
    const samples: [number, number][] = [600, 660, 720, 780, 840].map((t) => [t, 0.4]);
    const honest = observed(samples, 9);
    // The same, plus observations after the gate (840 s) with PV at its rating.
    const peeking = observed([...samples, [850, 1], [900, 1], [1200, 1]], 9);
    const ctx = { catalog, config: DEFAULT_MARKET_CONFIG };
    const a = honest(state(840), 900, ctx);
    const b = peeking(state(840), 900, ctx);
    expect(qty(b, 'pv1/sell@900')).toBe(qty(a, 'pv1/sell@900'));
    // And the view refuses to be asked past the gate.
    const log = new ObservationLog();
    log.record('x', 100, 1);
    expect(() => log.closedAt(840).between('x', 0, 841)).toThrow(/gate closed at 840 s/);
  });
});
