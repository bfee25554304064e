/**
 * Figures a campaign collects from each run's states (docs/campaigns.md § Figures): extremes of
 * frequency, ROCOF and voltage over the energised islands, optionally of one island and after a
 * given time (to skip the start-up transient). Scalars only: they fill one table cell each.
 */
import type { TwinState } from '../../twin/api.ts';

export type FigureName = 'frequency-nadir' | 'frequency-peak' | 'rocof-max' | 'voltage-min' | 'voltage-max';

export interface FigureSpec {
  figure: FigureName;
  /** Only this island (an island id: a microgrid, microgrids joined by '+', or bus-<id>). */
  island?: string;
  /** Ignore states before this twin time, s. */
  after?: number;
}

/** Unit of each figure, for tables and plots. */
export const FIGURE_UNITS: Record<FigureName, string> = {
  'frequency-nadir': 'Hz',
  'frequency-peak': 'Hz',
  'rocof-max': 'Hz/s',
  'voltage-min': 'pu',
  'voltage-max': 'pu',
};

/** Which way is worse: a low nadir or a high peak. */
export const FIGURE_WORSE: Record<FigureName, 'low' | 'high'> = {
  'frequency-nadir': 'low',
  'frequency-peak': 'high',
  'rocof-max': 'high',
  'voltage-min': 'low',
  'voltage-max': 'high',
};

/** Watches the states of one run; `values()` gives each figure (null: nothing watched). */
export class FigureCollector {
  private readonly acc: number[];
  private busIndex: Map<string, number> | undefined;

  constructor(private readonly specs: readonly FigureSpec[]) {
    this.acc = specs.map((s) => (FIGURE_WORSE[s.figure] === 'low' ? Infinity : -Infinity));
  }

  step(state: TwinState): void {
    for (let k = 0; k < this.specs.length; k++) {
      const spec = this.specs[k]!;
      if (spec.after !== undefined && state.t_s < spec.after) continue;
      for (const island of state.islands) {
        if (!island.energised || (spec.island !== undefined && island.id !== spec.island)) continue;
        this.acc[k] = this.fold(k, spec.figure, island, state);
      }
    }
  }

  private fold(
    k: number,
    figure: FigureName,
    island: TwinState['islands'][number],
    state: TwinState,
  ): number {
    const now = this.acc[k]!;
    switch (figure) {
      case 'frequency-nadir':
        return Math.min(now, island.f_hz);
      case 'frequency-peak':
        return Math.max(now, island.f_hz);
      case 'rocof-max':
        return Math.max(now, Math.abs(island.rocof_hz_s));
      case 'voltage-min':
      case 'voltage-max': {
        this.busIndex ??= new Map(state.busIds.map((id, i) => [id, i]));
        let v = now;
        for (const bus of island.buses) {
          const vm = state.vm_pu[this.busIndex.get(bus)!]!;
          v = figure === 'voltage-min' ? Math.min(v, vm) : Math.max(v, vm);
        }
        return v;
      }
    }
  }

  values(): (number | null)[] {
    return this.acc.map((v) => (Number.isFinite(v) ? Number(v.toPrecision(10)) : null));
  }
}
