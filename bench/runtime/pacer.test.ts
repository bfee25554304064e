import { describe, expect, it } from 'vitest';
import { Pacer, type StepTiming } from './pacer.ts';

function busyWait(ms: number) {
  const end = performance.now() + ms;
  while (performance.now() < end) {}
}

describe('Pacer', () => {
  it('runs steps in order until work returns false, reporting timing for each', async () => {
    const pacer = new Pacer({ period_ms: 1 });
    const seen: number[] = [];
    const timings: StepTiming[] = [];
    await pacer.run(
      (step) => {
        seen.push(step);
        return step < 19;
      },
      (t) => timings.push({ ...t }),
    );
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(timings.map((t) => t.step)).toEqual(seen);
    for (const t of timings) {
      expect(t.lateness_us).toBeGreaterThanOrEqual(0);
      expect(t.work_us).toBeGreaterThanOrEqual(0);
    }
  });

  it('keeps the schedule: 50 steps of 2 ms take at least 98 ms of wall time', async () => {
    const pacer = new Pacer({ period_ms: 2 });
    const start = performance.now();
    await pacer.run((step) => step < 49);
    expect(performance.now() - start).toBeGreaterThanOrEqual(98);
  });

  it('counts overruns and stops under the stop policy', async () => {
    const pacer = new Pacer({ period_ms: 1, overrunPolicy: 'stop' });
    let steps = 0;
    await pacer.run(() => {
      steps++;
      busyWait(3);
      return steps < 1000;
    });
    expect(pacer.stats.overruns).toBe(1);
    expect(steps).toBeLessThan(5);
  });

  it('re-anchors the schedule under the freeze policy instead of bursting to catch up', async () => {
    // A simulated clock that advances 10 µs per reading makes the stall exact and immune to load.
    for (const [policy, burst] of [
      ['freeze', false],
      ['continue', true],
    ] as const) {
      let clock = 0;
      const now = () => (clock += 0.01);
      const pacer = new Pacer({ period_ms: 1, overrunPolicy: policy, now });
      const starts: number[] = [];
      await pacer.run((step) => {
        starts.push(clock);
        if (step === 2) clock += 10;
        return step < 6;
      });
      // After the 10 ms stall, 'continue' runs the late steps back to back; freeze spaces them.
      const gapsAfterStall = starts.slice(4).map((t, i) => t - starts[3 + i]);
      for (const gap of gapsAfterStall) {
        if (burst) expect(gap, policy).toBeLessThan(0.5);
        else expect(gap, policy).toBeGreaterThan(0.9);
      }
      // freeze counts the stall once; continue counts every step that starts a period late.
      if (burst) expect(pacer.stats.overruns, policy).toBeGreaterThan(1);
      else expect(pacer.stats.overruns, policy).toBe(1);
    }
  });

  it('stop() ends a run that is sleeping between steps', async () => {
    const pacer = new Pacer({ period_ms: 200 });
    const done = pacer.run(() => true);
    setTimeout(() => pacer.stop(), 20);
    await done;
    expect(pacer.stats.steps).toBe(0);
  });

  it('with idle slices (Atomics.wait) still keeps the schedule and serves I/O between steps', async () => {
    const pacer = new Pacer({ period_ms: 2, idleSlice_us: 200, busySpin_us: 20 });
    let timersFired = 0;
    const timer = setInterval(() => timersFired++, 1);
    const start = performance.now();
    const starts: number[] = [];
    await pacer.run((step) => {
      starts.push(performance.now() - start);
      return step < 49;
    });
    clearInterval(timer);
    // Step k never starts before its deadline (k + 1) periods after the start.
    for (const [k, t] of starts.entries()) expect(t).toBeGreaterThanOrEqual((k + 1) * 2 - 0.01);
    // The event loop kept turning: other callbacks ran while the pacer waited.
    expect(timersFired).toBeGreaterThan(5);
  });

  it('rejects negative or missing spin, idle-slice and idle-stop settings', () => {
    expect(() => new Pacer({ period_ms: 1, busySpin_us: -1 })).toThrow(/busySpin_us/);
    expect(() => new Pacer({ period_ms: 1, idleSlice_us: -5 })).toThrow(/idleSlice_us/);
    expect(() => new Pacer({ period_ms: 1, idleStop_us: Number.NaN })).toThrow(/idleStop_us/);
  });

  it('rejects a non-positive or non-finite period', () => {
    expect(() => new Pacer({ period_ms: 0 })).toThrow(TypeError);
    expect(() => new Pacer({ period_ms: Number.NaN })).toThrow(/period_ms/);
  });
});
