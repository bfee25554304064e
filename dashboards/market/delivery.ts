/** Market, row "Delivery": what the FIDs were cleared to carry between microgrids against what they carried. */

import * as table from '@grafana/grafana-foundation-sdk/table';
import { PANEL_HEIGHT, panelHead, type Row, RUN, target, WATT_HOURS } from '../defaults.ts';
import { barsPanel, perInterval } from './per-interval.ts';

export function fidEnergy() {
  return barsPanel(
    11,
    'FID energy: cleared and delivered',
    'Per FID and interval: the exchange the market cleared (A→B positive) and the energy the converter carried.',
    'end',
  )
    .unit(WATT_HOURS)
    .decimals(1)
    .withTarget(
      perInterval(
        'market_fid',
        [
          { field: 'cleared_wh', as: 'cleared' },
          { field: 'delivered_wh', as: 'delivered' },
        ],
        ['fid'],
      ),
    );
}

/** One line per FID and interval; sort by `shortfall` or `binding` to find them with their constraint. */
export function fidShortfalls() {
  return panelHead(
    new table.PanelBuilder(),
    12,
    'FID shortfalls and binding limits',
    'Per FID and interval: cleared and delivered energy, relative error, whether the FID’s rating bound the clearing, whether it fell short of the tolerance, and the constraint that bound it.',
    PANEL_HEIGHT,
  )
    .withTarget(
      target('A', {
        from: 'market_fid',
        fields: [
          { field: 'cleared_wh' },
          { field: 'delivered_wh' },
          { field: 'error' },
          { field: 'binding' },
          { field: 'shortfall' },
          { field: 'constraint' },
        ],
        tagColumns: ['fid'],
        where: [RUN],
        interval: false,
      }).resultFormat('table'),
    )
    .overrideByRegexp('/_wh$/', [{ id: 'unit', value: WATT_HOURS }])
    .overrideByName('error', [{ id: 'unit', value: 'percentunit' }]);
}

export function deliveryRow(): Row {
  return { title: 'Delivery', id: 10, panels: [fidEnergy(), fidShortfalls()] };
}
