/**
 * Every gridloop dashboard, in the order Grafana lists them. `npm run dashboards` writes each to
 * dashboards/generated/<uid>.json.
 */

import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { campaign } from './campaign/dashboard.ts';
import { devicesAndLinks } from './devices-links/dashboard.ts';
import { gridOverview } from './grid-overview/dashboard.ts';
import { market } from './market/dashboard.ts';
import { microgridDetail } from './microgrid/dashboard.ts';
import { security } from './security/dashboard.ts';
import { voltages } from './voltages/dashboard.ts';
import { vpp } from './vpp/dashboard.ts';

export const dashboards: readonly (() => dashboard.DashboardBuilder)[] = [
  gridOverview,
  voltages,
  microgridDetail,
  devicesAndLinks,
  security,
  campaign,
  vpp,
  market,
];

/** The dashboard as Grafana stores it: plain JSON, keys in a stable order. */
export function renderDashboard(builder: dashboard.DashboardBuilder): string {
  return `${JSON.stringify(builder.build(), null, 2)}\n`;
}
