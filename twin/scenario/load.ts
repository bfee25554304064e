/**
 * Scenario files: YAML validated against scenario.schema.json (docs/scenario-format.md). Errors
 * name the file, the line and the JSON path of the offending value.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { isNode, LineCounter, parseDocument } from 'yaml';
import type { ChannelSpec } from '../channels/channel.ts';
import type { EmsMode } from '../dynamics/ems.ts';
import type { HardwareSpec, TwinConfig } from '../twin.ts';

const require = createRequire(import.meta.url);
export const SCENARIO_SCHEMA = require('./scenario.schema.json') as Record<string, unknown>;

export type ScenarioEvent = { at: number; action: string } & Record<string, unknown>;
export type ScenarioAssertion = { type: string; name?: string } & Record<string, unknown>;

export interface Scenario {
  name: string;
  description?: string;
  /** Grid file, resolved to an absolute path. */
  grid: string;
  seed: number;
  dt_s: number;
  duration_s: number;
  startHour?: number;
  record?: { every_s?: number; buses?: boolean };
  /** Main-grid trace to replay (CSV t_s,f_hz,v_pu), resolved to an absolute path. */
  mainGrid?: { trace?: string };
  initial?: {
    breakers?: Record<string, boolean>;
    fids?: Record<string, number>;
    ems?: Record<string, EmsMode>;
    soc?: Record<string, number>;
    loadScale?: number;
  };
  twin?: TwinConfig;
  channels?: Record<string, ChannelSpec>;
  hardware?: HardwareSpec[];
  events: ScenarioEvent[];
  assertions: ScenarioAssertion[];
  /** Where the scenario came from (for messages). */
  file: string;
  /** Source line of each event and assertion (for run-time errors). */
  lines: { events: (number | undefined)[]; assertions: (number | undefined)[] };
}

/** A scenario file that cannot be used: file, line and JSON path of the problem. */
export class ScenarioError extends Error {
  constructor(
    readonly reason: string,
    readonly file: string,
    readonly line?: number,
    readonly path?: string,
  ) {
    super(`${file}${line !== undefined ? `:${line}` : ''}${path ? ` (at ${path})` : ''}: ${reason}`);
    this.name = 'ScenarioError';
  }
}

const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true });
const validate = ajv.compile(SCENARIO_SCHEMA);

