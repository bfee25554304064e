/**
 * Frequency dynamics of the Twin against independent references: closed forms of the single-area
 * load-frequency model and the textbook LFC example of Saadat (Power System Analysis, 2nd ed.,
 * Examples 12.5 and 12.6: τg = 0.2 s, τT = 0.5 s, H = 5 s, D = 0.8, R = 0.05, ΔP_L = 0.2 pu,
 * 60 Hz; published steady state Δω = −0.0096 pu = −0.5769 Hz without integral control).
 * The time responses are compared with the exact inverse Laplace transform of the model's
 * transfer function (partial fractions over its numerically found poles), computed here.
 */
import { describe, expect, it } from 'vitest';
import { emptyGrid, type Grid } from '../grid/model.ts';
import { Twin } from '../twin.ts';

type C = [number, number];
const cadd = (a: C, b: C): C => [a[0] + b[0], a[1] + b[1]];
const csub = (a: C, b: C): C => [a[0] - b[0], a[1] - b[1]];
const cmul = (a: C, b: C): C => [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]];
const cdiv = (a: C, b: C): C => {
  const d = b[0] * b[0] + b[1] * b[1];
  return [(a[0] * b[0] + a[1] * b[1]) / d, (a[1] * b[0] - a[0] * b[1]) / d];
};
/** Polynomial (coefficients highest power first) at complex s. */
const peval = (p: number[], s: C): C => p.reduce<C>((acc, c) => cadd(cmul(acc, s), [c, 0]), [0, 0]);
const pmul = (a: number[], b: number[]): number[] => {
  const out = new Array(a.length + b.length - 1).fill(0);
  for (let i = 0; i < a.length; i++) for (let j = 0; j < b.length; j++) out[i + j] += a[i] * b[j];
  return out;
};
const padd = (a: number[], b: number[]): number[] => {
  const n = Math.max(a.length, b.length);
  const A = [...new Array(n - a.length).fill(0), ...a];
  const B = [...new Array(n - b.length).fill(0), ...b];
  return A.map((x, i) => x + B[i]);
};
const pder = (p: number[]): number[] => p.slice(0, -1).map((c, i) => c * (p.length - 1 - i));

/** All roots of a polynomial (Durand–Kerner). */
function roots(p: number[]): C[] {
  const n = p.length - 1;
  const monic = p.map((c) => c / p[0]);
  let z: C[] = Array.from({ length: n }, (_, k) => {
    const a = (2 * Math.PI * k) / n + 0.4;
    return [0.9 * Math.cos(a), 0.9 * Math.sin(a)] as C;
  });
  for (let it = 0; it < 500; it++) {
    z = z.map((zi, i) => {
      let den: C = [1, 0];
      z.forEach((zj, j) => {
        if (j !== i) den = cmul(den, csub(zi, zj));
      });
      return csub(zi, cdiv(peval(monic, zi), den));
    });
  }
  return z;
}

/** Inverse Laplace of N(s)/D(s) (distinct poles, deg N < deg D) at time t. */
function inverseLaplace(num: number[], den: number[], t: number): number {
  const dd = pder(den);
  let sum: C = [0, 0];
  for (const r of roots(den)) {
    const res = cdiv(peval(num, r), peval(dd, r));
    const e = Math.exp(r[0] * t);
    sum = cadd(sum, cmul(res, [e * Math.cos(r[1] * t), e * Math.sin(r[1] * t)]));
  }
  return sum[0];
}

interface AreaSetup {
  f0: number;
  rating: number;
  load0: number;
  kpf: number;
  ki?: number;
}

/** One bus, one genset with Saadat's parameters, one frequency-dependent load and a step load. */
function singleArea(s: AreaSetup, gensets = [{ id: 'g1', droop: 0.05, rating: s.rating }]): Twin {
  const grid: Grid = emptyGrid('area', 100, s.f0);
  grid.buses.push({ id: 'b1', kind: 'pq', baseKV: 10, vm_pu: 1, va_deg: 0, vmin_pu: 0.9, vmax_pu: 1.1 });
  for (const g of gensets) {
    grid.ders.push({
      id: g.id,
      bus: 'b1',
      technology: 'diesel-genset',
      control: 'grid-forming',
      rating_mva: g.rating,
      p_mw: s.load0 / gensets.length,
      q_mvar: 0,
      qmin_mvar: -g.rating,
      qmax_mvar: g.rating,
      vset_pu: 1,
      participation: 0,
      inService: true,
      params: {
        h_s: 5,
        droop_pu: g.droop,
        tauGovernor_s: 0.2,
        tauTurbine_s: 0.5,
        pmin_pu: 0,
        ramp_pu_s: 1e9,
        rocofTripDelay_s: 0,
        category: 'III',
      },
    });
  }
  grid.loads.push({ id: 'base', bus: 'b1', p_mw: s.load0, q_mvar: 0, inService: true });
  grid.loads.push({ id: 'step', bus: 'b1', p_mw: 0, q_mvar: 0, inService: true });
  const twin = new Twin(grid, {
    seed: 1,
    dt_s: 0.001,
    config: {
      loads: {
        default: { zip: [0, 0, 1], zipQ: [0, 0, 1], kpf: s.kpf, kqf: 0 },
        byId: { step: { kpf: 0 } },
      },
      ufls: { enabled: false },
      secondary: s.ki === undefined ? { enabled: false } : { ki_f: s.ki, ki_v: 0 },
    },
  });
  // Secondary control in the twin needs dispatchable formers; the genset is one.
  return twin;
}

