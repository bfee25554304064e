import { clamp, rampToward } from '../dynamics/lag.ts';

export type FidMode = 'fixed' | 'frequency-support' | 'emergency';

export interface FidParams {
  rating_mva: number;
  /** Scheduled transfer A→B, MW. */
  p_ab_mw: number;
  qA_mvar: number;
  qB_mvar: number;
  /** Conversion loss as a fraction of |transfer| (both stages together). */
  lossFraction: number;
  /** Standing (no-load) loss, MW. */
  noLoadLoss_mw: number;
  /** Maximum |dP/dt| of the transfer, MW/s. */
  ramp_mw_s: number;
  mode: FidMode;
  /** Frequency-support gain, MW per Hz of (f_a − f_b). */
  supportGain_mw_hz: number;
  /** Emergency mode: a side below this frequency receives support, Hz. */
  emergencyBelow_hz: number;
  /** Emergency mode: never draw a donor side below this frequency, Hz. */
  donorFloor_hz: number;
}

/**
 * Flexible interconnection device: a back-to-back converter between bus A and bus B. It moves
 * active power between two AC systems that keep their own frequencies: it is never a branch in the
 * topology, so it never merges the islands it joins. Injections (generator convention):
 *   P_a = −p_ab − loss_a,  P_b = p_ab − loss_b (loss split by direction), so P_a + P_b + losses = 0.
 * Each side's apparent power is limited to the rating, P taking precedence over Q.
 */
export class FlexibleInterconnection {
  /** Actual transfer A→B after ramp and rating limits, MW. */
  transfer_mw = 0;
  /** Injections into side A and side B, MW / Mvar. */
  pA_mw = 0;
  pB_mw = 0;
  qA_mvar = 0;
  qB_mvar = 0;
  losses_mw = 0;
  inService = true;

  constructor(
    readonly id: string,
    readonly params: FidParams,
  ) {
    // Start in steady state at the scheduled transfer (no ramp at t = 0).
    this.transfer_mw = clamp(params.p_ab_mw, -params.rating_mva, params.rating_mva);
  }

  /** A schedule change spread over time (setTransfer's ramp_s): from, to, its length and what is left, s. */
  private readonly scheduleRamp = { from: 0, to: 0, total_s: 0, left_s: 0 };

  /**
   * Sets the scheduled transfer A→B, MW: at once, or with `ramp_s` > 0 linearly from the schedule
   * now (which may itself be mid-ramp) over `ramp_s` seconds — a schedule ramp, under the converter's
   * own `ramp_mw_s` limit.
   */
  setTransfer(p_ab_mw: number, ramp_s = 0): void {
    const r = this.scheduleRamp;
    if (ramp_s > 0) {
      r.from = this.params.p_ab_mw;
      r.to = p_ab_mw;
      r.total_s = ramp_s;
      r.left_s = ramp_s;
    } else {
      r.left_s = 0;
      this.params.p_ab_mw = p_ab_mw;
    }
  }

  /** Transfer the control mode asks for, before ramp and rating limits. */
  demand(fA_hz: number, fB_hz: number, energisedA: boolean, energisedB: boolean, f0_hz: number): number {
    const p = this.params;
    if (!energisedA || !energisedB) return 0;
    switch (p.mode) {
      case 'fixed':
        return p.p_ab_mw;
      case 'frequency-support':
        return p.p_ab_mw + p.supportGain_mw_hz * (fA_hz - fB_hz);
      case 'emergency': {
        // Support flows toward a side in distress, as long as the donor stays above its floor.
        if (fB_hz < p.emergencyBelow_hz && fA_hz > p.donorFloor_hz) {
          return (
            p.rating_mva * clamp((fA_hz - p.donorFloor_hz) / Math.max(1e-6, f0_hz - p.donorFloor_hz), 0, 1)
          );
        }
        if (fA_hz < p.emergencyBelow_hz && fB_hz > p.donorFloor_hz) {
          return (
            -p.rating_mva * clamp((fB_hz - p.donorFloor_hz) / Math.max(1e-6, f0_hz - p.donorFloor_hz), 0, 1)
          );
        }
        return p.p_ab_mw;
      }
    }
  }

  /** Advances the converter's transfer and computes both sides' injections. */
  step(
    fA_hz: number,
    fB_hz: number,
    energisedA: boolean,
    energisedB: boolean,
    f0_hz: number,
    dt_s: number,
  ): void {
    const p = this.params;
    const r = this.scheduleRamp;
    if (r.left_s > 0) {
      r.left_s = Math.max(0, r.left_s - dt_s);
      p.p_ab_mw = r.to + ((r.from - r.to) * r.left_s) / r.total_s;
    }
    if (!this.inService) {
      this.transfer_mw = 0;
      this.pA_mw = this.pB_mw = this.qA_mvar = this.qB_mvar = this.losses_mw = 0;
      return;
    }
    const target = clamp(
      this.demand(fA_hz, fB_hz, energisedA, energisedB, f0_hz),
      -p.rating_mva,
      p.rating_mva,
    );
    // A side that lost voltage stops the converter at once; otherwise ramp.
    this.transfer_mw = energisedA && energisedB ? rampToward(this.transfer_mw, target, p.ramp_mw_s, dt_s) : 0;
    const t = this.transfer_mw;
    const loss = energisedA && energisedB ? p.lossFraction * Math.abs(t) + p.noLoadLoss_mw : 0;
    this.losses_mw = loss;
    // The sending side supplies the transfer plus the losses; the receiving side gets the transfer.
    if (t >= 0) {
      this.pA_mw = 0 - (t + loss);
      this.pB_mw = t;
    } else {
      this.pA_mw = -t;
      this.pB_mw = t - loss;
    }
    const qLimA = Math.sqrt(Math.max(0, p.rating_mva ** 2 - this.pA_mw ** 2));
    const qLimB = Math.sqrt(Math.max(0, p.rating_mva ** 2 - this.pB_mw ** 2));
    this.qA_mvar = energisedA ? clamp(p.qA_mvar, -qLimA, qLimA) : 0;
    this.qB_mvar = energisedB ? clamp(p.qB_mvar, -qLimB, qLimB) : 0;
  }
}

export function defaultFidParams(over: Partial<FidParams> & { rating_mva: number }): FidParams {
  return {
    p_ab_mw: 0,
    qA_mvar: 0,
    qB_mvar: 0,
    lossFraction: 0.02,
    noLoadLoss_mw: 0,
    ramp_mw_s: over.rating_mva,
    mode: 'fixed',
    supportGain_mw_hz: over.rating_mva / 0.5,
    emergencyBelow_hz: 49.5,
    donorFloor_hz: 49.8,
    ...over,
  };
}
