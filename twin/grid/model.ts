/**
 * The twin's grid model: plain data, in engineering units with explicit bases.
 *
 * Units are in field names (_mw, _mvar, _kv, _pu, _deg). Branch impedances are per unit on the
 * system base `baseMVA` and the from-bus `baseKV` (the MATPOWER convention); `twin/grid/per-unit.ts`
 * holds the base conversions the importers use. Powers are MW/Mvar; loads are consumption, generators and DERs are injection.
 * Element arrays keep file order; every element has a string `id` unique within its kind, and
 * elements refer to buses by bus id.
 */

import { echo, echoMessage } from '../echo.ts';

export type BusKind = 'pq' | 'pv' | 'slack' | 'isolated';

export interface Bus {
  id: string;
  name?: string;
  kind: BusKind;
  baseKV: number;
  /** Starting (or stored solved) voltage magnitude, pu. */
  vm_pu: number;
  /** Starting (or stored solved) voltage angle, degrees. */
  va_deg: number;
  vmin_pu: number;
  vmax_pu: number;
  area?: number;
  zone?: number;
  /** Microgrid this bus belongs to, if any (id in Grid.microgrids). */
  microgrid?: string;
  /** Diagram coordinates (any consistent unit). */
  x?: number;
  y?: number;
}

export type BranchKind = 'line' | 'transformer';

export interface Branch {
  id: string;
  kind: BranchKind;
  from: string;
  to: string;
  r_pu: number;
  x_pu: number;
  /** Total line charging susceptance, pu (half at each end). */
  b_pu: number;
  /** Off-nominal turns ratio at the from side; 1 for lines. */
  tap: number;
  /** Phase shift, degrees (positive: to-side voltage lags). */
  shift_deg: number;
  rateA_mva: number;
  inService: boolean;
}

export type SwitchKind = 'breaker' | 'switch' | 'disconnector';

/** An ideal, zero-impedance switching device between two buses. */
export interface Switch {
  id: string;
  kind: SwitchKind;
  from: string;
  to: string;
  closed: boolean;
}

export interface Load {
  id: string;
  bus: string;
  p_mw: number;
  q_mvar: number;
  inService: boolean;
}

/** Fixed shunt admittance, expressed as consumption at 1 pu voltage (MATPOWER Gs/Bs). */
export interface Shunt {
  id: string;
  bus: string;
  /** Active power consumed at 1 pu, MW. */
  g_mw: number;
  /** Reactive power injected at 1 pu, Mvar (capacitive positive). */
  b_mvar: number;
  inService: boolean;
}

export interface Generator {
  id: string;
  bus: string;
  p_mw: number;
  q_mvar: number;
  qmin_mvar: number;
  qmax_mvar: number;
  pmin_mw: number;
  pmax_mw: number;
  /** Voltage set-point when the unit regulates its bus, pu. */
  vset_pu: number;
  inService: boolean;
  /**
   * Share of an island's power imbalance this unit takes (distributed slack). 0 = fixed output.
   * When every unit of an island has 0, the island's slack bus takes the whole imbalance.
   */
  participation: number;
  /** Grid-forming: may serve as an island's angle reference when the island has no slack bus. */
  gridForming: boolean;
}

export type DerControl = 'pq' | 'pv' | 'grid-forming';

/** Technology-specific parameters, free-form here; the YAML schema constrains each technology. */
export type DerParams = Record<string, number | string | boolean | number[]>;

export interface Der {
  id: string;
  bus: string;
  /** A technology of the DER registry (twin/der/technologies.ts), checked by the grid schema. */
  technology: string;
  control: DerControl;
  rating_mva: number;
  p_mw: number;
  q_mvar: number;
  qmin_mvar: number;
  qmax_mvar: number;
  vset_pu: number;
  participation: number;
  inService: boolean;
  params: DerParams;
}

/** Flexible interconnection device: a back-to-back converter between two buses (two AC sides). */
export interface Fid {
  id: string;
  busA: string;
  busB: string;
  rating_mva: number;
  /** Scheduled transfer from A to B, MW. */
  p_ab_mw: number;
  /** Reactive injection at each side, Mvar. */
  qA_mvar: number;
  qB_mvar: number;
  /** Converter loss as a fraction of |transfer|. */
  lossFraction: number;
  inService: boolean;
}

export interface Microgrid {
  id: string;
  name?: string;
  /** Breaker that connects this microgrid to the rest (its point of common coupling), if any. */
  pccSwitch?: string;
}

export interface Grid {
  name: string;
  /** System MVA base for per-unit quantities. */
  baseMVA: number;
  /** Nominal frequency, Hz. */
  frequency_hz: number;
  buses: Bus[];
  branches: Branch[];
  switches: Switch[];
  loads: Load[];
  shunts: Shunt[];
  generators: Generator[];
  ders: Der[];
  fids: Fid[];
  microgrids: Microgrid[];
}

/** Where a grid element came from, for error messages. */
export interface SourceLocation {
  file: string;
  line?: number;
  /** JSON pointer-like path, e.g. `/branches/3/r_pu`. */
  path?: string;
}

/** A grid file or grid object that cannot be used, with where and why. */
export class GridInputError extends Error {
  constructor(
    readonly reason: string,
    readonly where: SourceLocation,
  ) {
    super(`${formatLocation(where)}: ${echoMessage(reason)}`);
    this.name = 'GridInputError';
  }
}

export function formatLocation(where: SourceLocation): string {
  let text = echo(where.file);
  if (where.line !== undefined) text += `:${where.line}`;
  if (where.path !== undefined) text += ` (at ${where.path})`;
  return text;
}

export function emptyGrid(name: string, baseMVA = 100, frequency_hz = 50): Grid {
  return {
    name,
    baseMVA,
    frequency_hz,
    buses: [],
    branches: [],
    switches: [],
    loads: [],
    shunts: [],
    generators: [],
    ders: [],
    fids: [],
    microgrids: [],
  };
}
