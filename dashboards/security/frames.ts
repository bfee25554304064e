/** Security, row "Rejected frames": frames the bench refused (bad signature, replay window). */

import * as common from '@grafana/grafana-foundation-sdk/common';
import { FULL_WIDTH, type Row, RUN, target, timeseriesPanel } from '../defaults.ts';

/** `rejected` counts frames since the previous point, so intervals sum it; bars show bursts. */
export function rejectedFrames() {
  return timeseriesPanel(11, 'Rejected frames', 'Frames rejected per interval, by device and reason.')
    .unit('short')
    .decimals(0)
    .span(FULL_WIDTH)
    .drawStyle(common.GraphDrawStyle.Bars)
    .fillOpacity(60)
    .stacking(new common.StackingConfigBuilder().mode(common.StackingMode.Normal))
    .withTarget(
      target(
        'A',
        {
          from: 'auth',
          fields: [{ field: 'rejected', fn: 'sum' }],
          where: [RUN],
          groupByTags: ['device', 'reason'],
          fill: 0,
        },
        '$tag_device $tag_reason',
      ),
    );
}

export function framesRow(): Row {
  return { title: 'Rejected frames', id: 10, panels: [rejectedFrames()] };
}
