/**
 * The main grid behind the point of common coupling: an infinite bus whose frequency and voltage
 * follow nominal values plus scheduled disturbances (steps, ramps, sinusoids), or a replayed trace
 * of measured frequency and voltage. Its phase angle integrates the frequency deviation so
 * synchro-check can compare it with an island's.
 */
export interface GridDisturbance {
  quantity: 'frequency' | 'voltage';
  shape: 'step' | 'ramp' | 'sine';
  start_s: number;
  /** Step/ramp: change (Hz or pu); sine: amplitude. */
  delta: number;
  /** Ramp duration, or how long a step/sine lasts (Infinity = stays). */
  duration_s: number;
  period_s: number;
  /** Ramp only: how long the ramp takes to reach delta. */
  rampTime_s: number;
}

export interface GridTrace {
  t_s: Float64Array;
  f_hz: Float64Array;
  v_pu: Float64Array;
}

export class MainGrid {
  f_hz: number;
  v_pu: number;
  rocof_hz_s = 0;
  theta_rad = 0;
  readonly disturbances: GridDisturbance[] = [];
  private traceIndex = 0;

  constructor(
    readonly f0_hz: number,
    readonly v0_pu: number,
    readonly trace?: GridTrace,
  ) {
    this.f_hz = f0_hz;
    this.v_pu = v0_pu;
  }

  private offsetAt(quantity: 'frequency' | 'voltage', t: number): number {
    let total = 0;
    const list = this.disturbances;
    for (let i = 0; i < list.length; i++) {
      const d = list[i];
      if (d.quantity !== quantity || t < d.start_s) continue;
      const age = t - d.start_s;
      if (d.shape === 'step') {
        if (age < d.duration_s) total += d.delta;
      } else if (d.shape === 'ramp') {
        if (age < d.duration_s)
          total += d.rampTime_s > 0 ? d.delta * Math.min(1, age / d.rampTime_s) : d.delta;
      } else if (age < d.duration_s) {
        total += d.delta * Math.sin((2 * Math.PI * age) / d.period_s);
      }
    }
    return total;
  }

  private traceAt(t: number): void {
    const tr = this.trace!;
    const n = tr.t_s.length;
    let i = this.traceIndex;
    while (i + 1 < n && tr.t_s[i + 1] <= t) i++;
    while (i > 0 && tr.t_s[i] > t) i--;
    this.traceIndex = i;
    if (i + 1 >= n || t <= tr.t_s[0]) {
      const k = t <= tr.t_s[0] ? 0 : n - 1;
      this.f_hz = tr.f_hz[k];
      this.v_pu = tr.v_pu[k];
      return;
    }
    const a = (t - tr.t_s[i]) / (tr.t_s[i + 1] - tr.t_s[i]);
    this.f_hz = tr.f_hz[i] + a * (tr.f_hz[i + 1] - tr.f_hz[i]);
    this.v_pu = tr.v_pu[i] + a * (tr.v_pu[i + 1] - tr.v_pu[i]);
  }

  /** Moves to time `t_s` (end of a step of length dt_s). */
  advance(t_s: number, dt_s: number): void {
    const before = this.f_hz;
    if (this.trace) this.traceAt(t_s);
    else {
      this.f_hz = this.f0_hz + this.offsetAt('frequency', t_s);
      this.v_pu = this.v0_pu + this.offsetAt('voltage', t_s);
    }
    if (this.trace) {
      this.f_hz += this.offsetAt('frequency', t_s);
      this.v_pu += this.offsetAt('voltage', t_s);
    }
    this.rocof_hz_s = dt_s > 0 ? (this.f_hz - before) / dt_s : 0;
    this.theta_rad += 2 * Math.PI * ((before + this.f_hz) / 2 - this.f0_hz) * dt_s;
  }
}
