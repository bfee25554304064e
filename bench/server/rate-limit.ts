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
