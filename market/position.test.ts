/**
 * The declared-position rule (docs/market.md, "Declared position"), on one interval checked by hand:
 * a genset's must-run and its capability offer, a PV's surplus, a battery, firm and flexible loads.
 */
import { describe, expect, it } from 'vitest';
import { derParticipants } from './agents.ts';
import { clear } from './clearing.ts';
import { settlementOf } from './ledger/ledger.ts';
import { DEFAULT_MARKET_CONFIG, type Order, type Participant } from './orders.ts';
import { declaredPart, declaredPositions } from './position.ts';

const mg = 'mg1';
const participants = new Map<string, Participant>([
  ['gen', { id: 'gen', microgrid: mg, deposit: 1e12, dispatchable: true }],
  ['pv', { id: 'pv', microgrid: mg, deposit: 1e12 }],
  ['bess', { id: 'bess', microgrid: mg, deposit: 1e12, dispatchable: true }],
  ['load:mg1', { id: 'load:mg1', microgrid: mg, deposit: 1e12 }],
  ['flex:mg1', { id: 'flex:mg1', microgrid: mg, deposit: 1e12, dispatchable: true }],
]);
const order = (
  id: string,
  participant: string,
  side: 'buy' | 'sell',
  qty_wh: number,
  price: number,
): Order => ({
  id,
  participant,
  side,
  qty_wh,
  price,
  t_s: 0,
});

describe('declared position', () => {
  // The load buys 1000 Wh at up to 300, the flexible load 500 at up to 60. Offers: the genset's
  // must-run 300 at 0, the PV 400 at 10, the genset's capability 700 at 100, the battery 500 at 160.
  // Merit order: the load takes must-run 300, PV 400 and 300 of the genset's 700; the flexible bid (60)
  // is below the next ask (100). Bracket [max(filled asks 100, unfilled bids 60), min(filled bids 300,
  // unfilled asks 100)] = [100, 100]: price 100.
  const book = [
    order('load:mg1/firm@0', 'load:mg1', 'buy', 1000, 300),
    order('flex:mg1/buy@0', 'flex:mg1', 'buy', 500, 60),
    order('pv/sell@0', 'pv', 'sell', 400, 10),
    order('gen/must-run@0', 'gen', 'sell', 300, 0),
    order('gen/sell@0', 'gen', 'sell', 700, 100),
    order('bess/sell@0', 'bess', 'sell', 500, 160),
  ];
  const result = clear(book, participants, DEFAULT_MARKET_CONFIG);

  it('holds a dispatchable unit to its matched volume; renewables, firm loads and must-run to the whole order', () => {
    const price = result.prices[0].price;
    expect(price).toBe(100);
    const byOrder = new Map(result.fills.map((f) => [f.orderId, f]));
    expect(byOrder.get('gen/sell@0')).toMatchObject({ filled_wh: 300, unmatched_wh: 400 });
    // The genset's capability offer: only the 300 Wh matched, 300 × 100 = 30 000; nothing with the grid.
    expect(declaredPart(byOrder.get('gen/sell@0')!, participants.get('gen'))).toEqual({
      position_wh: 300,
      money: 30_000,
      grid: 0,
    });
    // Without the flag (main's rule) its rest would be sold at feed-in: 700 Wh, 30 000 + 400 × 50.
    expect(declaredPart(byOrder.get('gen/sell@0')!, { dispatchable: false })).toEqual({
      position_wh: 700,
      money: 50_000,
      grid: -20_000,
    });
    // The battery's unmatched offer: nothing; the flexible load's unmatched bid: nothing (curtailed).
    expect(declaredPart(byOrder.get('bess/sell@0')!, participants.get('bess'))).toEqual({
      position_wh: 0,
      money: 0,
      grid: 0,
    });
    expect(declaredPart(byOrder.get('flex:mg1/buy@0')!, participants.get('flex:mg1'))).toEqual({
      position_wh: 0,
      money: 0,
      grid: 0,
    });
    expect(declaredPositions(result.fills, participants)).toEqual(
      new Map([
        ['load:mg1', -1000],
        ['flex:mg1', 0],
        ['pv', 400],
        ['gen', 600],
        ['bess', 0],
      ]),
    );
    // The settlement lines follow the same rule, and still balance: Σ trade + pool + grid = 0.
    const s = settlementOf(1, result, { participants });
    expect(s.lines.find((l) => l.participant === 'gen')).toEqual({
      participant: 'gen',
      clearedWh: 600n,
      trade: 60_000n,
    });
    expect(s.lines.reduce((x, l) => x + l.trade, 0n) + s.poolShare + s.gridShare).toBe(0n);
  });

  it("is a generator's must-run that spills to the grid when unmatched, not its capability", () => {
    // An island with no demand: nothing matches. The must-run runs anyway (sold at feed-in 50).
    const r = clear(
      [order('gen/must-run@0', 'gen', 'sell', 300, 0), order('gen/sell@0', 'gen', 'sell', 700, 100)],
      participants,
      DEFAULT_MARKET_CONFIG,
    );
    expect(declaredPositions(r.fills, participants).get('gen')).toBe(300);
    const line = settlementOf(1, r, { participants }).lines[0];
    expect(line).toEqual({ participant: 'gen', clearedWh: 300n, trade: 15_000n });
  });

  it("marks the agents' generators, batteries and flexible loads dispatchable, renewables and firm loads not", () => {
    const der = (id: string, technology: string, dispatchable: boolean) => ({
      id,
      technology,
      bus: '1',
      microgrid: mg,
      rating_mva: 1,
      pmin_mw: technology === 'battery' ? -0.5 : 0,
      pmax_mw: 0.5,
      cost_per_mwh: 80,
      dispatchable,
      hardware: false,
      ...(technology === 'battery' ? { capacity_mwh: 1 } : {}),
    });
    const catalog = {
      ders: [der('g', 'diesel-genset', true), der('p', 'pv', false), der('b', 'battery', true)],
      microgrids: [{ id: mg, buses: ['1'] }],
      loads: [
        { id: 'l1', bus: '1', microgrid: mg, controllable: false },
        { id: 'l2', bus: '1', microgrid: mg, controllable: true },
      ],
      fids: [],
    } as unknown as Parameters<typeof derParticipants>[0];
    const flags = Object.fromEntries(
      [...derParticipants(catalog, {}, 1).values()].map((p) => [p.id, p.dispatchable]),
    );
    expect(flags).toEqual({ g: true, p: false, b: true, 'load:mg1': undefined, 'flex:mg1': true });
  });
});
