import fc from 'fast-check';
import highsPackage, { type Highs } from 'highs';
import { describe, expect, it } from 'vitest';
import type { TwinState } from '../twin/api.ts';
import type { DerInfo, TwinCatalog } from '../twin/control/contract.ts';
import { clear, type MarketNetwork } from './clearing.ts';
import { MarketController } from './controller.ts';
import { DEFAULT_MARKET_CONFIG, type Order, type Participant } from './orders.ts';
import { islandLimits, islandReserves, NetLoadForecast, reserveRequirements } from './reserve.ts';

// As in clearing.test.ts: at run time (ESM) the default import is the loader itself.
const loadHighs = ((highsPackage as unknown as { default?: unknown }).default ??
  highsPackage) as () => Promise<Highs>;

const der = (id: string, microgrid: string, more: Partial<DerInfo>): DerInfo => ({
  id,
  technology: 'gas-genset',
  bus: 'b3',
  microgrid,
  rating_mva: 1,
  pmin_mw: 0,
  pmax_mw: 1,
  cost_per_mwh: 50,
  dispatchable: true,
  gridForming: true,
  hardware: false,
  ...more,
});

// mg1 (grid-connected) — FID (side A in mg1, side B in mg3) — mg3 (an island: genset, battery, PV).
const catalog: TwinCatalog = {
  f0_hz: 50,
  dt_s: 0.1,
  busIds: ['b1', 'b3'],
  microgrids: [
    { id: 'mg1', buses: ['b1'] },
    { id: 'mg3', buses: ['b3'] },
  ],
  ders: [
    der('g', 'mg3', { pmin_mw: 0.1, pmax_mw: 0.9 }),
    der('b', 'mg3', { technology: 'battery', pmin_mw: -0.4, pmax_mw: 0.4, capacity_mwh: 0.8 }),
    der('pv', 'mg3', { technology: 'pv', dispatchable: false, gridForming: false, pmax_mw: 0.3 }),
    der('chp', 'mg1', { pmax_mw: 0.6 }),
  ],
  fids: [{ id: 'fid', busA: 'b1', busB: 'b3', rating_mw: 0.3 }],
  loads: [],
  breakers: [],
};

function state(more: Partial<TwinState> = {}): TwinState {
  return {
    t_s: 840,
    step: 8400,
    islands: [
      { id: 'mg1', energised: true, gridConnected: true, f_hz: 50, rocof_hz_s: 0, buses: ['b1'] },
      { id: 'mg3', energised: true, gridConnected: false, f_hz: 50, rocof_hz_s: 0, buses: ['b3'] },
    ],
    busIds: ['b1', 'b3'],
    vm_pu: new Float64Array(2),
    va_deg: new Float64Array(2),
    devices: {
      g: { p_mw: 0.6, q_mvar: 0, online: true },
      b: { p_mw: 0.1, q_mvar: 0, soc: 0.26, online: true },
      pv: { p_mw: 0.05, q_mvar: 0, online: true },
      chp: { p_mw: 0.5, q_mvar: 0, online: true },
    },
    // mg3 sends 0.30613 MW into the FID (its side B), mg1 receives 0.3.
    fids: { fid: { p_a_mw: 0.3, p_b_mw: -0.30613, loss_mw: 0.00613 } },
    microgrids: {
      mg1: { pcc_p_mw: 0.2, pcc_q_mvar: 0, ems: 'low-cost', islanded: false },
      mg3: { pcc_p_mw: 0, pcc_q_mvar: 0, ems: 'stand-alone', islanded: true },
    },
    events: [],
    ...more,
  };
}

