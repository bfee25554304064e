// Single-line diagram drawn as SVG from the server's GridTopology, recoloured from each LiveState.
import type { GridTopology, LiveState } from '../server/api.ts';

/** A breaker the operator can toggle: a switch, or a branch drawn with a breaker symbol. */
export interface Breaker {
  id: string;
  kind: string;
  from: string;
  to: string;
  closed: boolean;
}

interface Point {
  x: number;
  y: number;
}

const SVG = 'http://www.w3.org/2000/svg';
export const ISLAND_COLOURS = [
  '#4ea1ff',
  '#3ecf8e',
  '#f5a524',
  '#b38cff',
  '#f25f5c',
  '#2dd4bf',
  '#ff7eb6',
  '#c9d23a',
];
const DEAD = '#5b6675';

function el<K extends keyof SVGElementTagNameMap>(
  name: K,
  attrs: Record<string, string | number> = {},
  parent?: Element,
): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  parent?.append(node);
  return node;
}

/** Connected components through in-service lines and closed switches (FIDs never merge islands). */
export function components(topology: GridTopology, switchClosed: (sw: Breaker) => boolean): string[][] {
  const parent = new Map(topology.buses.map((b) => [b.id, b.id]));
  const find = (x: string) => {
    while (parent.get(x) !== x) {
      parent.set(x, parent.get(parent.get(x)!)!);
      x = parent.get(x)!;
    }
    return x;
  };
  const join = (a: string, b: string) => {
    if (parent.has(a) && parent.has(b)) parent.set(find(a), find(b));
  };
  for (const line of topology.lines) if (line.inService && !line.breaker) join(line.from, line.to);
  for (const sw of breakersOf(topology)) if (switchClosed(sw)) join(sw.from, sw.to);
  const byRoot = new Map<string, string[]>();
  for (const bus of topology.buses) {
    const root = find(bus.id);
    if (!byRoot.has(root)) byRoot.set(root, []);
    byRoot.get(root)!.push(bus.id);
  }
  return [...byRoot.values()];
}

/** Switches, and branches drawn with a breaker (ties, microgrid boundaries): all operable by id. */
export function breakersOf(topology: GridTopology): Breaker[] {
  return [
    ...topology.switches,
    ...topology.lines
      .filter((l) => l.breaker)
      .map((l) => ({ id: l.id, kind: 'line breaker', from: l.from, to: l.to, closed: l.inService })),
  ];
}

export class Diagram {
  topology: GridTopology | null = null;
  /** Breaker id -> closed, from the state stream or a command result. */
  switchState = new Map<string, boolean>();
  canOperate = false;
  breakers: Breaker[] = [];
  /** Colour of an island, once a state has been drawn (the charts colour islands alike). */
  islandColour?: (islandId: string | undefined) => string;
  pos?: Map<string, Point>;
  lineEls = new Map<string, SVGPathElement>();
  busEls?: Map<string, SVGGElement>;
  switchEls = new Map<string, SVGGElement>();
  fidEls = new Map<
    string,
    { g: SVGGElement; arrow: SVGPathElement; value: SVGTextElement; mid: Point; angle: number }
  >();
  derEls = new Map<string, { g: SVGGElement; value: SVGTextElement; soc: SVGTextElement }>();

  constructor(
    readonly svg: SVGSVGElement,
    readonly handlers: { onSwitch?: (sw: { id: string; closed: boolean }) => void } = {},
  ) {}

  setOperable(yes: boolean): void {
    this.canOperate = yes;
    this.svg.classList.toggle('operable', yes);
  }

  setTopology(topology: GridTopology): void {
    this.topology = topology;
    this.breakers = breakersOf(topology);
    this.switchState = new Map(this.breakers.map((s) => [s.id, s.closed]));
    this.draw();
  }

  /** Remembers a switch position learnt from a command result when the state stream lacks it. */
  setSwitch(id: string, closed: boolean): void {
    this.switchState.set(id, closed);
  }

