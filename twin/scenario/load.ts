/**
 * Scenario files: YAML validated against scenario.schema.json (docs/scenario-format.md). Errors
 * name the file, the line and the JSON path of the offending value.
 */
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import type { ChannelSpec } from '../channels/channel.ts';
import type { EmsMode } from '../dynamics/ems.ts';
import { echo, echoMessage } from '../echo.ts';
import type { HardwareSpec, TwinConfig } from '../twin.ts';
import { pathOfPointer, pointerOf, readYamlMapping } from '../yaml-source.ts';

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
  /** A P2P market through the run (schema `market`; built outside the twin, by bench/market/). */
  market?: ScenarioMarket;
  /**
   * A virtual power plant attached to the run (schema-checked here; built and run by the bench,
   * which composes vpp/: docs/vpp.md, "In a scenario").
   */
  vpp?: Record<string, unknown>;
  events: ScenarioEvent[];
  assertions: ScenarioAssertion[];
  /** Where the scenario came from (for messages). */
  file: string;
  /** Source line of each event and assertion (for run-time errors). */
  lines: { events: (number | undefined)[]; assertions: (number | undefined)[] };
}

type Limits = { sellPrice?: number; buyPrice?: number };

/** The scenario's `market:` section as data (docs/market.md, "A market day in simulate"). */
export interface ScenarioMarket {
  interval_s: number;
  gateClosure_s: number;
  pricing?: 'uniform' | 'pay-as-bid';
  retailPrice?: number;
  feedInPrice?: number;
  priceCap?: number;
  fids?: string[];
  dispatch?: string[];
  /** The scenario's VPP as one participant (docs/market.md, "The VPP as a participant"). */
  vpp?: { id: string; price_step: number; reserve_mw: number };
  agents?: {
    renewableSellPrice?: number;
    battery?: Limits & { socMin?: number; socMax?: number };
    load?: { buyPrice?: number; flexPrice?: number };
    byId?: Record<string, Limits & { capacity_mwh?: number; trade?: boolean }>;
    /** Participants that send no orders (passive prosumers, settled by the sharing rule). */
    passive?: string[];
  };
  /** FID schedule ramp at each interval's start, s (docs/market.md, "FID schedule ramps"). */
  fidRamp_s?: number;
  /** Island-reserve constraint of the clearing (market/reserve.ts); false: none. */
  reserve?: false | { min_mw?: number; fraction?: number; socMin?: number; socMax?: number };
  tolerance: number;
  /** Settlement on the embedded chain (bench/market/market-settlement.ts); on unless `enabled: false`. */
  settlement?: {
    enabled?: boolean;
    authorities?: number;
    toleranceWh?: number;
    tolerancePermille?: number;
    penaltyPerWh?: number;
    /** The ledger engine (docs/market.md, "Ledger engines"). @default 'embedded' */
    engine?: 'embedded' | 'edr' | 'json-rpc';
    /** The node's JSON-RPC URL (engine 'json-rpc'). */
    rpcUrl?: string;
    /** Community sharing rule of the passive prosumers. @default 'mid-market-rate' */
    sharing?: 'mid-market-rate' | 'supply-demand-ratio';
    /** Deposit locked per participant, micro-units (default 10¹²); the book admits orders against it. */
    deposits?: Record<string, number>;
  };
}

/** A scenario file that cannot be used: file, line and JSON path of the problem. */
export class ScenarioError extends Error {
  constructor(
    readonly reason: string,
    readonly file: string,
    readonly line?: number,
    readonly path?: string,
  ) {
    super(
      `${echo(file)}${line !== undefined ? `:${line}` : ''}${path ? ` (at ${echo(path)})` : ''}: ${echoMessage(reason)}`,
    );
    this.name = 'ScenarioError';
  }
}

