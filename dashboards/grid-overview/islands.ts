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

/** A lane's states: text and colour for each recorded value. */
function valueStates(states: Record<string, { text: string; color: string }>) {
  return {
    id: 'mappings',
    value: [
      {
        type: dashboard.MappingType.ValueToText,
        options: Object.fromEntries(
          Object.entries(states).map(([value, state], index) => [value, { ...state, index }]),
        ),
      },
    ],
  };
}

/**
 * Connection and energised state per island. The recorder's `connection` field tells islanded by
 * design (a microgrid the grid file gives no PCC, like the demo's MG2 and MG3: their normal state,
 * green) from islanded (a microgrid that can connect is cut off: orange, worth a look); only a
 * de-energised island is red.
 */
export function islandState() {
  return timeline(
    22,
    'Island state',
    'Grid-connected or islanded by design (both normal), islanded (a connectable microgrid cut off), energised or de-energised, per island.',
  )
    .overrideByRegexp('.* connection$', [
      valueStates({
        'grid-connected': { text: 'grid-connected', color: 'green' },
        'islanded-by-design': { text: 'islanded by design', color: 'green' },
        islanded: { text: 'islanded', color: 'orange' },
      }),
    ])
    .overrideByRegexp('.* energised$', [
      valueStates({
        true: { text: 'energised', color: 'green' },
        false: { text: 'de-energised', color: 'red' },
      }),
    ])
    .withTarget(
      target(
        'A',
        {
          from: 'island',
          fields: [
            { field: 'connection', fn: 'last', as: 'connection' },
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
