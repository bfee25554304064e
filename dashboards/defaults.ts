/**
 * Shared defaults for every gridloop dashboard: the data source, the run and microgrid variables,
 * the events annotation, panel sizes and the way rows are laid out. Row files under
 * dashboards/<dashboard>/ build panels with these and nothing else, so all dashboards look and
 * behave alike.
 */

import type * as cog from '@grafana/grafana-foundation-sdk/cog';
import * as common from '@grafana/grafana-foundation-sdk/common';
import * as dashboard from '@grafana/grafana-foundation-sdk/dashboard';
import * as statetimeline from '@grafana/grafana-foundation-sdk/statetimeline';
import * as timeseries from '@grafana/grafana-foundation-sdk/timeseries';
import { InfluxQueryBuilder, type Selection, type TagCondition } from './influxql.ts';
import type { Measurement, TagOf } from './schema.ts';

/**
 * The InfluxDB data source every panel and variable reads. Its uid is fixed so that provisioned
 * dashboards find the provisioned data source (deploy/grafana/provisioning/datasources/).
 */
export const DATASOURCE_UID = 'gridloop-influxdb';
export const DATASOURCE: common.DataSourceRef = { type: 'influxdb', uid: DATASOURCE_UID };

/** Grafana's built-in annotation source (manual annotations made in the UI). */
export const GRAFANA_DATASOURCE: common.DataSourceRef = { type: 'grafana', uid: '-- Grafana --' };

/** Tag every generated dashboard carries, for the dashboard list and search. */
export const DASHBOARD_TAG = 'gridloop';

/** Grafana has no per-unit unit: a custom suffix unit puts "pu" on axes, legends and tooltips. */
export const PER_UNIT = 'suffix: pu';

/**
 * Money: the market's and the VPP's prices are in money units of whatever currency a lab sets them
 * in, so the dashboards show the generic currency sign ¤ (Grafana's custom `currency:` unit scales
 * 1500 to "¤1.50K").
 */
export const MONEY = 'currency:¤';
/** Prices per MWh of energy (no Grafana unit says that). */
export const PRICE_PER_MWH = 'suffix: ¤/MWh';
/** Money is recorded in micro-units (docs/market.md): queries multiply by this to show money units. */
export const MICRO = 1e-6;
/** Energy recorded in Wh; Grafana's Wh unit scales to kWh and MWh. */
export const WATT_HOURS = 'watth';

/** Grid units (24 columns wide). */
export const FULL_WIDTH = 24;
export const HALF_WIDTH = 12;
export const PANEL_HEIGHT = 8;
export const TIMELINE_HEIGHT = 6;

/** A row of panels: one file per row exports a function returning this. */
export interface Row {
  title: string;
  /** Panel id of the row itself; ids are stable so links like `viewPanel=` keep working. */
  id: number;
  panels: cog.Builder<dashboard.Panel>[];
}

/**
 * The run variable: which recorded run the dashboard shows (newest first: run ids start with a
 * timestamp), among the runs that wrote `from` (default `island`, which every twin run writes).
 */
export function runVariable(from: Measurement = 'island'): dashboard.QueryVariableBuilder {
  const query = `SHOW TAG VALUES FROM "${from}" WITH KEY = "run"`;
  return new dashboard.QueryVariableBuilder('run')
    .label('Run')
    .description('Recorded run (runs/<timestamp>-<scenario>)')
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalDesc);
}

/**
 * A variable choosing values of one tag in the chosen run: one, several or all. Grafana formats
 * several values as a regex alternation, so queries match it with `{ tag, matches: '$<name>' }`;
 * All is `.*`, which also matches points without the tag.
 */
export function tagVariable<M extends Measurement>(
  name: string,
  label: string,
  description: string,
  from: M,
  key: TagOf<M>,
): dashboard.QueryVariableBuilder {
  const query = `SHOW TAG VALUES FROM "${from}" WITH KEY = "${key}" WHERE "run" = '$run'`;
  return new dashboard.QueryVariableBuilder(name)
    .label(label)
    .description(description)
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnTimeRangeChanged)
    .sort(dashboard.VariableSort.AlphabeticalAsc)
    .multi(true)
    .includeAll(true)
    .allValue('.*');
}

