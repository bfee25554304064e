/** VPP, row "Flexibility": the aggregate bounds and storage the dispatch used, with the solver's time. */

import { type Row, seriesPerTag, timeseriesPanel } from '../defaults.ts';

export function aggregateFlexibility() {
  return timeseriesPanel(
    11,
    'Aggregate flexibility',
    'Lowest and highest output the VPP’s members could deliver at each decision (availability, storage energy, ramps, preferences), with the target inside.',
  )
    .unit('MW')
    .decimals(3)
    .withTarget(
      seriesPerTag(
        'vpp',
        [
          { field: 'flex_pmin_mw', fn: 'mean', as: 'lowest' },
          { field: 'flex_pmax_mw', fn: 'mean', as: 'highest' },
          { field: 'target_mw', fn: 'mean', as: 'target' },
        ],
        'vpp',
      ),
    );
}

export function storageEnergy() {
  return timeseriesPanel(
    12,
    'VPP storage energy',
    'Energy the members’ storage holds above its minimum state of charge, and the room left below its maximum.',
  )
    .unit('MWh')
    .decimals(3)
    .withTarget(
      seriesPerTag(
        'vpp',
        [
          { field: 'stored_energy_mwh', fn: 'mean', as: 'stored' },
          { field: 'storage_room_mwh', fn: 'mean', as: 'room' },
        ],
        'vpp',
      ),
    );
}

export function solveTime() {
  return timeseriesPanel(
    13,
    'VPP solve time',
    'Time each dispatch took in the controller’s worker (off the loop’s step path).',
  )
    .unit('ms')
    .decimals(2)
    .withTarget(seriesPerTag('vpp', [{ field: 'solve_ms', fn: 'max', as: 'solve' }], 'vpp'));
}

export function flexibilityRow(): Row {
  return { title: 'Flexibility', id: 10, panels: [aggregateFlexibility(), storageEnergy(), solveTime()] };
}
