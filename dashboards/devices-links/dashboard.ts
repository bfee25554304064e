/** Devices and links: RTT, CRC errors, link state, loop lateness and overruns. */

import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { baseDashboard, withRow } from '../defaults.ts';
import { linksRow } from './links.ts';
import { loopRow } from './loop.ts';

export const DEVICES_LINKS_UID = 'gridloop-devices-links';

export function devicesAndLinks(): dashboard.DashboardBuilder {
  let builder = baseDashboard(
    DEVICES_LINKS_UID,
    'gridloop / Devices and links',
    'Serial link round-trip time, errors and state per device; real-time loop lateness and overruns.',
  );
  for (const row of [linksRow(), loopRow()]) builder = withRow(builder, row);
  return builder;
}
