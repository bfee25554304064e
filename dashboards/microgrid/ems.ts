/** Microgrid detail, row "EMS": the energy-management mode of each microgrid over time. */

import * as common from '@grafana/grafana-foundation-sdk/common';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import { DATASOURCE, HALF_WIDTH, MICROGRID, type Row, RUN, TIMELINE_HEIGHT, target } from '../defaults.ts';

/** Modes from the source paper's application table: standby, peak shaving, stand-alone, low cost. */
export function emsMode() {
  return new statetimeline.PanelBuilder()
    .id(31)
    .title('EMS mode')
    .description('Energy-management mode per microgrid (docs/grafana.md, measurement `ems`).')
    .datasource(DATASOURCE)
    .height(TIMELINE_HEIGHT)
    .span(HALF_WIDTH)
    .showValue(common.VisibilityMode.Auto)
    .mergeValues(true)
    .withTarget(
      target(
        'A',
        {
          from: 'ems',
          fields: [{ field: 'mode', fn: 'last' }],
          where: [RUN, MICROGRID],
          groupByTags: ['microgrid'],
        },
        '$tag_microgrid',
      ),
    );
}

export function emsRow(): Row {
  return { title: 'EMS', id: 30, panels: [emsMode()] };
}
