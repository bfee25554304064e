/**
 * The market's points come once per interval (15 min by default, docs/market.md): panels read them
 * raw (one point per interval, no `GROUP BY time`, whose buckets would hide them between nulls) and
 * draw prices and accounts as steps that hold until the next interval, energies and money as bars.
 */

import * as common from '@grafana/grafana-foundation-sdk/common';
import type * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { RUN, target, timeseriesPanel } from '../defaults.ts';
import type { Selection, TagCondition } from '../influxql.ts';
import type { Measurement, TagOf } from '../schema.ts';

/** Query A: every point of this run's `fields`, a series per combination of `tags` ("<tags> <column>"). */
export function perInterval<M extends Measurement>(
  from: M,
  fields: Selection<M>['fields'],
  tags: readonly TagOf<M>[],
  where: readonly TagCondition<M>[] = [],
) {
  // Every recorded measurement carries the run tag; TypeScript cannot see that for a generic M.
  const run = RUN as unknown as TagCondition<M>;
  const alias = [...tags.map((t) => `$tag_${t}`), '$col'].join(' ');
  return target('A', { from, fields, where: [run, ...where], interval: false, groupByTags: tags }, alias);
}

/** A value that holds for the interval (a price, an account): a step after each point. */
export function stepsPanel(id: number, title: string, description: string): timeseries.PanelBuilder {
  return timeseriesPanel(id, title, description)
    .lineInterpolation(common.LineInterpolation.StepAfter)
    .showPoints(common.VisibilityMode.Auto);
}

/**
 * An amount over the interval (energy, money): a bar over the interval, after the point for points
 * stamped at the interval's start, before it for those stamped at its end.
 */
export function barsPanel(
  id: number,
  title: string,
  description: string,
  stamped: 'start' | 'end',
): timeseries.PanelBuilder {
  return timeseriesPanel(id, title, description)
    .drawStyle(common.GraphDrawStyle.Bars)
    .barAlignment(stamped === 'start' ? common.BarAlignment.After : common.BarAlignment.Before)
    .fillOpacity(70);
}
