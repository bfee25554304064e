import type { EmsModeName } from '../api.ts';
import type { DerUnit } from '../der/unit.ts';

/**
 * Energy-management modes of a microgrid, from the applications of the source review's Table 1:
 * standby power, low-cost energy (economic dispatch), stand-alone system and peak shaving.
 */
export type EmsMode = EmsModeName;
export const EMS_MODES: readonly EmsMode[] = ['standby-power', 'low-cost', 'stand-alone', 'peak-shaving'];

export interface EmsSettings {
  mode: EmsMode;
  /** Tertiary (economic) dispatch period, s. */
  dispatchInterval_s: number;
  /** Price of energy imported from the main grid, currency/MWh. */
  gridPrice_per_mwh: number;
  /** Peak shaving: keep PCC import at or below this, MW. */
  peakLimit_mw: number;
  /** Battery SoC the EMS aims for between uses. */
  socTarget: number;
}

export function defaultEmsSettings(over: Partial<EmsSettings> = {}): EmsSettings {
  return {
    mode: 'stand-alone',
    dispatchInterval_s: 60,
    gridPrice_per_mwh: 100,
    peakLimit_mw: 1,
    socTarget: 0.6,
    ...over,
  };
}

/** Units the EMS may dispatch in one island, and what it knows of the island now. */
export interface DispatchInput {
  units: readonly DerUnit[];
  /** Demand the dispatchable units must cover (load + losses − renewables − imports), MW. */
  netDemand_mw: number;
  gridConnected: boolean;
  /** Present import over the PCC, MW (grid-connected islands). */
  pccImport_mw: number;
}

/**
 * Tertiary dispatch: returns references (MW) for each dispatchable unit, index-aligned with
 * `input.units` (NaN for units left alone). Merit order by marginal cost; batteries charge from
 * surplus and discharge toward their SoC target.
 */
export function dispatch(settings: EmsSettings, input: DispatchInput, out: Float64Array): void {
  const { units, gridConnected } = input;
  out.fill(Number.NaN);
  const order: number[] = [];
  for (let i = 0; i < units.length; i++) if (units[i].dispatchable && units[i].active) order.push(i);
  order.sort((a, b) => units[a].cost_per_mwh - units[b].cost_per_mwh || a - b);

  if (gridConnected) {
    for (const i of order) {
      const u = units[i];
      switch (settings.mode) {
        case 'low-cost':
          // Cheaper than the grid: run flat out; dearer: minimum stable load.
          out[i] =
            u.technology === 'battery'
              ? 0
              : u.cost_per_mwh < settings.gridPrice_per_mwh
                ? u.pmax_mw
                : u.pmin_mw;
          break;
        case 'standby-power':
          // Units wait in standby (the twin stops gensets); storage holds.
          out[i] = u.technology === 'battery' ? 0 : u.pmin_mw;
          break;
        case 'peak-shaving': {
          out[i] = u.technology === 'battery' ? 0 : u.pmin_mw;
          break;
        }
        case 'stand-alone':
          out[i] = u.reference_mw;
          break;
      }
    }
    if (settings.mode === 'peak-shaving') {
      // Cover the import above the limit, cheapest first; below it, recharge storage.
      let excess = input.pccImport_mw - settings.peakLimit_mw;
      for (const i of order) {
        const u = units[i];
        const current = u.reference_mw;
        if (excess > 0) {
          const extra = Math.min(excess, u.pmax_mw - Math.max(current, out[i]));
          out[i] = Math.max(current, out[i]) + Math.max(0, extra);
          excess -= Math.max(0, extra);
        } else if (u.technology === 'battery' && excess < 0) {
          out[i] = Math.max(u.pmin_mw, Math.min(0, current + excess));
        } else if (excess <= 0) out[i] = Math.max(u.pmin_mw, Math.min(current, out[i]));
      }
    }
    return;
  }

  // Islanded (all modes): generators cover the net demand plus what storage should absorb to
  // move toward its SoC target, in merit order above their minimum; storage takes the remainder.
  let storageWanted = 0;
  for (const i of order) {
    const u = units[i];
    if (u.technology !== 'battery') continue;
    const soc = (u as unknown as { soc: number }).soc;
    const energy = (u as unknown as { params: { energy_mwh: number } }).params.energy_mwh;
    // Reach the target in about an hour.
    storageWanted += Math.max(u.pmin_mw, Math.min(u.pmax_mw, (soc - settings.socTarget) * energy));
  }
  let remaining = input.netDemand_mw - storageWanted;
  for (const i of order) {
    if (units[i].technology === 'battery') continue;
    out[i] = Math.max(0, units[i].pmin_mw);
    remaining -= out[i];
  }
  for (const i of order) {
    const u = units[i];
    if (u.technology === 'battery' || remaining <= 0) continue;
    const add = Math.min(remaining, u.pmax_mw - out[i]);
    out[i] += add;
    remaining -= add;
  }
  // Storage covers what generators did not (or absorbs their surplus), within its limits,
  // shared by rating.
  let storageCap = 0;
  for (const i of order) if (units[i].technology === 'battery') storageCap += units[i].rating_mva;
  const storageTotal = storageWanted + remaining;
  for (const i of order) {
    const u = units[i];
    if (u.technology !== 'battery' || storageCap <= 0) continue;
    out[i] = Math.max(u.pmin_mw, Math.min(u.pmax_mw, (storageTotal * u.rating_mva) / storageCap));
  }
}
