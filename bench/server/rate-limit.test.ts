import { describe, expect, it } from 'vitest';
import { TokenBucket } from './rate-limit.ts';

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
