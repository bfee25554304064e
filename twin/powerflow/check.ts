import { type Grid, GridInputError } from '../grid/model.ts';
import type { ElementLocator } from '../grid/validate.ts';
import { compileNetwork, findIslands } from './network.ts';

/**
 * Rejects a grid file in which an island has generation but neither a slack bus nor a
 * grid-forming unit to hold its angle and absorb its imbalance. At run time the solver reports
 * such an island as 'no-reference'; for a file it is an input error, named at the first unit of
 * that island.
 */
export function checkIslandReferences(grid: Grid, file: string, locate?: ElementLocator): void {
  const net = compileNetwork(grid);
  for (const island of findIslands(net)) {
    if (island.kind !== 'no-reference') continue;
    const buses = new Set(island.buses);
    const unit = net.unitIds.findIndex((_, u) => net.unitInService[u] === 1 && buses.has(net.unitBus[u]!));
    const isGenerator = unit < grid.generators.length;
    const kind = isGenerator ? 'generators' : 'ders';
    const index = isGenerator ? unit : unit - grid.generators.length;
    const ids = Array.from(island.buses.subarray(0, 5), (b) => net.busIds[b]).join(', ');
    throw new GridInputError(
      `the island of buses ${ids}${island.buses.length > 5 ? ', …' : ''} has generation ('${net.unitIds[unit]}') ` +
        'but no slack bus and no grid-forming unit: mark a bus as slack or a unit as grid-forming',
      { file, line: locate?.(kind, index, 'bus').line, path: `/${kind}/${index}` },
    );
  }
}
