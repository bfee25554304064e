/** Security, row "Detectors": each detector's test statistic against its threshold, and alarms. */

import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { type Row, RUN, seriesPerTag, target, timelinePanel, timeseriesPanel } from '../defaults.ts';

/**
 * For the χ² bad-data test the threshold is the χ²(m−n) quantile at 1−α; an alarm is statistic > threshold.
 * The statistic is a sum of squared normalised residuals, a pure number: unit `none` prints it as
 * is ("short" would abbreviate 1530 to "1.53 K", as if it had a kilo-unit).
 */
export function detectorStatistic() {
  return timeseriesPanel(
    2,
    'Detector statistic vs threshold',
    'Largest statistic and threshold per detector (dimensionless: for χ², the sum of squared normalised residuals).',
  )
    .unit('none')
    .decimals(1)
    .withTarget(
      seriesPerTag(
        'detector',
        [
          { field: 'statistic', fn: 'max', as: 'statistic' },
          { field: 'threshold', fn: 'max', as: 'threshold' },
        ],
        'detector',
      ),
    )
    .overrideByRegexp('.*threshold.*', [
      { id: 'custom.lineStyle', value: { fill: 'dash', dash: [10, 10] } },
      { id: 'color', value: { mode: 'fixed', fixedColor: 'red' } },
    ]);
}

export function detectorAlarms() {
  return timelinePanel(3, 'Detector alarms', 'Whether each detector was raising an alarm.')
    .showValue(common.VisibilityMode.Never)
    .mappings([
      {
        type: dashboard.MappingType.ValueToText,
        options: {
          true: { text: 'alarm', color: 'red', index: 0 },
          false: { text: 'quiet', color: 'green', index: 1 },
        },
      },
    ])
    .withTarget(
      target(
        'A',
        {
          from: 'detector',
          fields: [{ field: 'alarm', fn: 'last' }],
          where: [RUN],
          groupByTags: ['detector'],
        },
        '$tag_detector',
      ),
    );
}

export function detectorsRow(): Row {
  return { title: 'Detectors', id: 1, panels: [detectorStatistic(), detectorAlarms()] };
}
