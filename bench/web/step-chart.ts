// A small SVG step chart: each series is a staircase through its points (the value holds until the
// next point), with axes, tick labels, a legend and optional horizontal marks. Used where values
// hold over a span — an order book's curves, a price per trading interval — rather than stream.

export interface StepSeries {
  name: string;
  colour: string;
  /** [x, y] points, x increasing; y holds from each x to the next. */
  points: [number, number][];
  /** Where the last step ends (default: the last x). */
  xEnd?: number;
}

export interface StepChartOptions {
  xLabel: string;
  yLabel: string;
  /** Horizontal lines across the chart, e.g. a clearing price. */
  marks?: { name: string; y: number; colour: string }[];
  /** Formats tick labels. */
  xFormat?: (x: number) => string;
  yFormat?: (y: number) => string;
}

const SVG = 'http://www.w3.org/2000/svg';
const W = 640;
const H = 220;
const PAD = { left: 56, right: 12, top: 24, bottom: 36 };

function el<K extends keyof SVGElementTagNameMap>(name: K, attrs: Record<string, string | number>) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  return e;
}

/** Three to six round tick values covering [lo, hi]. */
function ticks(lo: number, hi: number): number[] {
  const span = hi - lo || 1;
  const raw = span / 4;
  const step = [1, 2, 5, 10].map((m) => m * 10 ** Math.floor(Math.log10(raw))).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

/** Draws `series` into `svg` (replacing what was there). */
export function drawStepChart(svg: SVGSVGElement, series: StepSeries[], options: StepChartOptions): void {
  const xFormat = options.xFormat ?? ((x) => String(x));
  const yFormat = options.yFormat ?? ((y) => String(y));
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.replaceChildren();
  const xs = series.flatMap((s) => [...s.points.map((p) => p[0]), ...(s.xEnd === undefined ? [] : [s.xEnd])]);
  const ys = [...series.flatMap((s) => s.points.map((p) => p[1])), ...(options.marks ?? []).map((m) => m.y)];
  if (xs.length === 0) return;
  const [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  const [y0, y1] = [Math.min(0, ...ys), Math.max(...ys)];
  const x = (v: number) => PAD.left + ((v - x0) / (x1 - x0 || 1)) * (W - PAD.left - PAD.right);
  const y = (v: number) => H - PAD.bottom - ((v - y0) / (y1 - y0 || 1)) * (H - PAD.top - PAD.bottom);

  // Axes with their ticks and labels.
  for (const t of ticks(y0, y1)) {
    svg.append(el('line', { x1: PAD.left, x2: W - PAD.right, y1: y(t), y2: y(t), class: 'grid' }));
    const label = el('text', { x: PAD.left - 6, y: y(t) + 4, 'text-anchor': 'end', class: 'tick' });
    label.textContent = yFormat(t);
    svg.append(label);
  }
  for (const t of ticks(x0, x1)) {
    const label = el('text', { x: x(t), y: H - PAD.bottom + 16, 'text-anchor': 'middle', class: 'tick' });
    label.textContent = xFormat(t);
    svg.append(label);
  }
  const xl = el('text', {
    x: (PAD.left + W - PAD.right) / 2,
    y: H - 4,
    'text-anchor': 'middle',
    class: 'axis',
  });
  xl.textContent = options.xLabel;
  const yl = el('text', { x: 4, y: 12, class: 'axis' });
  yl.textContent = options.yLabel;
  svg.append(xl, yl);

  // Each series as a staircase: across to the next x at the same y, then up or down.
  for (const s of series) {
    if (s.points.length === 0) continue;
    let d = `M${x(s.points[0][0])},${y(s.points[0][1])}`;
    for (let i = 1; i < s.points.length; i++) d += ` H${x(s.points[i][0])} V${y(s.points[i][1])}`;
    d += ` H${x(s.xEnd ?? s.points[s.points.length - 1][0])}`;
    svg.append(el('path', { d, fill: 'none', stroke: s.colour, 'stroke-width': 2, 'data-series': s.name }));
  }
  for (const m of options.marks ?? []) {
    svg.append(
      el('line', {
        x1: PAD.left,
        x2: W - PAD.right,
        y1: y(m.y),
        y2: y(m.y),
        stroke: m.colour,
        'stroke-dasharray': '5 4',
        'data-mark': m.name,
      }),
    );
  }
  // Legend, top right.
  const names = [
    ...series.map((s) => [s.name, s.colour]),
    ...(options.marks ?? []).map((m) => [m.name, m.colour]),
  ];
  names.forEach(([name, colour], i) => {
    const t = el('text', {
      x: W - PAD.right - 4,
      y: PAD.top + 12 + 14 * i,
      'text-anchor': 'end',
      fill: colour,
      class: 'legend',
    });
    t.textContent = name;
    svg.append(t);
  });
}
