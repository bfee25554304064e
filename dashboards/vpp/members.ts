/** VPP, row "Members": each member's contribution, set-point and how well it tracked it. */

import * as common from '@grafana/grafana-foundation-sdk/common';
import { type Row, RUN, target, timeseriesPanel } from '../defaults.ts';
import type { FieldSelection } from '../influxql.ts';

/** Members of the chosen prosumers (All: every member, those without a prosumer included). */
const PROSUMER = { tag: 'prosumer', matches: '$prosumer' } as const;

const perMember = (refId: string, fields: FieldSelection<'vpp_member'>[]) =>
  target(
    refId,
    { from: 'vpp_member', fields, where: [RUN, PROSUMER], groupByTags: ['member'] },
    '$tag_member',
  );

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
    .withTarget(perMember('A', [{ field: 'measured_mw', fn: 'mean' }]));
}

export function memberSetpoints() {
  return timeseriesPanel(
    22,
    'Member set-points',
    'Set-point the VPP sent each member at each decision (none while opted out, offline or excluded).',
  )
    .unit('MW')
    .decimals(3)
    .withTarget(perMember('A', [{ field: 'setpoint_mw', fn: 'mean' }]));
}

export function trackingError() {
  return timeseriesPanel(
    23,
    'Member tracking error',
    'Measured output minus the set-point in force over the period just ended: ramps, limits, lag and (for the hardware slot) the board’s own response.',
  )
    .unit('MW')
    .decimals(4)
    .withTarget(perMember('A', [{ field: 'tracking_error_mw', fn: 'mean' }]));
}

export function membersRow(): Row {
  return { title: 'Members', id: 20, panels: [memberContribution(), memberSetpoints(), trackingError()] };
}
