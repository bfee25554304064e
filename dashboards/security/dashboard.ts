/**
 * Security: attack intervals as annotations, detector statistics against thresholds, rejected
 * frames. Reads the measurements defined in docs/grafana.md for the attack engine.
 */

import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import { baseDashboard, DATASOURCE, RUN, withRow } from '../defaults.ts';
import { InfluxQueryBuilder } from '../influxql.ts';
import { detectorsRow } from './detectors.ts';
import { framesRow } from './frames.ts';
import { metricsRow } from './metrics.ts';

export const SECURITY_UID = 'gridloop-security';

/** Each attack interval is one point at its start whose `end_ms` field marks its end: a region. */
export function attackAnnotation(): dashboard.AnnotationQueryBuilder {
  return new dashboard.AnnotationQueryBuilder()
    .name('Attack intervals')
    .datasource(DATASOURCE)
    .enable(true)
    .iconColor('#F2495C')
    .target(
      InfluxQueryBuilder.select({
        from: 'attack',
        fields: [{ field: 'target' }, { field: 'end_ms' }],
        tagColumns: ['attack', 'kind'],
        where: [RUN],
        interval: false,
        limit: 1000,
      })
        .datasource(DATASOURCE)
        .refId('attacks')
        .annotationColumns({ text: 'target', tags: 'kind', timeEnd: 'end_ms', title: 'attack' }),
    );
}

export function security(): dashboard.DashboardBuilder {
  let builder = baseDashboard(
    SECURITY_UID,
    'gridloop / Security',
    'Attack intervals (annotations), detector statistics against their thresholds, rejected frames, detection metrics.',
  ).annotation(attackAnnotation());
  for (const row of [detectorsRow(), framesRow(), metricsRow()]) builder = withRow(builder, row);
  return builder;
}
