/** VPP, row "Members": each member's contribution, set-point and how well it tracked it. */

import * as common from '@grafana/grafana-foundation-sdk/common';
import { type Row, seriesPerTag, timeseriesPanel } from '../defaults.ts';
import type { FieldOf } from '../schema.ts';

/** Members of the chosen prosumers (All: every member, those without a prosumer included). */
const PROSUMER = { tag: 'prosumer', matches: '$prosumer' } as const;

/** Query A: one member field, a series per member of the chosen prosumers ("<member> <column>"). */
const perMember = (field: FieldOf<'vpp_member'>, as: string) =>
  seriesPerTag('vpp_member', [{ field, fn: 'mean', as }], 'member', [PROSUMER]);

export function memberContribution() {
  return timeseriesPanel(
    21,
    'Member contribution',
    'Measured output of each member, stacked: together they make the VPP’s delivered power.',
  )
    .unit('MW')
    .decimals(3)
    .fillOpacity(40)
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
    .withTarget(perMember('measured_mw', 'measured'));
}

export function memberSetpoints() {
  return timeseriesPanel(
    22,
    'Member set-points',
    'Set-point the VPP sent each member at each decision (none while opted out, offline or excluded).',
  )
    .unit('MW')
    .decimals(3)
    .withTarget(perMember('setpoint_mw', 'set-point'));
}

export function trackingError() {
  return timeseriesPanel(
    23,
    'Member tracking error',
    'Measured output minus the set-point in force over the period just ended: ramps, limits, lag and (for the hardware slot) the board’s own response.',
  )
    .unit('MW')
    .decimals(4)
    .withTarget(perMember('tracking_error_mw', 'tracking error'));
}

export function membersRow(): Row {
  return { title: 'Members', id: 20, panels: [memberContribution(), memberSetpoints(), trackingError()] };
}
