/** Devices and links, row "Links": round-trip time, errors and state of every device link. */

import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { type Row, RUN, seriesPerTag, target, timelinePanel, timeseriesPanel } from '../defaults.ts';

export function linkRtt() {
  return timeseriesPanel(
    2,
    'Link round-trip time',
    'Mean and worst exchange round-trip time per device link.',
  )
    .unit('µs')
    .withTarget(
      seriesPerTag(
        'link',
        [
          { field: 'rtt_us', fn: 'mean', as: 'mean' },
          { field: 'rtt_us', fn: 'max', as: 'max' },
        ],
        'device',
      ),
    );
}

/** The link counters are cumulative over the run; the largest value per interval is drawn. */
export function linkErrors() {
  return timeseriesPanel(3, 'Link errors', 'Cumulative CRC errors, dropped and late frames per device link.')
    .unit('short')
    .decimals(0)
    .withTarget(
      seriesPerTag(
        'link',
        [
          { field: 'crc_errors', fn: 'max', as: 'CRC errors' },
          { field: 'dropped', fn: 'max', as: 'dropped' },
          { field: 'late', fn: 'max', as: 'late' },
        ],
        'device',
      ),
    );
}

export function linkState() {
  return timelinePanel(4, 'Link state', 'Supervision state of each device link.')
    .showValue(common.VisibilityMode.Auto)
    .colorScheme(new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.PaletteClassic))
    .withTarget(
      target(
        'A',
        { from: 'link', fields: [{ field: 'state', fn: 'last' }], where: [RUN], groupByTags: ['device'] },
        '$tag_device',
      ),
    );
}

export function linksRow(): Row {
  return { title: 'Links', id: 1, panels: [linkRtt(), linkErrors(), linkState()] };
}
