/**
 * SunSpec information models as register layouts, read from the official model definitions in
 * `sunspec-models/` (model_<id>.json): each top-level point's offset from the model's ID register,
 * its type, size and scale-factor point. Decoding and encoding of point values with scale factors
 * and "not implemented" sentinels. Used by the SunSpec driver and by the slave emulator.
 *
 * A device map: "SunS" (0x5375 0x6E53) at 40000, 50000 or 0, then blocks [ID, L, L registers],
 * ended by ID 0xFFFF, L 0.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SUNS_MARKER = [0x5375, 0x6e53] as const;
export const SUNSPEC_BASES = [40000, 50000, 0] as const;
export const END_MODEL_ID = 0xffff;

export interface PointLayout {
  name: string;
  type: string;
  /** Registers from the model's ID register. */
  offset: number;
  size: number;
  /** Name of the scale-factor point (in the same model), or a fixed exponent. */
  sf?: string | number;
  writable: boolean;
}

export interface ModelLayout {
  id: number;
  name: string;
  /** Fixed-part length L (registers after ID and L), without repeating groups. Points of nested
   * groups are not mapped (only top-level points are). */
  length: number;
  points: Map<string, PointLayout>;
}

interface JsonPoint {
  name: string;
  type: string;
  size?: number;
  sf?: string | number;
  access?: string;
}

interface JsonGroup {
  name: string;
  count?: number | string;
  points: JsonPoint[];
  groups?: JsonGroup[];
}

/** Registers of a group with its fixed (non-repeating) subgroups. */
function fixedSize(group: JsonGroup): number {
  let n = 0;
  for (const p of group.points) n += p.size ?? SIZE_BY_TYPE[p.type] ?? 0;
  for (const g of group.groups ?? []) if (g.count === undefined || g.count === 1) n += fixedSize(g);
  return n;
}

const MODEL_DIR = join(dirname(fileURLToPath(import.meta.url)), 'sunspec-models');
const cache = new Map<number, ModelLayout>();

const SIZE_BY_TYPE: Record<string, number> = {
  int16: 1,
  uint16: 1,
  acc16: 1,
  enum16: 1,
  bitfield16: 1,
  sunssf: 1,
  count: 1,
  pad: 1,
  int32: 2,
  uint32: 2,
  acc32: 2,
  enum32: 2,
  bitfield32: 2,
  float32: 2,
  ipaddr: 2,
  int64: 4,
  uint64: 4,
  acc64: 4,
};

/** The layout of a model shipped in `sunspec-models/` (1, 701, 702, 704, 711, 802; legacy 103, 121, 123, 124). */
export function modelLayout(id: number): ModelLayout {
  const cached = cache.get(id);
  if (cached) return cached;
  let json: { id: number; group: JsonGroup };
  try {
    json = JSON.parse(readFileSync(join(MODEL_DIR, `model_${id}.json`), 'utf8'));
  } catch (err) {
    throw new TypeError(
      `SunSpec model ${id} is not among the bundled definitions: ${(err as Error).message}`,
    );
  }
  const points = new Map<string, PointLayout>();
  let offset = 0;
  for (const p of json.group.points) {
    const size = p.size ?? SIZE_BY_TYPE[p.type];
    if (size === undefined)
      throw new TypeError(`SunSpec model ${id}: point ${p.name} has unknown type ${p.type}`);
    points.set(p.name, { name: p.name, type: p.type, offset, size, sf: p.sf, writable: p.access === 'RW' });
    offset += size;
  }
  // Fixed subgroups (704's PFWInj …) follow the top-level points and count in L; repeating ones
  // (711's Ctl × NCtl) do not.
  const layout: ModelLayout = { id, name: json.group.name, length: fixedSize(json.group) - 2, points };
  cache.set(id, layout);
  return layout;
}

const NOT_IMPLEMENTED: Record<string, number> = {
  int16: 0x8000,
  uint16: 0xffff,
  acc16: 0,
  enum16: 0xffff,
  bitfield16: 0xffff,
  sunssf: 0x8000,
  int32: 0x80000000,
  uint32: 0xffffffff,
  enum32: 0xffffffff,
  bitfield32: 0xffffffff,
};

