/**
 * A generated portfolio for scale tests and benchmarks: `n` members with seeded random sizes and
 * cost curves (a mix of gensets, storage and curtailable renewables, like a regional VPP).
 */
import { seededRandom } from './comms.ts';
import type { VppMember } from './portfolio.ts';

export function generatePortfolio(n: number, seed = 1): VppMember[] {
  const rand = seededRandom(seed);
  const between = (lo: number, hi: number) => lo + (hi - lo) * rand();
  return Array.from({ length: n }, (_, i): VppMember => {
    const kind = rand();
    const pmax = between(0.05, 1);
    const base = {
      id: `m${i}`,
      kind: 'der' as const,
      operator: `op${i % 3}`,
      share: 1,
      bus: String(i),
      microgrid: `mg${i % 10}`,
      qmax_mvar: pmax * 0.6,
      soc_min: 0.1,
      soc_max: 0.9,
      dispatchable: true,
      hardware: false,
    };
    if (kind < 0.2) {
      return {
        ...base,
        technology: 'battery',
        pmin_mw: -pmax,
        pmax_mw: pmax,
        a: between(10, 40),
        b: between(5, 30),
        capacity_mwh: 2 * pmax,
      };
    }
    if (kind < 0.4)
      return { ...base, technology: 'pv', pmin_mw: 0, pmax_mw: pmax, a: between(1, 5), b: between(0, 5) };
    return {
      ...base,
      technology: 'gas-genset',
      pmin_mw: between(0, 0.2) * pmax,
      pmax_mw: pmax,
      a: between(5, 100),
      b: between(40, 150),
      ramp_mw_s: pmax / between(30, 300),
    };
  });
}
