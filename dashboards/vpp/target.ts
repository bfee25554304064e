/** VPP, row "Target and delivered": what the VPP was asked for, what its members delivered, at what price. */

import { PRICE_PER_MWH, type Row, seriesPerTag, timeseriesPanel } from '../defaults.ts';

export function targetDelivered() {
  return timeseriesPanel(
    2,
    'VPP target and delivered',
    'The VPP’s target and the sum of its members’ measured outputs at each decision (generator convention).',
  )
    .unit('MW')
    .decimals(3)
    .withTarget(
      seriesPerTag(
        'vpp',
        [
          { field: 'target_mw', fn: 'mean', as: 'target' },
          { field: 'delivered_mw', fn: 'mean', as: 'delivered' },
        ],
        'vpp',
      ),
    );
}

export function vppPrice() {
  return timeseriesPanel(
    3,
    'VPP internal price',
    'The dispatch’s incremental cost λ: the price the VPP pays its members for one more MWh (absent for structures that give none).',
  )
    .unit(PRICE_PER_MWH)
    .decimals(2)
    .withTarget(seriesPerTag('vpp', [{ field: 'price_per_mwh', fn: 'mean', as: 'price' }], 'vpp'));
}

export function targetRow(): Row {
  return { title: 'Target and delivered', id: 1, panels: [targetDelivered(), vppPrice()] };
}
