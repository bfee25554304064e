/**
 * First-order lag discretised exactly (zero-order hold on the input): stable for any step, so the
 * same model runs at 1 ms on the bench and at 100 ms in batch without changing its time constant.
 * Returns the new state.
 */
export function lagStep(state: number, input: number, tau_s: number, dt_s: number): number {
  if (tau_s <= 0) return input;
  return input + (state - input) * Math.exp(-dt_s / tau_s);
}

/** Moves `value` toward `target` by at most `maxRate * dt` (ramp-rate limit). */
export function rampToward(value: number, target: number, maxRate: number, dt_s: number): number {
  if (!(maxRate > 0) || !Number.isFinite(maxRate)) return target;
  const step = maxRate * dt_s;
  if (target > value + step) return value + step;
  if (target < value - step) return value - step;
  return target;
}

export function clamp(value: number, lo: number, hi: number): number {
  if (value < lo) return lo;
  if (value > hi) return hi;
  return value;
}
