/**
 * Dashboards as code: the committed JSON is what the sources generate, it satisfies the foundation
 * SDK's types and a structural check, and the lab provisioning files parse and point at it.
 */

import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { RECORDED_SCHEMA } from '../bench/recording/schema.ts';
import { DATASOURCE_UID, MONEY, PER_UNIT, PRICE_PER_MWH } from '../dashboards/defaults.ts';
import { renderAll, staleFiles } from '../dashboards/generate.ts';
import { awaiting, type MeasurementSchema, recorded } from '../dashboards/schema.ts';
import {
  allPanels,
  allQueries,
  GENERATED_DIR,
  type Json,
  readGenerated,
  shapeOf,
  structuralProblems,
} from './dashboards-structure.ts';

const ROOT = resolve(import.meta.dirname, '..');
const DEPLOY = join(ROOT, 'deploy');
const PROVISIONING = join(DEPLOY, 'grafana', 'provisioning');

const temps: string[] = [];
afterAll(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});
function tempCopyOfGenerated(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gridloop-dashboards-'));
  temps.push(dir);
  cpSync(GENERATED_DIR, dir, { recursive: true });
  return dir;
}

// compose.yaml shares the InfluxDB settings through a YAML merge key (<<).
const yamlFile = (path: string): Json => parseYaml(readFileSync(path, 'utf8'), { merge: true });

function provisionedDatasourceUids(): Set<string> {
  const file = yamlFile(join(PROVISIONING, 'datasources', 'influxdb.yaml'));
  return new Set(file.datasources.map((d: Json) => d.uid));
}
/** Grafana's own annotation source is always there; it is not provisioned. */
const knownUids = () => new Set([...provisionedDatasourceUids(), '-- Grafana --']);

