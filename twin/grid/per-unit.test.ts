import { describe, expect, it } from 'vitest';
import { impedanceBase_ohm, microsiemensToPu, ohmsToPu } from './per-unit.ts';

describe('per-unit bases', () => {
  it('Baran & Wu feeder: 12.66 kV on 10 MVA gives Z_base = 16.02756 Ω', () => {
    expect(impedanceBase_ohm(12.66, 10)).toBeCloseTo(16.02756, 5);
    expect(ohmsToPu(16.02756, 12.66, 10)).toBeCloseTo(1, 6);
  });
  it('admittance in µS scales by the impedance base', () => {
    // 100 kV, 100 MVA: Z_base = 100 Ω; 10 µS · 100 Ω = 1e-3 pu.
    expect(microsiemensToPu(10, 100, 100)).toBeCloseTo(1e-3, 15);
  });
});
