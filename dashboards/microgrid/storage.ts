/** Microgrid detail, row "Storage": battery state of charge. */

import { MICROGRID, type Row, RUN, target, thresholdLines, timeseriesPanel } from '../defaults.ts';

/** Only devices with a battery write `soc`, so no kind filter is needed. */
export function batterySoc() {
  return timeseriesPanel(11, 'Battery state of charge', 'State of charge per storage device, 0–100 %.')
    .unit('percentunit')
    .min(0)
    .max(1)
    .thresholds(
      thresholdLines('red', [
        { value: 0.1, color: 'green' },
        { value: 0.95, color: 'orange' },
      ]),
    )
    .withTarget(
      target(
        'A',
        {
          from: 'device',
          fields: [{ field: 'soc', fn: 'mean' }],
          where: [RUN, MICROGRID],
          groupByTags: ['device'],
        },
        '$tag_device',
      ),
    );
}

export function storageRow(): Row {
  return { title: 'Storage', id: 10, panels: [batterySoc()] };
}
