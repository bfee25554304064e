import { describe, expect, it } from 'vitest';
import { SetpointLimiter } from './safety.ts';

describe('SetpointLimiter', () => {
  it('clamps magnitudes before anything is sent and says why', () => {
    const l = new SetpointLimiter({ pMax_w: 5000, pMin_w: -3000, qMaxAbs_var: 1000 });
    const r = l.request({ p_w: 8000, q_var: -2500 });
    expect(r.target).toEqual({ p_w: 5000, q_var: -1000 });
    expect(r.limited).toHaveLength(2);
    expect(l.advance(0)).toEqual({ p_w: 5000, q_var: -1000 });
    expect(l.request({ p_w: -9000 }).target.p_w).toBe(-3000);
  });

  it('ramps the sent value no faster than the rate limit (1 kW/s: 0 → 2 kW takes 2 s)', () => {
    const l = new SetpointLimiter({ pRate_w_s: 1000 });
    l.request({ p_w: 2000 });
    const sent: number[] = [];
    for (let t = 0; t <= 2.5; t += 0.5) sent.push(l.advance(t)?.p_w ?? Number.NaN);
    // First call anchors the clock; then +500 W per 0.5 s until the target; nothing new after.
    expect(sent.slice(0, 5)).toEqual([Number.NaN, 500, 1000, 1500, 2000]);
    expect(sent[5]).toBeNaN();
  });

  it('refuses non-finite values', () => {
    const l = new SetpointLimiter();
    expect(() => l.request({ p_w: Number.NaN })).toThrow(TypeError);
    expect(() => l.request({ q_var: Number.POSITIVE_INFINITY })).toThrow(TypeError);
    expect(() => new SetpointLimiter({ pMax_w: -1 })).toThrow(/pMax_w/);
  });

  it('emergency stop zeroes at once (no ramp), latches, and is released explicitly', () => {
    const l = new SetpointLimiter({ pRate_w_s: 10 });
    l.request({ p_w: 1000 });
    l.advance(0);
    l.advance(10); // ramped to 100 W
    l.emergencyStop();
    expect(l.emergencyStopped).toBe(true);
    expect(() => l.request({ p_w: 50 })).toThrow(/emergency stop/);
    expect(l.advance(20)).toBeUndefined();
    l.release();
    expect(l.request({ p_w: 50 }).target.p_w).toBe(50);
  });
});
