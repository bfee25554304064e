/**
 * Market: the P2P market of a run (docs/market.md, measurements market_interval, market_trade,
 * market_fid, market_account and chain): clearing prices and volumes per microgrid, FID delivery
 * against the clearing, each participant's trades and ledger account, and the chain's health.
 */

import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { baseDashboard, tagVariable, withRow } from '../defaults.ts';
import { chainRow } from './chain.ts';
import { clearingRow } from './clearing.ts';
import { deliveryRow } from './delivery.ts';
import { participantsRow } from './participants.ts';

export const MARKET_UID = 'gridloop-market';

export function market(): dashboard.DashboardBuilder {
  let builder = baseDashboard(
    MARKET_UID,
    'gridloop / Market',
    'P2P energy market: clearing price per interval and microgrid with its bracket, energy traded peer to peer and with the main grid, FID delivery against the clearing, each participant’s trades, deliveries, deposit, penalties and reputation, and the ledger chain’s health.',
    // Runs with a market: `simulate` of a scenario with `market:`, `gridloop attack` of one with ledger attacks.
    'market_interval',
  )
    .withVariable(
      tagVariable(
        'microgrid',
        'Microgrid',
        'Microgrids of the chosen run’s market',
        'market_interval',
        'microgrid',
      ),
    )
    .withVariable(
      tagVariable(
        'participant',
        'Participant',
        'Market participants of the chosen run',
        'market_trade',
        'participant',
      ),
    );
  for (const row of [clearingRow(), deliveryRow(), participantsRow(), chainRow()])
    builder = withRow(builder, row);
  return builder;
}
