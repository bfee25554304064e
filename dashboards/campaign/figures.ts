/**
 * Campaign, row "Figures": the distribution over the campaign's runs of each figure it collected
 * (docs/campaigns.md § Figures), one value per run. A campaign that does not collect a figure
 * leaves its panel empty. Figures bound to an island (fields `<figure>.<island>`) have no panel:
 * their names come from the campaign file, not the schema (docs/grafana.md says how to add one).
 */

import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import type * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as histogram from '@grafana/grafana-foundation-sdk/histogram';
import { CAMPAIGN, PER_UNIT, panelHead, type Row, target } from '../defaults.ts';
import type { FieldOf } from '../schema.ts';

function figureHistogram(
  id: number,
  field: FieldOf<'campaign_run'>,
  title: string,
  description: string,
  unit: string,
): cog.Builder<dashboard.Panel> {
  return panelHead(new histogram.PanelBuilder(), id, title, description, 8)
    .unit(unit)
    .bucketCount(20)
    .fillOpacity(80)
    .withTarget(
      target('A', { from: 'campaign_run', fields: [{ field }], where: [CAMPAIGN], interval: false }, field),
    );
}

export function figuresRow(): Row {
  return {
    title: 'Figures',
    id: 11,
    panels: [
      figureHistogram(
        12,
        'frequency-nadir',
        'Frequency nadir per run',
        'Lowest frequency of any energised island in each run, Hz.',
        'hertz',
      ),
      figureHistogram(
        13,
        'rocof-max',
        'ROCOF per run',
        'Largest |ROCOF| of any energised island in each run, Hz/s.',
        'Hz/s',
      ),
      figureHistogram(
        14,
        'frequency-peak',
        'Frequency peak per run',
        'Highest frequency of any energised island in each run, Hz.',
        'hertz',
      ),
      figureHistogram(
        15,
        'voltage-min',
        'Lowest voltage per run',
        'Lowest bus voltage in each run, pu.',
        PER_UNIT,
      ),
      figureHistogram(
        16,
        'voltage-max',
        'Highest voltage per run',
        'Highest bus voltage in each run, pu.',
        PER_UNIT,
      ),
      figureHistogram(
        18,
        'time-to-detect',
        'Time to detect per run',
        "Attack campaigns: time from the attack's start to the first alarm in its window, s (undetected runs have no value).",
        's',
      ),
      figureHistogram(
        17,
        'wall_s',
        'Wall time per run',
        'Wall-clock time each run took on its worker, s.',
        's',
      ),
    ],
  };
}
