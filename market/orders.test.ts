import { describe, expect, it } from 'vitest';
import { DEFAULT_MARKET_CONFIG, OrderBook, type Participant } from './orders.ts';

const participants = new Map<string, Participant>([
  ['alice', { id: 'alice', microgrid: 'mg1', deposit: 1_000_000 }],
  ['bob', { id: 'bob', microgrid: 'mg2', deposit: 0 }],
]);
// Interval starting at t = 900 s, gate closes 60 s before.
const book = () => new OrderBook(900, participants, DEFAULT_MARKET_CONFIG);
const good = { id: 'o1', participant: 'alice', side: 'sell', qty_wh: 1000, price: 100, t_s: 800 };

describe('order admission', () => {
  it('admits a well-formed order and locks its deposit', () => {
    const b = book();
    expect(b.submit(good)).toBeUndefined();
    expect(b.orders).toHaveLength(1);
    // 1000 Wh × 100 µ/Wh = 100 000 locked; 10 000 Wh more would need 1 000 000 > 900 000 free.
    expect(b.submit({ ...good, id: 'o2', qty_wh: 10_000 })?.reason).toBe('deposit-too-small');
    expect(b.submit({ ...good, id: 'o3', qty_wh: 9_000 })).toBeUndefined();
  });

  it.each([
    [
      'negative quantity',
      { qty_wh: -1 },
      'bad-quantity',
      /qty_wh must be a whole number of Wh ≥ 0 \(got -1\)/,
    ],
    ['NaN quantity', { qty_wh: Number.NaN }, 'bad-quantity', /got NaN/],
    ['fractional quantity', { qty_wh: 1.5 }, 'bad-quantity', /got 1.5/],
    ['string quantity', { qty_wh: '5' }, 'bad-quantity', /got 5/],
    ['NaN price', { price: Number.NaN }, 'bad-price', /got NaN/],
    ['price above the cap', { price: 1001 }, 'price-outside-cap', /price 1001 outside \[0, 1000\]/],
    ['price below the floor', { price: -1 }, 'price-outside-cap', /outside/],
    ['unknown participant', { participant: 'mallory' }, 'unknown-participant', /unknown participant mallory/],
    ['after gate closure', { t_s: 841 }, 'after-gate-closure', /after the gate closed at t=840 s/],
    [
      'deposit too small',
      { participant: 'bob' },
      'deposit-too-small',
      /needs a deposit of 100000 µ-units, bob has 0 free/,
    ],
    ['bad side', { side: 'hold' }, 'malformed', /side/],
    ['no id', { id: '' }, 'malformed', /id/],
    ['infinite time', { t_s: Number.POSITIVE_INFINITY }, 'malformed', /t_s/],
  ])('refuses %s with a clear reason', (_name, patch, reason, message) => {
    const b = book();
    const r = b.submit({ ...good, ...patch });
    expect(r?.reason).toBe(reason);
    expect(r?.message).toMatch(message);
    expect(b.orders).toHaveLength(0);
    expect(b.refused).toEqual([r]);
  });

  it('never throws on junk, and refuses a duplicate id', () => {
    const b = book();
    for (const junk of [null, undefined, 42, 'order', [], {}, { id: 'x' }]) {
      expect(b.submit(junk)?.reason).toBe('malformed');
    }
    b.submit(good);
    expect(b.submit(good)?.reason).toBe('duplicate-id');
  });
});
