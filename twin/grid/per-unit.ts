/**
 * Per-unit bases. Impedance base from a line-to-line voltage base and the system power base:
 * Z_base = V_base² / S_base (kV² / MVA = Ω). Admittances scale by the inverse.
 */

/** Impedance base, Ω, of a bus at `baseKV` on a `baseMVA` system. */
export function impedanceBase_ohm(baseKV: number, baseMVA: number): number {
  return (baseKV * baseKV) / baseMVA;
}

/** Ω → pu on (baseKV, baseMVA). */
export function ohmsToPu(ohms: number, baseKV: number, baseMVA: number): number {
  return ohms / impedanceBase_ohm(baseKV, baseMVA);
}

/** µS → pu on (baseKV, baseMVA). */
export function microsiemensToPu(microsiemens: number, baseKV: number, baseMVA: number): number {
  return microsiemens * 1e-6 * impedanceBase_ohm(baseKV, baseMVA);
}
