/**
 * MATPOWER case-file (.m, format version 2) importer.
 *
 * Reads the `mpc.*` data blocks without running MATLAB. The only executable code it understands is
 * the unit conversion that distribution cases such as case33bw and case69 carry at their end
 * (branch r/x in ohms divided by Vbase²/Sbase, Pd/Qd in kW divided by 1e3); any other statement is
 * rejected with its line rather than silently ignored, since ignoring it would give wrong data.
 */
import { type Branch, type Bus, type BusKind, emptyGrid, type Grid, GridInputError } from './model.ts';
import { ohmsToPu } from './per-unit.ts';
import { type ElementLocator, validateGrid } from './validate.ts';

interface Block {
  name: string;
  startLine: number;
  rows: number[][];
  rowLines: number[];
  strings: string[];
}

export interface MatpowerImport {
  grid: Grid;
  /** Source line of each element, for error messages. */
  locate: ElementLocator;
  /** True when the file's trailing code converted r/x from ohms and Pd/Qd from kW. */
  convertedUnits: { ohmsToPu: boolean; kwToMw: boolean };
}

const BUS_TYPE: Record<number, BusKind> = { 1: 'pq', 2: 'pv', 3: 'slack', 4: 'isolated' };

/** Removes a `%` comment that is not inside a single-quoted string. */
function stripComment(line: string): string {
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === "'") inString = !inString;
    else if (ch === '%' && !inString) return line.slice(0, i);
  }
  return line;
}

/**
 * Columns where MATPOWER gives ±Inf a meaning: a generator's reactive limits, QMAX = Inf and
 * QMIN = -Inf for a machine without that limit (the PEGASE cases have them). Everywhere else an
 * infinite value is an error.
 */
const INFINITE_ALLOWED: Record<string, Record<number, { sign: 1 | -1; name: string }>> = {
  gen: { 3: { sign: 1, name: 'QMAX' }, 4: { sign: -1, name: 'QMIN' } },
};

function parseNumber(token: string, file: string, line: number, block: string, column = -1): number {
  const lowered = token.toLowerCase();
  let value: number;
  if (lowered === 'inf' || lowered === '+inf') value = Number.POSITIVE_INFINITY;
  else if (lowered === '-inf') value = Number.NEGATIVE_INFINITY;
  else if (lowered === 'nan') value = Number.NaN;
  else value = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(token) ? Number(token) : Number.NaN;
  if (!Number.isFinite(value)) {
    const allowed = INFINITE_ALLOWED[block]?.[column];
    if (allowed && value === allowed.sign * Number.POSITIVE_INFINITY) return value;
    const path = column >= 0 ? `/mpc/${block}/${column}` : `/mpc/${block}`;
    if (!/^[+-]?(inf|nan)$/i.test(token)) {
      throw new GridInputError(`'${token}' in mpc.${block}: not a number`, { file, line, path });
    }
    const hint = allowed
      ? ` (${allowed.name} may be ${allowed.sign > 0 ? 'Inf' : '-Inf'}: no limit)`
      : block === 'gen'
        ? ' (only QMAX = Inf and QMIN = -Inf mean "no limit")'
        : '';
    throw new GridInputError(`'${token}' in mpc.${block}: values must be finite${hint}`, {
      file,
      line,
      path,
    });
  }
  return value;
}

const IGNORED_STATEMENTS = [
  /^function\s+mpc\s*=\s*\w+\s*$/,
  /^\[[\w\s,.]*\]\s*=\s*idx_(bus|brch|gen|cost)\s*;?$/,
  /^Vbase\s*=\s*mpc\.bus\(\s*1\s*,\s*BASE_KV\s*\)\s*\*\s*1e3\s*;?$/,
  /^Sbase\s*=\s*mpc\.baseMVA\s*\*\s*1e6\s*;?$/,
];
const OHMS_TO_PU =
  /^mpc\.branch\(\s*:\s*,\s*\[\s*BR_R\s*,?\s*BR_X\s*\]\s*\)\s*=\s*mpc\.branch\(\s*:\s*,\s*\[\s*BR_R\s*,?\s*BR_X\s*\]\s*\)\s*\/\s*\(\s*Vbase\s*\^\s*2\s*\/\s*Sbase\s*\)\s*;?$/;
