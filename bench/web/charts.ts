// Streaming charts on uPlot: a rolling window of twin time, series added as they first appear.
import type UPlot from 'uplot';
import type { Span } from './attacks.ts';
import { PALETTE } from './colours.ts';

/** uPlot comes as a global from its own script (/vendor/uPlot.iife.min.js, served from node_modules). */
declare const uPlot: typeof UPlot;

export const WINDOW_S = 30;
const MAX_POINTS = 3000;

export interface StreamChartOptions {
  unit: string;
  colours?: (name: string, index: number) => string;
  decimals?: number;
  /** Smallest span of the y axis, in the unit: a flat series still reads as flat. */
  minSpan?: number;
  /** Series drawn dashed (a threshold beside the value it bounds). */
  dashed?: (name: string) => boolean;
}

export class StreamChart {
  /** Series names, in column order (the e2e tests read them). */
  names: string[] = [];
  /** Twin time, then one column per series; null leaves a gap. */
  columns: (number | null)[][] = [[]];
  chart: UPlot | null = null;
  dirty = false;
  lastWidth = 0;
  /** Shaded periods of twin time (attacks, alarms), drawn behind the series. */
  spans: Span[] = [];
  /** Spans the last draw shaded (visible in the window): the browser tests read it. */
  drawnSpans = 0;

  constructor(
    readonly el: HTMLElement,
    readonly options: StreamChartOptions,
  ) {
    new ResizeObserver(() => this.resize()).observe(el);
  }

  /** Appends one sample: `values` maps series name to value (missing or null leaves a gap). */
  push(t_s: number, values: Record<string, number | null | undefined>): void {
    let added = false;
    for (const name of Object.keys(values)) {
      if (!this.names.includes(name)) {
        this.names.push(name);
        this.columns.push(this.columns[0].map(() => null));
        added = true;
      }
    }
    const time = this.columns[0] as number[];
    // A new run (or a replay jump) starts the window again.
    if (time.length > 0 && t_s < time[time.length - 1]) {
      for (const col of this.columns) col.length = 0;
    }
    time.push(t_s);
    this.names.forEach((name, i) => {
      const v = values[name];
      this.columns[i + 1].push(typeof v === 'number' && Number.isFinite(v) ? v : null);
    });
    let drop = 0;
    while (drop < time.length - 2 && (time[drop] < t_s - WINDOW_S || time.length - drop > MAX_POINTS)) drop++;
    if (drop > 0) for (const col of this.columns) col.splice(0, drop);
    if (added || !this.chart) this.rebuild();
    else this.dirty = true;
  }

  setSpans(spans: Span[]): void {
    this.spans = spans;
    this.dirty = true;
  }

  /** Shades the spans inside the plotting area, under the series (uPlot's drawClear hook). */
  private drawSpans(u: UPlot): void {
    const [min, max] = [u.scales.x.min, u.scales.x.max];
    let drawn = 0;
    if (min != null && max != null) {
      const { top, height } = u.bbox;
      for (const span of this.spans) {
        const from = Math.max(span.from_s, min);
        const to = Math.min(span.to_s ?? max, max);
        if (to <= from) continue;
        const x0 = u.valToPos(from, 'x', true);
        const x1 = u.valToPos(to, 'x', true);
        u.ctx.fillStyle = SPAN_FILL[span.kind];
        u.ctx.fillRect(x0, top, Math.max(2, x1 - x0), height);
        drawn++;
      }
    }
    this.drawnSpans = drawn;
  }

  /** Redraws at most once per animation frame, however fast states arrive. */
  render(): void {
    if (this.dirty && this.chart) {
      this.chart.setData(this.columns as UPlot.AlignedData);
      // Without a cursor on the chart the legend shows the newest values.
      if (!((this.chart.cursor.left ?? -1) >= 0)) this.chart.setLegend({ idx: this.length - 1 });
      this.dirty = false;
    }
  }

  size(): { width: number; height: number } {
    const width = Math.max(280, this.el.clientWidth || 600);
    return { width, height: Math.max(180, Math.min(320, Math.round(width * 0.42))) };
  }

  resize(): void {
    const { width, height } = this.size();
    if (this.chart && Math.abs(width - this.lastWidth) > 4) {
      this.lastWidth = width;
      this.chart.setSize({ width, height });
    }
  }

  rebuild(): void {
    this.chart?.destroy();
    const { width, height } = this.size();
    this.lastWidth = width;
    const styles = getComputedStyle(document.body);
    const axis = styles.getPropertyValue('--muted').trim() || '#8a97a6';
    const grid = styles.getPropertyValue('--grid').trim() || '#263040';
    const font = `${styles.getPropertyValue('--chart-font').trim() || '13px'} system-ui, sans-serif`;
    const decimals = this.options.decimals ?? 3;
    this.chart = new uPlot(
      {
        width,
        height,
        scales: {
          x: { time: false },
          // A flat series (a steady 50 Hz) keeps a readable span instead of uPlot's 0..100.
          y: {
            range: (_u, min, max) => {
              if (min == null || max == null) return [0, 1];
              // Never a zero span: uPlot cannot place ticks on one.
              const span = Math.max(this.options.minSpan ?? 0, Math.abs(max) * 1e-6, 1e-9);
              if (max - min >= span) return [min, max];
              const mid = (min + max) / 2;
              return [mid - span / 2, mid + span / 2];
            },
          },
        },
        legend: { live: true },
        hooks: { drawClear: [(u: UPlot) => this.drawSpans(u)] },
        cursor: { drag: { x: false, y: false } },
        axes: [
          { stroke: axis, grid: { stroke: grid }, font, label: 'twin time (s)', labelFont: font },
          {
            stroke: axis,
            grid: { stroke: grid },
            font,
            size: 80,
            label: this.options.unit,
            labelFont: font,
            values: (_u: UPlot, ticks: number[]) => ticks.map((v) => v.toFixed(Math.min(decimals, 3))),
          },
        ],
        series: [
          { label: 't (s)', value: (_u: UPlot, v: number | null) => (v == null ? '–' : v.toFixed(2)) },
          ...this.names.map((name, i) => ({
            label: name,
            stroke: this.options.colours?.(name, i) ?? PALETTE[i % PALETTE.length],
            width: 2,
            ...(this.options.dashed?.(name) ? { dash: [8, 6] } : {}),
            spanGaps: false,
            // Lines only: sparse windows (a slow link, a late joiner) would otherwise grow dots.
            points: { show: false },
            value: (_u: UPlot, v: number | null) => (v == null ? '–' : v.toFixed(decimals)),
          })),
        ],
      },
      this.columns as UPlot.AlignedData,
      this.el,
    );
    this.dirty = false;
  }

  /** Number of samples in the window (the e2e tests watch it advance). */
  get length(): number {
    return this.columns[0].length;
  }

  get lastTime(): number | null {
    const time = this.columns[0];
    return time.length ? time[time.length - 1] : null;
  }
}

/** Attack periods red, alarm periods amber, light enough for the series to read through. */
const SPAN_FILL: Record<Span['kind'], string> = {
  attack: 'rgba(242, 95, 92, 0.18)',
  alarm: 'rgba(245, 165, 36, 0.28)',
};
