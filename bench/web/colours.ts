// One colour per area for the whole run: the main grid (feeder) and each microgrid keep theirs in
// readouts, diagram, legends and every chart, whatever islands the topology splits into. Keyed by
// microgrid id, never by an island's position in a list (which shifts when an island appears).
import type { GridTopology, LiveState } from '../server/api.ts';

export const PALETTE = [
  '#4ea1ff',
  '#3ecf8e',
  '#f5a524',
  '#b38cff',
  '#f25f5c',
  '#2dd4bf',
  '#ff7eb6',
  '#c9d23a',
];
/** De-energised buses and open breakers. */
export const DEAD = '#5b6675';
/** The area of buses outside every microgrid: the main grid's feeder. */
export const GRID_AREA = 'grid';

type Island = LiveState['islands'][number];

export class AreaColours {
  private readonly index = new Map<string, number>();

  constructor(topology: GridTopology | null) {
    this.index.set(GRID_AREA, 0);
    this.index.set('feeder', 0);
    for (const [i, m] of (topology?.microgrids ?? []).entries()) this.index.set(m.id, i + 1);
  }

  /** Colour of an area: `grid`, a microgrid id, or any other name (stable per name). */
  of(area: string): string {
    let i = this.index.get(area);
    if (i === undefined) {
      // Not a microgrid (a `bus-7` island cut off the feeder): a fixed slot after the microgrids.
      i = this.index.size + [...area].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7);
    }
    return PALETTE[i % PALETTE.length];
  }

  /**
   * The area an island is shown as: the main grid while it holds the grid connection, else its
   * first microgrid (the twin names islands by their microgrids joined with '+', or `bus-<n>`).
   */
  areaOfIsland(island: Pick<Island, 'id' | 'gridConnected'>): string {
    if (island.gridConnected) return GRID_AREA;
    return island.id.split('+').find((id) => this.index.has(id)) ?? island.id;
  }

  island(island: Pick<Island, 'id' | 'gridConnected'>): string {
    return this.of(this.areaOfIsland(island));
  }
}
