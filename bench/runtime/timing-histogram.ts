/**
 * Fixed-bin histogram of microsecond durations (1 µs bins up to `max_us`, one overflow bin holding
 * the true maximum), so a run of any length keeps exact-enough percentiles in constant memory with
 * no allocation per step.
 */
export class MicrosecondHistogram {
  private readonly bins: Uint32Array;
  count = 0;
  max = 0;

  constructor(private readonly max_us = 100_000) {
    this.bins = new Uint32Array(max_us + 1);
  }

  add(us: number): void {
    const v = Math.max(us, 0);
    this.bins[v >= this.max_us ? this.max_us : Math.floor(v)]++;
    this.count++;
    if (v > this.max) this.max = v;
  }

  /** The q-quantile (0…1), as the upper edge of its bin, µs; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < this.bins.length; i++) {
      seen += this.bins[i];
      if (seen >= rank) return i >= this.max_us ? this.max : Math.min(i + 1, this.max);
    }
    return this.max;
  }
}
