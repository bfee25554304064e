/**
 * Figures a campaign collects from each run (docs/campaigns.md § Figures): extremes of frequency,
 * ROCOF and voltage over the energised islands, optionally of one island and after a given time
 * (to skip the start-up transient), and for attack runs the time to detect an attack. Scalars
 * only: they fill one table cell each.
 */
import type { TwinState } from '../../twin/api.ts';
import type { SecurityMetrics } from '../../twin/detection/metrics.ts';

export type FigureName =
  | 'frequency-nadir'
  | 'frequency-peak'
  | 'rocof-max'
  | 'voltage-min'
  | 'voltage-max'
  | 'time-to-detect';

export interface FigureSpec {
  figure: FigureName;
  /** Only this island (an island id: a microgrid, microgrids joined by '+', or bus-<id>). */
  island?: string;
  /** Ignore states before this twin time, s. */
  after?: number;
  /** time-to-detect: the attack (its id; default the scenario's only attack). */
  attack?: string;
  /** time-to-detect: only this detector's alarms (default: the first alarm of any detector). */
  detector?: string;
}

/** Unit of each figure, for tables and plots. */
export const FIGURE_UNITS: Record<FigureName, string> = {
  'frequency-nadir': 'Hz',
  'frequency-peak': 'Hz',
  'rocof-max': 'Hz/s',
  'voltage-min': 'pu',
  'voltage-max': 'pu',
  'time-to-detect': 's',
};

/** Which way is worse: a low nadir or a high peak. */
export const FIGURE_WORSE: Record<FigureName, 'low' | 'high'> = {
  'frequency-nadir': 'low',
  'frequency-peak': 'high',
  'rocof-max': 'high',
  'voltage-min': 'low',
  'voltage-max': 'high',
  'time-to-detect': 'high',
};

/** Figures measured from an attack run's detection metrics rather than from its states. */
export const isDetectionFigure = (f: FigureName) => f === 'time-to-detect';

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
      if (isDetectionFigure(spec.figure)) continue;
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
      case 'time-to-detect':
        return now;
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

  /**
   * Each figure (null: nothing watched, or an attack not detected). `metrics`: the run's detection
   * metrics (attack runs): time to detect is the first alarm in the attack's window after its
   * start, as `gridloop attack` reports it.
   */
  values(metrics?: SecurityMetrics): (number | null)[] {
    return this.specs.map((spec, k) => {
      let v = this.acc[k]!;
      if (isDetectionFigure(spec.figure)) {
        const attack = metrics?.attacks.find((a) => spec.attack === undefined || a.id === spec.attack);
        const ttd = spec.detector === undefined ? attack?.timeToDetect_s : attack?.detectedBy[spec.detector];
        v = ttd ?? Number.NaN;
      }
      return Number.isFinite(v) ? Number(v.toPrecision(10)) : null;
    });
  }
}
