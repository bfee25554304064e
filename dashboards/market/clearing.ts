/** Market, row "Clearing": each microgrid's clearing price with its bracket, and the energy it traded. */

import * as common from '@grafana/grafana-foundation-sdk/common';
import { PRICE_PER_MWH, type Row, WATT_HOURS } from '../defaults.ts';
import { barsPanel, perInterval, stepsPanel } from './per-interval.ts';

/** The microgrids chosen in the `microgrid` variable. */
export const MARKET_MICROGRID = { tag: 'microgrid', matches: '$microgrid' } as const;

export function clearingPrice() {
  return stepsPanel(
    2,
    'Clearing price per microgrid',
    'Price each microgrid cleared at in each interval (held until the next), with the bracket of prices that support the same trades (dashed). Microgrids split apart when an FID limit binds.',
  )
    .unit(PRICE_PER_MWH)
    .decimals(0)
    .withTarget(
      perInterval(
        'market_interval',
        [
          { field: 'price', as: 'price' },
          { field: 'price_lo', as: 'bracket low' },
          { field: 'price_hi', as: 'bracket high' },
        ],
        ['microgrid'],
        [MARKET_MICROGRID],
      ),
    )
    .overrideByRegexp('/bracket/', [
      { id: 'custom.lineStyle', value: new common.LineStyleBuilder().fill('dash').dash([6, 4]).build() },
    ]);
}

export function peerToPeerEnergy() {
  return barsPanel(
    3,
    'Energy traded peer to peer',
    'Energy each microgrid’s participants bought from and sold to other participants in each interval (matched orders).',
    'start',
  )
    .unit(WATT_HOURS)
    .decimals(1)
    .withTarget(
      perInterval(
        'market_interval',
        [
          { field: 'bought_wh', as: 'bought' },
          { field: 'sold_wh', as: 'sold' },
        ],
        ['microgrid'],
        [MARKET_MICROGRID],
      ),
    );
}

export function mainGridEnergy() {
  return barsPanel(
    4,
    'Energy with the main grid',
    'What each microgrid’s orders left unmatched in each interval, bought from the main grid at the retail price or sold to it at the feed-in price.',
    'start',
  )
    .unit(WATT_HOURS)
    .decimals(1)
    .withTarget(
      perInterval(
        'market_interval',
        [
          { field: 'grid_bought_wh', as: 'bought from grid' },
          { field: 'grid_sold_wh', as: 'sold to grid' },
        ],
        ['microgrid'],
        [MARKET_MICROGRID],
      ),
    );
}

export function clearingRow(): Row {
  return { title: 'Clearing', id: 1, panels: [clearingPrice(), peerToPeerEnergy(), mainGridEnergy()] };
}