/** The microgrid variable: which microgrids a dashboard shows; queries match it with `MICROGRID`. */
export function microgridVariable(): dashboard.QueryVariableBuilder {
  return tagVariable('microgrid', 'Microgrid', 'Microgrids of the chosen run', 'device', 'microgrid');
}

/**
 * The nominal frequency variable `f0`, read from the chosen run: the recorder writes no nominal
 * frequency (docs/influx-schema.md), but every run starts at it (the twin's islands start at f0),
 * so the run's first frequency sample rounded to a whole hertz is 50 or 60. Panels subtract it to
 * show deviations, so their thresholds hold for 50 and 60 Hz systems alike.
 */
export function nominalFrequencyVariable(): dashboard.QueryVariableBuilder {
  const query = 'SELECT round(first("f_hz")) FROM "island" WHERE "run" = \'$run\'';
  return new dashboard.QueryVariableBuilder('f0')
    .label('Nominal frequency, Hz')
    .description("The run's nominal frequency: its first frequency sample, rounded to a whole hertz")
    .datasource(DATASOURCE)
    .query(query)
    .definition(query)
    .refresh(dashboard.VariableRefresh.OnDashboardLoad);
}

export const MICROGRID = { tag: 'microgrid', matches: '$microgrid' } as const;

/** Every selection of a dashboard is restricted to the chosen run. */
export const RUN = { tag: 'run', equals: '$run' } as const;

/** …and every selection of the Campaign dashboard to the chosen campaign. */
export const CAMPAIGN = { tag: 'campaign', equals: '$campaign' } as const;

/**
 * Starts a run dashboard with the shared settings (`sharedSettings`), the run variable (runs that
 * wrote `runsOf`) and the events annotation.
 */
export function baseDashboard(
  uid: string,
  title: string,
  description: string,
  runsOf: Measurement = 'island',
): dashboard.DashboardBuilder {
  return sharedSettings(uid, title, description)
    .withVariable(runVariable(runsOf))
    .annotation(eventsAnnotation());
}

/**
 * What every gridloop dashboard shares: stable uid, tags, a shared crosshair, live refresh, links
 * to the others and Grafana's own annotations.
 */
export function sharedSettings(uid: string, title: string, description: string): dashboard.DashboardBuilder {
  return new dashboard.DashboardBuilder(title)
    .uid(uid)
    .description(description)
    .tags([DASHBOARD_TAG])
    .editable()
    .tooltip(dashboard.DashboardCursorSync.Crosshair)
    .time({ from: 'now-15m', to: 'now' })
    .timezone('browser')
    .refresh('5s')
    .link(
      // The other gridloop dashboards, keeping the chosen variables and time range.
      new dashboard.DashboardLinkBuilder('gridloop dashboards')
        .type(dashboard.DashboardLinkType.Dashboards)
        .tags([DASHBOARD_TAG])
        .asDropdown(true)
        .includeVars(true)
        .keepTime(true),
    )
    .annotation(
      new dashboard.AnnotationQueryBuilder()
        .name('Annotations & Alerts')
        .datasource(GRAFANA_DATASOURCE)
        .builtIn(1)
        .enable(true)
        .hide(true)
        .iconColor('rgba(0, 211, 255, 1)')
        .type('dashboard'),
    );
}

/** Twin and bench events (breaker operations, trips, operator commands) as annotations. */
export function eventsAnnotation(): dashboard.AnnotationQueryBuilder {
  return new dashboard.AnnotationQueryBuilder()
    .name('Run events')
    .datasource(DATASOURCE)
    .enable(true)
    .iconColor('#FADE2A')
    .target(
      InfluxQueryBuilder.select({
        from: 'event',
        fields: [{ field: 'message' }],
        tagColumns: ['kind'],
        where: [RUN],
        interval: false,
        limit: 1000,
      })
        .datasource(DATASOURCE)
        .refId('events')
        .annotationColumns({ text: 'message', tags: 'kind' }),
    );
}

