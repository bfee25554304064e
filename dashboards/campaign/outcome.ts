/** Campaign, row "Outcome": runs by status over the time range, and as they were stored. */

import * as common from '@grafana/grafana-foundation-sdk/common';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import { CAMPAIGN, panelHead, type Row, target, timeseriesPanel } from '../defaults.ts';
import { WHOLE_RANGE } from '../influxql.ts';

/** A run's status (tag `status`) and its colour, the same on every panel. */
const STATUS_COLOURS = { passed: 'green', failed: 'red', error: 'orange' } as const;

function statusOverrides<
  B extends { overrideByName(name: string, properties: { id: string; value: unknown }[]): B },
>(builder: B): B {
  for (const [status, color] of Object.entries(STATUS_COLOURS)) {
    builder.overrideByName(status, [{ id: 'color', value: { mode: 'fixed', fixedColor: color } }]);
  }
  return builder;
}

export function runsByStatus() {
  const panel = panelHead(
    new stat.PanelBuilder(),
    2,
    'Runs by status',
    'Runs of the campaign stored in the time range: passed, failed (a pass criterion failed) and error (could not run).',
    8,
  )
    .unit('none')
    .decimals(0)
    .colorMode(common.BigValueColorMode.Background)
    .graphMode(common.BigValueGraphMode.None)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false))
    .withTarget(
      target(
        'A',
        {
          from: 'campaign_run',
          fields: [{ field: 'wall_s', fn: 'count', as: 'runs' }],
          where: [CAMPAIGN],
          interval: WHOLE_RANGE,
          groupByTags: ['status'],
        },
        '$tag_status',
      ),
    );
  return statusOverrides(panel);
}

export function runsOverTime() {
  const panel = timeseriesPanel(3, 'Runs over time', 'Results stored per interval, by status.')
    .unit('none')
    .decimals(0)
    .drawStyle(common.GraphDrawStyle.Bars)
    .fillOpacity(80)
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
    .withTarget(
      target(
        'A',
        {
          from: 'campaign_run',
          fields: [{ field: 'wall_s', fn: 'count', as: 'runs' }],
          where: [CAMPAIGN],
          groupByTags: ['status'],
          fill: 0,
        },
        '$tag_status',
      ),
    );
  return statusOverrides(panel);
}

export function outcomeRow(): Row {
  return { title: 'Outcome', id: 1, panels: [runsByStatus(), runsOverTime()] };
}
