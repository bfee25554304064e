import { describe, expect, it } from 'vitest';
import { chi2Cdf, chi2Quantile, logGamma, normalQuantile } from './chi2.ts';

describe('chi-squared distribution', () => {
  it('matches published critical values (NIST/SEMATECH e-Handbook, table 1.3.6.7.4)', () => {
    // Upper-tail 0.05 critical values.
    const table: [number, number][] = [
      [1, 3.841],
      [2, 5.991],
      [5, 11.07],
      [10, 18.307],
      [30, 43.773],
      [100, 124.342],
    ];
    for (const [k, x] of table) expect(chi2Quantile(0.95, k)).toBeCloseTo(x, 2);
    // Upper-tail 0.01.
    expect(chi2Quantile(0.99, 10)).toBeCloseTo(23.209, 2);
    expect(chi2Quantile(0.99, 1)).toBeCloseTo(6.635, 2);
  });

  it('has closed forms where they exist: k = 2 is exponential, Γ(n) = (n − 1)!', () => {
    for (const x of [0.1, 1, 3, 10]) expect(chi2Cdf(x, 2)).toBeCloseTo(1 - Math.exp(-x / 2), 12);
    expect(Math.exp(logGamma(5))).toBeCloseTo(24, 10);
    expect(Math.exp(logGamma(0.5))).toBeCloseTo(Math.sqrt(Math.PI), 12);
  });

  it('quantile inverts the CDF across degrees of freedom and tails', () => {
    for (const k of [1, 3, 17, 64, 250, 1000]) {
      for (const p of [0.001, 0.05, 0.5, 0.95, 0.999]) {
        expect(chi2Cdf(chi2Quantile(p, k), k)).toBeCloseTo(p, 9);
      }
    }
  });

  it('normal quantile matches the familiar values', () => {
    expect(normalQuantile(0.975)).toBeCloseTo(1.959964, 5);
    expect(normalQuantile(0.5)).toBeCloseTo(0, 9);
    expect(normalQuantile(0.001)).toBeCloseTo(-3.090232, 5);
  });

  it('rejects arguments outside the domain with a RangeError', () => {
    expect(() => chi2Quantile(1, 5)).toThrow(RangeError);
    expect(() => chi2Quantile(0.5, 0)).toThrow(/k must be positive/);
  });
});
