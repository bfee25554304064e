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

/**
 * First-order lag with its discretisation factor cached for the last step length (the twin steps
 * at a fixed dt, so Math.exp runs once instead of every step).
 */
export class Lag {
  private dt = -1;
  private a = 0;

  constructor(public tau_s: number) {}

  step(state: number, input: number, dt_s: number): number {
    if (this.tau_s <= 0) return input;
    if (dt_s !== this.dt) {
      this.dt = dt_s;
      this.a = Math.exp(-dt_s / this.tau_s);
    }
    return input + (state - input) * this.a;
  }
}
