import { describe, expect, it } from 'vitest';
import { BatteryUnit } from '../der/battery.ts';
import { GENSET_DEFAULTS } from '../der/defaults.ts';
import { SynchronousGenset } from '../der/genset.ts';
import { DEFAULT_FREQUENCY_DROOP, DEFAULT_VOLT_VAR } from '../ieee1547/settings.ts';
import { Random } from '../random.ts';
import { defaultEmsSettings, dispatch, PccImportEstimator } from './ems.ts';
import { MainGrid } from './main-grid.ts';
import { shortCycles } from './short-cycles.ts';

function genset(id: string, cost: number, rating: number) {
  return new SynchronousGenset(
    id,
    'gas-genset',
    {
      ...GENSET_DEFAULTS['gas-genset'],
      cost_per_mwh: cost,
      rating_mw: rating,
      rating_mva: rating,
      initial_mw: 0.3 * rating,
      vset_pu: 1,
      running: true,
    },
    50,
  );
}

function battery(soc: number) {
  const b = new BatteryUnit(
    'bess',
    {
      rating_mw: 0.5,
      rating_mva: 0.5,
      energy_mwh: 1,
      soc0: soc,
      socMin: 0.1,
      socMax: 0.9,
      etaCharge: 0.95,
      etaDischarge: 0.95,
      mode: 'grid-forming',
      virtualInertia_s: 2,
      droop_pu: 0.02,
      tau_s: 0.05,
      initial_mw: 0,
      vset_pu: 1,
    },
    { ...DEFAULT_FREQUENCY_DROOP },
    structuredClone(DEFAULT_VOLT_VAR),
    50,
  );
  b.cost_per_mwh = 60;
  return b;
}

describe('tertiary dispatch (EMS modes)', () => {
  it('islanded: merit order above minimum loads, storage at its SoC target takes the rest', () => {
    const cheap = genset('cheap', 100, 1);
    const dear = genset('dear', 200, 1);
    const b = battery(0.6);
    const out = new Float64Array(3);
    dispatch(
      defaultEmsSettings({ socTarget: 0.6 }),
      { units: [dear, cheap, b], netDemand_mw: 1.5, gridConnected: false },
      out,
    );
    // Both start at minimum (0.3 each); the cheap one fills up to 1 MW, the dear one covers the
    // last 0.2 MW; storage stays idle at its target.
    expect(out[1]).toBeCloseTo(1, 12);
    expect(out[0]).toBeCloseTo(0.5, 12);
    expect(out[2]).toBeCloseTo(0, 12);
  });

  it('islanded: a low battery is recharged by the generators', () => {
    const g = genset('g', 100, 2);
    const b = battery(0.4);
    const out = new Float64Array(2);
    dispatch(
      defaultEmsSettings({ socTarget: 0.6 }),
      { units: [g, b], netDemand_mw: 0.8, gridConnected: false },
      out,
    );
    expect(out[1]).toBeLessThan(0);
    expect(out[0] + out[1]).toBeCloseTo(0.8, 12);
  });

  it('grid-connected low-cost: units cheaper than the grid run flat out, dearer ones at minimum', () => {
    const cheap = genset('cheap', 80, 1);
    const dear = genset('dear', 200, 1);
    const out = new Float64Array(2);
    dispatch(
      defaultEmsSettings({ mode: 'low-cost', gridPrice_per_mwh: 100 }),
      { units: [cheap, dear], netDemand_mw: 3, gridConnected: true },
      out,
    );
    expect(out[0]).toBe(1);
    expect(out[1]).toBeCloseTo(0.3, 12);
  });

  it('grid-connected peak shaving: storage covers the import above the limit, recharges below', () => {
    const b = battery(0.5);
    const out = new Float64Array(1);
    const s = defaultEmsSettings({ mode: 'peak-shaving', peakLimit_mw: 1 });
    const pcc = (baseImport_mw: number, spread_mw = 0) => ({ baseImport_mw, spread_mw });
    dispatch(s, { units: [b], netDemand_mw: 0, gridConnected: true, pcc: pcc(1.3) }, out);
    expect(out[0]).toBeCloseTo(0.3, 12);
    dispatch(s, { units: [b], netDemand_mw: 0, gridConnected: true, pcc: pcc(0.8) }, out);
    expect(out[0]).toBeCloseTo(-0.2, 12);
    // What varies faster than dispatch lowers the ceiling: 1 − 2.5 × 0.04 = 0.9 MW.
    dispatch(s, { units: [b], netDemand_mw: 0, gridConnected: true, pcc: pcc(1.3, 0.04) }, out);
    expect(out[0]).toBeCloseTo(0.4, 12);
  });

  it('peak shaving does not depend on the set-points it gave before (no feedback through its own units)', () => {
    const s = defaultEmsSettings({ mode: 'peak-shaving', peakLimit_mw: 1.2 });
    const results = [-0.5, 0, 0.45].map((previous) => {
      const b = battery(0.5);
      b.setReference(previous);
      const out = new Float64Array(1);
      dispatch(
        s,
        { units: [b], netDemand_mw: 0, gridConnected: true, pcc: { baseImport_mw: 1.5, spread_mw: 0 } },
        out,
      );
      return out[0];
    });
    expect(results).toEqual([results[0], results[0], results[0]]);
    expect(results[0]).toBeCloseTo(0.3, 12);
  });

  it('peak shaving: storage first (cheapest), then generators above their minimum; storage tapers near its SoC limits', () => {
    const s = defaultEmsSettings({ mode: 'peak-shaving', peakLimit_mw: 1.2 });
    const g = genset('chp', 80, 0.6); // minimum 0.18 MW
    const out = new Float64Array(2);
    const pcc = { baseImport_mw: 2.1, spread_mw: 0 };
    // 2.1 − 1.2 = 0.9 MW to cover: the genset's minimum 0.18, the battery 0.5, the genset 0.22 more.
    dispatch(s, { units: [g, battery(0.5)], netDemand_mw: 0, gridConnected: true, pcc }, out);
    expect(out[1]).toBeCloseTo(0.5, 12);
    expect(out[0]).toBeCloseTo(0.4, 12);
    // At SoC 0.125 (half-way into the 0.05 taper above socMin 0.1) the battery gives 0.25 MW.
    dispatch(s, { units: [g, battery(0.125)], netDemand_mw: 0, gridConnected: true, pcc }, out);
    expect(out[1]).toBeCloseTo(0.25, 12);
    expect(out[0]).toBeCloseTo(0.6, 12);
    // Charging tapers likewise below socMax 0.9: at 0.89, 0.2 × 0.5 = 0.1 MW.
    dispatch(
      s,
      {
        units: [g, battery(0.89)],
        netDemand_mw: 0,
        gridConnected: true,
        pcc: { baseImport_mw: 0.5, spread_mw: 0 },
      },
      out,
    );
    expect(out[1]).toBeCloseTo(-0.1, 12);
    expect(out[0]).toBeCloseTo(0.18, 12);
  });

  it('peak shaving over a day of dispatches: holds the limit, no limit cycle (closed loop with the estimator)', () => {
    // A plant: base import = an evening peak 0.25 MW above the 1.2 MW limit (1.45 MW), plus
    // Ornstein–Uhlenbeck noise (σ 0.03 MW, 10 s correlation). The battery delivers its reference
    // (ideal converter), its SoC integrates, the PCC import is base − battery. Every 60 s the EMS
    // dispatches from the estimator fed each second, as the twin does.
    const limit = 1.2;
    const s = defaultEmsSettings({ mode: 'peak-shaving', peakLimit_mw: limit });
    const b = battery(0.6);
    const estimator = new PccImportEstimator();
    const rng = new Random(3);
    const out = new Float64Array(1);
    let noise = 0;
    const imports: number[] = [];
    const setpoints: number[] = [];
    for (let t = 1; t <= 86_400; t++) {
      const h = t / 3600;
      const shape = 0.7 + 0.75 * Math.exp(-(((h - 18.5) / 1.2) ** 2));
      noise += (-noise / 10) * 1 + 0.03 * Math.sqrt(2 / 10) * rng.normal();
      const base = shape + noise;
      if (t % 60 === 0) {
        dispatch(s, { units: [b], netDemand_mw: 0, gridConnected: true, pcc: estimator.estimate }, out);
        b.setReference(out[0]);
      }
      const p = Math.max(b.pmin_mw, Math.min(b.pmax_mw, b.reference_mw));
      b.p_mw = p;
      b.account(1);
      const measured = base - p;
      estimator.update(measured + p, t, 1);
      if (t % 10 === 0) {
        imports.push(measured);
        setpoints.push(b.reference_mw);
      }
    }
    const held = imports.filter((x) => x <= 1.02 * limit).length / imports.length;
    expect(held).toBeGreaterThanOrEqual(0.99);
    expect(Math.max(...imports)).toBeGreaterThan(limit * 0.95); // the peak was really shaved, near the limit
    expect(shortCycles(setpoints, 10, 0.02 * limit, 600)).toEqual([]);
  });
});

