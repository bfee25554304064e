import { describe, expect, it } from 'vitest';
import { BatteryUnit } from '../der/battery.ts';
import { GENSET_DEFAULTS } from '../der/defaults.ts';
import { SynchronousGenset } from '../der/genset.ts';
import { DEFAULT_FREQUENCY_DROOP, DEFAULT_VOLT_VAR } from '../ieee1547/settings.ts';
import { defaultEmsSettings, dispatch } from './ems.ts';
import { MainGrid } from './main-grid.ts';

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
      { units: [dear, cheap, b], netDemand_mw: 1.5, gridConnected: false, pccImport_mw: 0 },
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
      { units: [g, b], netDemand_mw: 0.8, gridConnected: false, pccImport_mw: 0 },
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
      { units: [cheap, dear], netDemand_mw: 3, gridConnected: true, pccImport_mw: 2 },
      out,
    );
    expect(out[0]).toBe(1);
    expect(out[1]).toBeCloseTo(0.3, 12);
  });

  it('grid-connected peak shaving: storage covers the import above the limit, recharges below', () => {
    const b = battery(0.5);
    const out = new Float64Array(1);
    const s = defaultEmsSettings({ mode: 'peak-shaving', peakLimit_mw: 1 });
    dispatch(s, { units: [b], netDemand_mw: 0, gridConnected: true, pccImport_mw: 1.3 }, out);
    expect(out[0]).toBeCloseTo(0.3, 12);
    dispatch(s, { units: [b], netDemand_mw: 0, gridConnected: true, pccImport_mw: 0.8 }, out);
    expect(out[0]).toBeCloseTo(-0.2, 12);
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
