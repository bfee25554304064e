/**
 * The clearing against an independent reference: the welfare-maximising LP solved by HiGHS, on
 * thousands of random books (many exact price ties, zero-margin crossings, empty sides), plus the
 * competitive-equilibrium and tie-rule conditions checked directly from the fills.
 */
import fc from 'fast-check';
import highsPackage, { type Highs } from 'highs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type ClearingResult, clear, type MarketNetwork } from './clearing.ts';
import { DEFAULT_MARKET_CONFIG, type MarketConfig, type Order, type Participant } from './orders.ts';

// The package's types describe an ES default export on a CommonJS module; at run time (ESM) the
// default import is the loader itself.
const loadHighs = ((highsPackage as unknown as { default?: unknown }).default ??
  highsPackage) as () => Promise<Highs>;
let highs: Highs;
beforeAll(async () => {
  highs = await loadHighs();
});

const CONFIG: MarketConfig = { ...DEFAULT_MARKET_CONFIG, priceFloor: 0, priceCap: 60 };

const LP_OPTIONS = { presolve: 'off' } as const;

interface Lp {
  welfare: number;
  volume: number;
  /** Dual price of each microgrid's balance. */
  duals: Map<string, number>;
}

/**
 * max Σ bid·q − Σ ask·q s.t. balance per microgrid, FID ratings and each limited microgrid's net
 * exchange (−maxImport ≤ Σ out − Σ in ≤ maxExport); then max volume at that welfare.
 */
function solveLp(orders: readonly Order[], mgOf: (o: Order) => string, network: MarketNetwork): Lp {
  const v = (i: number) => `q${i}`;
  const welfareTerms = orders.map((o, i) => `${o.side === 'buy' ? '+' : '-'} ${o.price} ${v(i)}`).join(' ');
  const rows = network.microgrids.map((m) => {
    const terms = orders
      .map((o, i) => (mgOf(o) === m ? `${o.side === 'sell' ? '+' : '-'} ${v(i)}` : ''))
      .filter(Boolean);
    network.links.forEach((l, k) => {
      if (l.a === m) terms.push(`- f${k}`);
      if (l.b === m) terms.push(`+ f${k}`);
    });
    return ` bal_${m}: ${terms.join(' ') || '0 q0'} = 0`;
  });
  // Limit rows after the balances (the duals are read by row index).
  for (const lim of network.limits ?? []) {
    const out = network.links
      .map((l, k) => (l.a === lim.microgrid ? `+ f${k}` : l.b === lim.microgrid ? `- f${k}` : ''))
      .filter(Boolean)
      .join(' ');
    if (!out) continue;
    rows.push(` exp_${lim.microgrid}: ${out} <= ${lim.maxExport_wh}`);
    rows.push(` imp_${lim.microgrid}: ${out} >= -${lim.maxImport_wh}`);
  }
  const bounds = [
    ...orders.map((o, i) => ` 0 <= ${v(i)} <= ${o.qty_wh}`),
    ...network.links.map((l, k) => ` -${l.cap_wh} <= f${k} <= ${l.cap_wh}`),
  ];
  const body = `Subject To\n${rows.join('\n')}\n__EXTRA__Bounds\n${bounds.join('\n')}\nEnd`;
  const objective = welfareTerms.trim() === '' ? '0 q0' : welfareTerms;
  if (orders.length === 0) return { welfare: 0, volume: 0, duals: new Map() };
  const first = highs.solve(`Maximize\n obj: ${objective}\n${body.replace('__EXTRA__', '')}`, LP_OPTIONS);
  expect(first.Status).toBe('Optimal');
  const duals = new Map<string, number>();
  network.microgrids.forEach((m, i) => {
    duals.set(m, -(first.Rows[i] as { Dual: number }).Dual);
  });
  const W = first.ObjectiveValue;
  const buyTerms = orders
    .map((o, i) => (o.side === 'buy' ? `+ ${v(i)}` : ''))
    .filter(Boolean)
    .join(' ');
  if (!buyTerms) return { welfare: W, volume: 0, duals };
  const second = highs.solve(
    `Maximize\n obj: ${buyTerms}\n${body.replace('__EXTRA__', ` wel: ${objective} >= ${W - 1e-3}\n`)}`,
    LP_OPTIONS,
  );
  expect(second.Status).toBe('Optimal');
  return { welfare: W, volume: second.ObjectiveValue, duals };
}