const SAADAT = { tauG: 0.2, tauT: 0.5, H: 5, D: 0.8, R: 0.05, dPL: 0.2 };

describe('single-area frequency response (closed forms)', () => {
  // System base S = 100 MW; the 50 MW base load with kpf = 1.6 gives D = 0.8 on that base.
  const setup = { f0: 60, rating: 100, load0: 50, kpf: 1.6 };

  it('initial ROCOF = −f0·ΔP/(2H)', () => {
    const twin = singleArea(setup);
    for (let i = 0; i < 100; i++) twin.step([]);
    twin.apply({ kind: 'load-step', load: 'step', delta_mw: SAADAT.dPL * 100 });
    const s = twin.step([]);
    const expected = (-60 * SAADAT.dPL) / (2 * SAADAT.H);
    expect(Math.abs(s.islands[0].rocof_hz_s - expected) / Math.abs(expected)).toBeLessThan(0.01);
  });

  it('steady state Δf = −ΔP/(D + 1/R): Saadat Example 12.5, −0.5769 Hz at 60 Hz', () => {
    const twin = singleArea(setup);
    twin.apply({ kind: 'load-step', load: 'step', delta_mw: SAADAT.dPL * 100 });
    let s = twin.step([]);
    for (let i = 0; i < 30_000; i++) s = twin.step([]);
    const closedForm = (-SAADAT.dPL / (SAADAT.D + 1 / SAADAT.R)) * 60;
    expect(closedForm).toBeCloseTo(-0.5769, 4);
    const df = s.islands[0].f_hz - 60;
    expect(Math.abs(df - closedForm) / Math.abs(closedForm)).toBeLessThan(0.01);
  });

  it('follows the exact LFC step response within 1 % (Saadat Example 12.5)', () => {
    const { tauG, tauT, H, D, R, dPL } = SAADAT;
    const gov = [tauG, 1];
    const tur = [tauT, 1];
    const num = pmul(gov, tur).map((c) => -dPL * c);
    // Δω(s) = −ΔP (1+τg s)(1+τT s) / (s [(2Hs + D)(1+τg s)(1+τT s) + 1/R])
    const den = pmul([1, 0], padd(pmul([2 * H, D], pmul(gov, tur)), [1 / R]));
    const twin = singleArea(setup);
    twin.apply({ kind: 'load-step', load: 'step', delta_mw: dPL * 100 });
    const peak = Math.abs((-dPL / (D + 1 / R)) * 60) * 1.6;
    let worst = 0;
    for (let k = 1; k <= 10_000; k++) {
      const s = twin.step([]);
      if (k % 250 === 0) {
        const ref = inverseLaplace(num, den, s.t_s) * 60;
        worst = Math.max(worst, Math.abs(s.islands[0].f_hz - 60 - ref));
      }
    }
    expect(worst / peak).toBeLessThan(0.01);
  });

  it('with integral (secondary) control KI = 7 returns to nominal along the exact response (Example 12.6)', () => {
    const { tauG, tauT, H, D, R, dPL } = SAADAT;
    const KI = 7;
    const gov = [tauG, 1];
    const tur = [tauT, 1];
    const num = pmul(gov, tur).map((c) => -dPL * c);
    // Δω(s) = −ΔP (1+τg s)(1+τT s) / (s(2Hs + D)(1+τg s)(1+τT s) + s/R + KI)
    const den = padd(pmul([1, 0], pmul([2 * H, D], pmul(gov, tur))), [1 / R, KI]);
    const twin = singleArea({ ...setup, ki: KI });
    twin.apply({ kind: 'load-step', load: 'step', delta_mw: dPL * 100 });
    let worst = 0;
    let s = twin.step([]);
    for (let k = 2; k <= 20_000; k++) {
      s = twin.step([]);
      if (k % 250 === 0)
        worst = Math.max(worst, Math.abs(s.islands[0].f_hz - 60 - inverseLaplace(num, den, s.t_s) * 60));
    }
    const peak = 0.5769;
    expect(worst / peak).toBeLessThan(0.01);
    expect(Math.abs(s.islands[0].f_hz - 60)).toBeLessThan(0.005);
  });
});

describe('droop sharing', () => {
  it('two units share a load step in inverse proportion to their droops', () => {
    const twin = singleArea({ f0: 50, rating: 10, load0: 8, kpf: 0 }, [
      { id: 'g1', droop: 0.04, rating: 10 },
      { id: 'g2', droop: 0.08, rating: 10 },
    ]);
    let s = twin.step([]);
    const p1 = s.devices.g1.p_mw;
    const p2 = s.devices.g2.p_mw;
    twin.apply({ kind: 'load-step', load: 'step', delta_mw: 3 });
    for (let i = 0; i < 30_000; i++) s = twin.step([]);
    const d1 = s.devices.g1.p_mw - p1;
    const d2 = s.devices.g2.p_mw - p2;
    expect(Math.abs(d1 / d2 - 2) / 2).toBeLessThan(0.01);
    expect(d1 + d2).toBeCloseTo(3, 3);
    // Δf = −ΔP / Σ(S_i / (R_i f0)).
    const expectedDf = -3 / (10 / (0.04 * 50) + 10 / (0.08 * 50));
    expect(Math.abs(s.islands[0].f_hz - 50 - expectedDf) / Math.abs(expectedDf)).toBeLessThan(0.01);
  });
});