/** Appends a row and its panels. Panels follow the row so that it is rendered expanded. */
export function withRow(builder: dashboard.DashboardBuilder, row: Row): dashboard.DashboardBuilder {
  builder.withRow(new dashboard.RowBuilder(row.title).id(row.id));
  for (const panel of row.panels) builder.withPanel(panel);
  return builder;
}

/** A target for a panel: a typed selection with a legend alias. */
export function target<M extends Measurement>(
  refId: string,
  selection: Selection<M>,
  alias?: string,
): InfluxQueryBuilder {
  const query = InfluxQueryBuilder.select(selection).refId(refId).datasource(DATASOURCE);
  return alias === undefined ? query : query.alias(alias);
}

/**
 * Query A over this run (and the conditions `where` adds, e.g. a variable's choice): `fields` of one
 * measurement, a series per value of `tag` ("<value> <column>").
 */
export function seriesPerTag<M extends Measurement>(
  from: M,
  fields: Selection<M>['fields'],
  tag: TagOf<M>,
  where: readonly TagCondition<M>[] = [],
): InfluxQueryBuilder {
  // Every recorded measurement carries the run tag; TypeScript cannot see that for a generic M.
  const run = RUN as unknown as TagCondition<M>;
  const selection: Selection<M> = { from, fields, where: [run, ...where], groupByTags: [tag] };
  return target('A', selection, `$tag_${tag} $col`);
}

/** Legend shown as a table with the usual statistics. */
export function tableLegend(): common.VizLegendOptionsBuilder {
  return new common.VizLegendOptionsBuilder()
    .showLegend(true)
    .displayMode(common.LegendDisplayMode.Table)
    .placement(common.LegendPlacement.Bottom)
    .calcs(['min', 'max', 'lastNotNull']);
}

export function sharedTooltip(): common.VizTooltipOptionsBuilder {
  return new common.VizTooltipOptionsBuilder()
    .mode(common.TooltipDisplayMode.Multi)
    .sort(common.SortOrder.Descending);
}

/** What every half-width panel builder sets the same way (each method returns the builder). */
export interface PanelHead<B> {
  id(id: number): B;
  title(title: string): B;
  description(description: string): B;
  datasource(datasource: common.DataSourceRef): B;
  height(height: number): B;
  span(span: number): B;
}

/** A half-width panel on the InfluxDB source with its id, title and description (any panel builder). */
export function panelHead<B extends PanelHead<B>>(
  builder: B,
  id: number,
  title: string,
  description: string,
  height: number,
): B {
  return builder
    .id(id)
    .title(title)
    .description(description)
    .datasource(DATASOURCE)
    .height(height)
    .span(HALF_WIDTH);
}

/** A time series panel with the shared look; callers add targets, unit and thresholds. */
export function timeseriesPanel(id: number, title: string, description: string): timeseries.PanelBuilder {
  return panelHead(new timeseries.PanelBuilder(), id, title, description, PANEL_HEIGHT)
    .lineWidth(1)
    .fillOpacity(0)
    .showPoints(common.VisibilityMode.Never)
    .spanNulls(false)
    .legend(tableLegend())
    .tooltip(sharedTooltip());
}

/** A state timeline (one lane per series, runs of equal values merged); callers add value display and mappings. */
export function timelinePanel(
  id: number,
  title: string,
  description: string,
  height = TIMELINE_HEIGHT,
): statetimeline.PanelBuilder {
  return panelHead(new statetimeline.PanelBuilder(), id, title, description, height).mergeValues(true);
}

/** Absolute thresholds drawn as dashed lines: `base` below the first step, then each step. */
export function thresholdLines(
  base: string,
  steps: readonly { value: number; color: string }[],
): dashboard.ThresholdsConfigBuilder {
  return new dashboard.ThresholdsConfigBuilder()
    .mode(dashboard.ThresholdsMode.Absolute)
    .steps([{ value: null, color: base }, ...steps]);
}
