import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { share } from './sharing.ts';

const RETAIL = 250;
const FEED_IN = 50;
const val = (r: { num: bigint; den: bigint }) => Number(r.num) / Number(r.den);

describe('community sharing rules (Zhou et al. 2018)', () => {
  it('mid-market rate, hand calculation: surplus community', () => {
    // S = 3000 Wh, D = 1000 Wh. Mid = 150. Buyers pay 150; sellers get (150·1000 + 50·2000)/3000.
    const r = share(
      [
        { participant: 'pv1', net_wh: 2000 },
        { participant: 'pv2', net_wh: 1000 },
        { participant: 'home', net_wh: -1000 },
      ],
      'mid-market-rate',
      RETAIL,
      FEED_IN,
    );
    expect(val(r.buyPrice)).toBe(150);
    expect(val(r.sellPrice)).toBeCloseTo(250_000 / 3000, 12);
    expect(r.amounts.get('home')).toBe(-150_000n);
    expect(r.amounts.get('pv1')).toBe(166_666n); // floor(2000 · 83.33…)
    expect(r.amounts.get('pv2')).toBe(83_333n);
    expect(r.gridExport_wh).toBe(2000);
    expect(r.gridNet).toBe(-100_000n);
    expect(r.remainder).toBe(1n);
  });

  it('supply–demand ratio, hand calculation: deficit community (SDR = 0.5)', () => {
    // P_sell = 50·250 / (200·0.5 + 50) = 12500/150 = 83.33…; P_buy = 83.33·0.5 + 250·0.5 = 166.66…
    const r = share(
      [
        { participant: 'pv', net_wh: 600 },
        { participant: 'a', net_wh: -900 },
        { participant: 'b', net_wh: -300 },
      ],
      'supply-demand-ratio',
      RETAIL,
      FEED_IN,
    );
    expect(val(r.sellPrice)).toBeCloseTo(12500 / 150, 10);
    expect(val(r.buyPrice)).toBeCloseTo((12500 / 150) * 0.5 + 125, 10);
    expect(r.gridImport_wh).toBe(600);
    expect(r.gridNet).toBe(600n * 250n);
    expect(r.amounts.get('pv')).toBe(50_000n);
    expect(r.amounts.get('a')).toBe(-150_000n);
  });

  it('money is conserved exactly and prices stay between feed-in and retail (random communities)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -5000, max: 5000 }), { maxLength: 30 }),
        fc.constantFrom('mid-market-rate' as const, 'supply-demand-ratio' as const),
        (nets, rule) => {
          const r = share(
            nets.map((net_wh, i) => ({ participant: `p${i}`, net_wh })),
            rule,
            RETAIL,
            FEED_IN,
          );
          let paid = 0n;
          let received = 0n;
          for (const a of r.amounts.values()) {
            if (a < 0n) paid -= a;
            else received += a;
          }
          expect(paid).toBe(received + r.gridNet + r.remainder);
          expect(r.remainder >= 0n).toBe(true);
          expect(r.remainder <= BigInt(nets.length)).toBe(true);
          for (const p of [val(r.buyPrice), val(r.sellPrice)]) {
            expect(p).toBeGreaterThanOrEqual(FEED_IN - 1e-9);
            expect(p).toBeLessThanOrEqual(RETAIL + 1e-9);
          }
          // Nobody is worse off than trading alone with the grid (the point of sharing).
          expect(val(r.buyPrice)).toBeLessThanOrEqual(RETAIL + 1e-9);
          expect(val(r.sellPrice)).toBeGreaterThanOrEqual(FEED_IN - 1e-9);
        },
      ),
      { numRuns: 500, seed: 7 },
    );
  });
});