const KW_TO_MW =
  /^mpc\.bus\(\s*:\s*,\s*\[\s*PD\s*,?\s*QD\s*\]\s*\)\s*=\s*mpc\.bus\(\s*:\s*,\s*\[\s*PD\s*,?\s*QD\s*\]\s*\)\s*\/\s*1e3\s*;?$/;

/** Parses MATPOWER case text. `file` is used in error messages only. */
export function parseMatpower(text: string, file: string): MatpowerImport {
  const lines = text.split(/\r?\n/);
  const scalars = new Map<string, { value: string; line: number }>();
  const blocks = new Map<string, Block>();
  let open: (Block & { kind: 'matrix' | 'cell' }) | undefined;
  let convertOhms = false;
  let kwToMw = false;
  let pending = '';
  let pendingLine = 0;

  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const raw = stripComment(lines[i]!).trim();
    if (open) {
      let body = raw;
      const closer = open.kind === 'matrix' ? ']' : '}';
      const closeAt = body.indexOf(closer);
      const closing = closeAt >= 0;
      if (closing) body = body.slice(0, closeAt);
      for (const rowText of body.split(';')) {
        const row = rowText.trim();
        if (row === '') continue;
        if (open.kind === 'cell') {
          const m = /^'((?:[^']|'')*)'$/.exec(row);
          if (!m) {
            throw new GridInputError(`expected a quoted string in mpc.${open.name}, got '${row}'`, {
              file,
              line: lineNo,
            });
          }
          open.strings.push(m[1]!.replace(/''/g, "'"));
        } else {
          const tokens = row.split(/[\s,]+/).filter((t) => t !== '');
          open.rows.push(tokens.map((t, column) => parseNumber(t, file, lineNo, open!.name, column)));
          open.rowLines.push(lineNo);
        }
      }
      if (closing) {
        blocks.set(open.name, open);
        open = undefined;
      }
      continue;
    }
    if (raw === '') continue;
    const statement = pending === '' ? raw : `${pending} ${raw}`;
    const statementLine = pending === '' ? lineNo : pendingLine;
    if (statement.endsWith('...')) {
      pending = statement.slice(0, -3);
      pendingLine = statementLine;
      continue;
    }
    pending = '';
    const blockStart = /^mpc\.(\w+)\s*=\s*([[{])(.*)$/.exec(statement);
    if (blockStart) {
      open = {
        name: blockStart[1]!,
        kind: blockStart[2] === '[' ? 'matrix' : 'cell',
        startLine: statementLine,
        rows: [],
        rowLines: [],
        strings: [],
      };
      // Content after the bracket on the same line (rare) is handled by re-scanning it.
      const rest = blockStart[3]!.trim();
      if (rest !== '') {
        lines[i] = rest;
        i--;
      }
      continue;
    }
    const scalar = /^mpc\.(\w+)\s*=\s*([^;]+);?$/.exec(statement);
    if (scalar) {
      scalars.set(scalar[1]!, { value: scalar[2]!.trim(), line: statementLine });
      continue;
    }
    if (OHMS_TO_PU.test(statement)) {
      convertOhms = true;
      continue;
    }
    if (KW_TO_MW.test(statement)) {
      kwToMw = true;
      continue;
    }
    if (IGNORED_STATEMENTS.some((re) => re.test(statement))) continue;
    throw new GridInputError(`unsupported MATLAB statement '${statement.slice(0, 80)}'`, {
      file,
      line: statementLine,
    });
  }
  if (open) {
    throw new GridInputError(
      `file ends inside mpc.${open.name} (opened at line ${open.startLine}): truncated file?`,
      { file, line: lines.length },
    );
  }
  if (pending !== '') {
    throw new GridInputError('file ends inside a continued statement: truncated file?', {
      file,
      line: pendingLine,
    });
  }

  const baseEntry = scalars.get('baseMVA');
  if (!baseEntry) throw new GridInputError('mpc.baseMVA is missing', { file });
  const baseMVA = parseNumber(baseEntry.value, file, baseEntry.line, 'baseMVA');
  const requireBlock = (name: string, minColumns: number): Block => {
    const block = blocks.get(name);
    if (!block) throw new GridInputError(`mpc.${name} is missing`, { file });
    block.rows.forEach((row, k) => {
      if (row.length < minColumns) {
        throw new GridInputError(
          `mpc.${name} row ${k + 1} has ${row.length} columns, needs at least ${minColumns}`,
          { file, line: block.rowLines[k], path: `/mpc/${name}/${k}` },
        );
      }
    });
    return block;
  };
  const busBlock = requireBlock('bus', 13);
  const genBlock = requireBlock('gen', 10);
  const branchBlock = requireBlock('branch', 11);
  const names = blocks.get('bus_name')?.strings;

  const nameMatch = /^function\s+mpc\s*=\s*(\w+)/m.exec(text);
  const grid = emptyGrid(nameMatch?.[1] ?? file.replace(/^.*[\\/]/, '').replace(/\.m$/, ''), baseMVA, 60);
  const loadLines: number[] = [];
  const shuntLines: number[] = [];
  const firstBaseKV = busBlock.rows[0]?.[9] ?? 0;
  const powerScale = kwToMw ? 1e-3 : 1;

  busBlock.rows.forEach((row, k) => {
    const id = String(row[0]);
    const type = BUS_TYPE[row[1]!];
    if (type === undefined) {
      throw new GridInputError(`bus type must be 1, 2, 3 or 4, got ${row[1]}`, {
        file,
        line: busBlock.rowLines[k],
        path: `/mpc/bus/${k}/1`,
      });
    }
    const bus: Bus = {
      id,
      kind: type,
      baseKV: row[9]!,
      vm_pu: row[7]!,
      va_deg: row[8]!,
      vmax_pu: row[11]!,
      vmin_pu: row[12]!,
      area: row[6]!,
      zone: row[10]!,
    };
    const name = names?.[k]?.trim();
    if (name) bus.name = name;
    grid.buses.push(bus);
    const pd = row[2]! * powerScale;
    const qd = row[3]! * powerScale;
    if (pd !== 0 || qd !== 0) {
      grid.loads.push({ id: `load${id}`, bus: id, p_mw: pd, q_mvar: qd, inService: true });
      loadLines.push(busBlock.rowLines[k]!);
    }
    if (row[4] !== 0 || row[5] !== 0) {
      grid.shunts.push({ id: `shunt${id}`, bus: id, g_mw: row[4]!, b_mvar: row[5]!, inService: true });
      shuntLines.push(busBlock.rowLines[k]!);
    }
  });
  genBlock.rows.forEach((row, k) => {
    grid.generators.push({
      id: `gen${k + 1}`,
      bus: String(row[0]),
      p_mw: row[1]!,
      q_mvar: row[2]!,
      qmax_mvar: row[3]!,
      qmin_mvar: row[4]!,
      vset_pu: row[5]!,
      inService: row[7]! > 0,
      pmax_mw: row[8]!,
      pmin_mw: row[9]!,
      participation: 0,
      gridForming: false,
    });
  });
  const busKV = new Map(grid.buses.map((b) => [b.id, b.baseKV]));
  branchBlock.rows.forEach((row, k) => {
    const from = String(row[0]);
    const to = String(row[1]);
    const ratio = row[8]!;
    const shift = row[9]!;
    const kind: Branch['kind'] =
      ratio !== 0 || shift !== 0 || (busKV.has(from) && busKV.get(from) !== busKV.get(to))
        ? 'transformer'
        : 'line';
    grid.branches.push({
      id: `br${k + 1}`,
      kind,
      from,
      to,
      // The file's own code divides by Vbase²/Sbase with Vbase taken from the first bus.
      r_pu: convertOhms ? ohmsToPu(row[2]!, firstBaseKV, baseMVA) : row[2]!,
      x_pu: convertOhms ? ohmsToPu(row[3]!, firstBaseKV, baseMVA) : row[3]!,
      b_pu: row[4]!,
      rateA_mva: row[5]!,
      tap: ratio === 0 ? 1 : ratio,
      shift_deg: shift,
      inService: row[10]! > 0,
    });
  });

  const locate: ElementLocator = (kind, index) => {
    switch (kind) {
      case 'buses':
        return { line: busBlock.rowLines[index] };
      case 'branches':
        return { line: branchBlock.rowLines[index] };
      case 'generators':
        return { line: genBlock.rowLines[index] };
      case 'loads':
        return { line: loadLines[index] };
      case 'shunts':
        return { line: shuntLines[index] };
      default:
        return {};
    }
  };
  validateGrid(grid, file, locate);
  return { grid, locate, convertedUnits: { ohmsToPu: convertOhms, kwToMw } };
}