// Random books: coarse prices (ties) and quantities including 0.
const orderArb = fc.record({
  side: fc.constantFrom('buy' as const, 'sell' as const),
  qty_wh: fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constantFrom(0, 100, 500)),
  price: fc.oneof(fc.integer({ min: 0, max: 60 }), fc.constantFrom(20, 30)),
  t_s: fc.integer({ min: 0, max: 5 }),
  mg: fc.integer({ min: 0, max: 2 }),
});
const bookArb = fc.array(orderArb, { minLength: 0, maxLength: 24 });
type RawBook = typeof bookArb extends fc.Arbitrary<infer T> ? T : never;

function materialise(raw: RawBook, microgrids: readonly string[]) {
  const participants = new Map<string, Participant>();
  const orders: Order[] = raw.map((r, i) => {
    const participant = `p${i}`;
    participants.set(participant, {
      id: participant,
      microgrid: microgrids[r.mg % microgrids.length],
      deposit: 0,
    });
    // Ids deliberately not in submission order, so the tie rule's "time, then id" is exercised.
    return {
      id: `o${(i * 7) % 31}-${i}`,
      participant,
      side: r.side,
      qty_wh: r.qty_wh,
      price: r.price,
      t_s: r.t_s,
    };
  });
  return { orders, participants };
}

const before = (x: Order, y: Order) => x.t_s < y.t_s || (x.t_s === y.t_s && x.id < y.id);

/** Competitive equilibrium at each microgrid's price, and the tie rule, read from the fills. */
function checkEquilibriumAndTies(orders: readonly Order[], r: ClearingResult) {
  const fillOf = new Map(r.fills.map((f) => [f.orderId, f]));
  const priceOf = new Map(r.prices.map((p) => [p.microgrid, p]));
  for (const o of orders) {
    const f = fillOf.get(o.id)!;
    const p = priceOf.get(f.microgrid)!;
    expect(p.lo).toBeLessThanOrEqual(p.price);
    expect(p.price).toBeLessThanOrEqual(p.hi);
    const buy = o.side === 'buy';
    // Filled: willing at every price of the bracket; unfilled remainder: unwilling (or indifferent).
    if (f.filled_wh > 0) expect(buy ? o.price >= p.hi : o.price <= p.lo).toBe(true);
    if (f.unmatched_wh > 0) expect(buy ? o.price <= p.lo : o.price >= p.hi).toBe(true);
  }
  // Tie rule: among equal-price orders of one side in one microgrid, a later one gets volume only
  // once every earlier one is full.
  for (const x of orders)
    for (const y of orders) {
      if (x === y || x.side !== y.side || x.price !== y.price) continue;
      const fx = fillOf.get(x.id)!;
      const fy = fillOf.get(y.id)!;
      if (fx.microgrid !== fy.microgrid || !before(x, y) || x.qty_wh === 0) continue;
      if (fy.filled_wh > 0) expect(fx.unmatched_wh, `${x.id} before ${y.id}`).toBe(0);
    }
}

