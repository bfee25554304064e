/**
 * Fixtures of the market's unit tests (and of the hosted market module's): DERs as the twin's
 * catalog lists them, and the smallest network a market needs — two microgrids joined by a FID.
 */
import type { DerInfo, LoadInfo, TwinCatalog } from '../twin/control/contract.ts';

/** A DER of the catalog: a 1 MW non-dispatchable unit on b1 unless `d` says otherwise. */
export const derInfo = (d: Partial<DerInfo> & Pick<DerInfo, 'id' | 'technology' | 'microgrid'>): DerInfo => ({
  bus: 'b1',
  rating_mva: 1,
  pmin_mw: 0,
  pmax_mw: 1,
  cost_per_mwh: 0,
  dispatchable: false,
  hardware: false,
  ...d,
});

/** mg1 (bus b1) and mg2 (bus b2) joined by fid1 (side A in mg1, 1 MW), with `ders` and `loads`. */
export function twoMicrogrids(parts: {
  dt_s: number;
  ders: readonly DerInfo[];
  loads?: readonly LoadInfo[];
}): TwinCatalog {
  return {
    f0_hz: 50,
    dt_s: parts.dt_s,
    busIds: ['b1', 'b2'],
    microgrids: [
      { id: 'mg1', buses: ['b1'] },
      { id: 'mg2', buses: ['b2'] },
    ],
    ders: parts.ders,
    fids: [{ id: 'fid1', busA: 'b1', busB: 'b2', rating_mw: 1 }],
    loads: parts.loads ?? [],
    breakers: [],
  };
}
