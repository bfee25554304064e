/**
 * The multi-interval QP goes through HiGHS's interior point (vpp/central.ts): checked against the
 * equal-incremental-cost closed form, interval by interval, on a schedule without storage or ramps
 * (its intervals are then independent), with limits binding in some intervals and not in others.
 */
import type { Highs } from 'highs';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadSolver, solveSchedule } from './central.ts';
import { equalIncrementalCost, testUnit as unit } from './test-support.ts';

let highs: Highs;
beforeAll(async () => {
  highs = await loadSolver();
});

describe('multi-interval QP (HiGHS interior point)', () => {
  it('48 intervals equal the closed form per interval: dispatch to 1e-6 of the total, prices to 1e-6', () => {
    const units = [
      unit('g1', 0, 4, 0.5, 20),
      unit('g2', 1, 6, 1, 18),
      unit('g3', 0, 3, 0.25, 22),
      unit('g4', 0.5, 5, 2, 15),
    ];
    const T = 48;
    // From near the minimum (limits binding low) to near the maximum (binding high).
    const target = Array.from({ length: T }, (_, t) => 2 + (15 * t) / (T - 1));
    const r = solveSchedule(highs, { members: units, target_mw: target, interval_h: 0.5, startHour: 0 });
    if (!r.ok) throw new Error(r.reason);
    for (let t = 0; t < T; t++) {
      const ref = equalIncrementalCost(units, target[t]!);
      for (let i = 0; i < units.length; i++)
        expect(Math.abs(r.p_mw[t * units.length + i]! - ref.p[i]!)).toBeLessThan(1e-6 * target[t]!);
      expect(Math.abs(r.price[t]! - ref.lambda) / ref.lambda).toBeLessThan(1e-6);
    }
  });
});