describe('generated dashboards', () => {
  it('are committed exactly as `npm run dashboards` writes them (none stale, none orphaned)', () => {
    expect(staleFiles()).toEqual([]);
    const expected = renderAll();
    for (const [name, text] of expected) expect(readFileSync(join(GENERATED_DIR, name), 'utf8')).toBe(text);
    expect(readGenerated().map((d) => d.file)).toEqual([...expected.keys()].sort());
  });

  it('`generate.ts --check` exits 0 on the committed files, for CI scripts; a bad argument exits 2', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'dashboards/generate.ts', '--check'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const bad = spawnSync(process.execPath, ['--import', 'tsx', 'dashboards/generate.ts', '--chek'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/unknown argument --chek/);
  });

  it('staleness is detected: an edited, a missing and an orphaned file are all named', () => {
    const dir = tempCopyOfGenerated();
    const edited = join(dir, 'gridloop-voltages.json');
    writeFileSync(edited, readFileSync(edited, 'utf8').replace('0.88', '0.87'));
    rmSync(join(dir, 'gridloop-security.json'));
    writeFileSync(join(dir, 'gridloop-old.json'), '{}');
    expect(staleFiles(dir)).toEqual([
      'gridloop-old.json',
      'gridloop-security.json',
      'gridloop-voltages.json',
    ]);
  });

  it('are the seven run dashboards with the run variable and the Campaign dashboard (issue 21), with stable uids', () => {
    const byUid = new Map(readGenerated().map(({ json }) => [json.uid, json]));
    expect([...byUid.keys()].sort()).toEqual([
      'gridloop-campaign',
      'gridloop-devices-links',
      'gridloop-grid-overview',
      'gridloop-market',
      'gridloop-microgrid',
      'gridloop-security',
      'gridloop-voltages',
      'gridloop-vpp',
    ]);
    for (const [uid, json] of byUid) {
      if (uid !== 'gridloop-campaign') expect(json.templating.list.map((v: Json) => v.name)).toContain('run');
      expect(json.tags).toContain('gridloop');
    }
    const campaign = byUid.get('gridloop-campaign');
    expect(campaign.templating.list.map((v: Json) => v.name)).toEqual(['campaign']);
    expect(allPanels(campaign).map((p) => p.type)).toEqual(
      expect.arrayContaining(['stat', 'timeseries', 'histogram', 'table']),
    );
    expect(byUid.get('gridloop-microgrid').templating.list.map((v: Json) => v.name)).toEqual([
      'run',
      'microgrid',
    ]);
    expect(byUid.get('gridloop-vpp').templating.list.map((v: Json) => v.name)).toEqual(['run', 'prosumer']);
    // The Market dashboard lists the runs with a market, and narrows to microgrids and participants.
    const market = byUid.get('gridloop-market');
    expect(market.templating.list.map((v: Json) => [v.name, v.query])).toEqual([
      ['run', 'SHOW TAG VALUES FROM "market_interval" WITH KEY = "run"'],
      ['microgrid', `SHOW TAG VALUES FROM "market_interval" WITH KEY = "microgrid" WHERE "run" = '$run'`],
      ['participant', `SHOW TAG VALUES FROM "market_trade" WITH KEY = "participant" WHERE "run" = '$run'`],
    ]);
    const types = (uid: string) => allPanels(byUid.get(uid)).map((p) => p.type);
    expect(types('gridloop-grid-overview')).toContain('state-timeline');
    expect(types('gridloop-voltages')).toContain('heatmap');
    const security = byUid.get('gridloop-security');
    const attack = security.annotations.list.find((a: Json) => a.name === 'Attack intervals');
    expect(attack.target).toMatchObject({ fromAnnotations: true, timeEndColumn: 'end_ms' });
  });

  it('every query is raw InfluxQL restricted to the chosen run (campaign results: campaign) and the time range', () => {
    for (const { file, json } of readGenerated()) {
      for (const q of allQueries(json)) {
        expect(q.query, `${file} ${q.where}`).toMatch(
          q.query.includes('FROM "campaign_run"')
            ? /^SELECT .+ FROM "campaign_run" WHERE "campaign" = '\$campaign' .*\$timeFilter/
            : /^SELECT .+ FROM "\w+" WHERE "run" = '\$run' .*\$timeFilter/,
        );
      }
    }
  });

  it("every query names only measurements, fields and tags of the recorder's published schema", () => {
    let checked = 0;
    for (const { file, json } of readGenerated()) {
      for (const q of allQueries(json)) {
        const where = `${file} ${q.where}`;
        const shape = shapeOf(q.query);
        const schema = RECORDED_SCHEMA[shape.measurement as keyof typeof RECORDED_SCHEMA] as
          | MeasurementSchema
          | undefined;
        expect(schema, where).toBeDefined();
        for (const field of shape.fields) expect(Object.keys(schema!.fields), where).toContain(field);
        for (const tag of shape.tags) expect(schema!.tags, where).toContain(tag);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(30);
    // The check reads field names with '-' (campaign figures) and rejects a name outside the schema.
    expect(shapeOf('SELECT "frequency-nadir" FROM "campaign_run" WHERE $timeFilter').fields).toEqual([
      'frequency-nadir',
    ]);
    expect(Object.keys(RECORDED_SCHEMA.campaign_run.fields)).not.toContain('frequency-nadir.MG1');
  });

  it('pass the structural check: unique panel ids, provisioned datasource uids, valid grid positions', () => {
    const uids = knownUids();
    expect(uids.has(DATASOURCE_UID)).toBe(true);
    for (const { file, json } of readGenerated()) expect(structuralProblems(json, uids), file).toEqual([]);
  });

  it("panel ids follow their row's block of ten, so existing ids stay put when rows grow", () => {
    for (const { file, json } of readGenerated()) {
      let block = -1;
      for (const panel of json.panels) {
        if (panel.type === 'row') block = Math.floor(panel.id / 10);
        else expect(Math.floor(panel.id / 10), `${file} panel ${panel.id}`).toBe(block);
      }
    }
  });

  it('the structural check catches each kind of fault it claims to', () => {
    const uids = knownUids();
    const original = readGenerated().find((d) => d.file === 'gridloop-grid-overview.json')!.json;
    const broken = (edit: (d: Json) => void) => {
      const copy = structuredClone(original);
      edit(copy);
      return structuralProblems(copy, uids);
    };
    expect(broken((d) => (d.panels[2].id = d.panels[1].id))).toContainEqual(
      expect.stringMatching(/id 2 is used twice/),
    );
    expect(broken((d) => (d.panels[1].datasource.uid = 'elsewhere'))).toContainEqual(
      expect.stringMatching(/panel 2: datasource uid "elsewhere" is not provisioned/),
    );
    expect(broken((d) => (d.panels[1].gridPos.x = 20))).toContainEqual(
      expect.stringMatching(/outside the 24-column/),
    );
    expect(broken((d) => (d.panels[2].gridPos.x = 6))).toContainEqual(
      expect.stringMatching(/panels 2 and 3 overlap/),
    );
    expect(broken((d) => (d.panels[1].gridPos.h = 2.5))).toContainEqual(
      expect.stringMatching(/not four integers/),
    );
    expect(broken((d) => (d.panels[1].targets = []))).toContainEqual(expect.stringMatching(/has no query/));
    expect(broken((d) => (d.templating.list = []))).toContainEqual(expect.stringMatching(/uses \$run/));
    expect(broken((d) => (d.uid = 'has space'))).toContainEqual(expect.stringMatching(/not a valid uid/));
  });
});

/** The panel titled `title` (a prefix is enough) of a generated dashboard. */
function panelOf(file: string, title: string): Json {
  const json = readGenerated().find((d) => d.file === file)!.json;
  const panel = allPanels(json).find((p) => p.type !== 'row' && String(p.title).startsWith(title));
  expect(panel, `${file}: panel '${title}'`).toBeDefined();
  return panel;
}

/** The unit Grafana shows for a field: an override by name or regex wins over the panel default. */
function fieldConfigFor(panel: Json, displayName: string, property: string): Json {
  let value = panel.fieldConfig.defaults[property];
  for (const o of panel.fieldConfig.overrides ?? []) {
    const { id, options } = o.matcher;
    const hit =
      id === 'byName' ? options === displayName : id === 'byRegexp' && new RegExp(options).test(displayName);
    const prop = hit ? o.properties.find((p: Json) => p.id === property) : undefined;
    if (prop) value = prop.value;
  }
  return value;
}

/** Colour of `value` against absolute thresholds: the last step whose value is at or below it. */
function thresholdColour(panel: Json, value: number): string {
  const steps = panel.fieldConfig.defaults.thresholds.steps as { value: number | null; color: string }[];
  return steps.filter((s) => s.value === null || s.value <= value).at(-1)!.color;
}

describe('units, frequency band and island state (issue 22)', () => {
  it('voltages are in pu (a custom suffix unit) and the detector statistic is a plain number', () => {
    expect(panelOf('gridloop-voltages.json', 'Voltage envelope').fieldConfig.defaults.unit).toBe(
      'suffix: pu',
    );
    expect(panelOf('gridloop-voltages.json', 'Bus voltage magnitude').fieldConfig.defaults.unit).toBe(
      'suffix: pu',
    );
    // χ² is dimensionless; "short" would print 1530 as "1.53 K".
    const detector = panelOf('gridloop-security.json', 'Detector statistic vs threshold');
    expect(detector.fieldConfig.defaults.unit).toBe('none');
  });

  it('market panels carry their units: ¤/MWh, ¤ (micro-units scaled to money units), Wh, none left at "none"', () => {
    const unit = (title: string) => panelOf('gridloop-market.json', title).fieldConfig.defaults.unit;
    expect(unit('Clearing price per microgrid')).toBe(PRICE_PER_MWH);
    for (const title of [
      'Energy traded peer to peer',
      'Energy with the main grid',
      'FID energy: cleared and delivered',
      'Trades per participant',
      'Deliveries per participant',
    ])
      expect(unit(title), title).toBe('watth');
    for (const title of [
      'Money per participant',
      'Balance, deposit and debt per participant',
      'Penalties per participant',
      'Balance total per authority',
    ]) {
      expect(unit(title), title).toBe(MONEY);
      // Recorded in micro-units: every money query scales to money units.
      for (const t of panelOf('gridloop-market.json', title).targets)
        expect(t.query, title).toMatch(/^SELECT (?:[^,]+ \* 0\.000001 AS "[^"]+"(?:, )?)+ FROM/);
    }
    const json = readGenerated().find((d) => d.file === 'gridloop-market.json')!.json;
    for (const panel of allPanels(json).filter((p: Json) => p.type !== 'row' && p.type !== 'table'))
      expect(panel.fieldConfig.defaults.unit, panel.title).not.toMatch(/^(none)?$/);
    // Tables: energies in Wh, the relative error in percent.
    const shortfalls = panelOf('gridloop-market.json', 'FID shortfalls and binding limits');
    expect(
      shortfalls.fieldConfig.overrides.map((o: Json) => [o.matcher.options, o.properties[0].value]),
    ).toEqual([
      ['/_wh$/', 'watth'],
      ['error', 'percentunit'],
    ]);
  });

  it('custom units come from dashboards/defaults.ts, written once for every dashboard', () => {
    const shared = new Set([PER_UNIT, PRICE_PER_MWH, MONEY]);
    for (const { file, json } of readGenerated())
      for (const panel of allPanels(json)) {
        const units = [
          panel.fieldConfig?.defaults?.unit,
          ...(panel.fieldConfig?.overrides ?? []).flatMap((o: Json) =>
            o.properties.filter((p: Json) => p.id === 'unit').map((p: Json) => p.value),
          ),
        ].filter((u): u is string => typeof u === 'string' && /^(suffix|prefix|currency|si|count):/.test(u));
        for (const u of units) expect(shared, `${file} '${panel.title}' unit ${u}`).toContain(u);
      }
  });

  it("the frequency band follows the run's nominal frequency: 50 and 60 Hz runs alike", () => {
    const json = readGenerated().find((d) => d.file === 'gridloop-grid-overview.json')!.json;
    const f0 = json.templating.list.find((v: Json) => v.name === 'f0');
    expect(f0?.query).toMatch(/FROM "island" WHERE "run" = '\$run'/);
    const panel = panelOf('gridloop-grid-overview.json', 'Frequency');
    // What the panel plots for a measured frequency, with $f0 as Grafana substitutes it.
    const [query] = panel.targets.map((t: Json) => t.query as string);
    const plotted = (f_hz: number, nominal: number) => {
      const select = /^SELECT (.+?) AS /.exec(query.replaceAll('$f0', String(nominal)))![1];
      const offset = /^mean\("f_hz"\)(?: - (\d+))?$/.exec(select);
      expect(offset, select).not.toBeNull();
      return f_hz - Number(offset![1] ?? 0);
    };
    const colour = (f_hz: number, nominal: number) => thresholdColour(panel, plotted(f_hz, nominal));
    // Normal operation: ±0.5 Hz around nominal (49.5/50.5 Hz and 59.5/60.5 Hz) is not red.
    for (const nominal of [50, 60]) {
      for (const f of [nominal - 0.4, nominal, nominal + 0.4])
        expect(colour(f, nominal), `${f} Hz`).not.toBe('red');
      for (const f of [nominal - 0.6, nominal + 0.6]) expect(colour(f, nominal), `${f} Hz`).toBe('red');
    }
    expect(panel.title).toContain('$f0 Hz');
  });

  it('an island by design is a normal state, an unplanned one stands out; only a de-energised island is red', () => {
    const panel = panelOf('gridloop-grid-overview.json', 'Island state');
    const state = (displayName: string, value: string | boolean) => {
      const mappings = fieldConfigFor(panel, displayName, 'mappings') as Json[];
      return mappings.find((m) => m.type === 'value')!.options[String(value)];
    };
    // Display names follow the target's alias 'island $tag_island $col'.
    const alias = panel.targets[0].alias as string;
    const name = (island: string, column: string) =>
      alias.replace('$tag_island', island).replace('$col', column);
    // The recorded connection (bench/runtime/snapshot-points.ts islandConnection) is what the lane shows.
    expect(panel.targets[0].query).toMatch(/last\("connection"\) AS "connection"/);
    // MG2 and MG3 of the demo are islanded by design: normal, green, and not called "no".
    expect(state(name('MG2', 'connection'), 'islanded-by-design')).toEqual({
      text: 'islanded by design',
      color: 'green',
      index: 1,
    });
    expect(state(name('MG1', 'connection'), 'grid-connected')).toMatchObject({
      text: 'grid-connected',
      color: 'green',
    });
    // MG1 cut off from the grid it is made to join: not normal, not a fault either.
    const unplanned = state(name('MG1', 'connection'), 'islanded');
    expect(unplanned.text).toBe('islanded');
    expect(['green', 'red']).not.toContain(unplanned.color);
    expect(state(name('MG3', 'energised'), true)).toMatchObject({ text: 'energised', color: 'green' });
    expect(state(name('MG3', 'energised'), false)).toMatchObject({ text: 'de-energised', color: 'red' });
  });
});

describe("dashboards/schema.ts is the recorder's published schema (bench/recording/schema.ts)", () => {
  it('takes every measurement from it, split into what the demo run writes and what it does not', () => {
    const names = [...Object.keys(recorded), ...Object.keys(awaiting)];
    expect(names.sort()).toEqual(Object.keys(RECORDED_SCHEMA).sort());
    for (const [name, schema] of Object.entries<MeasurementSchema>({ ...recorded, ...awaiting }))
      expect(schema, name).toBe(RECORDED_SCHEMA[name as keyof typeof RECORDED_SCHEMA]);
  });
});

/**
 * Type-checks the committed JSON against the SDK's `dashboard.Dashboard` type with the TypeScript
 * compiler: each file becomes `const d: Json<Dashboard> = <file contents>`, where Json<> is the
 * JSON form of a type (string enums as their values, the Dataquery marker method dropped). Object
 * literals get TypeScript's excess-property check, so unknown keys fail as well as wrong types.
 */
function sdkTypeErrors(files: { name: string; text: string }[]): string[] {
  const virtualDir = join(ROOT, 'test');
  const sources = new Map<string, string>();
  for (const { name, text } of files) {
    sources.set(
      join(virtualDir, `__dashboard_json_${name.replace(/\W/g, '_')}.ts`),
      `import type { Dashboard } from '@grafana/grafana-foundation-sdk/dashboard';
type Fn = (...args: never[]) => unknown;
type Json<T> = T extends Fn ? never
  : T extends string ? \`\${T}\`
  : T extends number | boolean | null | undefined ? T
  : T extends readonly (infer U)[] ? Json<U>[]
  : T extends object ? { [K in keyof T as T[K] extends Fn ? never : K]: Json<T[K]> }
  : T;
export const dashboard: Json<Dashboard> = ${text};
`,
    );
  }
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const { fileExists, readFile, getSourceFile } = host;
  host.fileExists = (f) => sources.has(f) || fileExists.call(host, f);
  host.readFile = (f) => sources.get(f) ?? readFile.call(host, f);
  host.getSourceFile = (f, lang, ...rest) => {
    const text = sources.get(f);
    return text === undefined
      ? getSourceFile.call(host, f, lang, ...rest)
      : ts.createSourceFile(f, text, lang);
  };
  const program = ts.createProgram([...sources.keys()], options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .map(
      (d) => `${d.file ? `${d.file.fileName}: ` : ''}${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`,
    );
}

describe('generated dashboards against the SDK types', () => {
  it('every committed file type-checks as the SDK Dashboard', () => {
    const files = readGenerated().map(({ file }) => ({
      name: file,
      text: readFileSync(join(GENERATED_DIR, file), 'utf8'),
    }));
    expect(sdkTypeErrors(files)).toEqual([]);
  });

  it('a wrong type, an unknown key and a bad enum value are each reported', () => {
    const text = readFileSync(join(GENERATED_DIR, 'gridloop-voltages.json'), 'utf8');
    const variants = [
      { name: 'wrong-type', text: text.replace('"editable": true', '"editable": "yes"') },
      { name: 'unknown-key', text: text.replace('"editable": true', '"editable": true, "colour": 1') },
      { name: 'bad-enum', text: text.replace('"refresh": 2', '"refresh": 7') },
    ];
    for (const v of variants) expect(v.text).not.toBe(text);
    const errors = sdkTypeErrors(variants);
    for (const v of variants) {
      expect(
        errors.some((e) => e.includes(v.name.replace(/\W/g, '_'))),
        v.name,
      ).toBe(true);
    }
  });
});

describe('Grafana provisioning and the lab compose file', () => {
  const compose = yamlFile(join(DEPLOY, 'compose.yaml'));
  const grafana = compose.services.grafana;
  /** "host:container[:mode]" volume entries of a service, host paths resolved against deploy/. */
  const mounts = (service: Json) =>
    (service.volumes as string[]).map((v) => {
      const [host, container] = v.split(':');
      return { host: host.startsWith('.') ? resolve(DEPLOY, host) : host, container };
    });

  it('the datasource file provisions the InfluxDB data source the dashboards reference', () => {
    const file = yamlFile(join(PROVISIONING, 'datasources', 'influxdb.yaml'));
    expect(file.apiVersion).toBe(1);
    const [ds] = file.datasources;
    expect(ds).toMatchObject({ uid: DATASOURCE_UID, type: 'influxdb', access: 'proxy' });
    expect(ds.jsonData.dbName).toBeTruthy();
    // Every ${VAR} it uses is set for Grafana by compose.
    const vars = [
      ...readFileSync(join(PROVISIONING, 'datasources', 'influxdb.yaml'), 'utf8').matchAll(/\$\{(\w+)\}/g),
    ];
    expect(vars.length).toBeGreaterThan(0);
    for (const [, name] of vars) expect(grafana.environment, name).toHaveProperty(name);
  });

  it('the dashboard provider loads the folder compose fills with dashboards/generated', () => {
    const file = yamlFile(join(PROVISIONING, 'dashboards', 'gridloop.yaml'));
    expect(file.apiVersion).toBe(1);
    const [provider] = file.providers;
    expect(provider.type).toBe('file');
    const mount = mounts(grafana).find((m) => m.container === provider.options.path);
    expect(mount?.host).toBe(GENERATED_DIR);
    const provisioning = mounts(grafana).find((m) => m.container === '/etc/grafana/provisioning');
    expect(provisioning?.host).toBe(PROVISIONING);
    for (const { json } of readGenerated()) expect(json.uid).toMatch(/^gridloop-/);
    const home: string = grafana.environment.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH;
    expect(dirname(home)).toBe(provider.options.path);
    expect(existsSync(join(GENERATED_DIR, home.slice(provider.options.path.length + 1)))).toBe(true);
  });

  it('compose starts InfluxDB 2 with a DBRP mapping, Grafana, Node-RED and the bench pointed at InfluxDB', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['bench', 'grafana', 'influxdb', 'node-red']);
    const influx = compose.services.influxdb;
    expect(influx.image).toMatch(/^influxdb:2(\.|$)/);
    const dbrp = mounts(influx).find((m) => m.container.startsWith('/docker-entrypoint-initdb.d/'));
    expect(dbrp && existsSync(dbrp.host)).toBe(true);
    expect(readFileSync(dbrp!.host, 'utf8')).toMatch(/influx v1 dbrp create/);
    // The database Grafana queries is the bucket the DBRP script maps.
    expect(grafana.environment.GRIDLOOP_INFLUX_DB).toBe(influx.environment.DOCKER_INFLUXDB_INIT_BUCKET);
    expect(compose.services.bench.environment.GRIDLOOP_INFLUX_URL).toBe('http://influxdb:8086');
    expect(compose.services.bench.environment.GRIDLOOP_INFLUX_TOKEN).toBe(
      influx.environment.DOCKER_INFLUXDB_INIT_ADMIN_TOKEN,
    );
    expect(grafana.image).toMatch(/^grafana\/grafana/);
    expect(compose.services['node-red'].image).toMatch(/^nodered\/node-red/);
    for (const service of Object.values<Json>(compose.services)) {
      for (const port of service.ports ?? []) expect(port).toMatch(/^127\.0\.0\.1:/);
    }
  });
});
