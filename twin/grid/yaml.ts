/**
 * The project's YAML grid format (docs/grid-format.md), validated by the JSON Schema in
 * grid.schema.json, and its writer (used to export MATPOWER cases).
 *
 * Errors name the file, the line and the JSON path of the offending value.
 */
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { pathOfPointer, readYamlMapping } from '../yaml-source.ts';
import type { Branch, Bus, Der, Fid, Generator, Grid, Load, Microgrid, Shunt, Switch } from './model.ts';
import { emptyGrid, GridInputError } from './model.ts';
import { microsiemensToPu, ohmsToPu } from './per-unit.ts';
import { type ElementLocator, infinityAllowed, validateGrid } from './validate.ts';

export const GRID_FORMAT = 'gridloop-grid/1';

/** Where the published schema is (its DER technologies are generated: `npm run schema:grid`). */
export const GRID_SCHEMA_URL = new URL('./grid.schema.json', import.meta.url);

let validator: ValidateFunction | undefined;
/** The published schema, as an object. */
export function gridSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(GRID_SCHEMA_URL, 'utf8'));
}
const compiled = new WeakMap<object, ValidateFunction>();
function validate(schema?: Record<string, unknown>): ValidateFunction {
  const compile = (s: Record<string, unknown>) => new Ajv({ allErrors: true, strict: false }).compile(s);
  if (!schema) {
    validator ??= compile(gridSchema());
    return validator;
  }
  const known = compiled.get(schema) ?? compile(schema);
  compiled.set(schema, known);
  return known;
}

export interface GridParseOptions {
  /**
   * The schema to validate with instead of the published one: gridSchemaWith(technologies) for a
   * grid with DER technologies of one's own (twin/der/technologies.ts).
   */
  schema?: Record<string, unknown>;
}

export interface YamlGridImport {
  grid: Grid;
  locate: ElementLocator;
  /** The `twin:` section, untouched (settings of the twin, not of the network). */
  twin: Record<string, unknown> | undefined;
}

type Row = Record<string, unknown>;