describe('island reserve (market/reserve.ts)', () => {
  it('limits an islanded microgrid’s export and import by its grid-forming units’ headroom, by hand', () => {
    // Up: genset 0.9 + battery min(0.4, (0.26 − 0.2)·0.8 MWh / 0.25 h = 0.192) = 1.092 MW.
    // Down: genset minimum 0.1 − battery min(0.4, (0.9 − 0.26)·0.8 / 0.25 = 2.048) = −0.3 MW.
    // Local net load: what g and b deliver (0.7) less what leaves over the FID (0.30613) = 0.39387.
    // Reserve: max(0.05, 10 % of 0.39387) = 0.05 MW. The PV is not grid-forming: not counted.
    const [r] = islandReserves(state(), catalog, 900);
    expect(r.microgrid).toBe('mg3');
    expect(r.up_mw).toBeCloseTo(1.092, 12);
    expect(r.down_mw).toBeCloseTo(-0.3, 12);
    expect(r.localNet_mw).toBeCloseTo(0.39387, 12);
    expect(r.reserve_mw).toBe(0.05);
    // Export ≤ 1.092 − 0.39387 − 0.05 = 0.64813 MW → 162 032.5 Wh; import ≤ 0.39387 + 0.3 − 0.05
    // = 0.64387 MW → 160 967.5 Wh (whole Wh, rounded down). mg1 is on the main grid: no limit.
    const limits = islandLimits(state(), catalog, 900);
    expect(limits.map((l) => [l.microgrid, l.maxExport_wh, l.maxImport_wh])).toEqual([
      ['mg3', 162_032, 160_967],
    ]);
    expect(limits[0].constraint).toBe(
      'island reserve (grid-forming units -0.300…1.092 MW, local net load 0.394 MW, reserve 0.050 MW)',
    );
  });

  it('counts no battery energy below socMin, no tripped unit, and a bigger reserve for a bigger load', () => {
    const s = state();
    s.devices.b = { p_mw: 0.1, q_mvar: 0, soc: 0.19, online: true };
    s.devices.g = { p_mw: 0.6, q_mvar: 0, online: true, tripped: false };
    const [r] = islandReserves(s, catalog, 900, { fraction: 0.2 });
    // Up: the genset alone; local net load 0.39387, reserve 20 % of it.
    expect(r.up_mw).toBeCloseTo(0.9, 12);
    expect(r.reserve_mw).toBeCloseTo(0.2 * 0.39387, 12);
    // The genset trips: the battery alone carries the island (0.1 MW) and the FID stops.
    s.devices.g = { p_mw: 0, q_mvar: 0, online: true, tripped: true };
    s.fids = { fid: { p_a_mw: 0, p_b_mw: 0, loss_mw: 0 } };
    const [tripped] = islandReserves(s, catalog, 900);
    expect(tripped.up_mw).toBe(0);
    expect(tripped.localNet_mw).toBeCloseTo(0.1, 12);
    // Nothing can follow an export (the battery is at its band's bottom); an import up to what
    // the battery can absorb: 0.1 + 0.4 − 0.05 MW over 15 min.
    expect(islandLimits(s, catalog, 900)[0]).toMatchObject({ maxExport_wh: 0, maxImport_wh: 112_500 });
  });

  it('gives no limit to a grid-connected or a dark microgrid', () => {
    const s = state();
    s.microgrids!.mg3.islanded = false;
    expect(islandLimits(s, catalog, 900)).toEqual([]);
    const dark = state();
    dark.islands[1].energised = false;
    expect(islandLimits(dark, catalog, 900)).toEqual([]);
  });
});

/** max Σ bid·q − Σ ask·q with energy balances, the FID, and the reserve rows; duals and max volume. */
function reserveLp(
  highs: Highs,
  orders: readonly Order[],
  mgOf: (o: Order) => string,
  fidCap: number,
  provider: (o: Order) => boolean,
  capability: number,
  required: number,
) {
  const q = (i: number) => `q${i}`;
  const obj = orders.map((o, i) => `${o.side === 'buy' ? '+' : '-'} ${o.price} ${q(i)}`).join(' ') || '0 f';
  const bal = ['mg1', 'mg3'].map((m, j) => {
    const t = orders
      .map((o, i) => (mgOf(o) === m ? `${o.side === 'sell' ? '+' : '-'} ${q(i)}` : ''))
      .filter(Boolean);
    t.push(j === 0 ? '- f' : '+ f');
    return ` bal${j}: ${t.join(' ')} = 0`;
  });
  // The reserve: r (headroom held) and what the grid-forming units sell share their capability;
  // the requirement is the row r ≥ R, whose dual is the reserve price.
  const sold = orders.map((o, i) => (o.side === 'sell' && provider(o) ? `+ ${q(i)}` : '')).filter(Boolean);
  const rows = [...bal, ` head: ${sold.join(' ')} + r <= ${capability}`, ` res: r >= ${required}`];
  const bounds = [
    ...orders.map((o, i) => ` 0 <= ${q(i)} <= ${o.qty_wh}`),
    ` -${fidCap} <= f <= ${fidCap}`,
    ' r >= 0',
  ];
  const body = (extra: string) => `Subject To\n${rows.join('\n')}\n${extra}Bounds\n${bounds.join('\n')}\nEnd`;
  const first = highs.solve(`Maximize\n obj: ${obj}\n${body('')}`, { presolve: 'off' });
  expect(first.Status).toBe('Optimal');
  const dual = (name: string) =>
    (first.Rows as unknown as { Name: string; Dual: number }[]).find((r) => r.Name === name)!.Dual;
  const W = first.ObjectiveValue;
  const buys = orders
    .map((o, i) => (o.side === 'buy' ? `+ ${q(i)}` : ''))
    .filter(Boolean)
    .join(' ');
  const volume = buys
    ? highs.solve(`Maximize\n obj: ${buys}\n${body(` wel: ${obj} >= ${W - 1e-3}\n`)}`, { presolve: 'off' })
        .ObjectiveValue
    : 0;
  return { welfare: W, volume, reserveDual: dual('res'), energyDuals: [-dual('bal0'), -dual('bal1')] };
}

