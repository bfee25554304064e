import { describe, expect, it } from 'vitest';
import { loadSolver, solveSchedule } from './central.ts';
import {
  awardAt,
  bidCurve,
  loadPriceSeries,
  MeasurementHistory,
  PriceFileError,
  parsePriceSeries,
} from './commercial.ts';
import { testUnit as unit } from './test-support.ts';

describe('bid curve (price–quantity) from the members’ cost curves', () => {
  it('matches the supply computed by hand', () => {
    // Unit 1: incremental cost 10 + 2p, 0..5 MW. Unit 2: linear at 30, 0..2 MW.
    // λ = 10 → 0; λ = 16 → 3; λ = 29.9 → 5 (unit 1 at its limit); λ = 30 → 5 + 2 = 7.
    const members = [unit('u1', 0, 5, 1, 10), unit('u2', 0, 2, 0, 30)];
    const curve = bidCurve(members, members, [10, 16, 29.9, 30]);
    expect(curve.map((s) => s.quantity_mw)).toEqual([0, 3, 5, 7]);
    expect(awardAt(curve, 20)).toBe(3);
    expect(awardAt(curve, 35)).toBe(7);
  });

  it('a day against the price series file: the schedule delivers the award in every interval', async () => {
    const prices = loadPriceSeries(new URL('./prices/demo-day.csv', import.meta.url).pathname);
    expect(prices).toHaveLength(24);
    const members = [unit('base', 0.2, 2, 5, 40), unit('peak', 0, 1, 20, 70), unit('flex', 0, 0.5, 0, 90)];
    const steps = Array.from({ length: 31 }, (_, k) => 30 + 3 * k);
    const award = prices.map((p) => awardAt(bidCurve(members, members, steps), p.price_per_mwh));
    const highs = await loadSolver();
    const schedule = solveSchedule(highs, {
      members,
      target_mw: award,
      interval_h: 1,
      startHour: 0,
      linear: true,
    });
    if (!schedule.ok) throw new Error(schedule.reason);
    for (let t = 0; t < 24; t++) {
      const delivered = schedule.p_mw[3 * t]! + schedule.p_mw[3 * t + 1]! + schedule.p_mw[3 * t + 2]!;
      expect(delivered).toBeCloseTo(award[t]!, 6);
    }
    // The evening peak's price wins a larger award than the night trough's.
    expect(award[19]!).toBeGreaterThan(award[3]!);
  });
});

describe('price series file', () => {
  it('errors name the file and line', () => {
    const err = (text: string) => {
      try {
        parsePriceSeries(text, 'p.csv');
      } catch (e) {
        if (e instanceof PriceFileError) return e.message;
        throw e;
      }
      return 'no error';
    };
    expect(err('time,price\n0,1\n')).toMatch(/^p\.csv:1: the first line must be 'hour,price_per_mwh'/);
    expect(err('hour,price_per_mwh\n0,50\n1,abc\n')).toMatch(/^p\.csv:3: '1,abc' is not two finite numbers/);
    expect(err('hour,price_per_mwh\n0,50\n0,60\n')).toMatch(/^p\.csv:3: hour 0 does not follow 0/);
    expect(err('hour,price_per_mwh\n0,50,1\n')).toMatch(/^p\.csv:2: expected 2 columns/);
    expect(err('hour,price_per_mwh\n')).toMatch(/no prices/);
  });
});

describe('gate closure', () => {
  it('a closed history refuses to be asked about anything after the gate', () => {
    const h = new MeasurementHistory();
    for (let t = 0; t < 100; t += 10) h.record('pv', t, t / 100);
    const closed = h.closedAt(50);
    expect(closed.last('pv')).toEqual({ t_s: 40, p_mw: 0.4 }); // the sample at the gate itself is excluded
    expect(closed.between('pv', 0, 50)).toHaveLength(5);
    expect(() => closed.between('pv', 0, 60)).toThrow(/gate closed at 50 s/);
  });
});
