/** Grid overview, row "Frequency": frequency and ROCOF of every island of the run. */

import * as common from '@grafana/grafana-foundation-sdk/common';
import { HALF_WIDTH, type Row, RUN, target, thresholdLines, timeseriesPanel } from '../defaults.ts';

/**
 * Bands around the run's nominal frequency (variable `f0`): ±0.5 Hz, so 49.5/50.5 Hz on a 50 Hz
 * system such as the demo and 59.5/60.5 Hz on a 60 Hz one.
 */
export const FREQUENCY_BAND_HZ = 0.5;

/**
 * Each island runs at its own frequency; a merged island shows one line. Grafana thresholds are
 * fixed numbers, so the panel draws the deviation from nominal and the band is the same for any f0.
 */
export function frequencyPerIsland() {
  return timeseriesPanel(
    2,
    'Frequency deviation from $f0 Hz per island',
    `Mean island frequency minus the run's nominal frequency (variable f0) per interval; ±${FREQUENCY_BAND_HZ} Hz marked.`,
  )
    .unit('hertz')
    .decimals(3)
    .span(HALF_WIDTH)
    .thresholds(
      thresholdLines('red', [
        { value: -FREQUENCY_BAND_HZ, color: 'transparent' },
        { value: FREQUENCY_BAND_HZ, color: 'red' },
      ]),
    )
    .thresholdsStyle(
      new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Dashed),
    )
    .withTarget(
      target(
        'A',
        {
          from: 'island',
          fields: [{ field: 'f_hz', fn: 'mean', minus: '$f0', as: 'Δf' }],
          where: [RUN],
          groupByTags: ['island'],
        },
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
