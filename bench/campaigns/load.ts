/**
 * Campaign files: YAML validated against campaign.schema.json (docs/campaigns.md), expanded into
 * runs: base scenario(s) × parameter axes, each run's scenario patched by JSON Pointer and checked
 * against the scenario schema before anything runs. Errors name the campaign file, the line and
 * what to do.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, dirname, relative, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { parseSecurityScenario } from '../../twin/attacks/security.ts';
import { echo, echoMessage } from '../../twin/echo.ts';
import { gridFileKind } from '../../twin/grid/load.ts';
import { GridInputError } from '../../twin/grid/model.ts';
import { parseGridYaml } from '../../twin/grid/yaml.ts';
import { parseScenario, ScenarioError } from '../../twin/scenario/load.ts';
import {
  findNonFinite,
  pathOfPointer,
  pointerOf,
  readYaml,
  type YamlPath,
  YamlSourceError,
} from '../../twin/yaml-source.ts';
import { closest } from '../cli/args.ts';
import { type FigureSpec, isDetectionFigure } from './figures.ts';

const require = createRequire(import.meta.url);
export const CAMPAIGN_SCHEMA = require('./campaign.schema.json') as Record<string, unknown>;

/** A campaign file that cannot be used: file, line and what to do. */
export class CampaignError extends Error {
  constructor(
    readonly reason: string,
    readonly file: string,
    readonly line?: number,
  ) {
    super(`${echo(file)}${line !== undefined ? `:${line}` : ''}: ${echoMessage(reason)}`);
    this.name = 'CampaignError';
  }
}

/** One value set in a run's scenario, and the campaign line it came from. */
export interface Patch {
  pointer: string;
  value: unknown;
  line?: number;
}

/** Everything a worker needs for one run, with no link to the coordinator's disk (JSON). */
export interface RunSpec {
  campaign: string;
  id: string;
  /** Position in the campaign's expansion (table order). */
  index: number;
  /** Hash of everything that decides the run's outcome: a stored result with another is stale. */
  specHash: string;
  /** Column → value: the run's parameters as the table shows them. */
  params: Record<string, string | number | boolean>;
  /** The base scenario, relative to the campaign file. */
  scenarioFile: string;
  /** The patched scenario (its grid and trace named by file name only, shipped beside it). */
  scenario: Record<string, unknown>;
  files: Record<string, string>;
  collect: FigureSpec[];
}

export interface PassCriteria {
  min_pass_fraction: number;
  figures: Record<string, { min?: number; max?: number }>;
}

export interface Campaign {
  name: string;
  description?: string;
  file: string;
  /** Hash of the campaign's inputs (file, scenarios, grids): names its BullMQ jobs. */
  key: string;
  /** Parameter columns, in axis order. */
  columns: string[];
  /** Figure columns, in collect order. */
  figureColumns: string[];
  pass: PassCriteria;
  retries: number;
  runs: RunSpec[];
}

interface RawAxis {
  name?: string;
  path?: string;
  values?: unknown[];
  range?: { from: number; to: number; step?: number; count?: number };
  seeds?: number | number[];
  variants?: { name: string; set: Record<string, unknown> }[];
}

interface RawCampaign {
  name: string;
  description?: string;
  scenarios: string[];
  set?: Record<string, unknown>;
  axes?: RawAxis[];
  collect?: (string | FigureSpec)[];
  pass?: { min_pass_fraction?: number; figures?: Record<string, { min?: number; max?: number }> };
  max_runs: number;
  retries: number;
}

/** One axis expanded: a column and its points (label + patches). */
interface Axis {
  column: string;
  line?: number;
  points: { label: string | number | boolean; patches: Patch[] }[];
}

const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true });
const validate = ajv.compile(CAMPAIGN_SCHEMA);

const sha = (text: string) => createHash('sha256').update(text).digest('hex');

function describe(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties')
    return `unknown property '${(e.params as { additionalProperty: string }).additionalProperty}'`;
  if (e.keyword === 'required')
    return `missing required property '${(e.params as { missingProperty: string }).missingProperty}'`;
  if (e.keyword === 'enum')
    return `${e.message}: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  return e.message ?? 'invalid';
}

/** JSON Pointer → segments ('/events/0/at' → ['events', 0, 'at']). */
export function pointerSegments(pointer: string): (string | number)[] {
  return pathOfPointer(pointer);
}

/** Parses and expands a campaign file. Throws CampaignError. */
export async function loadCampaign(file: string): Promise<Campaign> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new CampaignError(
      `cannot read campaign file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      file,
    );
  }
  return parseCampaign(text, file);
}

