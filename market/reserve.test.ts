import fc from 'fast-check';
import highsPackage, { type Highs } from 'highs';
import { describe, expect, it } from 'vitest';
import type { TwinState } from '../twin/api.ts';
import type { DerInfo, TwinCatalog } from '../twin/control/contract.ts';
import { clear, type MarketNetwork } from './clearing.ts';
import { DEFAULT_MARKET_CONFIG, type Order, type Participant } from './orders.ts';
import { holdBack, islandLimits, islandReserves } from './reserve.ts';

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

describe('reserve holdback against the welfare LP with the reserve as a constraint (HiGHS)', () => {
  it('trimming the dearest grid-forming offers then clearing = max welfare s.t. Σ grid-forming sold ≤ U − R', async () => {
    const highs = await loadHighs();
    const cfg = { ...DEFAULT_MARKET_CONFIG, priceFloor: 0, priceCap: 60 };
    let binding = 0;
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
          }),
          { maxLength: 16 },
        ),
        fc.integer({ min: 0, max: 1500 }),
        fc.integer({ min: 0, max: 800 }),
        (raw, cap, fidCap) => {
          const participants = new Map<string, Participant>();
          const gridFormingOf = new Map<string, string>();
          const orders: Order[] = raw.map((r, i) => {
            const mg = r.mg === 0 ? 'mg1' : 'mg3';
            participants.set(`p${i}`, { id: `p${i}`, microgrid: mg, deposit: 0 });
            if (r.gridForming && mg === 'mg3') gridFormingOf.set(`p${i}`, mg);
            return {
              id: `o${i}`,
              participant: `p${i}`,
              side: r.side,
              qty_wh: r.qty_wh,
              price: r.price,
              t_s: r.t_s,
            };
          });
          const network: MarketNetwork = {
            microgrids: ['mg1', 'mg3'],
            links: [{ id: 'fid', a: 'mg1', b: 'mg3', cap_wh: fidCap }],
          };
          // U − R = cap Wh over an hour (the +0.5 Wh keeps the floor exact).
          const reserve = {
            microgrid: 'mg3',
            up_mw: (cap + 0.5) / 1e6,
            down_mw: 0,
            localNet_mw: 0,
            reserve_mw: 0,
          };
          const { orders: trimmed, held } = holdBack(orders, [reserve], gridFormingOf, 3600);
          const r = clear(trimmed, participants, cfg, network);
          // The LP: max Σ bid·q − Σ ask·q, balances, the FID, and Σ over grid-forming asks ≤ cap.
          const q = (i: number) => `q${i}`;
          const obj =
            orders.map((o, i) => `${o.side === 'buy' ? '+' : '-'} ${o.price} ${q(i)}`).join(' ') || '0 f';
          const bal = ['mg1', 'mg3'].map((m, j) => {
            const t = orders
              .map((o, i) =>
                participants.get(o.participant)!.microgrid === m
                  ? `${o.side === 'sell' ? '+' : '-'} ${q(i)}`
                  : '',
              )
              .filter(Boolean);
            t.push(j === 0 ? '- f' : '+ f');
            return ` b${j}: ${t.join(' ')} = 0`;
          });
          const gf = orders
            .map((o, i) => (o.side === 'sell' && gridFormingOf.has(o.participant) ? `+ ${q(i)}` : ''))
            .filter(Boolean);
          const rows = [...bal, ...(gf.length ? [` res: ${gf.join(' ')} <= ${cap}`] : [])];
          const bounds = [
            ...orders.map((o, i) => ` 0 <= ${q(i)} <= ${o.qty_wh}`),
            ` -${fidCap} <= f <= ${fidCap}`,
          ];
          const lp = highs.solve(
            `Maximize\n obj: ${obj}\nSubject To\n${rows.join('\n')}\nBounds\n${bounds.join('\n')}\nEnd`,
            {
              presolve: 'off',
            },
          );
          expect(lp.Status).toBe('Optimal');
          expect(r.welfare).toBeCloseTo(lp.ObjectiveValue, 6);
          // What the grid-forming units sold leaves the reserve.
          const sold = r.fills
            .filter((f) => f.side === 'sell' && gridFormingOf.has(f.participant))
            .reduce((s, f) => s + f.filled_wh, 0);
          expect(sold).toBeLessThanOrEqual(cap);
          if (held.length > 0 && sold === cap) binding++;
        },
      ),
      { numRuns: 600, seed: 23 },
    );
    expect(binding).toBeGreaterThan(30);
  });
});