function pathSegments(instancePath: string): (string | number)[] {
  if (!instancePath) return [];
  return instancePath
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

type UnionBranch = { properties: Record<string, { const?: string; enum?: string[] }> };
const UNIONS = SCENARIO_SCHEMA.definitions as Record<'event' | 'assertion', { oneOf: UnionBranch[] }>;

/**
 * Picks the most useful error. Events and assertions are unions (oneOf) keyed by `action` /
 * `type`: report the errors of the branch the item selects, or an unknown key.
 */
function pickError(errors: ErrorObject[], data: unknown): ErrorObject {
  for (const e of errors) {
    const m = /^\/(events|assertions)\/(\d+)/.exec(e.instancePath);
    if (!m) continue;
    const kind = m[1] === 'events' ? 'event' : 'assertion';
    const key = kind === 'event' ? 'action' : 'type';
    const item = (data as Record<string, unknown[]>)[m[1]]?.[Number(m[2])] as
      | Record<string, unknown>
      | undefined;
    const value = item?.[key];
    const branches = UNIONS[kind].oneOf;
    const b = branches.findIndex(
      (br) => br.properties[key]?.const === value || br.properties[key]?.enum?.includes(value as string),
    );
    const itemPath = `/${m[1]}/${m[2]}`;
    if (b < 0) {
      const allowed = branches.flatMap((br) => br.properties[key]?.const ?? br.properties[key]?.enum ?? []);
      return {
        ...e,
        keyword: 'union',
        instancePath: `${itemPath}/${key}`,
        message:
          value === undefined
            ? `missing required property '${key}'`
            : `unknown ${kind} ${key} '${String(value)}'; expected one of ${allowed.join(', ')}`,
      };
    }
    const mine = errors.filter(
      (x) => x.instancePath.startsWith(itemPath) && x.schemaPath.startsWith(`#/oneOf/${b}/`),
    );
    const deepest = mine.sort((x, y) => y.instancePath.length - x.instancePath.length)[0];
    if (deepest) return deepest;
    const other = errors.find((x) => x.instancePath.startsWith(itemPath) && !x.schemaPath.includes('oneOf'));
    if (other) return other;
  }
  return errors.find((e) => e.keyword !== 'oneOf') ?? errors[0];
}

function describe(e: ErrorObject): string {
  if (e.keyword === 'additionalProperties')
    return `unknown property '${(e.params as { additionalProperty: string }).additionalProperty}'`;
  if (e.keyword === 'required')
    return `missing required property '${(e.params as { missingProperty: string }).missingProperty}'`;
  return e.message ?? 'invalid';
}

/** Parses and validates scenario text. `file` is used for messages and to resolve the grid path. */
export function parseScenario(text: string, file: string): Scenario {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new ScenarioError(`YAML syntax error: ${e.message.split('\n')[0]}`, file, e.linePos?.[0]?.line);
  }
  const data = doc.toJS({ maxAliasCount: 100 }) as unknown;
  const lineOf = (segs: (string | number)[]): number | undefined => {
    for (let n = segs.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(segs.slice(0, n), true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  if (!data || typeof data !== 'object' || Array.isArray(data)) {
    throw new ScenarioError('a scenario must be a YAML mapping', file, 1);
  }
  if (!validate(data)) {
    const e = pickError(validate.errors ?? [], data);
    let segs = pathSegments(e.instancePath);
    if (e.keyword === 'additionalProperties') {
      segs = [...segs, (e.params as { additionalProperty: string }).additionalProperty];
    }
    const path = `/${segs.join('/')}`;
    throw new ScenarioError(describe(e), file, lineOf(segs), path === '/' ? '/' : path);
  }
  const s = data as Omit<Scenario, 'file' | 'lines'> & {
    events?: ScenarioEvent[];
    assertions?: ScenarioAssertion[];
  };
  const events = s.events ?? [];
  const assertions = s.assertions ?? [];
  for (let i = 0; i < events.length; i++) {
    if (events[i].at > s.duration_s) {
      throw new ScenarioError(
        `event at ${events[i].at} s is after the end of the run (${s.duration_s} s)`,
        file,
        lineOf(['events', i, 'at']),
        `/events/${i}/at`,
      );
    }
  }
  return {
    ...s,
    grid: resolve(dirname(file), s.grid),
    ...(s.mainGrid?.trace ? { mainGrid: { trace: resolve(dirname(file), s.mainGrid.trace) } } : {}),
    seed: s.seed ?? 1,
    dt_s: s.dt_s ?? 0.001,
    events,
    assertions,
    file,
    lines: {
      events: events.map((_, i) => lineOf(['events', i])),
      assertions: assertions.map((_, i) => lineOf(['assertions', i])),
    },
  };
}

export async function loadScenario(file: string): Promise<Scenario> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ScenarioError(
      `cannot read scenario: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      file,
    );
  }
  return parseScenario(text, file);
}

/**
 * Parses a main-grid trace: CSV with a header naming t_s, f_hz and v_pu (any order, extra columns
 * ignored), times strictly increasing. Errors name the file and line.
 */
export function parseGridTrace(
  text: string,
  file: string,
): { t_s: Float64Array; f_hz: Float64Array; v_pu: Float64Array } {
  const lines = text.split(/\r?\n/);
  // Leading '#' lines are comments; the first other line is the header.
  let h = 0;
  while (h < lines.length && lines[h].trim().startsWith('#')) h++;
  const header = lines[h]?.split(',').map((c) => c.trim()) ?? [];
  const col = (name: string) => {
    const i = header.indexOf(name);
    if (i < 0)
      throw new ScenarioError(`trace header must name t_s, f_hz and v_pu (missing ${name})`, file, h + 1);
    return i;
  };
  const [ct, cf, cv] = [col('t_s'), col('f_hz'), col('v_pu')];
  const t: number[] = [];
  const f: number[] = [];
  const v: number[] = [];
  for (let n = h + 1; n < lines.length; n++) {
    const line = lines[n].trim();
    if (line === '' || line.startsWith('#')) continue;
    const cells = line.split(',');
    const nums = [cells[ct], cells[cf], cells[cv]].map((c) =>
      c === undefined || c.trim() === '' ? Number.NaN : Number(c),
    );
    if (!nums.every(Number.isFinite))
      throw new ScenarioError(`trace row needs finite t_s, f_hz, v_pu: '${line}'`, file, n + 1);
    if (t.length > 0 && nums[0] <= t[t.length - 1])
      throw new ScenarioError('trace times must increase', file, n + 1);
    t.push(nums[0]);
    f.push(nums[1]);
    v.push(nums[2]);
  }
  if (t.length === 0) throw new ScenarioError('trace has no rows', file, 2);
  return { t_s: Float64Array.from(t), f_hz: Float64Array.from(f), v_pu: Float64Array.from(v) };
}
