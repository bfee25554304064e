import type { Der, Generator } from '../grid/model.ts';
import { defaultIeee1547, type Ieee1547Config, Ieee1547Protection } from '../ieee1547/functions.ts';
import type { PerformanceCategory } from '../ieee1547/settings.ts';
import { deriveSeed, Random } from '../random.ts';
import { BatteryUnit } from './battery.ts';
import { BATTERY_DEFAULTS, GENSET_DEFAULTS } from './defaults.ts';
import { SynchronousGenset } from './genset.ts';
import {
  DispatchableInverter,
  dispatchableParams,
  PhotovoltaicUnit,
  pvParams,
  WindUnit,
  windParams,
} from './inverter.ts';
import type { DerUnit } from './unit.ts';

/**
 * Technologies the DER library models. The grid model's `technology` covers most of them; the
 * finer ones (dual fuel, combustion turbine) are selected with `params.model`.
 */
export type LibraryTechnology =
  | 'diesel-genset'
  | 'gas-genset'
  | 'dual-fuel-genset'
  | 'combustion-turbine'
  | 'chp'
  | 'micro-turbine'
  | 'fuel-cell'
  | 'pv'
  | 'wind'
  | 'battery';

export const LIBRARY_TECHNOLOGIES: readonly LibraryTechnology[] = [
  'diesel-genset',
  'gas-genset',
  'dual-fuel-genset',
  'combustion-turbine',
  'chp',
  'micro-turbine',
  'fuel-cell',
  'pv',
  'wind',
  'battery',
];

export function libraryTechnology(der: Der): LibraryTechnology {
  const model = der.params.model;
  if (typeof model === 'string') {
    if (!(LIBRARY_TECHNOLOGIES as readonly string[]).includes(model)) {
      throw new TypeError(
        `DER '${der.id}': params.model '${model}' is not one of ${LIBRARY_TECHNOLOGIES.join(', ')}`,
      );
    }
    return model as LibraryTechnology;
  }
  return der.technology as LibraryTechnology;
}