describe('reserve co-optimised with energy in the clearing, against the LP with energy + reserve rows (HiGHS)', () => {
  it('same welfare and volume; the reserve price is the dual of the reserve row (within its bracket); providers paid for headroom, buyers charged pro rata', async () => {
    const highs = await loadHighs();
    const cfg = { ...DEFAULT_MARKET_CONFIG, priceFloor: 0, priceCap: 60 };
    let binding = 0;
    let degenerate = 0;
    let shortfalls = 0;
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            side: fc.constantFrom('buy' as const, 'sell' as const),
            qty_wh: fc.integer({ min: 0, max: 600 }),
            price: fc.oneof(fc.integer({ min: 0, max: 60 }), fc.constantFrom(20, 30)),
            t_s: fc.integer({ min: 0, max: 3 }),
            mg: fc.integer({ min: 0, max: 1 }),
            gridForming: fc.boolean(),
            capability: fc.integer({ min: 0, max: 700 }),
          }),
          { maxLength: 16 },
        ),
        fc.integer({ min: 0, max: 300 }),
        fc.integer({ min: 0, max: 600 }),
        fc.integer({ min: 0, max: 800 }),
        (raw, otherCapability, required, fidCap) => {
          const participants = new Map<string, Participant>();
          const providers: { participant: string; capability_wh: number }[] = [];
          const orders: Order[] = raw.map((r, i) => {
            const mg = r.mg === 0 ? 'mg1' : 'mg3';
            participants.set(`p${i}`, { id: `p${i}`, microgrid: mg, deposit: 0 });
            if (r.gridForming && mg === 'mg3')
              providers.push({ participant: `p${i}`, capability_wh: r.capability });
            return {
              id: `o${i}`,
              participant: `p${i}`,
              side: r.side,
              qty_wh: r.qty_wh,
              price: r.price,
              t_s: r.t_s,
            };
          });
          // The island's capability: its providers' and its grid-forming units that do not trade.
          const capability = providers.reduce((s, p) => s + p.capability_wh, 0) + otherCapability;
          const network: MarketNetwork = {
            microgrids: ['mg1', 'mg3'],
            links: [{ id: 'fid', a: 'mg1', b: 'mg3', cap_wh: fidCap }],
            reserves: [
              {
                microgrid: 'mg3',
                required_wh: required,
                capability_wh: capability,
                providers,
                constraint: 'island reserve',
              },
            ],
          };
          const r = clear(orders, participants, cfg, network);
          const isProvider = (o: Order) => providers.some((p) => p.participant === o.participant);
          const lp = reserveLp(
            highs,
            orders,
            (o) => participants.get(o.participant)!.microgrid,
            fidCap,
            isProvider,
            capability,
            Math.min(required, capability),
          );
          expect(r.welfare).toBeCloseTo(lp.welfare, 6);
          expect(r.volume_wh).toBe(Math.round(lp.volume));
          const [award] = r.reserves;
          expect(award.shortfall_wh).toBe(Math.max(0, required - capability));
          if (award.shortfall_wh > 0) shortfalls++;
          // The reserve price: in its bracket, and the LP's dual of the requirement row in it too.
          expect(award.lo).toBeLessThanOrEqual(award.price);
          expect(award.price).toBeLessThanOrEqual(award.hi);
          // (HiGHS reports a maximisation's duals with the opposite sign.)
          const rho = -lp.reserveDual;
          expect(rho).toBeGreaterThanOrEqual(award.lo - 1e-6);
          expect(rho).toBeLessThanOrEqual(award.hi + 1e-6);
          if (award.binding && award.lo < award.hi) degenerate++;
          // The energy prices as before: the LP's duals in each microgrid's bracket.
          if (orders.length > 0)
            r.prices.forEach((p, j) => {
              expect(lp.energyDuals[j]).toBeGreaterThanOrEqual(p.lo - 1e-6);
              expect(lp.energyDuals[j]).toBeLessThanOrEqual(p.hi + 1e-6);
            });
          // The requirement held: the grid-forming units sold at most capability − required.
          const soldBy = new Map<string, number>();
          for (const f of r.fills)
            if (f.side === 'sell' && isProvider(orders.find((o) => o.id === f.orderId)!))
              soldBy.set(f.participant, (soldBy.get(f.participant) ?? 0) + f.filled_wh);
          const sold = [...soldBy.values()].reduce((s, x) => s + x, 0);
          expect(award.sold_wh).toBe(sold);
          expect(sold).toBeLessThanOrEqual(award.sellable_wh);
          expect(award.sellable_wh).toBe(Math.max(0, capability - required));
          // Opportunity cost: a grid-forming offer sells only if its price is at most the energy price
          // less the reserve price, and is held only if at least that.
          const energy = r.prices[1].price;
          for (const f of r.fills) {
            const o = orders.find((x) => x.id === f.orderId)!;
            if (o.side !== 'sell' || !isProvider(o)) continue;
            if (f.filled_wh > 0) expect(o.price).toBeLessThanOrEqual(energy - award.price);
            if (f.unmatched_wh > 0) expect(o.price).toBeGreaterThanOrEqual(energy - award.price);
            // Paid the energy price for energy.
            expect(f.price).toBe(energy);
          }
          // Payments: each provider price × the headroom it keeps; the island's buyers pay pro rata to
          // what they ordered, rounded up; the rounding to the pool.
          for (const p of award.providers) {
            const headroom = Math.max(
              0,
              providers.find((x) => x.participant === p.participant)!.capability_wh -
                (soldBy.get(p.participant) ?? 0),
            );
            expect(p).toEqual({
              participant: p.participant,
              headroom_wh: headroom,
              amount: award.price * headroom,
            });
          }
          const paid = award.providers.reduce((s, p) => s + p.amount, 0);
          const ordered = new Map<string, number>();
          for (const o of orders)
            if (o.side === 'buy' && participants.get(o.participant)!.microgrid === 'mg3')
              ordered.set(o.participant, (ordered.get(o.participant) ?? 0) + o.qty_wh);
          const Q = [...ordered.values()].reduce((s, x) => s + x, 0);
          const charged = award.charges.reduce((s, c) => s + c.amount, 0);
          expect(award.remainder).toBe(charged - paid);
          if (paid > 0 && Q > 0) {
            for (const c of award.charges) {
              const exact = (paid * ordered.get(c.participant)!) / Q;
              expect(c.amount).toBeGreaterThanOrEqual(exact - 1e-6);
              expect(c.amount).toBeLessThan(exact + 1);
            }
            expect(award.remainder).toBeGreaterThanOrEqual(0);
            expect(award.remainder).toBeLessThan(award.charges.length);
          } else if (paid > 0) expect(award.remainder).toBe(-paid);
          else expect(award.charges).toEqual([]);
          if (award.binding) {
            binding++;
            expect(award.price).toBeGreaterThan(0);
            expect(sold).toBe(award.sellable_wh);
            expect(award.message).toMatch(
              /^mg3 island reserve: grid-forming offers held to \d+ Wh: reserve price \d+ \(energy \d+ in mg3, \d+ at its grid-forming units\)$/,
            );
          }
        },
      ),
      { numRuns: 600, seed: 23 },
    );
    // The generator really produced binding requirements, degenerate brackets and shortfalls.
    expect(binding).toBeGreaterThan(50);
    expect(degenerate).toBeGreaterThan(20);
    expect(shortfalls).toBeGreaterThan(10);
  });

  it('by hand: a genset held back is paid the reserve price, its opportunity cost', () => {
    // One island: genset g (grid-forming, 100 Wh of capability) offers 100 Wh at 10, pv 30 Wh at 30,
    // the load wants 100 Wh at 50. Keeping 40 Wh of reserve, g may sell 60 Wh: the load gets 90 Wh
    // (60 + 30), its marginal willingness is 50, so the energy price is 50; one Wh more of reserve
    // would cost the load a Wh it values at 50 that g makes at 10: the reserve price is 40.
    const participants = new Map<string, Participant>(
      ['g', 'pv', 'load'].map((id) => [id, { id, microgrid: 'mg3', deposit: 0 }]),
    );
    const book: Order[] = [
      { id: 'g', participant: 'g', side: 'sell', qty_wh: 100, price: 10, t_s: 0 },
      { id: 'pv', participant: 'pv', side: 'sell', qty_wh: 30, price: 30, t_s: 0 },
      { id: 'load', participant: 'load', side: 'buy', qty_wh: 100, price: 50, t_s: 0 },
    ];
    const network: MarketNetwork = {
      microgrids: ['mg3'],
      links: [],
      reserves: [
        {
          microgrid: 'mg3',
          required_wh: 40,
          capability_wh: 100,
          providers: [{ participant: 'g', capability_wh: 100 }],
          constraint: 'island reserve',
        },
      ],
    };
    const cfg = { ...DEFAULT_MARKET_CONFIG, priceCap: 1000 };
    const r = clear(book, participants, cfg, network);
    expect(r.fills.map((f) => [f.orderId, f.filled_wh, f.price])).toEqual([
      ['g', 60, 50],
      ['pv', 30, 50],
      ['load', 90, 50],
    ]);
    expect(r.welfare).toBe(60 * 40 + 30 * 20);
    expect(r.reserves).toEqual([
      {
        microgrid: 'mg3',
        required_wh: 40,
        sellable_wh: 60,
        sold_wh: 60,
        shortfall_wh: 0,
        price: 40,
        lo: 40,
        hi: 40,
        binding: true,
        message:
          'mg3 island reserve: grid-forming offers held to 60 Wh: reserve price 40 (energy 50 in mg3, 10 at its grid-forming units)',
        providers: [{ participant: 'g', headroom_wh: 40, amount: 40 * 40 }],
        charges: [{ participant: 'load', amount: 40 * 40 }],
        remainder: 0,
      },
    ]);
    // g earns 60 × 50 for energy + 1600 for reserve = what 100 Wh at 50 less its cost on the 40 held
    // (40 × 10) would leave it: indifferent between selling and holding, as a reserve price should make it.
    expect(60 * 50 + 1600).toBe(100 * 50 - 40 * 10);
    // Without the requirement g sells everything the load wants at its price: no reserve.
    const free = clear(book, participants, cfg, { ...network, reserves: [] });
    expect(free.fills.map((f) => f.filled_wh)).toEqual([100, 0, 100]);
  });
});

