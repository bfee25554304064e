/**
 * A virtual power plant's portfolio, declared as data (docs/vpp.md): a YAML file validated by
 * portfolio.schema.json, then bound to the twin's catalog (the DERs and loads that exist).
 *
 * Errors name the file, the line and the member. This room depends on the twin's contract only,
 * so it reads YAML itself (line lookup through the `yaml` package's LineCounter) rather than through
 * the twin's reader.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { isNode, LineCounter, parseDocument } from 'yaml';
import type { TwinCatalog } from '../twin/control/contract.ts';

export const VPP_FORMAT = 'gridloop-vpp/1';

export type ControlStructure = 'central' | 'admm' | 'consensus';

/** Why a portfolio cannot be used: file, line and member where known. */
export class VppFileError extends Error {
  constructor(
    readonly reason: string,
    readonly file: string,
    readonly line?: number,
    readonly member?: string,
  ) {
    super(
      `${file}${line !== undefined ? `:${line}` : ''}${member ? ` (member '${member}')` : ''}: ${reason}`,
    );
    this.name = 'VppFileError';
  }
}

/** A member as declared in the file (defaults filled by the schema). */
export interface MemberDecl {
  der?: string;
  load?: string;
  operator?: string;
  prosumer?: string;
  share: number;
  cost?: { a_per_mw2h?: number; b_per_mwh?: number };
  ramp_mw_per_min?: number;
  pmin_mw?: number;
  pmax_mw?: number;
  load_mw?: number;
  soc_min: number;
  soc_max: number;
  availability?: number[];
}

export interface VppDecl {
  id: string;
  structure: ControlStructure;
  period_s: number;
  operators?: string[];
  members: MemberDecl[];
}

export interface PortfolioFile {
  format: typeof VPP_FORMAT;
  name?: string;
  grid?: string;
  vpps: VppDecl[];
}

/** A parsed, schema-valid portfolio with the line of every member (for later errors). */
export interface Portfolio {
  file: string;
  doc: PortfolioFile;
  /** Line of `vpps[v].members[m]`. */
  memberLine(v: number, m: number): number | undefined;
}

/**
 * A member bound to the twin: the VPP's share of one actuator, in MW (generator convention; a load
 * member's power is the demand it curtails). Costs are `a·p² + b·p` per hour, currency.
 */
export interface VppMember {
  id: string;
  kind: 'der' | 'load';
  operator: string;
  /** The prosumer it belongs to (portfolio `prosumer`): who sees its data and sets its preferences. */
  prosumer?: string;
  share: number;
  technology: string;
  bus: string;
  microgrid?: string;
  pmin_mw: number;
  pmax_mw: number;
  /** Reactive capability ±, Mvar (the share of the rating). */
  qmax_mvar: number;
  a: number;
  b: number;
  /** Ramp limit, MW/s (undefined: none). */
  ramp_mw_s?: number;
  /** Storage: the share of the energy capacity and its allowed state-of-charge band. */
  capacity_mwh?: number;
  soc_min: number;
  soc_max: number;
  /** Hourly availability of pmax (renewables, or a declared profile). */
  availability?: readonly number[];
  dispatchable: boolean;
  hardware: boolean;
  /** Demand a load member can curtail from, MW (its share). */
  load_mw?: number;
}

export interface BoundVpp {
  id: string;
  structure: ControlStructure;
  period_s: number;
  members: VppMember[];
}

const ajv = new Ajv({ allErrors: true, strict: false, useDefaults: true });
const validate = ajv.compile(
  JSON.parse(readFileSync(new URL('./portfolio.schema.json', import.meta.url), 'utf8')) as object,
);

/** Default quadratic cost coefficient when a member gives none: 5 % of b per MW (keeps the optimum unique). */
const DEFAULT_A_FRACTION = 0.05;
/** Technologies whose output follows the weather: a VPP can only curtail them. */
const WEATHER_DRIVEN = new Set(['pv', 'wind']);
/** Typical daily shape of PV availability (fraction of rating by hour, clear-sky-like), hours 0..23. */
const PV_SHAPE = [
  0, 0, 0, 0, 0, 0, 0.05, 0.2, 0.4, 0.6, 0.75, 0.85, 0.9, 0.85, 0.75, 0.6, 0.4, 0.2, 0.05, 0, 0, 0, 0, 0,
];
const WIND_SHAPE = Array.from({ length: 24 }, (_, h) => 0.35 + 0.1 * Math.cos(((h - 3) / 24) * 2 * Math.PI));

