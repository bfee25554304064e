import { describe, expect, it } from 'vitest';
import { hypot2 } from './hypot.ts';
import { Random } from './random.ts';

describe('hypot2', () => {
  it('is bit-for-bit Math.hypot on edge cases and a million scattered pairs', () => {
    const special = [0, -0, 1, -1, 3, -4, 0.1, 0.2, 5e-324, 1e-310, 1e308, Number.MAX_VALUE];
    special.push(Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN);
    let differ = 0;
    const check = (a: number, b: number) => {
      if (!Object.is(hypot2(a, b), Math.hypot(a, b))) differ++;
    };
    for (const a of special) for (const b of special) check(a, b);
    const r = new Random(7);
    for (let i = 0; i < 500_000; i++) {
      // Magnitudes from 1e-20 to 1e20, both signs; the second pair is nearly equal terms.
      const a = (r.next() - 0.5) * 10 ** Math.floor(r.next() * 40 - 20);
      const b = (r.next() - 0.5) * 10 ** Math.floor(r.next() * 40 - 20);
      check(a, b);
      check(a, a * (1 + r.next() * 1e-8));
    }
    expect(differ).toBe(0);
  });
});
