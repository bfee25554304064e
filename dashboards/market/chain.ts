/**
 * Market, row "Chain": the health of the ledger's proof-of-authority chain (`chain` points of a
 * run with ledger attacks): each authority's height, its decisions, what was refused and why, and the
 * balance total each authority's storage holds at the end.
 */

import * as common from '@grafana/grafana-foundation-sdk/common';
import * as stat from '@grafana/grafana-foundation-sdk/stat';
import * as table from '@grafana/grafana-foundation-sdk/table';
import { MICRO, MONEY, PANEL_HEIGHT, panelHead, type Row, RUN, target } from '../defaults.ts';
import { WHOLE_RANGE } from '../influxql.ts';
import { perInterval, stepsPanel } from './per-interval.ts';

/** What the panels reading the ledger say about where their data comes from. */
export const ON_CHAIN =
  ' Written by runs that settle on the chain (`gridloop attack` of a scenario with ledger attacks).';

export function blockHeight() {
  return stepsPanel(
    31,
    'Block height per authority',
    'Height of each block an authority accepted: the lines climb together while the authorities agree; one that lags was offline or refused blocks.' +
      ON_CHAIN,
  )
    .unit('short')
    .decimals(0)
    .withTarget(
      perInterval('chain', [{ field: 'height' }], ['authority'], [{ tag: 'outcome', equals: 'accepted' }]),
    );
}

function statPanel(id: number, title: string, description: string) {
  return panelHead(new stat.PanelBuilder(), id, title, description, PANEL_HEIGHT)
    .graphMode(common.BigValueGraphMode.None)
    .reduceOptions(new common.ReduceDataOptionsBuilder().calcs(['lastNotNull']).values(false));
}

export function decisions() {
  return statPanel(
    32,
    'Block decisions per authority',
    'Over the time range, per authority: blocks accepted, blocks refused, blocks missed while offline, and meter readings its register refused.' +
      ON_CHAIN,
  )
    .unit('short')
    .decimals(0)
    .withTarget(
      target(
        'A',
        {
          from: 'chain',
          fields: [{ field: 'height', fn: 'count', as: 'decisions' }],
          where: [RUN],
          interval: WHOLE_RANGE,
          groupByTags: ['authority', 'outcome'],
        },
        '$tag_authority $tag_outcome',
      ),
    );
}

export function refused() {
  return panelHead(
    new table.PanelBuilder(),
    33,
    'Refused blocks and readings',
    'Every block an authority refused and every meter reading a register refused: who refused it, the block’s sealer (or the meter), the reason and the attack it belongs to (empty: an honest one refused, a false alarm).' +
      ON_CHAIN,
    PANEL_HEIGHT,
  ).withTarget(
    target('A', {
      from: 'chain',
      fields: [{ field: 'height' }, { field: 'proposer' }, { field: 'reason' }, { field: 'attack' }],
      tagColumns: ['authority', 'outcome'],
      where: [RUN, { tag: 'outcome', matches: '(reading-)?refused' }],
      interval: false,
    }).resultFormat('table'),
  );
}

export function balanceTotals() {
  return statPanel(
    34,
    'Balance total per authority',
    'Sum of every participant’s balance as each authority’s own contract storage holds it at the end of the run: equal totals, the authorities agree.' +
      ON_CHAIN,
  )
    .unit(MONEY)
    .decimals(2)
    .withTarget(
      target(
        'A',
        {
          from: 'chain',
          fields: [{ field: 'balance_total', fn: 'last', times: MICRO, as: 'balance total' }],
          where: [RUN, { tag: 'outcome', equals: 'balances' }],
          interval: WHOLE_RANGE,
          groupByTags: ['authority'],
        },
        '$tag_authority',
      ),
    );
}

export function chainRow(): Row {
  return { title: 'Chain', id: 30, panels: [blockHeight(), decisions(), refused(), balanceTotals()] };
}
