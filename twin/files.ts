/**
 * Loads a grid file for the twin: MATPOWER `.m` (twin/grid/matpower.ts) or the project's YAML grid
 * format, whose top-level keys follow twin/grid/model.ts (`buses`, `branches`, `switches`, `loads`,
 * `shunts`, `generators`, `ders`, `fids`, `microgrids`) plus an optional `twin:` section with the
 * twin's own settings (TwinConfig, docs/twin.md).
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import { parseMatpower } from './grid/matpower.ts';
import { emptyGrid, type Grid, GridInputError } from './grid/model.ts';
import { validateGrid } from './grid/validate.ts';
import type { TwinConfig } from './twin.ts';

export interface LoadedGrid {
  grid: Grid;
  config: TwinConfig;
  file: string;
}

type Row = Record<string, unknown>;

function list(doc: Row, key: string): Row[] {
  const v = doc[key];
  return Array.isArray(v) ? (v as Row[]) : [];
}

/** Fills the model's optional fields with their documented defaults. */
function gridFromYaml(doc: Row, file: string): Grid {
  const grid = emptyGrid(
    String(doc.name ?? file),
    Number(doc.baseMVA ?? 100),
    Number(doc.frequency_hz ?? 50),
  );
  const str = (v: unknown) => String(v);
  grid.buses = list(doc, 'buses').map((b) => ({
    id: str(b.id),
    kind: (b.kind as Grid['buses'][number]['kind']) ?? 'pq',
    baseKV: Number(b.baseKV ?? 0),
    vm_pu: Number(b.vm_pu ?? 1),
    va_deg: Number(b.va_deg ?? 0),
    vmin_pu: Number(b.vmin_pu ?? 0.9),
    vmax_pu: Number(b.vmax_pu ?? 1.1),
    ...(b.microgrid !== undefined ? { microgrid: str(b.microgrid) } : {}),
  }));
  grid.branches = list(doc, 'branches').map((b) => ({
    id: str(b.id),
    kind: (b.kind as 'line' | 'transformer') ?? 'line',
    from: str(b.from),
    to: str(b.to),
    r_pu: Number(b.r_pu),
    x_pu: Number(b.x_pu),
    b_pu: Number(b.b_pu ?? 0),
    tap: Number(b.tap ?? 1),
    shift_deg: Number(b.shift_deg ?? 0),
    rateA_mva: Number(b.rateA_mva ?? 0),
    inService: b.inService !== false,
  }));
  grid.switches = list(doc, 'switches').map((s) => ({
    id: str(s.id),
    kind: (s.kind as 'breaker') ?? 'breaker',
    from: str(s.from),
    to: str(s.to),
    closed: s.closed !== false,
  }));
  grid.loads = list(doc, 'loads').map((l) => ({
    id: str(l.id),
    bus: str(l.bus),
    p_mw: Number(l.p_mw ?? 0),
    q_mvar: Number(l.q_mvar ?? 0),
    inService: l.inService !== false,
  }));
  grid.shunts = list(doc, 'shunts').map((s) => ({
    id: str(s.id),
    bus: str(s.bus),
    g_mw: Number(s.g_mw ?? 0),
    b_mvar: Number(s.b_mvar ?? 0),
    inService: s.inService !== false,
  }));
  grid.generators = list(doc, 'generators').map((g) => ({
    id: str(g.id),
    bus: str(g.bus),
    p_mw: Number(g.p_mw ?? 0),
    q_mvar: Number(g.q_mvar ?? 0),
    qmin_mvar: Number(g.qmin_mvar ?? -1e3),
    qmax_mvar: Number(g.qmax_mvar ?? 1e3),
    pmin_mw: Number(g.pmin_mw ?? 0),
    pmax_mw: Number(g.pmax_mw ?? 1e3),
    vset_pu: Number(g.vset_pu ?? 1),
    inService: g.inService !== false,
    participation: Number(g.participation ?? 0),
    gridForming: g.gridForming === true,
  }));
  grid.ders = list(doc, 'ders').map((d) => ({
    id: str(d.id),
    bus: str(d.bus),
    technology: d.technology as Grid['ders'][number]['technology'],
    control: (d.control as 'pq') ?? 'pq',
    rating_mva: Number(d.rating_mva),
    p_mw: Number(d.p_mw ?? 0),
    q_mvar: Number(d.q_mvar ?? 0),
    qmin_mvar: Number(d.qmin_mvar ?? -Number(d.rating_mva)),
    qmax_mvar: Number(d.qmax_mvar ?? Number(d.rating_mva)),
    vset_pu: Number(d.vset_pu ?? 1),
    participation: Number(d.participation ?? 0),
    inService: d.inService !== false,
    params: (d.params as Record<string, number | string | boolean>) ?? {},
  }));
  grid.fids = list(doc, 'fids').map((f) => ({
    id: str(f.id),
    busA: str(f.busA),
    busB: str(f.busB),
    rating_mva: Number(f.rating_mva),
    p_ab_mw: Number(f.p_ab_mw ?? 0),
    qA_mvar: Number(f.qA_mvar ?? 0),
    qB_mvar: Number(f.qB_mvar ?? 0),
    lossFraction: Number(f.lossFraction ?? 0.02),
    inService: f.inService !== false,
  }));
  grid.microgrids = list(doc, 'microgrids').map((m) => ({
    id: str(m.id),
    ...(m.name !== undefined ? { name: str(m.name) } : {}),
    ...(m.pccSwitch !== undefined ? { pccSwitch: str(m.pccSwitch) } : {}),
  }));
  return grid;
}

/** Reads a grid file (.m or .yaml/.yml). Throws GridInputError naming file, line and path. */
export async function loadGridFile(file: string): Promise<LoadedGrid> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new GridInputError(`cannot read grid file: ${(err as Error).message}`, { file });
  }
  if (file.endsWith('.m')) return { grid: parseMatpower(text, file).grid, config: {}, file };
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new GridInputError(`YAML syntax: ${e.message.split('\n')[0]}`, {
      file,
      line: e.linePos?.[0]?.line,
    });
  }
  const data = doc.toJS() as Row;
  if (!data || typeof data !== 'object')
    throw new GridInputError('grid file is not a YAML mapping', { file });
  const grid = gridFromYaml(data, file);
  validateGrid(grid, file);
  return { grid, config: (data.twin as TwinConfig) ?? {}, file };
}
