import { describe, expect, it } from 'vitest';
import {
  assignSheddingStages,
  defaultUflsStages,
  OvercurrentRelays,
  UnderFrequencyShedding,
  uflsRestoreRule,
} from './protection.ts';

describe('under-frequency load shedding', () => {
  it('operates each stage once after its delay below its threshold', () => {
    const ufls = new UnderFrequencyShedding(defaultUflsStages(50));
    const dt = 0.001;
    let fired: [number, number][] = [];
    for (let k = 1; k <= 1000; k++) {
      const f = k < 300 ? 48.9 : 48.5;
      const stage = ufls.update(f, dt);
      if (stage) fired.push([stage, k * dt]);
    }
    expect(fired.map((x) => x[0])).toEqual([1, 2]);
    expect(fired[0][1]).toBeCloseTo(0.1, 3);
    expect(fired[1][1]).toBeCloseTo(0.399, 3);
    fired = [];
    for (let k = 0; k < 1000; k++) if (ufls.update(48.9, dt)) fired.push([1, 0]);
    expect(fired).toEqual([]);
  });

  it('does not operate on an excursion shorter than the delay', () => {
    const ufls = new UnderFrequencyShedding(defaultUflsStages(50));
    for (let k = 0; k < 50; k++) expect(ufls.update(48.9, 0.001)).toBe(0);
    for (let k = 0; k < 50; k++) expect(ufls.update(49.5, 0.001)).toBe(0);
    for (let k = 0; k < 50; k++) expect(ufls.update(48.9, 0.001)).toBe(0);
  });

  it('restores after the frequency has stayed at or above 49.8 Hz for 60 s (the default rule), and a re-armed stage sheds again', () => {
    const rule = uflsRestoreRule(50, undefined);
    expect(rule).toEqual({ f_hz: 49.8, delay_s: 60 });
    const ufls = new UnderFrequencyShedding(defaultUflsStages(50), rule);
    const dt = 0.01;
    let t = 0;
    /** Steps at `f_hz` for `s` seconds; the twin times of the steps where the restore was due. */
    const run = (f_hz: number, s: number) => {
      const due: number[] = [];
      const fired: number[] = [];
      for (let k = 0; k < Math.round(s / dt); k++) {
        t += dt;
        if (ufls.update(f_hz, dt)) fired.push(Number(t.toFixed(2)));
        if (ufls.restoreDue(f_hz, dt, ufls.anyOperated)) {
          due.push(Number(t.toFixed(2)));
          ufls.rearmFrom(1);
        }
      }
      return { due, fired };
    };
    // Stage 1 operates after 0.1 s below 49.0 Hz (10 steps: t = 0.10 s).
    expect(run(48.9, 0.2).fired).toEqual([0.1]);
    // 30 s at 49.9 Hz, then 1 s at 49.7 Hz (below the restore threshold: the timer starts again).
    expect(run(49.9, 30).due).toEqual([]);
    expect(run(49.7, 1).due).toEqual([]);
    // At 49.9 Hz again after t = 31.2 s: due at the 6000th step (6000 × 0.01 s = 60 s), t = 91.2 s.
    const back = run(49.9, 90);
    expect(back.due).toEqual([91.2]);
    // Re-armed: the next dip sheds stage 1 again after its 0.1 s.
    const start = t;
    const again = run(48.9, 0.2).fired;
    expect(again).toHaveLength(1);
    expect(again[0] - start).toBeCloseTo(0.1, 6);
  });

  it('without a restore rule (restore.enabled: false) an operated stage never re-arms', () => {
    expect(uflsRestoreRule(50, { enabled: false })).toBeNull();
    expect(uflsRestoreRule(60, { delay_s: 5 })).toEqual({ f_hz: 59.8, delay_s: 5 });
    const ufls = new UnderFrequencyShedding(defaultUflsStages(50), null);
    for (let k = 0; k < 10; k++) ufls.update(48.9, 0.01);
    for (let k = 0; k < 10_000; k++) expect(ufls.restoreDue(50, 0.01, true)).toBe(false);
    expect(ufls.anyOperated).toBe(true);
  });

  it('assigns loads to stages by fraction of the total, keeping explicit and never-shed loads', () => {
    const stages = [
      { f_hz: 49, delay_s: 0.1, fraction: 0.25 },
      { f_hz: 48.7, delay_s: 0.1, fraction: 0.25 },
    ];
    // 8 loads of 1 MW; load 0 never shed (−1), load 1 explicitly stage 2.
    const out = assignSheddingStages([1, 1, 1, 1, 1, 1, 1, 1], [-1, 2, 0, 0, 0, 0, 0, 0], stages);
    expect(Array.from(out)).toEqual([0, 2, 1, 1, 2, 2, 0, 0]);
  });
});

describe('definite-time over-current relays', () => {
  it('trips after the delay above pick-up and can be re-armed', () => {
    const relays = new OvercurrentRelays([{ branch: 'L1', pickup_a: 400, delay_s: 0.3 }]);
    const i = new Float64Array([500]);
    let tripAt = -1;
    for (let k = 1; k <= 1000 && tripAt < 0; k++) if (relays.update(i, 0.001) === 0) tripAt = k * 0.001;
    expect(tripAt).toBeCloseTo(0.3, 3);
    expect(relays.update(i, 0.001)).toBe(-1);
    relays.rearm(0);
    i[0] = 300;
    for (let k = 0; k < 1000; k++) expect(relays.update(i, 0.001)).toBe(-1);
  });
});