function num(params: Record<string, unknown>, key: string, fallback: number): number {
  const v = params[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/** IEEE 1547 settings of one DER: category from params.category (default II; synchronous: I). */
export function ieee1547For(der: { params: Record<string, unknown> }, synchronous: boolean): Ieee1547Config {
  const cat = der.params.category;
  const category: PerformanceCategory =
    cat === 'I' || cat === 'II' || cat === 'III' ? cat : synchronous ? 'I' : 'II';
  const cfg = defaultIeee1547(category);
  const p = der.params;
  if (synchronous) cfg.rocofTripDelay_s = 0;
  cfg.rocofTripDelay_s = num(p, 'rocofTripDelay_s', cfg.rocofTripDelay_s);
  cfg.enterService.delay_s = num(p, 'enterServiceDelay_s', cfg.enterService.delay_s);
  cfg.enterService.rampTime_s = num(p, 'enterServiceRamp_s', cfg.enterService.rampTime_s);
  cfg.frequencyDroop.enabled = p.frequencyWatt !== false;
  cfg.voltVar.enabled = p.voltVar !== false;
  return cfg;
}

export interface UnitBuildOptions {
  f0_hz: number;
  seed: number;
}

/** Builds the simulation model of one DER from the grid file, with library defaults. */
export function createDerUnit(der: Der, options: UnitBuildOptions): DerUnit {
  const tech = libraryTechnology(der);
  const p = der.params as Record<string, unknown>;
  const f0 = options.f0_hz;
  const ratingMva = der.rating_mva;
  const ratingMw = num(p, 'rating_mw', ratingMva);
  const random = new Random(deriveSeed(options.seed, der.id));
  let unit: DerUnit;
  switch (tech) {
    case 'diesel-genset':
    case 'gas-genset':
    case 'dual-fuel-genset':
    case 'combustion-turbine':
    case 'chp': {
      const d = GENSET_DEFAULTS[tech];
      unit = new SynchronousGenset(
        der.id,
        tech,
        {
          h_s: num(p, 'h_s', d.h_s),
          droop_pu: num(p, 'droop_pu', d.droop_pu),
          tauGovernor_s: num(p, 'tauGovernor_s', d.tauGovernor_s),
          tauTurbine_s: num(p, 'tauTurbine_s', d.tauTurbine_s),
          ramp_pu_s: num(p, 'ramp_pu_s', d.ramp_pu_s),
          pmin_pu: num(p, 'pmin_pu', d.pmin_pu),
          startDelay_s: num(p, 'startDelay_s', d.startDelay_s),
          cost_per_mwh: num(p, 'cost_per_mwh', d.cost_per_mwh),
          pf: num(p, 'pf', d.pf),
          rating_mw: ratingMw,
          rating_mva: ratingMva,
          initial_mw: der.p_mw,
          vset_pu: der.vset_pu,
          running: p.running !== false && der.inService,
        },
        f0,
      );
      unit.protection = new Ieee1547Protection(ieee1547For(der, true), f0);
      break;
    }
    case 'micro-turbine':
    case 'fuel-cell': {
      const cfg = ieee1547For(der, false);
      const params = dispatchableParams(tech, ratingMw, ratingMva, der.p_mw, {
        ...(typeof p.tau_s === 'number' ? { tau_s: p.tau_s } : {}),
        ...(typeof p.ramp_pu_s === 'number' ? { ramp_pu_s: p.ramp_pu_s } : {}),
        ...(typeof p.cost_per_mwh === 'number' ? { cost_per_mwh: p.cost_per_mwh } : {}),
      });
      unit = new DispatchableInverter(der.id, tech, params, cfg.frequencyDroop, cfg.voltVar, f0);
      unit.protection = new Ieee1547Protection(cfg, f0);
      break;
    }
    case 'pv': {
      const cfg = ieee1547For(der, false);
      unit = new PhotovoltaicUnit(
        der.id,
        pvParams(ratingMw, ratingMva, p),
        cfg.frequencyDroop,
        cfg.voltVar,
        f0,
        random,
      );
      unit.protection = new Ieee1547Protection(cfg, f0);
      break;
    }
    case 'wind': {
      const cfg = ieee1547For(der, false);
      unit = new WindUnit(
        der.id,
        windParams(ratingMw, ratingMva, p),
        cfg.frequencyDroop,
        cfg.voltVar,
        f0,
        random,
      );
      unit.protection = new Ieee1547Protection(cfg, f0);
      break;
    }
    case 'battery': {
      const cfg = ieee1547For(der, false);
      const mode = der.control === 'grid-forming' ? 'grid-forming' : 'grid-following';
      if (mode === 'grid-forming') cfg.rocofTripDelay_s = 0;
      unit = new BatteryUnit(
        der.id,
        {
          rating_mw: ratingMw,
          rating_mva: ratingMva,
          energy_mwh: num(p, 'energy_mwh', ratingMw * BATTERY_DEFAULTS.duration_h),
          soc0: num(p, 'soc0', BATTERY_DEFAULTS.soc0),
          socMin: num(p, 'socMin', BATTERY_DEFAULTS.socMin),
          socMax: num(p, 'socMax', BATTERY_DEFAULTS.socMax),
          etaCharge: num(p, 'etaCharge', BATTERY_DEFAULTS.etaCharge),
          etaDischarge: num(p, 'etaDischarge', BATTERY_DEFAULTS.etaDischarge),
          mode,
          virtualInertia_s: num(p, 'virtualInertia_s', BATTERY_DEFAULTS.virtualInertia_s),
          droop_pu: num(p, 'droop_pu', BATTERY_DEFAULTS.droop_pu),
          tau_s: num(p, 'tau_s', BATTERY_DEFAULTS.tau_s),
          initial_mw: der.p_mw,
          vset_pu: der.vset_pu,
        },
        cfg.frequencyDroop,
        cfg.voltVar,
        f0,
      );
      unit.cost_per_mwh = num(p, 'cost_per_mwh', BATTERY_DEFAULTS.cost_per_mwh);
      unit.protection = new Ieee1547Protection(cfg, f0);
      break;
    }
    default:
      throw new TypeError(`DER '${der.id}': technology '${tech}' is not in the DER library`);
  }
  unit.inService = der.inService;
  if (typeof p.participation === 'number') unit.participation = p.participation;
  return unit;
}

/** A conventional generator that is not a slack (main-grid) source: a synchronous unit. */
export function createGeneratorUnit(gen: Generator, options: UnitBuildOptions): DerUnit {
  const d = GENSET_DEFAULTS['combustion-turbine'];
  const rating = Math.max(gen.pmax_mw, 1e-3);
  const unit = new SynchronousGenset(
    gen.id,
    'generator',
    {
      ...d,
      h_s: 4,
      ramp_pu_s: Number.POSITIVE_INFINITY,
      pmin_pu: Math.max(0, gen.pmin_mw / rating),
      rating_mw: rating,
      rating_mva: rating,
      initial_mw: gen.p_mw,
      vset_pu: gen.vset_pu,
      running: gen.inService,
    },
    options.f0_hz,
  );
  unit.inService = gen.inService;
  return unit;
}
