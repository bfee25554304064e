/** Microgrid detail, row "FID flows": transfers through the flexible interconnection devices. */

import { type Row, seriesPerTag, timeseriesPanel } from '../defaults.ts';

/**
 * An FID joins two microgrids, so its flows are shown whatever microgrid is chosen: side A and B
 * powers and the converter loss between them.
 */
export function fidFlows() {
  return timeseriesPanel(
    21,
    'FID flows',
    'Power at side A and side B of each FID, and its converter loss, MW.',
  )
    .unit('MW')
    .decimals(3)
    .withTarget(
      seriesPerTag(
        'fid',
        [
          { field: 'p_a_mw', fn: 'mean', as: 'side A' },
          { field: 'p_b_mw', fn: 'mean', as: 'side B' },
          { field: 'loss_mw', fn: 'mean', as: 'loss' },
        ],
        'fid',
      ),
    );
}

export function fidRow(): Row {
  return { title: 'FID flows', id: 20, panels: [fidFlows()] };
}
