/** Grid overview, row "Point of common coupling": power exchanged with the main grid. */

import { FULL_WIDTH, type Row, seriesPerTag, timeseriesPanel } from '../defaults.ts';

/** Positive when the microgrid imports from the main grid (docs/grafana.md, measurement `pcc`). */
export function pccPower() {
  return timeseriesPanel(
    11,
    'PCC power',
    'Active and reactive power through each microgrid PCC (import positive).',
  )
    .unit('MW')
    .decimals(3)
    .span(FULL_WIDTH)
    .withTarget(
      seriesPerTag(
        'pcc',
        [
          { field: 'p_mw', fn: 'mean', as: 'P' },
          { field: 'q_mvar', fn: 'mean', as: 'Q' },
        ],
        'microgrid',
      ),
    );
}

export function pccRow(): Row {
  return { title: 'Point of common coupling', id: 10, panels: [pccPower()] };
}
