/** Grid overview, row "Islands": which island each bus is in, and each island's state. */

import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import type * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import { PANEL_HEIGHT, type Row, RUN, target, timelinePanel } from '../defaults.ts';

function timeline(id: number, title: string, description: string): statetimeline.PanelBuilder {
  return timelinePanel(id, title, description, PANEL_HEIGHT).showValue(common.VisibilityMode.Auto);
}

/**
 * One lane per bus, coloured by the island it belongs to. InfluxQL returns the `island` tag of the
 * last point of each interval next to the selector; the numeric selector column is hidden.
 */
export function busIslandMembership() {
  return timeline(21, 'Island membership per bus', 'Island id of each bus over time (splits and merges).')
    .colorScheme(new dashboard.FieldColorBuilder().mode(dashboard.FieldColorModeId.PaletteClassic))
    .withTarget(
      target(
        'A',
        {
          from: 'bus',
          fields: [{ field: 'vm_pu', fn: 'last' }],
          tagColumns: ['island'],
          where: [RUN],
          groupByTags: ['bus'],
        },
        'bus $tag_bus',
      ),
    )
    .overrideByFieldType('number', [
      { id: 'custom.hideFrom', value: { viz: true, legend: true, tooltip: true } },
    ]);
}

/** A boolean lane's two states: text and colour for true and for false. */
function booleanStates(yes: { text: string; color: string }, no: { text: string; color: string }) {
  return {
    id: 'mappings',
    value: [
      {
        type: dashboard.MappingType.ValueToText,
        options: { true: { ...yes, index: 0 }, false: { ...no, index: 1 } },
      },
    ],
  };
}

/**
 * Energised and grid-connected flags per island. Islanded operation is a normal state (the demo's
 * MG2 and MG3 are islanded by design), so "not grid-connected" reads "islanded" in blue; only a
 * de-energised island is red. The recorder does not say which islands are islanded by design
 * (docs/grafana.md), so an unplanned islanding shows as the same blue lane, with the breaker event
 * as an annotation and the PCC power dropping to zero.
 */
export function islandState() {
  return timeline(
    22,
    'Island state',
    'Grid-connected or islanded (both normal), energised or de-energised, per island.',
  )
    .overrideByRegexp('.* grid connected$', [
      booleanStates({ text: 'grid-connected', color: 'green' }, { text: 'islanded', color: 'blue' }),
    ])
    .overrideByRegexp('.* energised$', [
      booleanStates({ text: 'energised', color: 'green' }, { text: 'de-energised', color: 'red' }),
    ])
    .withTarget(
      target(
        'A',
        {
          from: 'island',
          fields: [
            { field: 'grid_connected', fn: 'last', as: 'grid connected' },
            { field: 'energised', fn: 'last', as: 'energised' },
          ],
          where: [RUN],
          groupByTags: ['island'],
        },
        'island $tag_island $col',
      ),
    );
}

export function islandsRow(): Row {
  return { title: 'Islands', id: 20, panels: [busIslandMembership(), islandState()] };
}
