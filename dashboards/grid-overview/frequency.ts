/** Grid overview, row "Frequency": frequency and ROCOF of every island of the run. */

import * as common from '@grafana/grafana-foundation-sdk/common';
import { HALF_WIDTH, type Row, RUN, target, thresholdLines, timeseriesPanel } from '../defaults.ts';

/** Each island runs at its own frequency; a merged island shows one line. */
export function frequencyPerIsland() {
  return timeseriesPanel(
    2,
    'Frequency per island',
    'Mean island frequency per interval; 49.5 and 50.5 Hz marked (50 Hz systems such as the demo).',
  )
    .unit('hertz')
    .decimals(3)
    .span(HALF_WIDTH)
    .thresholds(
      thresholdLines('red', [
        { value: 49.5, color: 'transparent' },
        { value: 50.5, color: 'red' },
      ]),
    )
    .thresholdsStyle(
      new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed),
    )
    .withTarget(
      target(
        'A',
        { from: 'island', fields: [{ field: 'f_hz', fn: 'mean' }], where: [RUN], groupByTags: ['island'] },
        'island $tag_island',
      ),
    );
}

/** ROCOF as the twin computes it; the extremes matter for ride-through, so min and max are drawn. */
export function rocofPerIsland() {
  return timeseriesPanel(3, 'ROCOF per island', 'Rate of change of frequency: extremes within each interval.')
    .unit('Hz/s')
    .decimals(3)
    .span(HALF_WIDTH)
    .withTarget(
      target(
        'A',
        {
          from: 'island',
          fields: [
            { field: 'rocof_hz_s', fn: 'min', as: 'min' },
            { field: 'rocof_hz_s', fn: 'max', as: 'max' },
          ],
          where: [RUN],
          groupByTags: ['island'],
        },
        'island $tag_island $col',
      ),
    );
}

export function frequencyRow(): Row {
  return { title: 'Frequency', id: 1, panels: [frequencyPerIsland(), rocofPerIsland()] };
}