function segments(instancePath: string): (string | number)[] {
  return instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

function describe(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  if (e.keyword === 'additionalProperties') return `unknown field '${String(p.additionalProperty)}'`;
  if (e.keyword === 'required') return `missing required field '${String(p.missingProperty)}'`;
  if (e.keyword === 'oneOf') return "a member names exactly one of 'der' or 'load'";
  if (e.keyword === 'enum') return `must be one of ${(p.allowedValues as unknown[]).join(', ')}`;
  if (e.keyword === 'const') return `must be ${JSON.stringify(p.allowedValue)}`;
  return e.message ?? e.keyword;
}

/**
 * Parses and validates a portfolio's text (`file` names it in errors). Throws VppFileError. With
 * `at`, the portfolio is the mapping at that path of a larger document (a scenario's inline
 * `vpp.portfolio`), and lines are that document's.
 */
export function parsePortfolio(text: string, file: string, at: readonly (string | number)[] = []): Portfolio {
  const counter = new LineCounter();
  const doc = parseDocument(text, { lineCounter: counter, uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new VppFileError(`YAML syntax: ${e.message.split('\n')[0]}`, file, counter.linePos(e.pos[0]).line);
  }
  const lineOf = (inner: (string | number)[]): number | undefined => {
    const path = [...at, ...inner];
    for (let depth = path.length; depth >= 0; depth--) {
      const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
      if (isNode(node) && node.range) return counter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
    for (const key of at) data = (data as Record<string | number, unknown> | undefined)?.[key];
  } catch (err) {
    throw new VppFileError(`YAML cannot be read: ${(err as Error).message.split('\n')[0]}`, file);
  }
  if (!validate(data)) {
    const errors = validate.errors!;
    // An unknown field (usually a typo) first, never the inner complaints of oneOf's branches.
    const pool = errors.filter((e) => !e.schemaPath.includes('/oneOf/'));
    const rank = (e: ErrorObject) =>
      e.keyword === 'additionalProperties' ? 0 : e.keyword === 'required' ? 2 : 1;
    const e = (pool.length ? pool : errors).reduce((best, x) => (rank(x) < rank(best) ? x : best));
    const path = segments(e.instancePath);
    const memberPath = path[0] === 'vpps' && path[2] === 'members' && typeof path[3] === 'number';
    const member = memberPath
      ? memberName((data as PortfolioFile).vpps[path[1] as number]?.members[path[3] as number])
      : undefined;
    throw new VppFileError(`${e.instancePath || '/'}: ${describe(e)}`, file, lineOf(path), member);
  }
  const portfolio = data as PortfolioFile;
  for (const [v, vpp] of portfolio.vpps.entries()) {
    for (const [m, member] of vpp.members.entries()) {
      for (const key of ['pmin_mw', 'pmax_mw', 'load_mw', 'ramp_mw_per_min', 'share'] as const) {
        const value = member[key];
        if (value !== undefined && !Number.isFinite(value)) {
          throw new VppFileError(
            `${key} must be a finite number`,
            file,
            lineOf(['vpps', v, 'members', m, key]),
            memberName(member),
          );
        }
      }
    }
  }
  return { file, doc: portfolio, memberLine: (v, m) => lineOf(['vpps', v, 'members', m]) };
}

export function loadPortfolio(file: string): Portfolio {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new VppFileError(`cannot read: ${(err as Error).message}`, file);
  }
  return parsePortfolio(text, file);
}

function memberName(m: MemberDecl | undefined): string | undefined {
  return m?.der ?? m?.load;
}

/**
 * Binds every VPP of the portfolio to the twin's catalog: unknown members, a member claimed twice
 * in one VPP, shares over 100 % across VPPs, limits outside the unit's, an operator the VPP does not
 * list — each a VppFileError naming the member's line.
 */
export function bindPortfolio(portfolio: Portfolio, catalog: TwinCatalog): BoundVpp[] {
  const { file, doc } = portfolio;
  const ders = new Map(catalog.ders.map((d) => [d.id, d]));
  const loads = new Map(catalog.loads.map((l) => [l.id, l]));
  const shareSoFar = new Map<string, { share: number; vpp: string }>();
  return doc.vpps.map((vpp, v) => {
    const seen = new Set<string>();
    const members = vpp.members.map((decl, m): VppMember => {
      const line = portfolio.memberLine(v, m);
      const id = memberName(decl)!;
      const fail = (reason: string): never => {
        throw new VppFileError(`${reason} (vpp '${vpp.id}')`, file, line, id);
      };
      const key = decl.der !== undefined ? `der:${id}` : `load:${id}`;
      if (seen.has(key)) fail('listed twice in the same VPP');
      seen.add(key);
      const before = shareSoFar.get(key);
      const total = (before?.share ?? 0) + decl.share;
      if (total > 1 + 1e-9) {
        fail(`shares add up to ${(total * 100).toFixed(1)} % (> 100 %) with vpp '${before!.vpp}'`);
      }
      shareSoFar.set(key, { share: total, vpp: before ? `${before.vpp}', '${vpp.id}` : vpp.id });
      const operator = decl.operator ?? vpp.operators?.[0] ?? vpp.id;
      if (vpp.operators && !vpp.operators.includes(operator))
        fail(`operator '${operator}' is not among the VPP's operators`);
      const a = decl.cost?.a_per_mw2h;
      if (decl.der !== undefined) {
        const der =
          ders.get(id) ?? fail(`unknown DER: the grid has ${[...ders.keys()].join(', ') || 'none'}`);
        const pmin = decl.pmin_mw ?? der.pmin_mw;
        const pmax = decl.pmax_mw ?? der.pmax_mw;
        if (pmin < der.pmin_mw - 1e-9 || pmax > der.pmax_mw + 1e-9 || pmin > pmax) {
          fail(`limits [${pmin}, ${pmax}] MW must lie within the unit's [${der.pmin_mw}, ${der.pmax_mw}] MW`);
        }
        const b = decl.cost?.b_per_mwh ?? der.cost_per_mwh;
        const storage = der.capacity_mwh !== undefined;
        const availability =
          decl.availability ??
          (der.technology === 'pv' ? PV_SHAPE : der.technology === 'wind' ? WIND_SHAPE : undefined);
        if (decl.soc_min >= decl.soc_max)
          fail(`soc_min ${decl.soc_min} must be below soc_max ${decl.soc_max}`);
        return {
          id,
          kind: 'der',
          operator,
          ...(decl.prosumer === undefined ? {} : { prosumer: decl.prosumer }),
          share: decl.share,
          technology: der.technology,
          bus: der.bus,
          microgrid: der.microgrid,
          pmin_mw: decl.share * pmin,
          pmax_mw: decl.share * pmax,
          qmax_mvar: decl.share * der.rating_mva,
          a:
            a ??
            Math.max(DEFAULT_A_FRACTION * Math.abs(b), 0.5) / Math.max(decl.share * der.rating_mva, 1e-3),
          b,
          ramp_mw_s:
            decl.ramp_mw_per_min !== undefined ? (decl.share * decl.ramp_mw_per_min) / 60 : undefined,
          capacity_mwh: storage ? decl.share * der.capacity_mwh! : undefined,
          soc_min: decl.soc_min,
          soc_max: decl.soc_max,
          availability,
          dispatchable: der.dispatchable || storage || WEATHER_DRIVEN.has(der.technology),
          hardware: der.hardware,
        };
      }
      const load =
        loads.get(id) ?? fail(`unknown load: the grid has ${[...loads.keys()].slice(0, 8).join(', ')}…`);
      if (!load.controllable) fail('this load is not controllable (demand response may not curtail it)');
      if (decl.load_mw === undefined) fail("a load member needs 'load_mw' (the demand it may curtail from)");
      const loadMw = decl.share * decl.load_mw!;
      const b = decl.cost?.b_per_mwh ?? 300;
      return {
        id,
        kind: 'load',
        operator,
        ...(decl.prosumer === undefined ? {} : { prosumer: decl.prosumer }),
        share: decl.share,
        technology: 'load',
        bus: load.bus,
        microgrid: load.microgrid,
        pmin_mw: 0,
        pmax_mw: decl.pmax_mw !== undefined ? Math.min(decl.pmax_mw, loadMw) : loadMw,
        qmax_mvar: 0,
        a: a ?? (DEFAULT_A_FRACTION * b) / Math.max(loadMw, 1e-3),
        b,
        soc_min: 0,
        soc_max: 1,
        dispatchable: true,
        hardware: false,
        load_mw: loadMw,
      };
    });
    return { id: vpp.id, structure: vpp.structure, period_s: vpp.period_s, members };
  });
}
