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
  /** What the EMS knows of the PCC (grid-connected islands; used by peak shaving). */
  pcc?: PccEstimate;
}

/** The PCC import a peak-shaving dispatch works from (see PccImportEstimator). */
export interface PccEstimate {
  /**
   * Import the microgrid would draw with its dispatchable units at zero (loads, losses,
   * renewables, FIDs, hardware), averaged over the estimator's window, MW.
   */
  baseImport_mw: number;
  /** RMS deviation of that import from its average: what moves faster than dispatch, MW. */
  spread_mw: number;
}

/** Peak shaving aims this many spreads below the limit, so the import between dispatches stays under it. */
export const PEAK_MARGIN_SPREADS = 2.5;
/** State-of-charge band over which storage power tapers to zero at its SoC limits. */
export const SOC_TAPER = 0.05;

/**
 * Estimates, step by step, the import a microgrid's PCC would carry without the EMS's own units:
 * measured import plus what the dispatchable units deliver. Peak shaving dispatches from this
 * estimate, never from the measured import alone: an import that includes the battery's own
 * previous set-point fed each dispatch back into the next one, and the battery limit-cycled
 * between discharge and idle every dispatch interval. Exponential averages (no history kept):
 * the mean over `window_s`, the spread (RMS deviation from the mean) over `spreadWindow_s`.
 */
export class PccImportEstimator {
  mean_mw = 0;
  private meanSquare = 0;
  private elapsed_s = 0;
  private last_s = Number.NEGATIVE_INFINITY;

  constructor(
    readonly window_s = 600,
    readonly spreadWindow_s = 1800,
  ) {}

  /** Adds the sample `baseImport_mw` at time `t_s`, `dt_s` after the previous step; a gap restarts. */
  update(baseImport_mw: number, t_s: number, dt_s: number): void {
    if (t_s - this.last_s > 1.5 * dt_s + 1e-9) {
      this.mean_mw = baseImport_mw;
      this.meanSquare = 0;
      this.elapsed_s = 0;
    }
    this.last_s = t_s;
    this.elapsed_s += dt_s;
    const d = baseImport_mw - this.mean_mw;
    this.mean_mw += d * Math.min(1, dt_s / this.window_s);
    this.meanSquare += (d * d - this.meanSquare) * Math.min(1, dt_s / this.spreadWindow_s);
  }

  get estimate(): PccEstimate {
    // The square's average starts from zero: divide by the weight gathered so far (as Adam does).
    const weight = 1 - Math.exp(-this.elapsed_s / this.spreadWindow_s);
    return {
      baseImport_mw: this.mean_mw,
      spread_mw: weight > 0 ? Math.sqrt(this.meanSquare / weight) : 0,
    };
  }
}

interface Storage {
  soc: number;
  params: { rating_mw: number; socMin: number; socMax: number; energy_mwh: number };
}

/** Discharge (> 0) or charge (< 0) power a battery can hold now, tapering to 0 at its SoC limits. */
function storageLimit(u: DerUnit, discharge: boolean): number {
  const { soc, params } = u as unknown as Storage;
  const room = discharge ? soc - params.socMin : params.socMax - soc;
  const p = params.rating_mw * Math.max(0, Math.min(1, room / SOC_TAPER));
  return discharge ? Math.min(p, u.pmax_mw) : -Math.min(p, -u.pmin_mw);
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
    if (settings.mode === 'peak-shaving' && input.pcc) peakShave(settings, input.pcc, units, order, out);
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

/**
 * Peak shaving from the estimated base import (see PccImportEstimator): the units, from their
 * minimum, cover what the base import would put above the ceiling (the limit less a margin for
 * what moves between dispatches), cheapest first; below the ceiling, storage recharges from the
 * headroom. Each dispatch depends on the estimate alone, not on the previous set-points, so
 * successive dispatches cannot chase each other.
 */
function peakShave(
  settings: EmsSettings,
  pcc: PccEstimate,
  units: readonly DerUnit[],
  order: readonly number[],
  out: Float64Array,
): void {
  const ceiling = settings.peakLimit_mw - PEAK_MARGIN_SPREADS * pcc.spread_mw;
  let excess = pcc.baseImport_mw - ceiling;
  for (const i of order) excess -= out[i];
  if (excess > 0) {
    for (const i of order) {
      const u = units[i];
      const top = u.technology === 'battery' ? storageLimit(u, true) : u.pmax_mw;
      const add = Math.max(0, Math.min(excess, top - out[i]));
      out[i] += add;
      excess -= add;
    }
    return;
  }
  for (const i of order) {
    const u = units[i];
    if (u.technology !== 'battery' || excess >= 0) continue;
    out[i] = Math.max(storageLimit(u, false), excess);
    excess -= out[i];
  }
}