  draw(): void {
    const t = this.topology;
    const svg = this.svg;
    svg.replaceChildren();
    if (!t || t.buses.length === 0) return;
    const xs = t.buses.map((b) => b.x);
    const ys = t.buses.map((b) => b.y);
    const [minX, maxX, minY, maxY] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    // Coordinates from files may grow downwards or upwards, in any unit: scale to a fixed grid.
    const spanX = maxX - minX || 1;
    const spanY = maxY - minY || 1;
    // File coordinates come in any unit: one grid step is the smallest real gap between buses
    // (so neighbours do not overlap), keeping the file's aspect ratio.
    const unit =
      t.layout === 'auto' ? 1 : Math.max(smallestGap(xs, spanX), smallestGap(ys, spanY) * 0.66, spanX / 60);
    const cols = Math.max(1, spanX / unit);
    const rows = t.layout === 'auto' ? spanY : Math.max(1, spanY / unit / 1.5);
    // Rows further apart than columns: DERs and their readings hang below each bus.
    const step = 72;
    const stepY = 110;
    const pad = 50;
    const width = cols * step + 2 * pad;
    const height = rows * stepY + 2 * pad + 40;
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    const pos = new Map(
      t.buses.map((b) => [
        b.id,
        { x: pad + ((b.x - minX) / spanX) * cols * step, y: pad + ((b.y - minY) / spanY) * rows * stepY },
      ]),
    );
    this.pos = pos;
    const layers = {
      lines: el('g', { class: 'lines' }, svg),
      fids: el('g', { class: 'fids' }, svg),
      buses: el('g', { class: 'buses' }, svg),
      switches: el('g', { class: 'switches' }, svg),
      ders: el('g', { class: 'ders' }, svg),
    };
    this.lineEls = new Map();
    for (const line of t.lines) {
      if (line.breaker) continue;
      const a = pos.get(line.from);
      const b = pos.get(line.to);
      if (!a || !b) continue;
      const path = el(
        'path',
        { d: elbow(a, b), class: line.inService ? 'line' : 'line out-of-service' },
        layers.lines,
      );
      path.dataset.from = line.from;
      this.lineEls.set(line.id, path);
    }
    this.busEls = new Map();
    for (const bus of t.buses) {
      const p = pos.get(bus.id)!;
      const g = el(
        'g',
        { class: 'bus', 'data-bus': bus.id, transform: `translate(${p.x},${p.y})` },
        layers.buses,
      );
      el('rect', { x: -4, y: -11, width: 8, height: 22, rx: 2 }, g);
      const label = el('text', { x: 0, y: -16, class: 'bus-label' }, g);
      label.textContent = bus.name ?? bus.id;
      if (bus.slack) {
        const grid = el('g', { class: 'main-grid', transform: 'translate(-34,0)' }, g);
        el('circle', { r: 12 }, grid);
        el('path', { d: 'M-7,0 q3.5,-7 7,0 t7,0' }, grid);
        el('line', { x1: 12, y1: 0, x2: 30, y2: 0 }, grid);
      }
      this.busEls.set(bus.id, g);
    }
    this.switchEls = new Map();
    for (const sw of this.breakers) {
      const a = pos.get(sw.from);
      const b = pos.get(sw.to);
      if (!a || !b) continue;
      el('path', { d: elbow(a, b), class: 'line switch-line', 'data-switch-line': sw.id }, layers.lines);
      const mid = elbowMid(a, b);
      const g = el(
        'g',
        {
          class: 'switch',
          'data-switch': sw.id,
          transform: `translate(${mid.x},${mid.y})`,
          tabindex: 0,
          role: 'button',
        },
        layers.switches,
      );
      el('rect', { x: -9, y: -9, width: 18, height: 18, rx: 2 }, g);
      const label = el('text', { x: 0, y: 24, class: 'switch-label' }, g);
      label.textContent = sw.id;
      const title = el('title', {}, g);
      title.textContent = `${sw.kind} ${sw.id}`;
      const act = () => {
        if (!this.canOperate) return;
        this.handlers.onSwitch?.({ id: sw.id, closed: !this.switchState.get(sw.id) });
      };
      g.addEventListener('click', act);
      g.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') act();
      });
      this.switchEls.set(sw.id, g);
    }
    this.fidEls = new Map();
    for (const fid of t.fids) {
      const a = pos.get(fid.busA);
      const b = pos.get(fid.busB);
      if (!a || !b) continue;
      const g = el('g', { class: 'fid', 'data-fid': fid.id }, layers.fids);
      // The converter box sits off the straight path between its buses, so it hides neither.
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const len = Math.hypot(dx, dy) || 1;
      const off = 46;
      const box = { x: (a.x + b.x) / 2 + (-dy / len) * off, y: (a.y + b.y) / 2 + (dx / len) * off };
      el('path', { d: `M${a.x},${a.y} L${box.x},${box.y} L${b.x},${b.y}`, class: 'fid-path' }, g);
      const boxG = el('g', { transform: `translate(${box.x},${box.y})` }, g);
      el('rect', { x: -22, y: -12, width: 44, height: 24, rx: 4, class: 'fid-box' }, boxG);
      const name = el('text', { x: 0, y: 4, class: 'fid-name' }, boxG);
      name.textContent = 'FID';
      const arrow = el('path', { class: 'fid-arrow', d: 'M-8,-6 L8,0 L-8,6 Z' }, g);
      const value = el('text', { x: box.x, y: box.y + 28, class: 'fid-value' }, g);
      const angle = (Math.atan2(dy, dx) * 180) / Math.PI;
      this.fidEls.set(fid.id, { g, arrow, value, mid: { x: box.x, y: box.y - 22 }, angle });
    }
    this.derEls = new Map();
    const perBus = new Map<string, number>();
    for (const der of t.ders) {
      const p = pos.get(der.bus);
      if (!p) continue;
      const n = perBus.get(der.bus) ?? 0;
      perBus.set(der.bus, n + 1);
      const g = el(
        'g',
        {
          class: `der der-${der.technology}`,
          'data-der': der.id,
          transform: `translate(${p.x + n * 64},${p.y + 22})`,
        },
        layers.ders,
      );
      el('line', { x1: 0, y1: -11, x2: 0, y2: 0 }, g);
      el('circle', { cx: 0, cy: 9, r: 9 }, g);
      const glyph = el('text', { x: 0, y: 13, class: 'der-glyph' }, g);
      glyph.textContent = der.glyph ?? '~';
      // Name, power and state of charge stacked under the symbol: narrow enough for neighbours.
      const text = el('text', { x: 0, y: 30, class: 'der-name' }, g);
      text.textContent = der.hardware ? `${der.id} ⚙` : der.id;
      const value = el('text', { x: 0, y: 42, class: 'der-value' }, g);
      const soc = el('text', { x: 0, y: 54, class: 'der-value der-soc' }, g);
      this.derEls.set(der.id, { g, value, soc });
    }
  }

  /** Recolours the diagram from a state; returns the island each bus is in. */
  update(state: LiveState): Map<string, string> | undefined {
    const t = this.topology;
    if (!t || !this.busEls) return;
    if (state.switches)
      for (const [id, closed] of Object.entries(state.switches)) this.switchState.set(id, closed);
    const closed = (sw: Breaker) => this.switchState.get(sw.id) ?? sw.closed;
    // Prefer the twin's islands; otherwise derive them from switch positions.
    const islandOfBus = new Map<string, string>();
    const islandById = new Map(state.islands.map((i) => [i.id, i]));
    if (state.islands.some((i) => i.buses)) {
      for (const island of state.islands)
        for (const bus of island.buses ?? []) islandOfBus.set(bus, island.id);
    } else {
      for (const group of components(t, closed)) {
        const match =
          state.islands.find((i) => group.includes(i.id) || group.includes(i.id.replace(/^bus-/, ''))) ??
          state.islands.find((i) => group.some((b) => t.buses.find((x) => x.id === b)?.microgrid === i.id));
        const id = match?.id ?? `~${group[0]}`;
        for (const bus of group) islandOfBus.set(bus, id);
      }
    }
    const order = [...new Set(islandOfBus.values())].sort(naturalCompare);
    const colourOf = (islandId: string | undefined) => {
      const island = islandId === undefined ? undefined : islandById.get(islandId);
      if (island && !island.energised) return DEAD;
      return ISLAND_COLOURS[Math.max(0, order.indexOf(islandId as string)) % ISLAND_COLOURS.length];
    };
    this.islandColour = colourOf;
    for (const [id, g] of this.busEls) {
      const island = islandOfBus.get(id);
      g.style.setProperty('--c', colourOf(island));
      g.dataset.island = island ?? '';
    }
    for (const line of t.lines) {
      const path = this.lineEls.get(line.id);
      if (!path) continue;
      path.style.stroke = colourOf(islandOfBus.get(line.from));
    }
    for (const sw of this.breakers) {
      const g = this.switchEls.get(sw.id);
      if (!g) continue;
      const isClosed = closed(sw);
      g.classList.toggle('open', !isClosed);
      g.dataset.closed = String(isClosed);
      const line = this.svg.querySelector<SVGPathElement>(`[data-switch-line="${CSS.escape(sw.id)}"]`);
      if (line) {
        line.style.stroke = isClosed ? colourOf(islandOfBus.get(sw.from)) : DEAD;
        line.classList.toggle('open', !isClosed);
      }
    }
    for (const [id, f] of this.fidEls) {
      const flow = state.fids?.[id]?.p_mw ?? state.devices[id]?.p_mw;
      const known = typeof flow === 'number';
      f.value.textContent = known ? `${Math.abs(flow).toFixed(3)} MW` : '';
      const reverse = known && flow < 0;
      f.arrow.setAttribute(
        'transform',
        `translate(${f.mid.x},${f.mid.y}) rotate(${f.angle + (reverse ? 180 : 0)})`,
      );
      f.arrow.classList.toggle('idle', !known || Math.abs(flow) < 1e-4);
    }
    for (const [id, d] of this.derEls) {
      const s = state.devices[id];
      if (!s) {
        d.value.textContent = '';
        d.soc.textContent = '';
        continue;
      }
      d.value.textContent = `${s.p_mw.toFixed(3)} MW`;
      d.soc.textContent = s.tripped
        ? 'tripped'
        : !s.online
          ? 'offline'
          : typeof s.soc === 'number'
            ? `SoC ${(s.soc * 100).toFixed(0)}%`
            : '';
      d.g.classList.toggle('tripped', Boolean(s.tripped) || !s.online);
    }
    return islandOfBus;
  }
}

/** Smallest distance between distinct values, ignoring jitter below 1/200 of the span. */
function smallestGap(values: number[], span: number): number {
  const sorted = [...new Set(values)].sort((a, b) => a - b);
  let gap = span;
  for (let i = 1; i < sorted.length; i++) {
    const d = sorted[i] - sorted[i - 1];
    if (d > span / 200 && d < gap) gap = d;
  }
  return gap;
}

export function naturalCompare(a: string, b: string): number {
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}

/** Horizontal then vertical: how feeders are usually drawn. */
function elbow(a: Point, b: Point): string {
  if (a.y === b.y || a.x === b.x) return `M${a.x},${a.y} L${b.x},${b.y}`;
  return `M${a.x},${a.y} L${a.x},${b.y} L${b.x},${b.y}`;
}

function elbowMid(a: Point, b: Point): Point {
  if (a.y === b.y || a.x === b.x) return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
  return { x: (a.x + b.x) / 2, y: b.y };
}