/** Parses, validates and expands campaign text; `file` locates the scenarios and names errors. */
export async function parseCampaign(text: string, file: string): Promise<Campaign> {
  let source: ReturnType<typeof readYaml>;
  try {
    source = readYaml(text);
  } catch (err) {
    if (err instanceof YamlSourceError) throw new CampaignError(err.reason, file, err.line);
    throw err;
  }
  const { data, lineOf } = source;
  const fail = (reason: string, path: YamlPath): never => {
    throw new CampaignError(reason, file, lineOf(path));
  };
  if (!data || typeof data !== 'object' || Array.isArray(data)) fail('a campaign must be a YAML mapping', []);
  const bad = findNonFinite(data);
  if (bad) fail('every number must be finite', bad.path);
  if (!validate(data)) {
    const errors = validate.errors ?? [];
    const axisError = errors.find((e) => /^\/axes\/\d+$/.test(e.instancePath) && e.keyword === 'oneOf');
    const e = errors.find((x) => x.keyword !== 'oneOf' && x.keyword !== 'anyOf' && !axisError) ?? errors[0];
    if (axisError)
      fail(
        'an axis needs exactly one of: path with values, path with range (from, to and step or count), seeds, or name with variants',
        pathOfPointer(axisError.instancePath),
      );
    let segs = pathOfPointer(e.instancePath);
    if (e.keyword === 'additionalProperties')
      segs = [...segs, (e.params as { additionalProperty: string }).additionalProperty];
    fail(`${pointerOf(segs)}: ${describe(e)}`, segs);
  }
  const raw = data as RawCampaign;
  const dir = dirname(file);

  // Base scenarios with their grid (and trace) texts: what the runs are made of.
  const bases: Base[] = [];
  for (const [i, rel] of raw.scenarios.entries()) {
    const path = resolve(dir, rel);
    let scenarioText: string;
    try {
      scenarioText = await readFile(path, 'utf8');
    } catch (err) {
      fail(
        `cannot read scenario '${rel}' (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); scenario paths are relative to the campaign file`,
        ['scenarios', i],
      );
    }
    let scenario: ReturnType<typeof parseScenario>;
    try {
      scenario = parseScenario(scenarioText!, path);
    } catch (err) {
      if (err instanceof ScenarioError)
        fail(`scenario '${rel}' is not valid: ${err.message}`, ['scenarios', i]);
      throw err;
    }
    const files: Record<string, string> = {};
    const scenarioData = readYaml(scenarioText!).data as Record<string, unknown>;
    const gridName = basename(scenario!.grid);
    try {
      files[gridName] = await readFile(scenario!.grid, 'utf8');
    } catch (err) {
      fail(`scenario '${rel}': cannot read its grid ${scenario!.grid}: ${(err as Error).message}`, [
        'scenarios',
        i,
      ]);
    }
    scenarioData.grid = gridName;
    if (scenario!.mainGrid?.trace) {
      const traceName = `trace-${basename(scenario!.mainGrid.trace)}`;
      files[traceName] = await readFile(scenario!.mainGrid.trace, 'utf8');
      scenarioData.mainGrid = { trace: traceName };
    }
    // A VPP's portfolio and price files too: vpp/scenario.ts reads them relative to the scenario.
    const vpp = scenarioData.vpp as Record<string, unknown> | undefined;
    const target = vpp?.target as Record<string, unknown> | undefined;
    for (const [holder, key, what] of [
      [vpp, 'portfolio', 'VPP portfolio'],
      [target, 'prices', 'VPP price file'],
    ] as const) {
      const file = holder?.[key];
      if (typeof file !== 'string') continue;
      const name = `vpp-${key}-${basename(file)}`;
      try {
        files[name] = await readFile(resolve(dirname(path), file), 'utf8');
      } catch (err) {
        fail(`scenario '${rel}': cannot read its ${what} ${file}: ${(err as Error).message}`, [
          'scenarios',
          i,
        ]);
      }
      holder![key] = name;
    }
    const hash = sha(JSON.stringify([scenarioText!, files]));
    // A YAML grid can be patched too (grid# pointers); its text is parsed once here.
    const grid =
      gridFileKind(scenario!.grid) === 'yaml'
        ? {
            name: gridName,
            path: scenario!.grid,
            data: readYaml(files[gridName]!).data as Record<string, unknown>,
          }
        : undefined;
    bases.push({ rel, data: scenarioData, files, hash, grid, gridFile: scenario!.grid });
  }

  const setPatches: Patch[] = Object.entries(raw.set ?? {}).map(([pointer, value]) => ({
    pointer,
    value,
    line: lineOf(['set', pointer]),
  }));
  const axes: Axis[] = [];
  if (bases.length > 1) {
    axes.push({
      column: 'scenario',
      line: lineOf(['scenarios']),
      points: bases.map((b) => ({ label: b.rel, patches: [] })),
    });
  }
  for (const [i, a] of (raw.axes ?? []).entries()) axes.push(expandAxis(a, i, lineOf, fail));
  const columns = axes.map((a) => a.column);
  const dup = columns.find((c, i) => columns.indexOf(c) !== i);
  if (dup) fail(`two axes are named '${dup}'; give one of them another name:`, ['axes']);

  const total = axes.reduce((n, a) => n * a.points.length, 1);
  if (total > raw.max_runs) {
    fail(
      `the axes multiply to ${axes.map((a) => a.points.length).join(' × ') || 1} = ${total} runs, more than max_runs (${raw.max_runs}); remove values or raise max_runs`,
      raw.max_runs === 10000 ? ['axes'] : ['max_runs'],
    );
  }

  const collect = (raw.collect ?? []).map((c) => (typeof c === 'string' ? { figure: c } : c)) as FigureSpec[];
  for (const [k, f] of collect.entries()) checkFigure(f, bases, (reason) => fail(reason, ['collect', k]));
  const figureColumns = collect.map(figureColumn);
  for (const [name] of Object.entries(raw.pass?.figures ?? {})) {
    if (!figureColumns.includes(name)) {
      const hint = closest(name, figureColumns);
      fail(
        `pass criterion on '${name}', which is not collected (collected: ${figureColumns.join(', ') || 'none'})${hint ? `; did you mean '${hint}'?` : ''}`,
        ['pass', 'figures', name],
      );
    }
  }

  // Every path must name something the base scenario has (or a property its parent may hold).
  for (const base of bases) {
    for (const axis of axes)
      for (const p of axis.points) for (const patch of p.patches) checkPath(base, patch, file);
    for (const patch of setPatches) checkPath(base, patch, file);
  }
  const gridTexts = new Map<string, string>();

  const key = sha(JSON.stringify([raw, bases.map((b) => b.hash)])).slice(0, 16);
  const runs: RunSpec[] = [];
  const scenarioAxis = bases.length > 1;
  const validated = new Set<string>();
  for (let index = 0; index < total; index++) {
    // Mixed radix, the first axis outermost: the table reads like nested loops.
    let rest = index;
    const picks = new Array<number>(axes.length);
    for (let k = axes.length - 1; k >= 0; k--) {
      picks[k] = rest % axes[k]!.points.length;
      rest = Math.floor(rest / axes[k]!.points.length);
    }
    const base = bases[scenarioAxis ? picks[0]! : 0]!;
    const params: RunSpec['params'] = {};
    const patches: Patch[] = [...setPatches];
    axes.forEach((axis, k) => {
      const point = axis.points[picks[k]!]!;
      params[axis.column] = point.label;
      patches.push(...point.patches);
    });
    const scenario = structuredClone(base.data);
    const gridPatches = patches.filter(isGridPatch);
    for (const patch of patches)
      if (!isGridPatch(patch)) setAt(scenario, pointerSegments(patch.pointer), patch.value);
    let files = base.files;
    if (gridPatches.length > 0) {
      // JSON is YAML: the patched grid keeps its file name, so the scenario runs it unchanged.
      const grid = structuredClone(base.grid!.data);
      for (const patch of gridPatches) setAt(grid, pointerSegments(gridPointer(patch)), patch.value);
      const gridJson = JSON.stringify(grid);
      let text = gridTexts.get(gridJson);
      if (text === undefined) {
        checkPatchedGrid(gridJson, base.gridFile, gridPatches, params, file);
        text = gridJson;
        gridTexts.set(gridJson, text);
      }
      files = { ...base.files, [base.grid!.name]: text };
    }
    const canonical = JSON.stringify([base.rel, Object.entries(params)]);
    // Each distinct patched scenario is checked once against the scenario schema and rules.
    const scenarioJson = JSON.stringify(scenario);
    if (!validated.has(scenarioJson)) {
      checkPatched(scenarioJson, resolve(dir, base.rel), patches, params, file);
      validated.add(scenarioJson);
    }
    runs.push({
      campaign: raw.name,
      id: runId(raw.name, params, canonical),
      index,
      specHash: sha(JSON.stringify([scenarioJson, files, collect])).slice(0, 16),
      params,
      scenarioFile: relative(dir, resolve(dir, base.rel)),
      scenario,
      files,
      collect,
    });
  }
  return {
    name: raw.name,
    description: raw.description,
    file,
    key,
    columns,
    figureColumns,
    pass: { min_pass_fraction: raw.pass?.min_pass_fraction ?? 1, figures: raw.pass?.figures ?? {} },
    retries: raw.retries,
    runs,
  };
}