describe('uniform-price clearing equals the welfare LP (HiGHS)', () => {
  it('single market: same welfare and volume, LP dual within the bracket, bracket exact, tie rule', () => {
    const net: MarketNetwork = { microgrids: ['community'], links: [] };
    let crossingsAtZeroMargin = 0;
    let ties = 0;
    fc.assert(
      fc.property(bookArb, (raw) => {
        const { orders, participants } = materialise(raw, ['community']);
        const r = clear(orders, participants, CONFIG);
        const lp = solveLp(orders, () => 'community', net);
        expect(r.welfare).toBeCloseTo(lp.welfare, 6);
        expect(r.volume_wh).toBe(Math.round(lp.volume));
        const p = r.prices[0];
        if (orders.length > 0) {
          const dual = lp.duals.get('community')!;
          expect(dual).toBeGreaterThanOrEqual(p.lo - 1e-6);
          expect(dual).toBeLessThanOrEqual(p.hi + 1e-6);
        }
        // The bracket recomputed by hand from the fills: [max(filled asks, unfilled bids),
        // min(filled bids, unfilled asks)], within the cap.
        let lo = CONFIG.priceFloor;
        let hi = CONFIG.priceCap;
        for (const f of r.fills) {
          const o = orders.find((x) => x.id === f.orderId)!;
          const raisesLo = (f.filled_wh > 0 && o.side === 'sell') || (f.unmatched_wh > 0 && o.side === 'buy');
          const capsHi = (f.filled_wh > 0 && o.side === 'buy') || (f.unmatched_wh > 0 && o.side === 'sell');
          if (raisesLo) lo = Math.max(lo, o.price);
          if (capsHi) hi = Math.min(hi, o.price);
        }
        expect([p.lo, p.hi]).toEqual([lo, hi]);
        expect(p.price).toBe(Math.floor((lo + hi) / 2));
        checkEquilibriumAndTies(orders, r);
        if (r.fills.some((f) => f.filled_wh > 0 && f.price === orders.find((o) => o.id === f.orderId)!.price))
          ties++;
        if (r.volume_wh > 0 && r.welfare === 0) crossingsAtZeroMargin++;
      }),
      { numRuns: 1200, seed: 20 },
    );
    // The generator really produced the hard cases.
    expect(crossingsAtZeroMargin).toBeGreaterThan(10);
    expect(ties).toBeGreaterThan(100);
  });

  it('three microgrids with FID ratings: same welfare and volume, LP nodal prices in each bracket', () => {
    const mgs = ['mg1', 'mg2', 'mg3'];
    let binding = 0;
    fc.assert(
      fc.property(
        bookArb,
        fc.array(fc.integer({ min: 0, max: 800 }), { minLength: 2, maxLength: 2 }),
        (raw, caps) => {
          const { orders, participants } = materialise(raw, mgs);
          // A chain mg1 – mg2 – mg3.
          const net: MarketNetwork = {
            microgrids: mgs,
            links: [
              { id: 'fid12', a: 'mg1', b: 'mg2', cap_wh: caps[0] },
              { id: 'fid23', a: 'mg2', b: 'mg3', cap_wh: caps[1] },
            ],
          };
          const r = clear(orders, participants, CONFIG, net);
          const lp = solveLp(orders, (o) => participants.get(o.participant)!.microgrid, net);
          expect(r.welfare).toBeCloseTo(lp.welfare, 6);
          expect(r.volume_wh).toBe(Math.round(lp.volume));
          if (orders.length > 0)
            for (const p of r.prices) {
              const dual = lp.duals.get(p.microgrid)!;
              expect(dual, p.microgrid).toBeGreaterThanOrEqual(p.lo - 1e-6);
              expect(dual, p.microgrid).toBeLessThanOrEqual(p.hi + 1e-6);
            }
          checkEquilibriumAndTies(orders, r);
          // Feasible flows; balances per microgrid; binding FIDs separate the prices the right way.
          for (const [k, l] of r.links.entries()) {
            expect(Math.abs(l.flow_wh)).toBeLessThanOrEqual(net.links[k].cap_wh);
            const pa = r.prices.find((p) => p.microgrid === net.links[k].a)!.price;
            const pb = r.prices.find((p) => p.microgrid === net.links[k].b)!.price;
            if (Math.abs(l.flow_wh) < net.links[k].cap_wh) expect(pa).toBe(pb);
            if (l.flow_wh > 0) expect(pb).toBeGreaterThanOrEqual(pa);
            if (l.flow_wh < 0) expect(pa).toBeGreaterThanOrEqual(pb);
            if (l.binding) {
              binding++;
              expect(l.message).toMatch(/rating/);
            }
          }
          const net12 = r.links[0].flow_wh;
          const net23 = r.links[1].flow_wh;
          const exportOf = { mg1: net12, mg2: net23 - net12, mg3: 0 - net23 + 0 } as Record<string, number>;
          for (const p of r.prices) expect(p.sold_wh - p.bought_wh + 0).toBe(exportOf[p.microgrid] + 0);
        },
      ),
      { numRuns: 800, seed: 21 },
    );
    expect(binding).toBeGreaterThan(50);
  });

  it('with island-reserve limits on the microgrids’ net exchange (chain and ring): same welfare and volume, LP nodal prices in each bracket, limits held and named', () => {
    const mgs = ['mg1', 'mg2', 'mg3'];
    const limitArb = fc.option(
      fc.record({
        maxExport_wh: fc.oneof(fc.integer({ min: 0, max: 600 }), fc.constant(0)),
        maxImport_wh: fc.oneof(fc.integer({ min: 0, max: 600 }), fc.constant(0)),
      }),
      { freq: 2 },
    );
    let bindingLimits = 0;
    let throughFlows = 0;
    fc.assert(
      fc.property(
        bookArb,
        fc.array(fc.integer({ min: 0, max: 800 }), { minLength: 3, maxLength: 3 }),
        fc.boolean(),
        fc.array(limitArb, { minLength: 3, maxLength: 3 }),
        (raw, caps, ring, lims) => {
          const { orders, participants } = materialise(raw, mgs);
          // mg1 – mg3 – mg2 like the demo (MG3 in the middle), closed into a ring by mg1 – mg2.
          const links = [
            { id: 'fid13', a: 'mg1', b: 'mg3', cap_wh: caps[0] },
            { id: 'fid32', a: 'mg3', b: 'mg2', cap_wh: caps[1] },
            ...(ring ? [{ id: 'fid12', a: 'mg1', b: 'mg2', cap_wh: caps[2] }] : []),
          ];
          const limits = lims.flatMap((l, i) =>
            l ? [{ microgrid: mgs[i], ...l, constraint: 'island reserve' }] : [],
          );
          const net: MarketNetwork = { microgrids: mgs, links, limits };
          const r = clear(orders, participants, CONFIG, net);
          const lp = solveLp(orders, (o) => participants.get(o.participant)!.microgrid, net);
          expect(r.welfare).toBeCloseTo(lp.welfare, 6);
          expect(r.volume_wh).toBe(Math.round(lp.volume));
          if (orders.length > 0)
            for (const p of r.prices) {
              const dual = lp.duals.get(p.microgrid)!;
              expect(dual, p.microgrid).toBeGreaterThanOrEqual(p.lo - 1e-6);
              expect(dual, p.microgrid).toBeLessThanOrEqual(p.hi + 1e-6);
            }
          checkEquilibriumAndTies(orders, r);
          // Feasible: FID ratings, each microgrid's balance = its net exchange, the limits held.
          const exportOf = new Map(mgs.map((m) => [m, 0]));
          r.links.forEach((l, k) => {
            expect(Math.abs(l.flow_wh)).toBeLessThanOrEqual(links[k].cap_wh);
            exportOf.set(links[k].a, exportOf.get(links[k].a)! + l.flow_wh);
            exportOf.set(links[k].b, exportOf.get(links[k].b)! - l.flow_wh);
          });
          for (const p of r.prices) expect(p.sold_wh - p.bought_wh).toBe(exportOf.get(p.microgrid));
          expect(r.limits.map((l) => l.microgrid)).toEqual(limits.map((l) => l.microgrid));
          r.limits.forEach((l, j) => {
            expect(l.export_wh).toBe(exportOf.get(l.microgrid));
            expect(l.export_wh).toBeLessThanOrEqual(limits[j].maxExport_wh);
            expect(-l.export_wh).toBeLessThanOrEqual(limits[j].maxImport_wh);
            const price = r.prices.find((p) => p.microgrid === l.microgrid)!;
            if (l.binding) {
              bindingLimits++;
              expect(l.message).toMatch(
                new RegExp(
                  `^${l.microgrid} island reserve: (export|import) held to \\d+ Wh: price \\d+ in ${l.microgrid} vs \\d+ at its FIDs$`,
                ),
              );
              // Held on export, the microgrid's own price is below what its FIDs pay; on import, above.
              const outside = Number(/vs (\d+) at its FIDs/.exec(l.message!)![1]);
              if (l.message!.includes('export held')) expect(price.price).toBeLessThan(outside);
              else expect(price.price).toBeGreaterThan(outside);
            }
          });
          // Energy through the limited middle microgrid (mg3) beyond its own limit: transit is free.
          const m3 = limits.find((l) => l.microgrid === 'mg3');
          const through = Math.min(Math.abs(r.links[0].flow_wh), Math.abs(r.links[1].flow_wh));
          if (m3 && through > Math.max(m3.maxExport_wh, m3.maxImport_wh)) throughFlows++;
        },
      ),
      { numRuns: 1000, seed: 22 },
    );
    // The generator really produced binding limits and transit through a limited microgrid.
    expect(bindingLimits).toBeGreaterThan(100);
    expect(throughFlows).toBeGreaterThan(10);
  });
});