/** Raw integer value of a point from the model's registers (`regs[0]` is the ID register). */
export function rawPoint(regs: ArrayLike<number>, p: PointLayout): number | undefined {
  if (p.offset + p.size > regs.length) return undefined;
  let v: number;
  if (p.size === 1) {
    v = regs[p.offset] & 0xffff;
    if (p.type === 'int16' || p.type === 'sunssf') v = v >= 0x8000 ? v - 0x10000 : v;
    if (NOT_IMPLEMENTED[p.type] !== undefined && (regs[p.offset] & 0xffff) === NOT_IMPLEMENTED[p.type]) {
      return p.type === 'acc16' ? 0 : undefined;
    }
    return v;
  }
  if (p.size === 2) {
    const u = ((regs[p.offset] & 0xffff) * 0x10000 + (regs[p.offset + 1] & 0xffff)) >>> 0;
    if (NOT_IMPLEMENTED[p.type] !== undefined && u === NOT_IMPLEMENTED[p.type]) return undefined;
    return p.type === 'int32' ? u | 0 : u;
  }
  if (p.size === 4) {
    let u = 0;
    for (let i = 0; i < 4; i++) u = u * 0x10000 + (regs[p.offset + i] & 0xffff);
    return u;
  }
  return undefined;
}

/** Scaled value of a point (raw × 10^sf); undefined when not implemented. */
export function readPoint(model: ModelLayout, regs: ArrayLike<number>, name: string): number | undefined {
  const p = model.points.get(name);
  if (!p) throw new TypeError(`SunSpec model ${model.id} has no point ${name}`);
  const raw = rawPoint(regs, p);
  if (raw === undefined) return undefined;
  const sf = scaleOf(model, regs, p);
  return sf === undefined ? undefined : raw * 10 ** sf;
}

function scaleOf(model: ModelLayout, regs: ArrayLike<number>, p: PointLayout): number | undefined {
  if (p.sf === undefined) return 0;
  if (typeof p.sf === 'number') return p.sf;
  const sfPoint = model.points.get(p.sf);
  if (!sfPoint) return 0;
  return rawPoint(regs, sfPoint);
}

/** Registers encoding `value` for point `name` with the scale factor found in `regs`. */
export function encodePoint(
  model: ModelLayout,
  regs: ArrayLike<number>,
  name: string,
  value: number,
): number[] {
  const p = model.points.get(name);
  if (!p) throw new TypeError(`SunSpec model ${model.id} has no point ${name}`);
  const sf = scaleOf(model, regs, p) ?? 0;
  const raw = Math.round(value / 10 ** sf);
  return encodeRaw(p, raw);
}

/** Registers for a raw integer value of a point (range-checked). */
export function encodeRaw(p: PointLayout, raw: number): number[] {
  const signed = p.type.startsWith('int') || p.type === 'sunssf';
  const bits = p.size * 16;
  const min = signed ? -(2 ** (bits - 1)) : 0;
  const max = signed ? 2 ** (bits - 1) - 1 : 2 ** bits - 1;
  if (!Number.isInteger(raw) || raw < min || raw > max) {
    throw new RangeError(`SunSpec point ${p.name}: ${raw} does not fit ${p.type}`);
  }
  if (p.size === 1) return [raw & 0xffff];
  const u = raw < 0 ? 2 ** bits + raw : raw;
  const out: number[] = [];
  for (let i = p.size - 1; i >= 0; i--) out.push(Math.floor(u / 2 ** (16 * i)) & 0xffff);
  return out;
}

/** Model 1 strings: two ASCII characters per register, NUL-padded. */
export function readString(regs: ArrayLike<number>, p: PointLayout): string {
  let s = '';
  for (let i = 0; i < p.size && p.offset + i < regs.length; i++) {
    const r = regs[p.offset + i];
    s += String.fromCharCode(r >> 8, r & 0xff);
  }
  return s.replace(/\0+$/, '').replace(/\0/g, '');
}

export function encodeString(text: string, size: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < size; i++) {
    const a = text.charCodeAt(2 * i) || 0;
    const b = text.charCodeAt(2 * i + 1) || 0;
    out.push(((a & 0xff) << 8) | (b & 0xff));
  }
  return out;
}

/**
 * Modbus RTU inter-frame silence (t3.5): 3.5 character times of 11 bits, and the fixed 1.75 ms the
 * Modbus serial line specification prescribes above 19200 baud.
 */
export function rtuFrameGap_ms(baud: number): number {
  if (!(baud > 0)) throw new TypeError(`baud must be positive, got ${baud}`);
  return baud > 19200 ? 1.75 : (3.5 * 11 * 1000) / baud;
}