function describeError(error: ErrorObject): { path: string; message: string } {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'additionalProperties') {
    return {
      path: `${error.instancePath}/${String(params.additionalProperty)}`,
      message: `unknown field '${String(params.additionalProperty)}'`,
    };
  }
  if (error.keyword === 'required') {
    return {
      path: error.instancePath,
      message: `missing required field '${String(params.missingProperty)}'`,
    };
  }
  if (error.keyword === 'enum') {
    return {
      path: error.instancePath,
      message: `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
    };
  }
  if (error.keyword === 'oneOf' && /^\/branches\/\d+$/.test(error.instancePath)) {
    return {
      path: error.instancePath,
      message: 'give the impedance either as r_pu and x_pu or as r_ohm and x_ohm (not both, not neither)',
    };
  }
  if (error.keyword === 'const') {
    return { path: error.instancePath, message: `must be ${JSON.stringify(params.allowedValue)}` };
  }
  return { path: error.instancePath, message: error.message ?? error.keyword };
}

/**
 * Picks the error a person should see first: an unknown field (usually a typo) before a bad value,
 * a bad value before a missing field, and never the inner complaints of a oneOf's alternatives
 * (the oneOf error itself says what is expected).
 */
function mostUseful(errors: ErrorObject[]): ErrorObject {
  const candidates = errors.filter((e) => !e.schemaPath.includes('/oneOf/') && e.keyword !== 'if');
  const rank = (e: ErrorObject) =>
    e.keyword === 'additionalProperties' ? 0 : e.keyword === 'required' ? 2 : e.keyword === 'oneOf' ? 3 : 1;
  const pool = candidates.length > 0 ? candidates : errors;
  return pool.reduce((best, e) => (rank(e) < rank(best) ? e : best), pool[0]!);
}

/** Parses and validates a YAML grid file's text. `file` names it in error messages. */
export function parseGridYaml(text: string, file: string, options: GridParseOptions = {}): YamlGridImport {
  const { data, lineOf } = readYamlMapping(
    text,
    ({ reason, line, path }) => new GridInputError(reason, { file, line, ...(path ? { path } : {}) }),
    {
      notMapping: 'a grid file must be a YAML mapping with format, baseMVA and buses',
      nonFinite: 'is not allowed here: every number must be finite (docs/grid-format.md)',
    },
    (path, value) => path.length === 3 && infinityAllowed(String(path[0]), String(path[2]), value),
  );
  const check = validate(options.schema);
  if (!check(data)) {
    const { path, message } = describeError(mostUseful(check.errors!));
    const segments = pathOfPointer(path);
    throw new GridInputError(message, { file, line: lineOf(segments), path: path || '/' });
  }
  const grid = gridFromDocument(data as Row, file);
  const locate: ElementLocator = (kind, index, field) => ({
    line: lineOf(field === undefined ? [kind, index] : [kind, index, field]),
  });
  validateGrid(grid, file, locate);
  const twin = (data as Row).twin as Record<string, unknown> | undefined;
  return { grid, locate, twin };
}

const str = (v: unknown) => String(v);
const list = (doc: Row, key: string) => (Array.isArray(doc[key]) ? (doc[key] as Row[]) : []);
const numberOr = (v: unknown, fallback: number) => (typeof v === 'number' ? v : fallback);

/** Builds the model from a schema-valid document, filling documented defaults. */
function gridFromDocument(doc: Row, file: string): Grid {
  const baseMVA = doc.baseMVA as number;
  const grid = emptyGrid(
    typeof doc.name === 'string' ? doc.name : file.replace(/^.*[\\/]/, ''),
    baseMVA,
    numberOr(doc.frequency_hz, 50),
  );
  grid.buses = list(doc, 'buses').map((b): Bus => {
    const bus: Bus = {
      id: str(b.id),
      kind: (b.kind as Bus['kind']) ?? 'pq',
      baseKV: b.baseKV as number,
      vm_pu: numberOr(b.vm_pu, 1),
      va_deg: numberOr(b.va_deg, 0),
      vmin_pu: numberOr(b.vmin_pu, 0.9),
      vmax_pu: numberOr(b.vmax_pu, 1.1),
    };
    if (typeof b.name === 'string') bus.name = b.name;
    if (typeof b.area === 'number') bus.area = b.area;
    if (typeof b.zone === 'number') bus.zone = b.zone;
    if (typeof b.microgrid === 'string') bus.microgrid = b.microgrid;
    if (Array.isArray(b.xy)) [bus.x, bus.y] = b.xy as [number, number];
    return bus;
  });
  const kv = new Map(grid.buses.map((b) => [b.id, b.baseKV]));
  grid.branches = list(doc, 'branches').map((b): Branch => {
    const from = str(b.from);
    // Ohms are per unit on the from bus's base; an unknown bus is reported by validateGrid.
    const kV = kv.get(from) || 1;
    const inOhms = typeof b.r_ohm === 'number';
    return {
      id: str(b.id),
      kind: (b.kind as Branch['kind']) ?? 'line',
      from,
      to: str(b.to),
      r_pu: inOhms ? ohmsToPu(b.r_ohm as number, kV, baseMVA) : (b.r_pu as number),
      x_pu: inOhms ? ohmsToPu(b.x_ohm as number, kV, baseMVA) : (b.x_pu as number),
      b_pu: typeof b.b_us === 'number' ? microsiemensToPu(b.b_us, kV, baseMVA) : numberOr(b.b_pu, 0),
      tap: numberOr(b.tap, 1),
      shift_deg: numberOr(b.shift_deg, 0),
      rateA_mva: numberOr(b.rateA_mva, 0),
      inService: b.inService !== false,
    };
  });
  grid.switches = list(doc, 'switches').map(
    (s): Switch => ({
      id: str(s.id),
      kind: (s.kind as Switch['kind']) ?? 'breaker',
      from: str(s.from),
      to: str(s.to),
      closed: s.closed !== false,
    }),
  );
  grid.loads = list(doc, 'loads').map(
    (l): Load => ({
      id: str(l.id),
      bus: str(l.bus),
      p_mw: l.p_mw as number,
      q_mvar: numberOr(l.q_mvar, 0),
      inService: l.inService !== false,
    }),
  );
  grid.shunts = list(doc, 'shunts').map(
    (s): Shunt => ({
      id: str(s.id),
      bus: str(s.bus),
      g_mw: numberOr(s.g_mw, 0),
      b_mvar: numberOr(s.b_mvar, 0),
      inService: s.inService !== false,
    }),
  );
  grid.generators = list(doc, 'generators').map(
    (g): Generator => ({
      id: str(g.id),
      bus: str(g.bus),
      p_mw: numberOr(g.p_mw, 0),
      q_mvar: numberOr(g.q_mvar, 0),
      qmin_mvar: numberOr(g.qmin_mvar, -1000),
      qmax_mvar: numberOr(g.qmax_mvar, 1000),
      pmin_mw: numberOr(g.pmin_mw, 0),
      pmax_mw: numberOr(g.pmax_mw, 1000),
      vset_pu: numberOr(g.vset_pu, 1),
      inService: g.inService !== false,
      participation: numberOr(g.participation, 0),
      gridForming: g.gridForming === true,
    }),
  );
  grid.ders = list(doc, 'ders').map((d): Der => {
    const rating = d.rating_mva as number;
    return {
      id: str(d.id),
      bus: str(d.bus),
      technology: d.technology as Der['technology'],
      control: (d.control as Der['control']) ?? 'pq',
      rating_mva: rating,
      p_mw: numberOr(d.p_mw, 0),
      q_mvar: numberOr(d.q_mvar, 0),
      qmin_mvar: numberOr(d.qmin_mvar, -rating),
      qmax_mvar: numberOr(d.qmax_mvar, rating),
      vset_pu: numberOr(d.vset_pu, 1),
      participation: numberOr(d.participation, 0),
      inService: d.inService !== false,
      params: (d.params as Der['params']) ?? {},
    };
  });
  grid.fids = list(doc, 'fids').map(
    (f): Fid => ({
      id: str(f.id),
      busA: str(f.busA),
      busB: str(f.busB),
      rating_mva: f.rating_mva as number,
      p_ab_mw: numberOr(f.p_ab_mw, 0),
      qA_mvar: numberOr(f.qA_mvar, 0),
      qB_mvar: numberOr(f.qB_mvar, 0),
      lossFraction: numberOr(f.lossFraction, 0.02),
      inService: f.inService !== false,
    }),
  );
  grid.microgrids = list(doc, 'microgrids').map((m): Microgrid => {
    const mg: Microgrid = { id: str(m.id) };
    if (typeof m.name === 'string') mg.name = m.name;
    if (typeof m.pccSwitch === 'string') mg.pccSwitch = m.pccSwitch;
    return mg;
  });
  return grid;
}

/** Drops fields equal to their documented defaults, so exported files stay short. */
function compact(entry: Row, defaults: Row): Row {
  const out: Row = {};
  for (const [key, value] of Object.entries(entry)) {
    if (value === undefined) continue;
    if (key in defaults && defaults[key] === value) continue;
    out[key] = value;
  }
  return out;
}

export interface GridYamlOptions {
  /** A comment placed at the top of the file (e.g. provenance). */
  header?: string;
}

const INF = '@@gridloop+inf@@';
const MINUS_INF = '@@gridloop-inf@@';

/**
 * Writes a grid in the YAML format: one flow mapping per element (JSON syntax, valid YAML), so a
 * 10,000-bus case stays a readable, line-per-element file.
 */
export function gridToYaml(grid: Grid, options: GridYamlOptions = {}): string {
  const lines: string[] = [];
  if (options.header) for (const line of options.header.split('\n')) lines.push(`# ${line}`.trimEnd());
  lines.push(`format: ${GRID_FORMAT}`);
  lines.push(`name: ${JSON.stringify(grid.name)}`);
  lines.push(`baseMVA: ${grid.baseMVA}`);
  lines.push(`frequency_hz: ${grid.frequency_hz}`);
  const section = (key: string, rows: Row[]) => {
    if (rows.length === 0) return;
    lines.push(`${key}:`);
    // JSON has no infinity; YAML's .inf / -.inf (a unit's unlimited Q) read back as ±Infinity.
    const text = (row: Row) =>
      JSON.stringify(row, (_, v) =>
        v === Number.POSITIVE_INFINITY ? INF : v === Number.NEGATIVE_INFINITY ? MINUS_INF : v,
      )
        .replaceAll(`"${INF}"`, '.inf')
        .replaceAll(`"${MINUS_INF}"`, '-.inf');
    for (const row of rows) lines.push(`  - ${text(row)}`);
  };
  section(
    'buses',
    grid.buses.map((b) => {
      const { x, y, ...rest } = b;
      const row = compact(rest as unknown as Row, {
        kind: 'pq',
        vm_pu: 1,
        va_deg: 0,
        vmin_pu: 0.9,
        vmax_pu: 1.1,
      });
      if (x !== undefined && y !== undefined) row.xy = [x, y];
      return row;
    }),
  );
  section(
    'branches',
    grid.branches.map((b) =>
      compact(b as unknown as Row, {
        kind: 'line',
        b_pu: 0,
        tap: 1,
        shift_deg: 0,
        rateA_mva: 0,
        inService: true,
      }),
    ),
  );
  section(
    'switches',
    grid.switches.map((s) => compact(s as unknown as Row, { kind: 'breaker', closed: true })),
  );
  section(
    'loads',
    grid.loads.map((l) => compact(l as unknown as Row, { q_mvar: 0, inService: true })),
  );
  section(
    'shunts',
    grid.shunts.map((s) => compact(s as unknown as Row, { g_mw: 0, b_mvar: 0, inService: true })),
  );
  section(
    'generators',
    grid.generators.map((g) =>
      compact(g as unknown as Row, {
        p_mw: 0,
        q_mvar: 0,
        pmin_mw: 0,
        vset_pu: 1,
        participation: 0,
        gridForming: false,
        inService: true,
      }),
    ),
  );
  section(
    'ders',
    grid.ders.map((d) => {
      const row = compact(d as unknown as Row, {
        control: 'pq',
        p_mw: 0,
        q_mvar: 0,
        vset_pu: 1,
        participation: 0,
        inService: true,
      });
      if (Object.keys(d.params).length === 0) delete row.params;
      return row;
    }),
  );
  section(
    'fids',
    grid.fids.map((f) =>
      compact(f as unknown as Row, {
        p_ab_mw: 0,
        qA_mvar: 0,
        qB_mvar: 0,
        lossFraction: 0.02,
        inService: true,
      }),
    ),
  );
  section(
    'microgrids',
    grid.microgrids.map((m) => ({ ...m })),
  );
  return `${lines.join('\n')}\n`;
}
