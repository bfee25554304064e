import { describe, expect, it } from 'vitest';
import { AlarmLog, Persistence } from './alarms.ts';
import { RateLimitTransform } from './checks.ts';
import { computeMetrics, type ImpactMeter } from './metrics.ts';

describe('k-of-n persistence', () => {
  it('holds the alarm while k of the last n tests failed', () => {
    const p = new Persistence(2, 3);
    expect([true, false, true, false, false, true, true].map((x) => p.push(x))).toEqual([
      false,
      false,
      true,
      false,
      false,
      false,
      true,
    ]);
    expect(() => new Persistence(3, 2)).toThrow(/1 ≤ k ≤ n/);
  });
});

describe('set-point rate limit', () => {
  it('moves at most limit·Δt per call and remembers what was commanded', () => {
    const r = new RateLimitTransform(0.02);
    expect(r.apply(0, 0)).toBe(0);
    expect(r.apply(-0.1, 1)).toBeCloseTo(-0.02, 12);
    expect(r.input).toBe(-0.1);
    expect(r.apply(-0.1, 3)).toBeCloseTo(-0.06, 12);
  });
});

describe('metrics against ground-truth labels', () => {
  const impact = {
    maxDeviationBetween: () => 0.1,
    swingBetween: () => 0.05,
    impact: { maxFrequencyDeviation_hz: 0.2, minVoltage_pu: 0.95, energyNotServed_mwh: 0, devicesTripped: 0 },
  } as unknown as ImpactMeter;
  it('detection, time to detect, false alarms per hour and false-alarm fraction', () => {
    const log = new AlarmLog();
    // One detector evaluated every second over 3600 s; alarm on at 100 s (clean), at 1002–1003 s (attack
    // 1000–1010 s) and at 2000 s (clean).
    for (let t = 0; t < 3600; t++) {
      const alarm = t === 100 || t === 1002 || t === 1003 || t === 2000;
      log.record({ t_s: t, detector: 'd', statistic: alarm ? 9 : 1, threshold: 5, alarm }, undefined, '');
    }
    const m = computeMetrics(
      [
        { id: 'a', kind: 'bias', target: 'x', start_s: 1000, stop_s: 1010 },
        { id: 'b', kind: 'bias', target: 'y', start_s: 3000, stop_s: 3010 },
      ],
      log,
      3600,
      impact,
      1,
    );
    expect(m.attacks[0].detected).toBe(true);
    expect(m.attacks[0].timeToDetect_s).toBe(2);
    expect(m.attacks[1].detected).toBe(false);
    expect(m.attacks[1].timeToDetect_s).toBeNull();
    const d = m.detectors[0];
    // Attack windows with 1 s grace cover 22 s: 3578 clean evaluations, 2 of them alarmed.
    expect(d.cleanEvaluations).toBe(3578);
    expect(d.falseAlarms).toBe(2);
    expect(d.falseAlarmFraction).toBeCloseTo(2 / 3578, 12);
    expect(d.falseAlarmsPerHour).toBeCloseTo(2 / (3578 / 3600), 9);
  });

  it('each alarm period ends with one cleared event at the first evaluation without the alarm', () => {
    const log = new AlarmLog();
    const flags = [false, true, true, false, false, true, false];
    for (const [t, alarm] of flags.entries())
      log.record({ t_s: t, detector: 'd', statistic: alarm ? 9 : 1, threshold: 5, alarm }, undefined, '');
    expect(log.alarms.map((a) => a.t_s)).toEqual([1, 5]);
    expect(log.cleared).toEqual([
      { t_s: 3, detector: 'd', statistic: 1, threshold: 5 },
      { t_s: 6, detector: 'd', statistic: 1, threshold: 5 },
    ]);
  });
});