describe('clearing rules by hand', () => {
  const participants = new Map<string, Participant>([
    ['alice', { id: 'alice', microgrid: 'mg1', deposit: 0 }],
    ['bob', { id: 'bob', microgrid: 'mg1', deposit: 0 }],
    ['carol', { id: 'carol', microgrid: 'mg2', deposit: 0 }],
    ['dave', { id: 'dave', microgrid: 'mg2', deposit: 0 }],
  ]);
  const o = (id: string, participant: string, side: 'buy' | 'sell', qty_wh: number, price: number, t_s = 0) =>
    ({ id, participant, side, qty_wh, price, t_s }) as Order;

  it('uniform price: the midpoint of the bracket; money: buyers pay = sellers receive', () => {
    // Supply 10@100 then 10@140; demand 15@200 then 10@120. Cleared 15 Wh: 10 from the cheap ask,
    // 5 from the 140 ask (marginal); bracket [140, 140] ∩ … → lo = 140 (marginal ask), hi = 140.
    const r = clear(
      [o('a', 'alice', 'sell', 10, 100), o('b', 'bob', 'sell', 10, 140), o('c', 'carol', 'buy', 15, 200)],
      participants,
      { ...CONFIG, priceCap: 1000 },
    );
    expect(r.volume_wh).toBe(15);
    expect(r.prices[0]).toMatchObject({ lo: 140, hi: 140, price: 140 });
    expect(r.welfare).toBe(15 * 200 - 10 * 100 - 5 * 140);
    const pay = r.fills.filter((f) => f.side === 'buy').reduce((s, f) => s + f.amount, 0);
    const get = r.fills.filter((f) => f.side === 'sell').reduce((s, f) => s + f.amount, 0);
    expect(pay).toBe(get);
    expect(r.pool).toBe(0);
    // Unmatched: bob's 5 Wh go to the grid at the feed-in price.
    expect(r.fills[1]).toMatchObject({ filled_wh: 5, unmatched_wh: 5, gridAmount: 5 * CONFIG.feedInPrice });
  });

  it('pay-as-bid: each side at its own price, the spread to the pool', () => {
    const cfg: MarketConfig = { ...CONFIG, priceCap: 1000, pricing: 'pay-as-bid' };
    const r = clear([o('a', 'alice', 'sell', 10, 100), o('c', 'carol', 'buy', 10, 200)], participants, cfg);
    expect(r.fills.map((f) => [f.price, f.amount])).toEqual([
      [100, 1000],
      [200, 2000],
    ]);
    expect(r.pool).toBe(1000);
  });

  it('exact price ties: earlier time first, then lower id', () => {
    const r = clear(
      [
        o('z', 'alice', 'sell', 10, 30, 5),
        o('y', 'bob', 'sell', 10, 30, 1),
        o('x', 'alice', 'sell', 10, 30, 1),
        o('c', 'carol', 'buy', 15, 50),
      ],
      participants,
      CONFIG,
    );
    expect(r.fills.map((f) => [f.orderId, f.filled_wh])).toEqual([
      ['z', 0],
      ['y', 5],
      ['x', 10],
      ['c', 15],
    ]);
  });

  it('an island-reserve limit holds a microgrid’s exports, splits its price from its FIDs’ and names itself', () => {
    // mg2 (alice, bob: cheap gensets at 10) sells to mg1 (carol at 50) through a FID of 100 Wh and
    // to mg3 (dave at 40) through another; mg2 may export 30 Wh in all.
    const parts = new Map<string, Participant>([
      ['alice', { id: 'alice', microgrid: 'mg2', deposit: 0 }],
      ['carol', { id: 'carol', microgrid: 'mg1', deposit: 0 }],
      ['dave', { id: 'dave', microgrid: 'mg3', deposit: 0 }],
      ['erin', { id: 'erin', microgrid: 'mg2', deposit: 0 }],
    ]);
    const net: MarketNetwork = {
      microgrids: ['mg1', 'mg2', 'mg3'],
      links: [
        { id: 'fid21', a: 'mg2', b: 'mg1', cap_wh: 100 },
        { id: 'fid23', a: 'mg2', b: 'mg3', cap_wh: 100 },
      ],
      limits: [{ microgrid: 'mg2', maxExport_wh: 30, maxImport_wh: 0, constraint: 'island reserve' }],
    };
    const book = [
      o('a', 'alice', 'sell', 100, 10),
      o('e', 'erin', 'buy', 20, 20),
      o('c', 'carol', 'buy', 25, 50),
      o('d', 'dave', 'buy', 25, 40),
    ];
    const r = clear(book, parts, CONFIG, net);
    // By hand: erin's 20 Wh at home, then 30 Wh out — all to carol (50 beats dave's 40); welfare
    // 20·(20 − 10) + 25·(50 − 10) + 5·(40 − 10).
    expect(r.fills.map((f) => [f.orderId, f.filled_wh])).toEqual([
      ['a', 50],
      ['e', 20],
      ['c', 25],
      ['d', 5],
    ]);
    expect(r.welfare).toBe(20 * 10 + 25 * 40 + 5 * 30);
    expect(r.links.map((l) => [l.flow_wh, l.binding])).toEqual([
      [25, false],
      [5, false],
    ]);
    expect(r.limits).toEqual([
      {
        microgrid: 'mg2',
        export_wh: 30,
        binding: true,
        message: 'mg2 island reserve: export held to 30 Wh: price 10 in mg2 vs 40 at its FIDs',
      },
    ]);
    // mg2's bracket [10, 10] (alice, partly filled, is marginal); mg1 and mg3 share one
    // price through the unsaturated FIDs: dave is marginal at 40 (bracket [40, 40]).
    expect(r.prices.map((p) => [p.microgrid, p.lo, p.hi, p.price])).toEqual([
      ['mg1', 40, 40, 40],
      ['mg2', 10, 10, 10],
      ['mg3', 40, 40, 40],
    ]);
    // The rent of the limit, 30 Wh × (40 − 10), stays with the pool.
    expect(r.pool).toBe(30 * 30);
    // Without the limit mg2 exports everything the others want (50 Wh).
    const free = clear(book, parts, CONFIG, { ...net, limits: [] });
    expect(free.links.map((l) => l.flow_wh)).toEqual([25, 25]);
  });

  it('a binding FID splits the prices and names itself', () => {
    const net: MarketNetwork = {
      microgrids: ['mg1', 'mg2'],
      links: [{ id: 'fid1', a: 'mg1', b: 'mg2', cap_wh: 4 }],
    };
    const r = clear(
      [o('a', 'alice', 'sell', 10, 10), o('c', 'carol', 'buy', 10, 50), o('d', 'dave', 'sell', 10, 40)],
      participants,
      CONFIG,
      net,
    );
    // 4 Wh cross the FID from mg1 (cheap) to mg2; mg2 buys its other 6 Wh from dave at 40.
    expect(r.links[0]).toMatchObject({ flow_wh: 4, binding: true });
    expect(r.links[0].message).toMatch(/fid1 at its 4 Wh rating from mg1 to mg2/);
    const [p1, p2] = r.prices;
    expect(p1.hi).toBeLessThan(p2.lo + 1);
    expect(p2).toMatchObject({ lo: 40, hi: 40, price: 40 });
    expect(p1).toMatchObject({ lo: 10, hi: 10, price: 10 });
    // Congestion rent: 4 Wh × (40 − 10) stays with the pool.
    expect(r.pool).toBe(4 * 30);
  });
});
