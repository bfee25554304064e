/** Microgrid detail, row "DER output": active and reactive power of every device. */

import { MICROGRID, type Row, RUN, target, timeseriesPanel } from '../defaults.ts';

/** Generator convention: positive = injected into the grid (twin/api.ts). */
export function derActivePower() {
  return timeseriesPanel(2, 'DER active power', 'Active power per device, MW (positive = injected).')
    .unit('MW')
    .decimals(3)
    .withTarget(
      target(
        'A',
        {
          from: 'device',
          fields: [{ field: 'p_mw', fn: 'mean' }],
          where: [RUN, MICROGRID],
          groupByTags: ['device'],
        },
        '$tag_device',
      ),
    );
}

export function derReactivePower() {
  return timeseriesPanel(3, 'DER reactive power', 'Reactive power per device, Mvar (positive = injected).')
    .unit('Mvar')
    .decimals(3)
    .withTarget(
      target(
        'A',
        {
          from: 'device',
          fields: [{ field: 'q_mvar', fn: 'mean' }],
          where: [RUN, MICROGRID],
          groupByTags: ['device'],
        },
        '$tag_device',
      ),
    );
}

export function derRow(): Row {
  return { title: 'DER output', id: 1, panels: [derActivePower(), derReactivePower()] };
}
