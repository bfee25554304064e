import { describe, expect, it } from 'vitest';
import { DEFAULT_FREQUENCY_DROOP, DEFAULT_VOLT_VAR } from '../ieee1547/settings.ts';
import { Random } from '../random.ts';
import { BatteryUnit } from './battery.ts';
import { GENSET_DEFAULTS } from './defaults.ts';
import {
  DispatchableInverter,
  PhotovoltaicUnit,
  pvParams,
  WindUnit,
  windParams,
  windPowerCurve,
} from './inverter.ts';
import { DER_TECHNOLOGIES } from './technologies.ts';
import type { UnitContext } from './unit.ts';

const ctx: UnitContext = {
  t_s: 0,
  hourOfDay: 12,
  f_hz: 50,
  f0_hz: 50,
  rocof_hz_s: 0,
  vm_pu: 1,
  gridConnected: true,
};
const fw = () => ({ ...DEFAULT_FREQUENCY_DROOP });
const vv = () => structuredClone(DEFAULT_VOLT_VAR);

function battery(mode: 'grid-forming' | 'grid-following' = 'grid-following') {
  return new BatteryUnit(
    'b',
    {
      rating_mw: 1,
      rating_mva: 1,
      energy_mwh: 2,
      soc0: 0.5,
      socMin: 0.1,
      socMax: 0.9,
      etaCharge: 0.95,
      etaDischarge: 0.9,
      mode,
      virtualInertia_s: 2,
      droop_pu: 0.02,
      tau_s: 0.05,
      initial_mw: 0,
      vset_pu: 1,
    },
    fw(),
    vv(),
    50,
  );
}

describe('battery energy balance', () => {
  it('stores η_c·E_in and delivers E_out = η_d·ΔE, so a full cycle returns η_c·η_d', () => {
    const b = battery();
    const dt = 1;
    // Charge 1 MW for 1800 s: 0.5 MWh in, 0.475 MWh stored.
    for (let i = 0; i < 1800; i++) {
      b.p_mw = -1;
      b.account(dt);
    }
    expect(b.soc).toBeCloseTo(0.5 + (0.5 * 0.95) / 2, 12);
    // Discharge until SoC is back to 0.5: E_out = 0.475 MWh × 0.9.
    let out = 0;
    while (b.soc > 0.5 + 1e-12) {
      const p = Math.min(1, ((b.soc - 0.5) * 2 * 0.9 * 3600) / dt);
      b.p_mw = p;
      b.account(dt);
      out += (p * dt) / 3600;
    }
    expect(b.soc).toBeCloseTo(0.5, 9);
    expect(out / 0.5).toBeCloseTo(0.95 * 0.9, 6);
    expect(b.energyIn_mwh).toBeCloseTo(0.5, 9);
    expect(b.energyOut_mwh).toBeCloseTo(out, 9);
  });

  it('stops discharging at the minimum SoC and charging at the maximum', () => {
    const b = battery();
    b.soc = 0.1;
    expect(b.pmax_mw).toBe(0);
    expect(b.pmin_mw).toBe(-1);
    b.soc = 0.9;
    expect(b.pmin_mw).toBe(0);
    b.setReference(0.8);
    b.soc = 0.1;
    b.refresh();
    b.advance(ctx, 0.01);
    expect(b.pDrive_mw).toBe(0);
  });

  it('grid-forming mode contributes virtual inertia 2·H·S/f0 and droops 1/R', () => {
    const b = battery('grid-forming');
    expect(b.inertia_mws_hz).toBeCloseTo((2 * 2 * 1) / 50, 12);
    for (let i = 0; i < 2000; i++) b.advance({ ...ctx, f_hz: 49.9 }, 0.001);
    // Δf = −0.1 Hz = −0.002 pu; with R = 0.02: ΔP = 0.1 pu of 1 MW.
    expect(b.pDrive_mw).toBeCloseTo(0.1, 6);
  });
});

