/**
 * Security, row "Detection metrics": per attack and detector, the figures issue 10 measures against
 * the ground-truth labels (detection, time to detect, false alarms, physical impact).
 */

import * as table from '@grafana/grafana-foundation-sdk/table';
import { DATASOURCE, FULL_WIDTH, type Row, RUN, target } from '../defaults.ts';

/** One row per (attack, detector): the run's report figures, written once when the run ends. */
export function detectionMetrics() {
  return new table.PanelBuilder()
    .id(21)
    .title('Detection metrics')
    .description('Per attack and detector: detected, time to detect, false alarms per hour, physical impact.')
    .datasource(DATASOURCE)
    .height(8)
    .span(FULL_WIDTH)
    .withTarget(
      target('A', {
        from: 'detection',
        fields: [
          { field: 'detected' },
          { field: 'time_to_detect_s' },
          { field: 'false_alarms_per_h' },
          { field: 'max_abs_df_hz' },
          { field: 'min_v_pu' },
          { field: 'energy_not_served_mwh' },
          { field: 'devices_tripped' },
        ],
        tagColumns: ['attack', 'detector'],
        where: [RUN],
        interval: false,
        limit: 1000,
      }).resultFormat('table'),
    )
    .overrideByName('time_to_detect_s', [{ id: 'unit', value: 's' }])
    .overrideByName('max_abs_df_hz', [{ id: 'unit', value: 'hertz' }])
    .overrideByName('energy_not_served_mwh', [{ id: 'unit', value: 'mwatth' }]);
}

export function metricsRow(): Row {
  return { title: 'Detection metrics', id: 20, panels: [detectionMetrics()] };
}