const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true });
const validate = ajv.compile(SCENARIO_SCHEMA);

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
  // No scenario number means "unbounded": an open window or limit is written by leaving it out.
  const { data, lineOf } = readYamlMapping(
    text,
    ({ reason, line, path }) => new ScenarioError(reason, file, line, path),
    {
      notMapping: 'a scenario must be a YAML mapping',
      nonFinite: 'is not allowed: every number must be finite (leave a bound out to leave it open)',
    },
  );
  if (!validate(data)) {
    const e = pickError(validate.errors ?? [], data);
    let segs = pathOfPointer(e.instancePath);
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
  const fail = (reason: string, segs: (string | number)[]): never => {
    throw new ScenarioError(reason, file, lineOf(segs), pointerOf(segs));
  };
  assertions.forEach((a, i) => {
    // An assertion whose window holds no sample of the run would check nothing and "pass".
    const after = a.after as number | undefined;
    const until = a.until as number | undefined;
    if (after !== undefined && after > s.duration_s)
      fail(`window starts at ${after} s, after the end of the run (${s.duration_s} s)`, [
        'assertions',
        i,
        'after',
      ]);
    if (after !== undefined && until !== undefined && until < after)
      fail(`window ends at ${until} s, before it starts (${after} s)`, ['assertions', i, 'until']);
    if (typeof a.at === 'number' && a.at > s.duration_s)
      fail(`checks the state at ${a.at} s, after the end of the run (${s.duration_s} s)`, [
        'assertions',
        i,
        'at',
      ]);
    if (typeof a.by === 'number' && a.by > s.duration_s)
      fail(`asks to settle by ${a.by} s, after the end of the run (${s.duration_s} s)`, [
        'assertions',
        i,
        'by',
      ]);
    if (a.type.startsWith('vpp-') && s.vpp === undefined)
      fail(`assertion '${a.type}' needs the scenario's vpp: section (the VPP it is about)`, [
        'assertions',
        i,
        'type',
      ]);
    const [lo, hi] = [a.min_pu ?? a.min, a.max_pu ?? a.max] as (number | undefined)[];
    if (lo !== undefined && hi !== undefined && lo > hi)
      fail(`lower bound ${lo} is above upper bound ${hi}`, ['assertions', i]);
  });
  const market = s.market;
  if (market && market.gateClosure_s > 0 && market.interval_s % market.gateClosure_s !== 0)
    fail(`must divide interval_s (${market.interval_s} s): the market wakes at every gate closure`, [
      'market',
      'gateClosure_s',
    ]);
  if (market?.fidRamp_s !== undefined && market.fidRamp_s >= market.interval_s)
    fail(`must be shorter than interval_s (${market.interval_s} s)`, ['market', 'fidRamp_s']);
  if (market?.vpp && s.vpp === undefined)
    fail(`names VPP '${market.vpp.id}' as a participant, but the scenario has no vpp: section`, [
      'market',
      'vpp',
      'id',
    ]);
  const vppTarget = (s.vpp as { target?: { market?: string } } | undefined)?.target;
  if (vppTarget?.market !== undefined && !market?.vpp)
    fail(
      "is the VPP's award in the P2P market: the scenario's market: section must name the VPP (market: { vpp: { id: <its id> } })",
      ['vpp', 'target', 'market'],
    );
  const hardwareIds = new Map<string, number>();
  (s.hardware ?? []).forEach((h, i) => {
    if (hardwareIds.has(h.id))
      fail(`duplicate hardware id '${h.id}' (also /hardware/${hardwareIds.get(h.id)})`, [
        'hardware',
        i,
        'id',
      ]);
    hardwareIds.set(h.id, i);
  });
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

/** A scenario file's text; a file that cannot be read is a ScenarioError naming it. */
export async function readScenarioFile(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new ScenarioError(
      `cannot read scenario: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      file,
    );
  }
}

export async function loadScenario(file: string): Promise<Scenario> {
  return parseScenario(await readScenarioFile(file), file);
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
