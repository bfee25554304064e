/**
 * VPP: a virtual power plant on the live bench (docs/vpp.md, measurements `vpp` and `vpp_member`):
 * target against delivered and the internal price, the aggregate flexibility the dispatch used, and
 * each member's contribution, set-point and tracking error. Members can be narrowed to prosumers.
 */

import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { baseDashboard, tagVariable, withRow } from '../defaults.ts';
import { flexibilityRow } from './flexibility.ts';
import { membersRow } from './members.ts';
import { targetRow } from './target.ts';

export const VPP_UID = 'gridloop-vpp';

/** The prosumer variable: prosumers of the run's VPP members (members without one match All). */
export function prosumerVariable(): dashboard.QueryVariableBuilder {
  return tagVariable(
    'prosumer',
    'Prosumer',
    'Prosumers of the VPP members in the chosen run (All includes members without one)',
    'vpp_member',
    'prosumer',
  );
}

export function vpp(): dashboard.DashboardBuilder {
  let builder = baseDashboard(
    VPP_UID,
    'gridloop / VPP',
    'Virtual power plant: target against delivered, internal price, aggregate flexibility, and each member’s contribution, set-point and tracking error.',
  ).withVariable(prosumerVariable());
  for (const row of [targetRow(), flexibilityRow(), membersRow()]) builder = withRow(builder, row);
  return builder;
}
