/** Campaign, row "Runs": every run of the campaign with its status and figures (sort by any column). */

import * as table from '@grafana/grafana-foundation-sdk/table';
import { CAMPAIGN, DATASOURCE, FULL_WIDTH, type Row, target } from '../defaults.ts';

export function runsTable() {
  return new table.PanelBuilder()
    .id(22)
    .title('Runs')
    .description(
      'One line per run result: the run id (its folder under the campaign folder is runs/<run>), scenario, status, the collected figures and wall time.',
    )
    .datasource(DATASOURCE)
    .height(12)
    .span(FULL_WIDTH)
    .withTarget(
      target('A', {
        from: 'campaign_run',
        fields: [
          { field: 'frequency-nadir' },
          { field: 'frequency-peak' },
          { field: 'rocof-max' },
          { field: 'voltage-min' },
          { field: 'voltage-max' },
          { field: 'wall_s' },
        ],
        tagColumns: ['run', 'scenario', 'status'],
        where: [CAMPAIGN],
        interval: false,
        limit: 10000,
      }).resultFormat('table'),
    );
}

export function runsRow(): Row {
  return { title: 'Runs', id: 21, panels: [runsTable()] };
}
