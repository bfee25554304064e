/**
 * Aggregate swing equation of one island (centre-of-inertia frequency):
 *
 *   M · df/dt = P_mech,total − P_load,total − P_loss + P_import,   M = Σ 2·H_i·S_i / f0  (MW·s/Hz)
 *
 * H_i is the inertia constant of each synchronous machine or the virtual inertia of each
 * grid-forming inverter, S_i its rating. Load damping enters through the frequency dependence of
 * the loads (P_load is evaluated at the current frequency), so no separate D term is needed here.
 */
export class IslandFrequency {
  f_hz: number;
  rocof_hz_s = 0;
  /** Phase of the island's angle reference relative to a nominal-frequency rotating frame, rad. */
  theta_rad = 0;

  constructor(readonly f0_hz: number) {
    this.f_hz = f0_hz;
  }

  /**
   * Advances by `dt_s` with total inertia `m_mws_hz` and net accelerating power `pAcc_mw`.
   * Returns the ROCOF used, Hz/s.
   */
  advance(pAcc_mw: number, m_mws_hz: number, dt_s: number): number {
    const rocof = m_mws_hz > 0 ? pAcc_mw / m_mws_hz : 0;
    this.rocof_hz_s = rocof;
    this.theta_rad += 2 * Math.PI * (this.f_hz - this.f0_hz) * dt_s + Math.PI * rocof * dt_s * dt_s;
    this.f_hz += rocof * dt_s;
    return rocof;
  }

  /** Forces frequency (and ROCOF) from outside, e.g. when the island follows the main grid. */
  follow(f_hz: number, theta_rad: number, dt_s: number): void {
    this.rocof_hz_s = dt_s > 0 ? (f_hz - this.f_hz) / dt_s : 0;
    this.f_hz = f_hz;
    this.theta_rad = theta_rad;
  }
}

/** Inertia contribution 2·H·S/f0 of one machine, MW·s/Hz. */
export function inertiaOf(h_s: number, rating_mva: number, f0_hz: number): number {
  return (2 * h_s * rating_mva) / f0_hz;
}

/** Wraps an angle to (−π, π]. */
export function wrapAngle(theta: number): number {
  const twoPi = 2 * Math.PI;
  let a = theta % twoPi;
  if (a > Math.PI) a -= twoPi;
  else if (a <= -Math.PI) a += twoPi;
  return a;
}
