import { describe, expect, it } from 'vitest';
import { defaultIeee1547, FrequencyWatt, Ieee1547Protection, VoltVar } from './functions.ts';
import {
  DEFAULT_FREQUENCY_DROOP,
  DEFAULT_TRIP_SETTINGS,
  DEFAULT_VOLT_VAR,
  type PerformanceCategory,
  validateTripTable,
} from './settings.ts';

const F0 = 60;
const DT = 0.001;

/** Steps the protection with a constant abnormal condition; returns the trip time (s) or Infinity. */
function timeToTrip(p: Ieee1547Protection, vm: number, f: number, rocof = 0, limit = 400): number {
  for (let k = 1; k <= limit / DT; k++) {
    if (p.update(vm, f, rocof, DT)) return k * DT;
  }
  return Number.POSITIVE_INFINITY;
}

/** IEEE 1547-2018 §6.4.1 / §6.5.1: clearing-time accuracy ±1 % of the setting or ±2 cycles. */
function withinAccuracy(measured: number, setting: number): boolean {
  const tolerance = 0.01 * setting + 2 / F0;
  return Math.abs(measured - setting) <= tolerance;
}

describe('IEEE 1547-2018 abnormal-condition trips', () => {
  // The published defaults (Tables 11–13, 15): threshold and clearing time for each category.
  const published: Record<PerformanceCategory, Record<string, [number, number]>> = {
    I: { OV2: [1.2, 0.16], OV1: [1.1, 2], UV1: [0.7, 2], UV2: [0.45, 0.16] },
    II: { OV2: [1.2, 0.16], OV1: [1.1, 2], UV1: [0.7, 10], UV2: [0.45, 0.16] },
    III: { OV2: [1.2, 0.16], OV1: [1.1, 13], UV1: [0.88, 21], UV2: [0.5, 2] },
  };

  for (const category of ['I', 'II', 'III'] as const) {
    it(`category ${category}: default voltage settings match the standard's tables`, () => {
      for (const [fn, [threshold, time]] of Object.entries(published[category])) {
        const s = DEFAULT_TRIP_SETTINGS[category][fn as 'OV1'];
        expect([s.threshold, s.clearingTime_s]).toEqual([threshold, time]);
      }
      expect(validateTripTable(category, DEFAULT_TRIP_SETTINGS[category])).toEqual([]);
    });

    it(`category ${category}: voltage trips clear within 1 % + 2 cycles of the setting`, () => {
      const cases: [number, number][] = [
        [1.25, published[category].OV2[1]],
        [1.15, published[category].OV1[1]],
        [published[category].UV2[0] - 0.05, published[category].UV2[1]],
        [(published[category].UV1[0] + published[category].UV2[0]) / 2, published[category].UV1[1]],
      ];
      for (const [vm, expected] of cases) {
        const t = timeToTrip(new Ieee1547Protection(defaultIeee1547(category), F0), vm, F0);
        expect(withinAccuracy(t, expected), `V=${vm}: tripped at ${t}, setting ${expected}`).toBe(true);
      }
    });
  }

  it('frequency trips (Table 15 defaults) clear within 1 % + 2 cycles', () => {
    const cases: [number, number][] = [
      [62.5, 0.16],
      [61.5, 300],
      [58.0, 300],
      [56.0, 0.16],
    ];
    for (const [f, expected] of cases) {
      const t = timeToTrip(new Ieee1547Protection(defaultIeee1547('II'), F0), 1, f);
      expect(withinAccuracy(t, expected), `f=${f}: tripped at ${t}, setting ${expected}`).toBe(true);
    }
  });

  it('scales frequency thresholds to a 50 Hz system (OF2 62 Hz → 51.667 Hz)', () => {
    const p = new Ieee1547Protection(defaultIeee1547('II'), 50);
    expect(timeToTrip(p, 1, 51.6, 0, 2)).toBe(Number.POSITIVE_INFINITY);
    const q = new Ieee1547Protection(defaultIeee1547('II'), 50);
    expect(withinAccuracy(timeToTrip(q, 1, 51.7), 0.16)).toBe(true);
  });

  it('rides through inside the continuous-operation region and resets timers on recovery', () => {
    const p = new Ieee1547Protection(defaultIeee1547('II'), F0);
    for (let k = 0; k < 20_000; k++) expect(p.update(1.05, 60.5, 0.1, DT)).toBeNull();
    // An excursion shorter than the clearing time, then recovery: no trip.
    for (let k = 0; k < 100; k++) expect(p.update(1.25, 60, 0, DT)).toBeNull();
    for (let k = 0; k < 100; k++) expect(p.update(1.0, 60, 0, DT)).toBeNull();
    for (let k = 0; k < 100; k++) expect(p.update(1.25, 60, 0, DT)).toBeNull();
    expect(p.tripped).toBe(false);
  });

  it('rides through ROCOF up to the category level and trips beyond it after the delay', () => {
    const ok = new Ieee1547Protection(defaultIeee1547('II'), F0);
    expect(timeToTrip(ok, 1, 60, 1.9, 5)).toBe(Number.POSITIVE_INFINITY);
    const cfg = defaultIeee1547('I');
    const t = timeToTrip(new Ieee1547Protection(cfg, F0), 1, 60, 0.8, 5);
    expect(t).toBeCloseTo(cfg.rocofTripDelay_s, 2);
  });

  it('enters service only after the enter-service delay inside the window, then ramps', () => {
    const cfg = defaultIeee1547('II');
    cfg.enterService.delay_s = 5;
    cfg.enterService.rampTime_s = 2;
    const p = new Ieee1547Protection(cfg, F0);
    p.trip('test');
    for (let k = 0; k < 4000; k++) p.update(1, 60, 0, DT);
    expect(p.tripped).toBe(true);
    for (let k = 0; k < 1001; k++) p.update(1, 60, 0, DT);
    expect(p.tripped).toBe(false);
    expect(p.serviceRamp).toBeLessThan(0.01);
    for (let k = 0; k < 1000; k++) p.update(1, 60, 0, DT);
    expect(p.serviceRamp).toBeCloseTo(0.5, 2);
  });
});