describe('the reserve requirement on the net load forecast (NetLoadForecast), not persistence', () => {
  // The island mg3 at 11:55–12:00 (startHour 11): demand 2 × the load profile (0.5 at 11 h rising to
  // 1 at 12 h, then flat), PV 0.3 × the clear-sky shape, the genset covering the rest, no FID flow.
  const profile = Array.from({ length: 24 }, (_, h) => (h === 11 ? 0.5 : h >= 12 && h <= 13 ? 1 : 0.5));
  const hourAt = (t_s: number) => 11 + t_s / 3600;
  const sky = (h: number) => Math.sin((Math.PI * (h - 6)) / 12);
  const load = (h: number) => (h <= 12 ? 0.5 + 0.5 * (h - 11) : 1);
  function islandAt(t_s: number): TwinState {
    const h = hourAt(t_s);
    const pv = 0.3 * sky(h);
    return state({
      t_s,
      devices: {
        g: { p_mw: 2 * load(h) - pv, q_mvar: 0, online: true },
        b: { p_mw: 0, q_mvar: 0, soc: 0.5, online: true },
        pv: { p_mw: pv, q_mvar: 0, online: true },
        chp: { p_mw: 0.5, q_mvar: 0, online: true },
      },
      fids: { fid: { p_a_mw: 0, p_b_mw: 0, loss_mw: 0 } },
    });
  }
  // By hand: demand factor 2 × the profile's mean over 12:00–12:15 (1) less PV factor 0.3 × the
  // clear-sky mean over it, (48/π)·sin(π/48) (its integral); persistence would give the 11:59 figure.
  const forecastByHand = 2 - 0.3 * (48 / Math.PI) * Math.sin(Math.PI / 48);
  const persistence = 2 * load(hourAt(3540)) - 0.3 * sky(hourAt(3540));

  it('forecasts an island’s local net load on its shapes from what was seen before the gate', () => {
    const f = new NetLoadForecast({ startHour: 11, loadProfile: profile });
    for (let t = 3000; t <= 3540; t += 60) f.observe(islandAt(t), catalog);
    const n = f.forecast(catalog, 'mg3', 3600, 900, 3540)!;
    expect(n).toBeCloseTo(forecastByHand, 5);
    expect(Math.abs(n - persistence)).toBeGreaterThan(0.01);
    const [r] = islandReserves(islandAt(3540), catalog, 900, {}, () => n);
    expect(r.localNet_mw).toBe(n);
    const [req] = reserveRequirements([r], new Map([['g', 'mg3']]), 900);
    // R = 10 % of the forecast net load over 15 min, rounded up; U: genset 0.9 + battery 0.4 MW.
    expect(Math.abs(req.required_wh - 0.1 * forecastByHand * 250_000)).toBeLessThanOrEqual(1);
    expect(req.capability_wh).toBe(325_000);
    expect(req.providers).toEqual([{ participant: 'g', capability_wh: 225_000 }]);
  });

  it('the controller prices the reserve on the forecast: the held battery is paid, the island’s load pays', () => {
    const participants = new Map<string, Participant>(
      ['g', 'b', 'load'].map((id) => [id, { id, microgrid: 'mg3', deposit: 1e15 }]),
    );
    const m = new MarketController({
      fids: ['fid'],
      participants,
      reserve: { forecast: { startHour: 11, loadProfile: profile } },
      bidder: (s, start) => [
        { id: `g@${start}`, participant: 'g', side: 'sell', qty_wh: 225_000, price: 10, t_s: s.t_s },
        { id: `b@${start}`, participant: 'b', side: 'sell', qty_wh: 100_000, price: 20, t_s: s.t_s },
        { id: `load@${start}`, participant: 'load', side: 'buy', qty_wh: 500_000, price: 50, t_s: s.t_s },
      ],
    });
    m.attach(catalog);
    for (let t = 3000; t <= 3540; t += 60) m.decide(islandAt(t), []);
    const result = m.history.at(-1)!.result!;
    const [award] = result.reserves;
    expect(Math.abs(award.required_wh - 0.1 * forecastByHand * 250_000)).toBeLessThanOrEqual(1);
    // The grid-forming units sell U − R; the battery (dearer) keeps the reserve; nothing is trimmed
    // from the book: its unsold part is settled as unmatched.
    const sellable = 325_000 - award.required_wh;
    expect(award.sellable_wh).toBe(sellable);
    const fill = (id: string) => result.fills.find((f) => f.participant === id)!;
    expect([fill('g').filled_wh, fill('b').filled_wh, fill('b').unmatched_wh]).toEqual([
      225_000,
      sellable - 225_000,
      100_000 - (sellable - 225_000),
    ]);
    // Energy at the load's 50; the battery's offer at 20 is marginal: the reserve is worth 30.
    expect(result.prices.find((p) => p.microgrid === 'mg3')!.price).toBe(50);
    expect(award).toMatchObject({ price: 30, binding: true, lo: 30, hi: 30 });
    expect(award.providers).toEqual([
      { participant: 'g', headroom_wh: 0, amount: 0 },
      { participant: 'b', headroom_wh: 325_000 - sellable, amount: 30 * (325_000 - sellable) },
    ]);
    expect(award.charges).toEqual([{ participant: 'load', amount: 30 * (325_000 - sellable) }]);
  });
});
