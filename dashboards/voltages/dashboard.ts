/** Voltages: a per-bus heatmap and the min/max envelope against the 0.88/1.10 pu limits. */

import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { baseDashboard, withRow } from '../defaults.ts';
import { envelopeRow } from './envelope.ts';
import { heatmapRow } from './heatmap.ts';

export const VOLTAGES_UID = 'gridloop-voltages';

export function voltages(): dashboard.DashboardBuilder {
  let builder = baseDashboard(
    VOLTAGES_UID,
    'gridloop / Voltages',
    'Voltage magnitude of every bus, and the lowest and highest bus voltage against 0.88/1.10 pu.',
  );
  for (const row of [heatmapRow(), envelopeRow()]) builder = withRow(builder, row);
  return builder;
}
