/** Voltages, row "Per-bus voltage": one heatmap lane per bus. */

import * as common from '@grafana/grafana-foundation-sdk/common';
import * as heatmap from '@grafana/grafana-foundation-sdk/heatmap';
import { DATASOURCE, FULL_WIDTH, PER_UNIT, type Row, RUN, target } from '../defaults.ts';

/**
 * The heatmap is not calculated by Grafana: each bus is one series, joined on time into a wide
 * frame, and each column becomes a lane coloured by its mean voltage. The colour scale is pinned
 * to 0.85–1.15 pu so the 0.88/1.10 limits look the same on every run.
 */
export function busVoltageHeatmap() {
  return new heatmap.PanelBuilder()
    .id(2)
    .title('Bus voltage magnitude')
    .description('Mean |V| per bus and interval, pu. Colour scale fixed at 0.85–1.15 pu.')
    .datasource(DATASOURCE)
    .height(12)
    .span(FULL_WIDTH)
    .calculate(false)
    .unit(PER_UNIT)
    .decimals(3)
    .color(
      new heatmap.HeatmapColorOptionsBuilder()
        .mode(heatmap.HeatmapColorMode.Scheme)
        .scheme('RdYlBu')
        .steps(64)
        .min(0.85)
        .max(1.15)
        .reverse(true),
    )
    .rowsFrame(new heatmap.RowsHeatmapOptionsBuilder().layout(common.HeatmapCellLayout.Unknown))
    .yAxis(new heatmap.YAxisConfigBuilder().axisPlacement(common.AxisPlacement.Left))
    .cellGap(0)
    .showValue(common.VisibilityMode.Never)
    .withTarget(
      target(
        'A',
        { from: 'bus', fields: [{ field: 'vm_pu', fn: 'mean' }], where: [RUN], groupByTags: ['bus'] },
        '$tag_bus',
      ),
    )
    .withTransformation({ id: 'joinByField', options: { byField: 'Time', mode: 'outer' } });
}

export function heatmapRow(): Row {
  return { title: 'Per-bus voltage', id: 1, panels: [busVoltageHeatmap()] };
}