describe('main grid source', () => {
  it('applies step, ramp and sine disturbances and integrates its phase', () => {
    const g = new MainGrid(50, 1);
    g.disturbances.push({
      quantity: 'frequency',
      shape: 'ramp',
      start_s: 1,
      delta: -0.2,
      duration_s: Number.POSITIVE_INFINITY,
      period_s: 1,
      rampTime_s: 2,
    });
    g.disturbances.push({
      quantity: 'voltage',
      shape: 'step',
      start_s: 1,
      delta: -0.1,
      duration_s: 0.5,
      period_s: 1,
      rampTime_s: 0,
    });
    const dt = 0.001;
    let theta = 0;
    for (let k = 1; k <= 4000; k++) {
      g.advance(k * dt, dt);
      if (k === 1200) expect(g.v_pu).toBeCloseTo(0.9, 12);
      if (k === 2000) {
        expect(g.f_hz).toBeCloseTo(49.9, 9);
        expect(g.rocof_hz_s).toBeCloseTo(-0.1, 6);
      }
      theta += 2 * Math.PI * (g.f_hz - 50) * dt;
    }
    expect(g.v_pu).toBe(1);
    expect(g.f_hz).toBeCloseTo(49.8, 12);
    expect(g.theta_rad).toBeCloseTo(theta, 2);
  });

  it('replays a measured trace by linear interpolation', () => {
    const g = new MainGrid(50, 1, {
      t_s: Float64Array.from([0, 1, 2]),
      f_hz: Float64Array.from([50, 49.9, 50.1]),
      v_pu: Float64Array.from([1, 0.98, 1.02]),
    });
    g.advance(0.5, 0.5);
    expect(g.f_hz).toBeCloseTo(49.95, 12);
    g.advance(1.5, 1);
    expect(g.v_pu).toBeCloseTo(1.0, 12);
    g.advance(5, 3.5);
    expect(g.f_hz).toBeCloseTo(50.1, 12);
  });
});
