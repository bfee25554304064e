import { describe, expect, it } from 'vitest';
import { loadSolver, solveSchedule } from './central.ts';
import {
  awardAt,
  bidCurve,
  intervalBid,
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

describe('interval bid at a gate closure (intervalBid)', () => {
  it('takes each member’s limits for the interval from the samples before the gate', () => {
    // PV of 1 MW with a flat availability of 0.5 seen making 0.3 MW: weather factor 0.3 / 0.5 = 0.6,
    // so 0.6 × 0.5 × 1 = 0.3 MW forecast. Storage of 0.4 MWh at SoC 0.6 in a 0.1–0.9 band over
    // 0.5 h: (0.6 − 0.1) × 0.4 / 0.5 = 0.4 MW out, (0.9 − 0.6) × 0.4 / 0.5 = 0.24 MW in, within
    // its ±0.5 MW. The genset was last seen offline: nothing. Samples after the gate: not used.
    const pv = { ...unit('pv', 0, 1, 0, 0), technology: 'pv', availability: Array(24).fill(0.5) };
    const bat = {
      ...unit('bat', -0.5, 0.5, 0, 20),
      technology: 'battery',
      capacity_mwh: 0.4,
      soc_min: 0.1,
      soc_max: 0.9,
    };
    const gen = unit('gen', 0.1, 1, 0, 60);
    const h = new MeasurementHistory();
    h.record('pv', 100, 0.3);
    h.record('bat', 100, 0, { soc: 0.6 });
    h.record('gen', 100, 0, { online: false });
    h.record('pv', 200, 0.9);
    h.record('bat', 200, 0, { soc: 0.1 });
    h.record('gen', 200, 0.5);
    const { limits, curve } = intervalBid([pv, bat, gen], h.closedAt(150), {
      startHour: 12,
      from_s: 300,
      interval_s: 1800,
      prices: [0, 20, 60],
    });
    expect(limits[0]!.pmax_mw).toBeCloseTo(0.3, 12);
    expect(limits[1]!.pmax_mw).toBeCloseTo(0.4, 12);
    expect(limits[1]!.pmin_mw).toBeCloseTo(-0.24, 12);
    expect(limits[2]).toEqual({ pmin_mw: 0, pmax_mw: 0 });
    // Curve: PV (b = 0, linear) at 0.3 from λ = 0; the battery charges below 20 and sells from 20.
    expect(curve.map((s) => Number(s.quantity_mw.toFixed(9)))).toEqual([0.3 - 0.24, 0.7, 0.7]);
    expect(() =>
      intervalBid([pv], h.closedAt(400), { startHour: 12, from_s: 300, interval_s: 900, prices: [0] }),
    ).toThrow(/cannot start before its gate closure/);
  });
});
