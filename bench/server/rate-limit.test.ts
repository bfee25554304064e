import { describe, expect, it } from 'vitest';
import { AuditThrottle, TokenBucket } from './rate-limit.ts';

describe('TokenBucket', () => {
  it('allows the burst at once, then refills at the sustained rate', () => {
    let now = 0;
    const bucket = new TokenBucket(2, 5, () => now);
    const takes = () => Array.from({ length: 10 }, () => bucket.take()).filter(Boolean).length;
    expect(takes()).toBe(5);
    now += 1000; // 2 tokens back
    expect(takes()).toBe(2);
    now += 60_000; // never more than the burst
    expect(takes()).toBe(5);
  });

  it('rejects nonsense parameters', () => {
    expect(() => new TokenBucket(0, 5)).toThrow(TypeError);
    expect(() => new TokenBucket(1, 0)).toThrow(TypeError);
    expect(() => new TokenBucket(Number.NaN, 1)).toThrow(TypeError);
  });
});

describe('AuditThrottle', () => {
  it('counts each kind on its own lines: a kind never carries another kind’s suppressed count', () => {
    let now = 0;
    const throttle = new AuditThrottle(() => new TokenBucket(1, 1, () => now));
    expect(throttle.admit('rate-limited')).toEqual({ write: true });
    for (let i = 0; i < 7; i++) expect(throttle.admit('rate-limited')).toEqual({ write: false });
    // Another kind in the same second: written, and without the rate-limited count.
    expect(throttle.admit('invalid')).toEqual({ write: true });
    now += 1000;
    expect(throttle.admit('rate-limited')).toEqual({ write: true, suppressed: 7 });
    expect(throttle.admit('invalid')).toEqual({ write: true });
    expect(throttle.admit('invalid')).toEqual({ write: false });
    expect(throttle.drain()).toEqual([['invalid', 1]]);
    expect(throttle.drain()).toEqual([]);
  });
});