/** A figure's column name: the figure, with its island when it watches one. */
export function figureColumn(f: FigureSpec): string {
  return [f.figure, f.island ?? f.attack, f.detector].filter(Boolean).join('.');
}

/** Detectors of an attack scenario, by the names its alarms carry. */
function detectorsOf(security: {
  estimation?: unknown;
  checks?: { name?: string; kind: string }[];
}): string[] {
  return [
    ...(security.estimation ? ['state-estimation'] : []),
    ...(security.checks ?? []).map((c) => c.name ?? c.kind),
  ];
}

/** A figure each base scenario can give: time to detect needs an attack scenario and a known attack. */
function checkFigure(
  f: FigureSpec,
  bases: readonly { rel: string; data: Record<string, unknown> }[],
  fail: (reason: string) => never,
): void {
  if (!isDetectionFigure(f.figure)) {
    if (f.attack !== undefined || f.detector !== undefined)
      fail(`${f.figure}: attack and detector belong to time-to-detect only`);
    return;
  }
  if (f.island !== undefined || f.after !== undefined)
    fail('time-to-detect: island and after do not apply (it is measured from the attack start)');
  for (const base of bases) {
    const security = base.data.security as
      | {
          link?: unknown;
          attacks?: { id: string }[];
          estimation?: unknown;
          checks?: { name?: string; kind: string }[];
        }
      | undefined;
    const attacks = (security?.attacks ?? []).map((a) => a.id);
    if (!security || attacks.length === 0)
      fail(
        `time-to-detect needs an attack scenario (a security: section with attacks, docs/security.md); '${base.rel}' has none`,
      );
    if (security!.link)
      fail(
        `'${base.rel}' puts a board on a link (security.link): run it with gridloop attack, not in a campaign`,
      );
    if (f.attack === undefined && attacks.length > 1)
      fail(
        `time-to-detect: '${base.rel}' has ${attacks.length} attacks (${attacks.join(', ')}); name one with attack:`,
      );
    if (f.attack !== undefined && !attacks.includes(f.attack)) {
      const hint = closest(f.attack, attacks);
      fail(
        `time-to-detect: '${base.rel}' has no attack '${f.attack}' (it has ${attacks.join(', ')})${hint ? `; did you mean '${hint}'?` : ''}`,
      );
    }
    const detectors = detectorsOf(security!);
    if (f.detector !== undefined && !detectors.includes(f.detector)) {
      const hint = closest(f.detector, detectors);
      fail(
        `time-to-detect: '${base.rel}' has no detector '${f.detector}' (it has ${detectors.join(', ') || 'none'})${hint ? `; did you mean '${hint}'?` : ''}`,
      );
    }
  }
}

