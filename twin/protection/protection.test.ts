import { describe, expect, it } from 'vitest';
import {
  assignSheddingStages,
  defaultUflsStages,
  OvercurrentRelays,
  UnderFrequencyShedding,
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
