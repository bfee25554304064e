/** Microgrid detail: DER powers, battery SoC, FID flows and EMS mode, per chosen microgrid. */

import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { baseDashboard, microgridVariable, withRow } from '../defaults.ts';
import { derRow } from './der.ts';
import { emsRow } from './ems.ts';
import { fidRow } from './fid.ts';
import { storageRow } from './storage.ts';

export const MICROGRID_UID = 'gridloop-microgrid';

export function microgridDetail(): dashboard.DashboardBuilder {
  let builder = baseDashboard(
    MICROGRID_UID,
    'gridloop / Microgrid detail',
    'DER active and reactive power, battery state of charge, FID flows and EMS mode of the chosen microgrids.',
  ).withVariable(microgridVariable());
  for (const row of [derRow(), storageRow(), fidRow(), emsRow()]) builder = withRow(builder, row);
  return builder;
}
