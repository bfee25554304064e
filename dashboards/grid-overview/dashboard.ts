/** Grid overview: frequency per island, ROCOF, PCC power and island membership. */

import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { baseDashboard, nominalFrequencyVariable, withRow } from '../defaults.ts';
import { frequencyRow } from './frequency.ts';
import { islandsRow } from './islands.ts';
import { pccRow } from './pcc.ts';

export const GRID_OVERVIEW_UID = 'gridloop-grid-overview';

export function gridOverview(): dashboard.DashboardBuilder {
  let builder = baseDashboard(
    GRID_OVERVIEW_UID,
    'gridloop / Grid overview',
    'Frequency deviation from nominal and ROCOF of every island, power at the points of common coupling, island membership.',
  ).withVariable(nominalFrequencyVariable());
  for (const row of [frequencyRow(), pccRow(), islandsRow()]) builder = withRow(builder, row);
  return builder;
}