describe('PV model', () => {
  it('derates with cell temperature from the NOCT model', () => {
    const params = pvParams(1, 1.1, { cloudRate_per_h: 0 });
    const pv = new PhotovoltaicUnit('pv', params, fw(), vv(), 50, new Random(1));
    pv.advance(ctx, 0.001);
    // 1000 W/m² at noon, T_cell = 25 + (45 − 20)/800·1000 = 56.25 °C → 1 − 0.004·31.25 = 0.875.
    expect(pv.available_mw).toBeCloseTo(0.875, 9);
    expect(pv.clearSky(6)).toBe(0);
    expect(pv.clearSky(9)).toBeCloseTo(1000 * Math.sin(Math.PI / 4), 9);
  });

  it('produces seeded cloud transients: same seed same trace, dips below clear sky', () => {
    const trace = (seed: number) => {
      const pv = new PhotovoltaicUnit(
        'pv',
        pvParams(1, 1.1, { cloudRate_per_h: 60 }),
        fw(),
        vv(),
        50,
        new Random(seed),
      );
      const out: number[] = [];
      for (let i = 0; i < 3600; i++) {
        pv.advance({ ...ctx, hourOfDay: 12 }, 1);
        out.push(pv.irradiance_w_m2);
      }
      return out;
    };
    const a = trace(5);
    expect(trace(5)).toEqual(a);
    expect(trace(6)).not.toEqual(a);
    expect(Math.min(...a)).toBeLessThan(700);
  });
});

describe('wind model', () => {
  it('power curve: zero below cut-in and from cut-out, rated between rated and cut-out, cubic below', () => {
    const p = windParams(2, 2.2, {});
    expect(windPowerCurve(p, 2.9)).toBe(0);
    expect(windPowerCurve(p, 12)).toBe(2);
    expect(windPowerCurve(p, 24.9)).toBe(2);
    expect(windPowerCurve(p, 25)).toBe(0);
    expect(windPowerCurve(p, 7.5)).toBeCloseTo((2 * (7.5 ** 3 - 27)) / (12 ** 3 - 27), 12);
  });

  it('cuts out in a storm and restarts only below the restart speed', () => {
    const w = new WindUnit(
      'w',
      windParams(1, 1.1, { meanSpeed_m_s: 26, turbulenceIntensity: 0 }),
      fw(),
      vv(),
      50,
      new Random(1),
    );
    w.advance(ctx, 1);
    expect(w.available_mw).toBe(0);
    w.params.meanSpeed_m_s = 22;
    w.advance(ctx, 1);
    expect(w.available_mw).toBe(0);
    w.params.meanSpeed_m_s = 15;
    w.advance(ctx, 1);
    expect(w.available_mw).toBe(1);
  });
});

describe('ramp-limited sources', () => {
  it('a fuel cell follows a set-point step no faster than its ramp limit', () => {
    const fc = new DispatchableInverter(
      'fc',
      'fuel-cell',
      { rating_mw: 1, rating_mva: 1.1, tau_s: 0.5, ramp_pu_s: 0.05, initial_mw: 0.2, cost_per_mwh: 0 },
      { ...fw(), enabled: false },
      vv(),
      50,
    );
    fc.setReference(0.8);
    for (let i = 0; i < 2000; i++) fc.advance(ctx, 0.001);
    // 2 s at 0.05 MW/s.
    expect(fc.pDrive_mw).toBeCloseTo(0.3, 6);
  });
});

describe('library coverage', () => {
  it('has a model and defaults for every technology of the review table plus storage', () => {
    for (const t of [
      'diesel-genset',
      'gas-genset',
      'dual-fuel-genset',
      'combustion-turbine',
      'micro-turbine',
      'fuel-cell',
      'pv',
      'wind',
      'battery',
    ]) {
      expect(DER_TECHNOLOGIES.map((tech) => tech.name)).toContain(t);
    }
    for (const g of Object.values(GENSET_DEFAULTS)) {
      expect(g.h_s).toBeGreaterThan(0);
      expect(g.droop_pu).toBeGreaterThan(0);
    }
  });
});