/**
 * A run id from the campaign and the run's parameters only: the same run always has the same id
 * (a re-run finds it done; BullMQ deduplicates on it). Readable, file-name safe, no ':' (BullMQ).
 */
export function runId(campaign: string, params: RunSpec['params'], canonical: string): string {
  const readable = Object.values(params)
    .map((v) => String(v).replace(/\.ya?ml$/, ''))
    .join('_')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .slice(0, 60);
  const hash = sha(`${campaign}\n${canonical}`).slice(0, 10);
  return readable ? `${readable}-${hash}` : hash;
}

function expandAxis(
  a: RawAxis,
  i: number,
  lineOf: (p: YamlPath) => number | undefined,
  fail: (reason: string, path: YamlPath) => never,
): Axis {
  const at = ['axes', i];
  const line = lineOf(at);
  const empty = (what: string) =>
    fail(
      `axis ${a.name ?? a.path ?? i} is empty (${what}): it would make the campaign 0 runs; give it at least one value or remove it`,
      at,
    );
  if (a.variants) {
    if (a.variants.length === 0) empty('no variants');
    const names = a.variants.map((v) => v.name);
    const dup = names.find((n, k) => names.indexOf(n) !== k);
    if (dup) fail(`variant '${dup}' appears twice`, [...at, 'variants']);
    return {
      column: a.name!,
      line,
      points: a.variants.map((v, k) => ({
        label: v.name,
        patches: Object.entries(v.set).map(([pointer, value]) => ({
          pointer,
          value,
          line: lineOf([...at, 'variants', k, 'set', pointer]),
        })),
      })),
    };
  }
  const pointer = a.path ?? '/seed';
  const column =
    a.name ??
    pointer
      .replace(/^grid#/, 'grid')
      .replace(/^\//, '')
      .replace(/\//g, '.');
  let values: { value: unknown; line?: number }[];
  if (a.values) {
    if (a.values.length === 0) empty('values: []');
    values = a.values.map((value, k) => ({ value, line: lineOf([...at, 'values', k]) }));
  } else if (a.range) {
    const { from, to, step, count } = a.range;
    const n = step !== undefined ? Math.floor((to - from) / step + 1e-9) + 1 : count!;
    if (n <= 0 || !Number.isFinite(n)) empty(`range from ${from} to ${to} holds no value`);
    if (n > 1_000_000) fail(`range from ${from} to ${to} holds ${n} values`, [...at, 'range']);
    const stepOf = step ?? (n > 1 ? (to - from) / (n - 1) : 0);
    // Rounded to 12 significant digits: 0.1 + 0.2 steps must read 0.3 in the table and the id.
    values = Array.from({ length: n }, (_, k) => ({
      value: Number((from + k * stepOf).toPrecision(12)),
      line: lineOf([...at, 'range']),
    }));
  } else {
    const seeds = typeof a.seeds === 'number' ? Array.from({ length: a.seeds }, (_, k) => k + 1) : a.seeds!;
    if (seeds.length === 0) empty('no seeds');
    values = seeds.map((value) => ({ value, line: lineOf([...at, 'seeds']) }));
  }
  return {
    column,
    line,
    points: values.map(({ value, line: l }) => ({
      label: isScalar(value) ? value : JSON.stringify(value),
      patches: [{ pointer, value, line: l }],
    })),
  };
}

const isScalar = (v: unknown): v is string | number | boolean =>
  typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';

/** Fails unless every parent along the patch's pointer exists in the base scenario. */
function checkPath(base: Base, patch: Patch, file: string): void {
  const inGrid = isGridPatch(patch);
  if (inGrid && !base.grid)
    throw new CampaignError(
      `${patch.pointer} addresses the grid file, but scenario '${base.rel}' runs on ${base.gridFile}, a MATPOWER case: grid parameters need a YAML grid (docs/grid-format.md)`,
      file,
      patch.line,
    );
  const segs = pointerSegments(inGrid ? gridPointer(patch) : patch.pointer);
  let node: unknown = inGrid ? base.grid!.data : base.data;
  const what = inGrid
    ? `grid '${basename(base.gridFile)}' (of scenario '${base.rel}')`
    : `scenario '${base.rel}'`;
  const example = inGrid ? 'grid#/ders/0/p_mw' : '/events/0/at';
  for (let k = 0; k < segs.length; k++) {
    const seg = segs[k]!;
    const last = k === segs.length - 1;
    const where = pointerOf(segs.slice(0, k)) || '/';
    const unknownPath = (has: string) => {
      throw new CampaignError(
        `unknown parameter path ${patch.pointer}: ${what} has no '${seg}' at ${where} (${has}); paths are JSON Pointers into the scenario file, or after grid# into its grid file, e.g. ${example}`,
        file,
        patch.line,
      );
    };
    if (Array.isArray(node)) {
      if (typeof seg !== 'number' || seg >= node.length)
        unknownPath(`it is a list of ${node.length}, index 0…${node.length - 1}`);
      node = node[seg as number];
    } else if (node && typeof node === 'object') {
      const keys = Object.keys(node);
      if (!(String(seg) in node)) {
        // A missing leaf may be a property the schema allows; the scenario check decides.
        if (last) return;
        const hint = closest(String(seg), keys);
        unknownPath(`it has ${keys.join(', ') || 'nothing'}${hint ? `; did you mean '${hint}'?` : ''}`);
      }
      node = (node as Record<string, unknown>)[String(seg)];
    } else {
      unknownPath(`${where} is a ${typeof node}, not a mapping or list`);
    }
  }
}

/** A base scenario as the runs are made of it: its data, its files and its YAML grid's data. */
interface Base {
  rel: string;
  data: Record<string, unknown>;
  files: Record<string, string>;
  hash: string;
  /** Absolute path of its grid file. */
  gridFile: string;
  /** The grid's data when it is YAML (the only kind grid# pointers can patch). */
  grid?: { name: string; path: string; data: Record<string, unknown> };
}

/** Pointers into the grid file start with this (a JSON Reference fragment of the grid). */
const GRID_POINTER = 'grid#';
const isGridPatch = (p: Patch) => p.pointer.startsWith(GRID_POINTER);
const gridPointer = (p: Patch) => p.pointer.slice(GRID_POINTER.length);

/** Checks a patched grid with the grid loader; errors point at the patch that broke it. */
function checkPatchedGrid(
  gridJson: string,
  gridFile: string,
  patches: Patch[],
  params: RunSpec['params'],
  file: string,
): void {
  try {
    parseGridYaml(gridJson, gridFile);
  } catch (err) {
    if (!(err instanceof GridInputError)) throw err;
    const path = err.where.path ?? '';
    const culprit =
      [...patches].reverse().find((p) => path === gridPointer(p) || path.startsWith(`${gridPointer(p)}/`)) ??
      [...patches].reverse().find((p) => gridPointer(p).startsWith(`${path}/`) || path === '/') ??
      patches[patches.length - 1];
    const run = Object.entries(params)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    throw new CampaignError(
      `value ${JSON.stringify(culprit?.value)} for ${culprit?.pointer} makes grid '${basename(gridFile)}' invalid at ${path || '/'}: ${err.reason}${run ? ` (run ${run})` : ''}; see docs/grid-format.md`,
      file,
      culprit?.line,
    );
  }
}

/** Sets `value` at `segs` inside `root` (parents exist: checkPath ran first). */
function setAt(root: Record<string, unknown>, segs: (string | number)[], value: unknown): void {
  let node = root as Record<string | number, unknown>;
  for (const seg of segs.slice(0, -1)) node = node[seg] as Record<string | number, unknown>;
  node[segs[segs.length - 1]!] = structuredClone(value);
}

/** Checks a patched scenario with the scenario loader; errors point at the patch that broke it. */
function checkPatched(
  scenarioJson: string,
  scenarioPath: string,
  patches: Patch[],
  params: RunSpec['params'],
  file: string,
): void {
  try {
    if (JSON.parse(scenarioJson).security !== undefined) parseSecurityScenario(scenarioJson, scenarioPath);
    else parseScenario(scenarioJson, scenarioPath);
  } catch (err) {
    if (!(err instanceof ScenarioError)) throw err;
    const path = err.path ?? '';
    // The patch the error is about: the one whose pointer is the error's path or inside it.
    const culprit =
      [...patches].reverse().find((p) => path === p.pointer || path.startsWith(`${p.pointer}/`)) ??
      [...patches].reverse().find((p) => p.pointer.startsWith(`${path}/`) || path === '/');
    const run = Object.entries(params)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    const what = /unknown property/.test(err.reason)
      ? `unknown parameter path ${culprit?.pointer ?? path}: the scenario format has no such property (${err.reason}); see docs/scenario-format.md`
      : `${culprit ? `value ${JSON.stringify(culprit.value)} for ${culprit.pointer}` : 'the patched scenario'} is not valid at ${path || '/'}: ${err.reason}`;
    throw new CampaignError(`${what}${run ? ` (run ${run})` : ''}`, file, culprit?.line);
  }
}
