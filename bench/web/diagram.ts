// Single-line diagram drawn as SVG from the server's GridTopology, recoloured from each LiveState.
import type { GridTopology, LiveState } from '../server/api.ts';
import { channelTarget } from './attacks.ts';
import { AreaColours, DEAD, GRID_AREA } from './colours.ts';

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
  /** Colours per area (main grid, microgrids), set with the topology; the page shares them. */
  colours = new AreaColours(null);
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
    this.colours = new AreaColours(topology);
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
    let height = rows * stepY + 2 * pad + 40;
    svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    const pos = new Map(
      t.buses.map((b) => [
        b.id,
        { x: pad + ((b.x - minX) / spanX) * cols * step, y: pad + ((b.y - minY) / spanY) * rows * stepY },
      ]),
    );
    // Ties that detour above their row need room there for their symbol and label.
    const routes = new Map<string, TieRoute>();
    // Where the FID boxes will go (near the middle between their buses): tie legs keep clear.
    const fidMids = () =>
      t.fids.flatMap((f) => {
        const [a, b] = [pos.get(f.busA), pos.get(f.busB)];
        return a && b ? [{ x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 }] : [];
      });
    // The symbols of ties within a row are obstacles too: a tie between rows passes beside them.
    const rowTieMids = () =>
      this.breakers.flatMap((sw) => {
        const [a, b] = [pos.get(sw.from), pos.get(sw.to)];
        return a && b && a.y === b.y ? [tieRoute(a, b, pos.values(), []).mid] : [];
      });
    for (const sw of this.breakers) {
      const a = pos.get(sw.from);
      const b = pos.get(sw.to);
      if (a && b) routes.set(sw.id, tieRoute(a, b, [...pos.values(), ...rowTieMids()], fidMids()));
    }
    const detoured = [...routes.values()].filter((r) => r.detour);
    if (detoured.length > 0) {
      for (const p of pos.values()) p.y += TIE_DETOUR;
      for (const sw of this.breakers) {
        const [a, b] = [pos.get(sw.from), pos.get(sw.to)];
        if (a && b) routes.set(sw.id, tieRoute(a, b, [...pos.values(), ...rowTieMids()], fidMids()));
      }
      height += TIE_DETOUR;
      svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
    }
    // A tie's leg goes up through where the bus label would be: that label moves aside.
    const legBuses = new Set(
      this.breakers.filter((sw) => routes.get(sw.id)?.detour).flatMap((sw) => [sw.from, sw.to]),
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
      const label = legBuses.has(bus.id)
        ? el('text', { x: 7, y: -14, class: 'bus-label beside' }, g)
        : el('text', { x: 0, y: -16, class: 'bus-label' }, g);
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
      const route = routes.get(sw.id) ?? tieRoute(a, b, pos.values(), []);
      el('path', { d: route.d, class: 'line switch-line', 'data-switch-line': sw.id }, layers.lines);
      const mid = route.mid;
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
      // Above the symbol of a detoured tie: below it is the row's bus labels.
      const label = el('text', { x: 0, y: route.detour ? -14 : 24, class: 'switch-label' }, g);
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
    const fidPlacements: {
      g: SVGGElement;
      value: SVGTextElement;
      path: SVGPathElement;
      place: (along: number, off: number) => void;
    }[] = [];
    for (const fid of t.fids) {
      const a = pos.get(fid.busA);
      const b = pos.get(fid.busB);
      if (!a || !b) continue;
      const g = el('g', { class: 'fid', 'data-fid': fid.id }, layers.fids);
      const dx = b.x - a.x;
      const dy = b.y - a.y;
      const len = Math.hypot(dx, dy) || 1;
      const path = el('path', { class: 'fid-path' }, g);
      const boxG = el('g', {}, g);
      el('rect', { x: -22, y: -12, width: 44, height: 24, rx: 4, class: 'fid-box' }, boxG);
      const name = el('text', { x: 0, y: 4, class: 'fid-name' }, boxG);
      name.textContent = 'FID';
      const arrow = el('path', { class: 'fid-arrow', d: 'M-8,-6 L8,0 L-8,6 Z' }, g);
      const value = el('text', { class: 'fid-value' }, g);
      value.textContent = '0.000 MW';
      const angle = (Math.atan2(dy, dx) * 180) / Math.PI;
      const entry = { g, arrow, value, mid: { x: 0, y: 0 }, angle };
      // The converter box sits off the straight path between its buses, so it hides neither.
      const place = (along: number, off: number) => {
        const box = { x: a.x + dx * along + (-dy / len) * off, y: a.y + dy * along + (dx / len) * off };
        path.setAttribute('d', `M${a.x},${a.y} L${box.x},${box.y} L${b.x},${b.y}`);
        boxG.setAttribute('transform', `translate(${box.x},${box.y})`);
        value.setAttribute('x', String(box.x));
        value.setAttribute('y', String(box.y + 28));
        entry.mid = { x: box.x, y: box.y - 22 };
      };
      fidPlacements.push({ g: boxG, value, path, place });
      place(0.5, 46);
      this.fidEls.set(fid.id, entry);
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
      // Lines spaced in em, so larger projector text does not run them together.
      const labels = el('g', { class: 'der-labels' }, g);
      const text = el('text', { x: 0, y: '2.9em', class: 'der-name' }, labels);
      text.textContent = der.hardware ? `${der.id} ⚙` : der.id;
      const value = el('text', { x: 0, y: '4.1em', class: 'der-value' }, labels);
      const soc = el('text', { x: 0, y: '5.3em', class: 'der-value der-soc' }, labels);
      // Widest values they will show, so the FID boxes below are placed clear of them.
      value.textContent = '-0.000 MW';
      if (der.technology === 'battery') soc.textContent = 'SoC 100%';
      this.derEls.set(der.id, { g, value, soc });
    }
    this.staggerDerLabels();
    for (const fid of fidPlacements) this.placeClear(fid);
    // Labels moved down may hang below the grid: the drawing grows to show them.
    const content = svg.getBBox();
    const bottom = Math.ceil(content.y + content.height + 8);
    if (bottom > height) svg.setAttribute('viewBox', `0 0 ${width} ${bottom}`);
  }

  /**
   * Moves a DER's labels down (a longer stem) while they would run into a neighbour's, and aside
   * when a tie's leg runs down through them (projector text is wider than half a column).
   */
  private staggerDerLabels(): void {
    // Everything else already drawn (bus and switch labels, DER symbols) is in the way too.
    const placed: DOMRect[] = [...this.svg.querySelectorAll<SVGGraphicsElement>('text, circle, rect')]
      .filter((e) => !e.closest('.der-labels, .fid'))
      .map((e) => e.getBoundingClientRect())
      .filter((r) => r.width > 0);
    const overlaps = (r: DOMRect) => placed.some((o) => intersect(r, o));
    const linePoints = [...this.svg.querySelectorAll<SVGPathElement>('path.line')].flatMap(pointsOf);
    const crossing = (r: DOMRect) => linePoints.filter((p) => inside(p, r));
    for (const { g } of this.derEls.values()) {
      const labels = g.querySelector<SVGGElement>('.der-labels');
      const stem = g.querySelector('line');
      if (!labels || !stem) continue;
      const height = labels.getBoundingClientRect().height;
      const scale = height / (labels.getBBox().height || height || 1) || 1;
      const at = (dx: number, down: number) => {
        labels.setAttribute('transform', `translate(${dx},${down})`);
        return labels.getBoundingClientRect();
      };
      let best = { dx: 0, down: 0 };
      for (let step = 0; step < 6; step++) {
        const down = (step * height) / scale;
        const r = at(0, down);
        if (overlaps(r)) continue;
        const crossed = crossing(r);
        if (crossed.length === 0) {
          best = { dx: 0, down };
          break;
        }
        // A leg down through the labels: slide them off it, away from the side it runs on.
        const xs = crossed.map((p) => p.x);
        const centre = (r.left + r.right) / 2;
        const shift =
          xs.reduce((a, x) => a + x, 0) / xs.length > centre
            ? Math.min(...xs) - r.right - 3
            : Math.max(...xs) - r.left + 3;
        const dx = shift / scale;
        const moved = at(dx, down);
        if (!overlaps(moved) && crossing(moved).length === 0) {
          best = { dx, down };
          break;
        }
      }
      at(best.dx, best.down);
      // A leader from the symbol to its moved labels, so they still read as its own.
      if (best.down > 0 || best.dx !== 0)
        el('line', { x1: 0, y1: 18, x2: best.dx, y2: 18 + best.down, class: 'der-leader' }, g);
      placed.push(labels.getBoundingClientRect());
    }
  }

  /**
   * Moves a FID box (and its value) off the straight path between its buses, and along it, until it
   * covers no other label and no line runs through it.
   */
  private placeClear(fid: {
    g: SVGGElement;
    value: SVGTextElement;
    path: SVGPathElement;
    place: (along: number, off: number) => void;
  }): void {
    const elements = [
      ...this.svg.querySelectorAll<SVGGraphicsElement>('text, .der circle, .bus rect, .switch rect'),
    ].filter((e) => !e.closest('.fid'));
    const others = elements.map((e) => e.getBoundingClientRect()).filter((r) => r.width > 0);
    const labels = elements
      .filter((e) => e.tagName === 'text' && (e.textContent ?? '').trim() !== '')
      .map((e) => e.getBoundingClientRect());
    const hits = (r: DOMRect) => others.some((o) => intersect(r, o));
    // The dashed path to the box must not run through another label, nor a line through the box.
    const crossesLabel = () => pointsOf(fid.path).some((p) => labels.some((r) => inside(p, r)));
    const linePoints = [...this.svg.querySelectorAll<SVGPathElement>('path.line')].flatMap(pointsOf);
    const crossedByLine = (r: DOMRect) => linePoints.some((p) => inside(p, r));
    const clear = (strict: boolean) => {
      const box = fid.g.getBoundingClientRect();
      const value = fid.value.getBoundingClientRect();
      return (
        !hits(box) &&
        !hits(value) &&
        !crossedByLine(box) &&
        !crossedByLine(value) &&
        !(strict && crossesLabel())
      );
    };
    // Nearest the middle first; a crowded middle (a tie's leg running down it) sends it along.
    const candidates = [46, 80, 120, 160, 200].flatMap((off) =>
      FID_ALONG.flatMap((along) => [[along, off] as const, [along, -off] as const]),
    );
    // Crowded: a label crossed by the thin dashed path is the lesser evil.
    for (const strict of [true, false])
      for (const [along, off] of candidates) {
        fid.place(along, off);
        if (clear(strict)) return;
      }
    fid.place(0.5, 46);
  }

  /** Marks what the channels attacked now belong to (bus, line or device and its bus). */
  setAttacked(channels: string[]): void {
    const t = this.topology;
    if (!t) return;
    for (const node of this.svg.querySelectorAll('.attacked')) node.classList.remove('attacked');
    for (const channel of channels) {
      const { bus, line, device } = channelTarget(channel);
      const der = device === undefined ? undefined : t.ders.find((d) => d.id === device);
      if (der) this.derEls.get(der.id)?.g.classList.add('attacked');
      const busId = bus ?? der?.bus;
      if (busId !== undefined) this.busEls?.get(busId)?.classList.add('attacked');
      if (line !== undefined) this.lineEls.get(line)?.classList.add('attacked');
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
    // A bus keeps its area's colour (main grid or its microgrid) whatever island it is in, so a
    // microgrid is recognisable before and after islanding; a dead island greys out.
    const areaOfBus = new Map(t.buses.map((b) => [b.id, b.microgrid ?? GRID_AREA]));
    const colourOfBus = (bus: string) => {
      const islandId = islandOfBus.get(bus);
      const island = islandId === undefined ? undefined : islandById.get(islandId);
      if (island && !island.energised) return DEAD;
      return this.colours.of(areaOfBus.get(bus) ?? GRID_AREA);
    };
    for (const [id, g] of this.busEls) {
      const island = islandOfBus.get(id);
      g.style.setProperty('--c', colourOfBus(id));
      g.dataset.island = island ?? '';
    }
    for (const line of t.lines) {
      const path = this.lineEls.get(line.id);
      if (!path) continue;
      path.style.stroke = colourOfBus(line.from);
    }
    for (const sw of this.breakers) {
      const g = this.switchEls.get(sw.id);
      if (!g) continue;
      const isClosed = closed(sw);
      g.classList.toggle('open', !isClosed);
      g.dataset.closed = String(isClosed);
      const line = this.svg.querySelector<SVGPathElement>(`[data-switch-line="${CSS.escape(sw.id)}"]`);
      if (line) {
        line.style.stroke = isClosed ? colourOfBus(sw.from) : DEAD;
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

/** Whether two screen boxes share more than a pixel each way. */
function intersect(a: DOMRect, b: DOMRect): boolean {
  return (
    Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 &&
    Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1
  );
}

/** Whether a point lies inside a screen box (by more than a pixel). */
function inside(p: DOMPoint, r: DOMRect): boolean {
  return p.x > r.left + 1 && p.x < r.right - 1 && p.y > r.top + 1 && p.y < r.bottom - 1;
}

/** Points every 3 px along a path, in screen coordinates (to test what it runs through). */
function pointsOf(path: SVGPathElement): DOMPoint[] {
  const ctm = path.getScreenCTM();
  if (!ctm) return [];
  const points: DOMPoint[] = [];
  const length = path.getTotalLength();
  for (let at = 0; at <= length; at += 3) {
    const q = path.getPointAtLength(at);
    points.push(new DOMPoint(q.x, q.y).matrixTransform(ctm));
  }
  return points;
}

/** Where along the path between its buses a FID box may sit, in order of preference. */
const FID_ALONG = [0.5, 0.4, 0.6, 0.3, 0.7];
/** How far above its row a tie detours when a straight path would run over other buses. */
const TIE_DETOUR = 40;
/** How far beside its bus a tie between rows runs (half a column: between buses). */
const TIE_LEG_OFFSET = 36;

/**
 * A breaker's path and where its symbol goes: an elbow, except between two buses of one row with
 * buses between them (a normally-open tie along a feeder), which would lie on the feeder and put
 * the symbol and label on a bus and its lines: that one detours above the row.
 */
interface TieRoute {
  d: string;
  mid: Point;
  detour: boolean;
}

function tieRoute(a: Point, b: Point, buses: Iterable<Point>, avoid: readonly Point[]): TieRoute {
  const [left, right] = a.x < b.x ? [a.x, b.x] : [b.x, a.x];
  const over = a.y === b.y && [...buses].some((p) => p.y === a.y && p.x > left + 1 && p.x < right - 1);
  if (a.y !== b.y) {
    // Between rows: the vertical leg runs half a column beside one end, clear of the labels and
    // devices stacked under it, then along the other end's row; of the four such routes, the one
    // passing fewest other buses.
    const all = [...buses];
    const routes = [
      [a, b, 1],
      [a, b, -1],
      [b, a, 1],
      [b, a, -1],
    ].map(([from, to, side]) => {
      const [p, q] = [from as Point, to as Point];
      const legX = p.x + (side as number) * TIE_LEG_OFFSET;
      const stubY = p.y + Math.sign(q.y - p.y) * 28;
      const [lo, hi] = legX < q.x ? [legX, q.x] : [q.x, legX];
      const [top, bottom] = p.y < q.y ? [p.y, q.y] : [q.y, p.y];
      const passed = all.filter(
        (o) =>
          (o !== p && o !== q && Math.abs(o.y - q.y) < 1 && o.x > lo - 8 && o.x < hi + 8) ||
          (Math.abs(o.x - legX) < 30 && o.y > top - 1 && o.y < bottom + 1),
      ).length;
      // A leg past a FID box's place counts as much as a bus passed.
      const nearFid = avoid.filter(
        (f) => Math.abs(f.x - legX) < 60 && f.y > top - 1 && f.y < bottom + 1,
      ).length;
      return {
        passed: passed + nearFid,
        route: {
          d: `M${p.x},${p.y} L${legX},${stubY} L${legX},${q.y} L${q.x},${q.y}`,
          mid: { x: (legX + q.x) / 2, y: q.y },
          detour: false,
        },
      };
    });
    return routes.reduce((best, r) => (r.passed < best.passed ? r : best)).route;
  }
  if (!over) return { d: elbow(a, b), mid: elbowMid(a, b), detour: false };
  const y = a.y - TIE_DETOUR;
  return {
    d: `M${a.x},${a.y} L${a.x},${y} L${b.x},${y} L${b.x},${b.y}`,
    mid: { x: (a.x + b.x) / 2, y },
    detour: true,
  };
}

function elbowMid(a: Point, b: Point): Point {
  if (a.y === b.y || a.x === b.x) return { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
  return { x: (a.x + b.x) / 2, y: b.y };
}
