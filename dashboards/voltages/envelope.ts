/** Voltages, row "Envelope": the lowest and highest bus voltage against the 0.88/1.10 pu limits. */

import * as common from '@grafana/grafana-foundation-sdk/common';
import { FULL_WIDTH, PER_UNIT, type Row, RUN, target, thresholdLines, timeseriesPanel } from '../defaults.ts';

/** IEEE 1547 category limits the twin trips on first (UV1 0.88 pu, OV1 1.10 pu). */
export const UNDERVOLTAGE_PU = 0.88;
export const OVERVOLTAGE_PU = 1.1;

export function voltageEnvelope() {
  return timeseriesPanel(11, 'Voltage envelope', 'Lowest and highest bus voltage of the run per interval.')
    .unit(PER_UNIT)
    .decimals(3)
    .span(FULL_WIDTH)
    .axisSoftMin(0.85)
    .axisSoftMax(1.15)
    .thresholds(
      thresholdLines('red', [
        { value: UNDERVOLTAGE_PU, color: 'green' },
        { value: OVERVOLTAGE_PU, color: 'red' },
      ]),
    )
    .thresholdsStyle(
      new common.GraphThresholdsStyleConfigBuilder().mode(common.GraphThresholdsStyleMode.Line),
    )
    .withTarget(
      target(
        'A',
        {
          from: 'bus',
          fields: [
            { field: 'vm_pu', fn: 'min', as: 'min' },
            { field: 'vm_pu', fn: 'max', as: 'max' },
          ],
          where: [RUN],
        },
        '$col |V|',
      ),
    );
}

export function envelopeRow(): Row {
  return { title: 'Envelope', id: 10, panels: [voltageEnvelope()] };
}
