/**
 * Campaign: the results of a fault campaign (`gridloop campaign`, docs/campaigns.md), one
 * `campaign_run` point per run: pass/fail counts, runs over time, the distributions of the
 * collected figures and a table of every run. Chosen by campaign, not by run.
 */

import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { DATASOURCE, sharedSettings, withRow } from '../defaults.ts';
import { figuresRow } from './figures.ts';
import { outcomeRow } from './outcome.ts';
import { runsRow } from './runs.ts';

export const CAMPAIGN_UID = 'gridloop-campaign';

/** The campaign variable: campaign names (the campaign file's `name`) with results in the time range. */
export function campaignVariable(): dashboard.QueryVariableBuilder {
  const query = 'SHOW TAG VALUES FROM "campaign_run" WITH KEY = "campaign"';
  return new dashboard.QueryVariableBuilder('campaign')
    .label('Campaign')
    .description("Campaign name (the campaign file's name)")
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc);
}

export function campaign(): dashboard.DashboardBuilder {
  // A point is written when a run's result is stored: a campaign spans minutes to days.
  let builder = sharedSettings(
    CAMPAIGN_UID,
    'gridloop / Campaign',
    'Results of a fault campaign: runs by status, runs over time, distributions of the collected figures, every run.',
  )
    .time({ from: 'now-24h', to: 'now' })
    .refresh('30s')
    .withVariable(campaignVariable());
  for (const row of [outcomeRow(), figuresRow(), runsRow()]) builder = withRow(builder, row);
  return builder;
}
