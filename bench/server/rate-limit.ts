/** A token bucket: `burst` actions at once, refilled at `perSecond`. Time is injected for tests. */
export class TokenBucket {
  private tokens: number;
  private last_ms: number;

  constructor(
    readonly perSecond: number,
    readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(perSecond > 0) || !(burst >= 1))
      throw new TypeError('TokenBucket needs perSecond > 0 and burst >= 1');
    this.tokens = burst;
    this.last_ms = now();
  }

  /** Takes one token if there is one. */
  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last_ms) / 1000) * this.perSecond);
    this.last_ms = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/**
 * Audit lines for floods of similar refusals: each key (a refusal code) gets a token bucket; a
 * refusal that finds it empty is not written but counted, and the next line written for the same
 * key carries the count as `suppressed`, so every refusal is accounted for on the right line.
 */
export class AuditThrottle {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly counts = new Map<string, number>();

  /** `bucketFor` is asked once per key; return one shared bucket to bound all keys together. */
  constructor(private readonly bucketFor: (key: string) => TokenBucket) {}

  /** Whether to write this refusal's line, and the count of the same key's unwritten ones to put on it. */
  admit(key: string): { write: boolean; suppressed?: number } {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = this.bucketFor(key);
      this.buckets.set(key, bucket);
    }
    const count = this.counts.get(key) ?? 0;
    if (!bucket.take()) {
      this.counts.set(key, count + 1);
      return { write: false };
    }
    this.counts.delete(key);
    return count > 0 ? { write: true, suppressed: count } : { write: true };
  }

  /** The counts not yet written, by key (for a closing summary line each); clears them. */
  drain(): [string, number][] {
    const left = [...this.counts];
    this.counts.clear();
    return left;
  }
}
