import { describe, expect, it } from 'vitest';
import { MicrosecondHistogram } from './timing-histogram.ts';

describe('MicrosecondHistogram', () => {
  it('gives quantiles within one 1 µs bin of the exact order statistics', () => {
    const h = new MicrosecondHistogram(1000);
    const values = Array.from({ length: 1000 }, (_, i) => i * 0.7 + 0.2);
    for (const v of values) h.add(v);
    const sorted = [...values].sort((a, b) => a - b);
    for (const q of [0.5, 0.9, 0.99]) {
      const exact = sorted[Math.ceil(q * sorted.length) - 1];
      expect(h.quantile(q)).toBeGreaterThanOrEqual(exact);
      expect(h.quantile(q) - exact).toBeLessThanOrEqual(1);
    }
    expect(h.max).toBeCloseTo(999 * 0.7 + 0.2, 9);
  });

  it('keeps the true maximum above the range and clamps negatives to zero', () => {
    const h = new MicrosecondHistogram(100);
    h.add(-5);
    h.add(50);
    h.add(12345);
    expect(h.quantile(0)).toBe(1);
    expect(h.quantile(1)).toBe(12345);
    expect(new MicrosecondHistogram().quantile(0.5)).toBeNaN();
  });
});
