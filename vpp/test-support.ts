/** Shared by the VPP's unit tests: a member fixture and the solver-free dispatch reference. */
import type { VppMember } from './portfolio.ts';

/** A dispatchable DER member with cost a·p² + b·p, on bus 1 unless `extra` says otherwise. */
export function testUnit(
  id: string,
  pmin: number,
  pmax: number,
  a: number,
  b: number,
  extra: Partial<VppMember> = {},
): VppMember {
  return {
    ...{ id, kind: 'der', operator: 'op', share: 1, technology: 'gas-genset', bus: '1' },
    ...{ pmin_mw: pmin, pmax_mw: pmax, qmax_mvar: 0, a, b, soc_min: 0, soc_max: 1 },
    ...{ dispatchable: true, hardware: false },
    ...extra,
  } as VppMember;
}

/**
 * The equal-incremental-cost solution, independent of any solver: p_i(λ) = clamp((λ − b_i)/(2a_i))
 * and λ found by bisection so that Σ p_i(λ) = target (Σ p_i is nondecreasing in λ).
 */
export function equalIncrementalCost(units: VppMember[], target: number): { lambda: number; p: number[] } {
  const p = (lambda: number) =>
    units.map((u) => Math.min(Math.max((lambda - u.b) / (2 * u.a), u.pmin_mw), u.pmax_mw));
  let lo = -1e4;
  let hi = 1e4;
  for (let k = 0; k < 200; k++) {
    const mid = (lo + hi) / 2;
    if (p(mid).reduce((s, x) => s + x, 0) < target) lo = mid;
    else hi = mid;
  }
  return { lambda: (lo + hi) / 2, p: p((lo + hi) / 2) };
}
