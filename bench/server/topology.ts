/**
 * Derives the diagram payload (`GridTopology`) from the twin's grid model, laying buses out
 * automatically when the grid file did not give every bus coordinates.
 */
import { derGlyph } from '../../twin/der/technologies.ts';
import type { Grid } from '../../twin/grid/model.ts';
import type { GridTopology } from './api.ts';

export interface TopologyOptions {
  /** Device ids that are real boards closing the loop (their set-points need admin). */
  hardwareDevices?: readonly string[];
  /** Hardware devices the twin config places at buses (grid file `twin.hardware`); drawn as DERs. */
  hardware?: readonly { id: string; bus: string; rating_mva?: number }[];
}

export function topologyFromGrid(grid: Grid, options: TopologyOptions = {}): GridTopology {
  const hardware = new Set(options.hardwareDevices ?? []);
  const microgridOf = new Map(grid.buses.map((b) => [b.id, b.microgrid]));
  const hasCoordinates =
    grid.buses.length > 0 && grid.buses.every((b) => Number.isFinite(b.x) && Number.isFinite(b.y));
  const positions = hasCoordinates
    ? new Map(grid.buses.map((b) => [b.id, { x: b.x!, y: b.y! }]))
    : autoLayout(grid);
  return {
    name: grid.name,
    frequency_hz: grid.frequency_hz,
    layout: hasCoordinates ? 'coordinates' : 'auto',
    buses: grid.buses.map((b) => ({
      id: b.id,
      ...(b.name === undefined ? {} : { name: b.name }),
      x: positions.get(b.id)!.x,
      y: positions.get(b.id)!.y,
      baseKV: b.baseKV,
      ...(b.microgrid === undefined ? {} : { microgrid: b.microgrid }),
      ...(b.kind === 'slack' ? { slack: true } : {}),
    })),
    lines: grid.branches.map((br) => ({
      id: br.id,
      from: br.from,
      to: br.to,
      kind: br.kind,
      inService: br.inService,
      ...(!br.inService || microgridOf.get(br.from) !== microgridOf.get(br.to) ? { breaker: true } : {}),
    })),
    switches: grid.switches.map((s) => ({
      id: s.id,
      kind: s.kind,
      from: s.from,
      to: s.to,
      closed: s.closed,
    })),
    ders: [
      ...grid.ders.map((d) => ({
        id: d.id,
        bus: d.bus,
        technology: d.technology,
        glyph: derGlyph(d.technology),
        rating_mva: d.rating_mva,
        ...(hardware.has(d.id) ? { hardware: true } : {}),
      })),
      ...(options.hardware ?? []).map((h) => ({
        id: h.id,
        bus: h.bus,
        technology: 'hardware',
        glyph: derGlyph('hardware'),
        rating_mva: h.rating_mva ?? 1,
        hardware: true,
      })),
    ],
    loads: grid.loads.map((l) => ({ id: l.id, bus: l.bus, p_mw: l.p_mw })),
    fids: grid.fids.map((f) => ({ id: f.id, busA: f.busA, busB: f.busB, rating_mva: f.rating_mva })),
    microgrids: grid.microgrids.map((m) => ({
      id: m.id,
      ...(m.name === undefined ? {} : { name: m.name }),
      ...(m.pccSwitch === undefined ? {} : { pccSwitch: m.pccSwitch }),
    })),
  };
}

/**
 * Lays a grid out as a tree, the way feeders are drawn: a spanning tree is grown breadth-first from
 * the slack bus (through in-service lines and switches whatever their state; then through open ties
 * and FIDs to reach the rest), depth goes rightwards and
 * each bus's deepest branch continues straight on, so the main feeder is one horizontal line and
 * laterals drop below it. Meshed grids get the same treatment with their extra branches drawn as
 * chords. Disconnected parts are stacked below. Units: one bus spacing.
 */
export function autoLayout(grid: Grid): Map<string, { x: number; y: number }> {
  // Tier 0 is what a feeder is drawn along: in-service lines and switches. Normally-open ties
  // (tier 1) and FIDs (tier 2) are followed only to reach parts tier 0 cannot, so a tie never
  // bends the shape of a feeder it does not feed.
  const tiers = [0, 1, 2].map(() => new Map<string, string[]>(grid.buses.map((b) => [b.id, []])));
  const link = (tier: number, a: string, b: string) => {
    const adjacency = tiers[tier];
    if (a === b || !adjacency.has(a) || !adjacency.has(b)) return;
    adjacency.get(a)!.push(b);
    adjacency.get(b)!.push(a);
  };
  for (const br of grid.branches) link(br.inService ? 0 : 1, br.from, br.to);
  for (const s of grid.switches) link(0, s.from, s.to);
  for (const f of grid.fids) link(2, f.busA, f.busB);

  const children = new Map<string, string[]>();
  const visited = new Set<string>();
  const roots: string[] = [];
  const bfsOrder: string[] = [];
  const slackFirst = [...grid.buses].sort((a, b) => Number(b.kind === 'slack') - Number(a.kind === 'slack'));
  const attach = (queue: string[]): boolean => {
    for (const tier of [1, 2]) {
      for (const bus of queue) {
        for (const next of tiers[tier].get(bus)!) {
          if (visited.has(next)) continue;
          visited.add(next);
          children.get(bus)!.push(next);
          queue.push(next);
          return true;
        }
      }
    }
    return false;
  };
  for (const start of slackFirst) {
    if (visited.has(start.id)) continue;
    roots.push(start.id);
    visited.add(start.id);
    const queue = [start.id];
    let head = 0;
    do {
      for (; head < queue.length; head++) {
        const bus = queue[head];
        const kids: string[] = [];
        for (const next of tiers[0].get(bus)!) {
          if (visited.has(next)) continue;
          visited.add(next);
          kids.push(next);
          queue.push(next);
        }
        children.set(bus, kids);
      }
    } while (attach(queue));
    bfsOrder.push(...queue);
  }

  // Subtree heights, leaves first (reverse breadth-first order), without recursion.
  const heights = new Map<string, number>();
  for (let i = bfsOrder.length - 1; i >= 0; i--) {
    let h = 1;
    for (const kid of children.get(bfsOrder[i])!) h = Math.max(h, 1 + heights.get(kid)!);
    heights.set(bfsOrder[i], h);
  }
  const height = (bus: string) => heights.get(bus)!;

  const positions = new Map<string, { x: number; y: number }>();
  let nextRow = 0;
  const place = (bus: string, x: number) => {
    const kids = [...children.get(bus)!].sort((a, b) => height(b) - height(a));
    if (kids.length === 0) {
      positions.set(bus, { x, y: nextRow++ });
      return;
    }
    // The deepest branch is placed first and shares this bus's row.
    const row = nextRow;
    for (const kid of kids) place(kid, x + 1);
    positions.set(bus, { x, y: row });
  };
  // Placing recurses as deep as the longest feeder: fine for distribution grids, but a 10k-bus
  // chain would overflow the stack, so very deep grids fall back to rows of 100 buses.
  const deepest = Math.max(0, ...roots.map(height));
  if (deepest > 2000) {
    grid.buses.forEach((b, i) => {
      positions.set(b.id, { x: i % 100, y: Math.floor(i / 100) });
    });
    return positions;
  }
  for (const root of roots) {
    place(root, 0);
    nextRow++;
  }
  return positions;
}