describe('IEEE 1547-2018 frequency-droop (frequency-watt)', () => {
  it('uses the standard defaults: 0.036 Hz deadband, 5 % droop, 5 s response', () => {
    expect(DEFAULT_FREQUENCY_DROOP).toMatchObject({ deadband_hz: 0.036, droop_pu: 0.05, responseTime_s: 5 });
  });

  it('reduces output by (Δf − db)/(f0·k) of rating above the deadband', () => {
    const fw = new FrequencyWatt({ ...DEFAULT_FREQUENCY_DROOP }, F0, 1);
    // Δf = 0.336 Hz: (0.336 − 0.036) / (60 · 0.05) = 0.1 pu of a 1 MW rating.
    expect(fw.target(1, 1, 1, 60.336, 0)).toBeCloseTo(0.9, 12);
    expect(fw.target(1, 1, 1, 60.03, 0)).toBe(1);
    // Under-frequency: can only rise with headroom.
    expect(fw.target(1, 0.5, 1, 59.664, 0)).toBeCloseTo(0.6, 12);
    expect(fw.target(0.55, 0.5, 1, 59.664, 0)).toBeCloseTo(0.55, 12);
  });

  it('reaches 90 % of a step change at the open-loop response time', () => {
    const fw = new FrequencyWatt({ ...DEFAULT_FREQUENCY_DROOP }, F0, 1);
    let p = 1;
    for (let k = 0; k < 5000; k++) p = fw.step(1, 1, 1, 60.336, 0, DT);
    expect((1 - p) / 0.1).toBeCloseTo(0.9, 3);
  });
});

describe('IEEE 1547-2018 volt-var', () => {
  it('follows the category B default curve', () => {
    const vv = new VoltVar(structuredClone(DEFAULT_VOLT_VAR));
    expect(vv.curve(0.9)).toBeCloseTo(0.44, 12);
    expect(vv.curve(0.95)).toBeCloseTo(0.22, 12);
    expect(vv.curve(1.0)).toBe(0);
    expect(vv.curve(1.05)).toBeCloseTo(-0.22, 12);
    expect(vv.curve(1.1)).toBeCloseTo(-0.44, 12);
  });
});
