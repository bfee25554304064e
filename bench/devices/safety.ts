/**
 * Set-point safety, enforced in device units before anything is sent: magnitude limits clamp the
 * target, a rate limit ramps what is actually sent towards it, and an emergency stop latches the
 * device in its safe state (zero power, mode OFF) until `release()`.
 */
export interface SafetyLimits {
  /** Largest active power the device may be told to deliver, W (discharge / export). */
  pMax_w?: number;
  /** Smallest (most negative) active power, W (charge / import). @default -pMax_w */
  pMin_w?: number;
  /** Largest |reactive power|, var. */
  qMaxAbs_var?: number;
  /** Fastest change of the sent active-power set-point, W/s. @default unlimited */
  pRate_w_s?: number;
  /** Fastest change of the sent reactive-power set-point, var/s. @default unlimited */
  qRate_var_s?: number;
}

export interface SafeSetpoint {
  p_w: number;
  q_var: number;
}

export interface SetpointRequest {
  p_w?: number;
  q_var?: number;
}

export interface LimitResult {
  /** What will be aimed for after magnitude limits. */
  target: SafeSetpoint;
  /** Why the request was changed (empty when it was within limits). */
  limited: string[];
}

export class SetpointLimiter {
  private target: SafeSetpoint = { p_w: 0, q_var: 0 };
  private sent: SafeSetpoint = { p_w: 0, q_var: 0 };
  private lastAdvance_s = Number.NaN;
  private active = false;
  private stopped = false;

  constructor(readonly limits: SafetyLimits = {}) {
    const { pMax_w, pMin_w, qMaxAbs_var, pRate_w_s, qRate_var_s } = limits;
    for (const [name, value] of Object.entries({ pMax_w, qMaxAbs_var, pRate_w_s, qRate_var_s })) {
      if (value !== undefined && !(value >= 0)) {
        throw new TypeError(`safety limit ${name} must be a non-negative number, got ${value}`);
      }
    }
    if (pMin_w !== undefined && !Number.isFinite(pMin_w)) {
      throw new TypeError(`safety limit pMin_w must be a finite number, got ${pMin_w}`);
    }
  }

  get emergencyStopped(): boolean {
    return this.stopped;
  }

  /**
   * Sets a new target. Throws a TypeError for a non-finite value or while emergency-stopped
   * (nothing is sent then); clamps to the magnitude limits and says so.
   */
  request(req: SetpointRequest): LimitResult {
    if (this.stopped) throw new TypeError('set-point refused: emergency stop is latched');
    const limited: string[] = [];
    const next = { ...this.target };
    if (req.p_w !== undefined) {
      if (!Number.isFinite(req.p_w)) throw new TypeError(`set-point P must be finite, got ${req.p_w}`);
      const max = this.limits.pMax_w ?? Number.POSITIVE_INFINITY;
      const min = this.limits.pMin_w ?? -max;
      next.p_w = Math.min(max, Math.max(min, req.p_w));
      if (next.p_w !== req.p_w) limited.push(`P ${req.p_w} W limited to ${next.p_w} W`);
    }
    if (req.q_var !== undefined) {
      if (!Number.isFinite(req.q_var)) throw new TypeError(`set-point Q must be finite, got ${req.q_var}`);
      const max = this.limits.qMaxAbs_var ?? Number.POSITIVE_INFINITY;
      next.q_var = Math.min(max, Math.max(-max, req.q_var));
      if (next.q_var !== req.q_var) limited.push(`Q ${req.q_var} var limited to ${next.q_var} var`);
    }
    this.target = next;
    this.active = true;
    return { target: { ...next }, limited };
  }

  /**
   * The set-point to send at time `now_s`, moved towards the target no faster than the rate
   * limits allow; undefined when there is nothing (new) to send.
   */
  advance(now_s: number): SafeSetpoint | undefined {
    if (!this.active || this.stopped) return undefined;
    const dt = Number.isFinite(this.lastAdvance_s) ? Math.max(0, now_s - this.lastAdvance_s) : 0;
    this.lastAdvance_s = now_s;
    const step = (from: number, to: number, rate: number | undefined) => {
      if (rate === undefined) return to;
      const maxStep = rate * dt;
      return from + Math.min(maxStep, Math.max(-maxStep, to - from));
    };
    const next = {
      p_w: step(this.sent.p_w, this.target.p_w, this.limits.pRate_w_s),
      q_var: step(this.sent.q_var, this.target.q_var, this.limits.qRate_var_s),
    };
    const changed = next.p_w !== this.sent.p_w || next.q_var !== this.sent.q_var;
    this.sent = next;
    if (next.p_w === this.target.p_w && next.q_var === this.target.q_var) this.active = false;
    return changed ? { ...next } : undefined;
  }

  /** Latches the emergency stop: targets and sent values drop to zero at once, no ramp. */
  emergencyStop(): void {
    this.stopped = true;
    this.active = false;
    this.target = { p_w: 0, q_var: 0 };
    this.sent = { p_w: 0, q_var: 0 };
  }

  /** Releases a latched emergency stop; the device stays at zero until a new set-point. */
  release(): void {
    this.stopped = false;
    this.lastAdvance_s = Number.NaN;
  }
}
