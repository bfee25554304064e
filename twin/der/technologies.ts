/**
 * The DER technology registry: every technology the twin models is one entry here — its model
 * (`create`), its datasheet defaults, the JSON Schema of its `params` in the grid file, and its
 * symbol on the live page's one-line diagram. The grid schema's technology list and per-technology
 * `params` rules are generated from this list (`gridSchemaWith`, written to twin/grid/grid.schema.json
 * by `npm run schema:grid`; a test keeps the published file equal to it). docs/twin.md, "Add a DER
 * technology", walks through adding one.
 */
import type { Der } from '../grid/model.ts';
import { gridSchema } from '../grid/yaml.ts';
import { Ieee1547Protection } from '../ieee1547/functions.ts';
import type { Random } from '../random.ts';
import { BatteryUnit } from './battery.ts';
import {
  BATTERY_DEFAULTS,
  FUEL_CELL_DEFAULTS,
  GENSET_DEFAULTS,
  type GensetDefaults,
  type InverterSourceDefaults,
  MICRO_TURBINE_DEFAULTS,
  PV_DEFAULTS,
  WIND_DEFAULTS,
} from './defaults.ts';
import { SynchronousGenset } from './genset.ts';
import {
  DispatchableInverter,
  dispatchableParams,
  PhotovoltaicUnit,
  pvParams,
  WindUnit,
  windParams,
} from './inverter.ts';
import { ieee1547For, numberParam } from './params.ts';
import type { DerUnit } from './unit.ts';

/** A JSON Schema fragment (draft-07), as it appears in grid.schema.json. */
export type JsonSchema = Readonly<Record<string, unknown>>;

/** What a technology's model is built with, besides the DER's own grid-file entry. */
export interface DerBuildContext {
  /** Nominal frequency, Hz. */
  readonly f0_hz: number;
  /** The unit's own random stream (seeded from the run's seed and the DER's id). */
  readonly random: Random;
  /** Active-power rating, MW (`params.rating_mw`, default the apparent-power rating). */
  readonly rating_mw: number;
}

export interface DerTechnology {
  /** The grid file's `technology:` value (or, for a variant, its `params.model:` value). */
  readonly name: string;
  /**
   * A variant is selected with `params.model: <name>` under one of these technologies rather than
   * with `technology:` (its parent's `params` schema applies).
   */
  readonly variantOf?: readonly string[];
  /** Symbol drawn for it on the live page's one-line diagram (one character). */
  readonly glyph: string;
  /** Datasheet defaults (twin/der/defaults.ts); every one can be overridden in `params`. */
  readonly defaults: object;
  /** JSON Schema of the `params` keys particular to this technology (COMMON_DER_PARAMS are added). */
  readonly params: Readonly<Record<string, JsonSchema>>;
  /** Builds the simulation model of one DER of this technology (protection included). */
  create(der: Der, context: DerBuildContext): DerUnit;
}

/** `params` every technology accepts: rating, IEEE 1547 settings, cost, participation. */
export const COMMON_DER_PARAMS: Readonly<Record<string, JsonSchema>> = {
  rating_mw: {
    type: 'number',
    description: 'Active power rating, MW (default: rating_mva).',
    exclusiveMinimum: 0,
  },
  category: { enum: ['I', 'II', 'III'], description: 'IEEE 1547 performance category.' },
  rocofTripDelay_s: { type: 'number', description: 'ROCOF trip delay, s.', minimum: 0 },
  enterServiceDelay_s: { type: 'number', description: 'Enter-service delay, s.', minimum: 0 },
  enterServiceRamp_s: { type: 'number', description: 'Enter-service ramp time, s.', minimum: 0 },
  frequencyWatt: { type: 'boolean', description: 'Frequency-droop (frequency-watt) response enabled.' },
  voltVar: { type: 'boolean', description: 'Volt-var response enabled.' },
  cost_per_mwh: { type: 'number', description: 'Marginal cost used by the EMS, per MWh.' },
  participation: {
    type: 'number',
    description: "Overrides the unit's slack participation in the dynamics.",
    minimum: 0,
  },
  antiIslanding: {
    type: 'boolean',
    description: 'Trips after unplanned islanding (anti-islanding protection).',
  },
};

const number = (description: string, bounds: Record<string, number> = {}): JsonSchema => ({
  type: 'number',
  description,
  ...bounds,
});
const hourly = (description: string): JsonSchema => ({
  type: 'array',
  items: { type: 'number', minimum: 0 },
  minItems: 24,
  maxItems: 24,
  description,
});
const RAMP = number('Ramp limit, pu of rating per second.', { exclusiveMinimum: 0 });
const TAU = number('Power response time constant, s.', { minimum: 0 });

const GENSET_PARAMS: Readonly<Record<string, JsonSchema>> = {
  h_s: number('Inertia constant on the machine rating, s.', { exclusiveMinimum: 0 }),
  droop_pu: number('Speed droop, pu.', { exclusiveMinimum: 0 }),
  tauGovernor_s: number('Governor time constant, s.', { minimum: 0 }),
  tauTurbine_s: number('Engine/turbine time constant, s.', { minimum: 0 }),
  ramp_pu_s: RAMP,
  pmin_pu: number('Minimum stable loading, pu.', { minimum: 0, maximum: 1 }),
  startDelay_s: number('Start-up delay, s.', { minimum: 0 }),
  pf: number('Power-factor capability.', { exclusiveMinimum: 0, maximum: 1 }),
  running: { type: 'boolean', description: 'Running at t = 0.' },
};

/** A synchronous machine with a droop governor and engine lag (the gensets of Table 1). */
function genset(
  name: keyof typeof GENSET_DEFAULTS,
  glyph: string,
  variantOf?: readonly string[],
): DerTechnology {
  const defaults: GensetDefaults = GENSET_DEFAULTS[name];
  return {
    name,
    glyph,
    ...(variantOf ? { variantOf } : {}),
    defaults,
    params: variantOf ? {} : GENSET_PARAMS,
    create(der, { f0_hz, rating_mw }) {
      const p = der.params;
      const own = (key: keyof GensetDefaults): number => numberParam(p, key, defaults[key]);
      const unit = new SynchronousGenset(
        der.id,
        name,
        {
          h_s: own('h_s'),
          droop_pu: own('droop_pu'),
          tauGovernor_s: own('tauGovernor_s'),
          tauTurbine_s: own('tauTurbine_s'),
          ramp_pu_s: own('ramp_pu_s'),
          pmin_pu: own('pmin_pu'),
          startDelay_s: own('startDelay_s'),
          cost_per_mwh: own('cost_per_mwh'),
          pf: own('pf'),
          rating_mw,
          rating_mva: der.rating_mva,
          initial_mw: der.p_mw,
          vset_pu: der.vset_pu,
          running: p.running !== false && der.inService,
        },
        f0_hz,
      );
      unit.protection = new Ieee1547Protection(ieee1547For(der, true), f0_hz);
      return unit;
    },
  };
}

/** An inverter-interfaced dispatchable source: first-order lag and ramp limit. */
function dispatchableInverter(
  name: 'micro-turbine' | 'fuel-cell',
  glyph: string,
  defaults: InverterSourceDefaults,
): DerTechnology {
  return {
    name,
    glyph,
    defaults,
    params: { tau_s: TAU, ramp_pu_s: RAMP },
    create(der, { f0_hz, rating_mw }) {
      const cfg = ieee1547For(der, false);
      const p = der.params;
      const params = dispatchableParams(defaults, rating_mw, der.rating_mva, der.p_mw, {
        ...(typeof p.tau_s === 'number' ? { tau_s: p.tau_s } : {}),
        ...(typeof p.ramp_pu_s === 'number' ? { ramp_pu_s: p.ramp_pu_s } : {}),
        ...(typeof p.cost_per_mwh === 'number' ? { cost_per_mwh: p.cost_per_mwh } : {}),
      });
      const unit = new DispatchableInverter(der.id, name, params, cfg.frequencyDroop, cfg.voltVar, f0_hz);
      unit.protection = new Ieee1547Protection(cfg, f0_hz);
      return unit;
    },
  };
}

const GENSETS = ['diesel-genset', 'gas-genset', 'chp'];

const PV: DerTechnology = {
  name: 'pv',
  glyph: '☀',
  defaults: PV_DEFAULTS,
  params: {
    peakIrradiance_w_m2: number('Clear-sky peak irradiance, W/m².', { minimum: 0 }),
    sunrise_h: number('Sunrise, hour of day.', { minimum: 0, maximum: 24 }),
    sunset_h: number('Sunset, hour of day.', { minimum: 0, maximum: 24 }),
    cloudRate_per_h: number('Mean cloud events per hour.', { minimum: 0 }),
    cloudDepth: number('Mean irradiance reduction of a cloud, 0..1.', { minimum: 0, maximum: 1 }),
    cloudDuration_s: number('Mean cloud duration, s.', { minimum: 0 }),
    cloudEdge_s: number('Cloud edge time constant, s.', { minimum: 0 }),
    ambient_c: number('Ambient temperature, °C.'),
    noct_c: number('Nominal operating cell temperature, °C.'),
    tempCoeff_per_c: number('Power temperature coefficient, 1/°C.'),
    irradianceProfile: hourly('24 hourly irradiance values, W/m².'),
  },
  create(der, { f0_hz, rating_mw, random }) {
    const cfg = ieee1547For(der, false);
    const params = pvParams(rating_mw, der.rating_mva, der.params);
    const unit = new PhotovoltaicUnit(der.id, params, cfg.frequencyDroop, cfg.voltVar, f0_hz, random);
    unit.protection = new Ieee1547Protection(cfg, f0_hz);
    return unit;
  },
};

const WIND: DerTechnology = {
  name: 'wind',
  glyph: '✢',
  defaults: WIND_DEFAULTS,
  params: {
    meanSpeed_m_s: number('Mean wind speed, m/s.', { minimum: 0 }),
    turbulenceIntensity: number('Turbulence intensity (σ / mean).', { minimum: 0 }),
    turbulenceTime_s: number('Turbulence correlation time, s.', { exclusiveMinimum: 0 }),
    cutIn_m_s: number('Cut-in speed, m/s.', { minimum: 0 }),
    rated_m_s: number('Rated speed, m/s.', { exclusiveMinimum: 0 }),
    cutOut_m_s: number('Cut-out speed, m/s.', { exclusiveMinimum: 0 }),
    restart_m_s: number('Restart speed after a cut-out, m/s.', { minimum: 0 }),
    speedProfile: hourly('24 hourly mean wind speeds, m/s.'),
  },
  create(der, { f0_hz, rating_mw, random }) {
    const cfg = ieee1547For(der, false);
    const params = windParams(rating_mw, der.rating_mva, der.params);
    const unit = new WindUnit(der.id, params, cfg.frequencyDroop, cfg.voltVar, f0_hz, random);
    unit.protection = new Ieee1547Protection(cfg, f0_hz);
    return unit;
  },
};

const BATTERY: DerTechnology = {
  name: 'battery',
  glyph: '▮',
  defaults: BATTERY_DEFAULTS,
  params: {
    energy_mwh: number('Usable energy capacity, MWh.', { exclusiveMinimum: 0 }),
    soc0: number('Initial state of charge, 0..1.', { minimum: 0, maximum: 1 }),
    socMin: number('Minimum state of charge, 0..1.', { minimum: 0, maximum: 1 }),
    socMax: number('Maximum state of charge, 0..1.', { minimum: 0, maximum: 1 }),
    etaCharge: number('Charging efficiency, 0..1.', { exclusiveMinimum: 0, maximum: 1 }),
    etaDischarge: number('Discharging efficiency, 0..1.', { exclusiveMinimum: 0, maximum: 1 }),
    virtualInertia_s: number('Virtual inertia constant when grid-forming, s.', { minimum: 0 }),
    droop_pu: number('Frequency droop when grid-forming, pu.', { exclusiveMinimum: 0 }),
    tau_s: TAU,
  },
  create(der, { f0_hz, rating_mw }) {
    const cfg = ieee1547For(der, false);
    const mode = der.control === 'grid-forming' ? 'grid-forming' : 'grid-following';
    if (mode === 'grid-forming') cfg.rocofTripDelay_s = 0;
    const p = der.params;
    const own = (key: keyof typeof BATTERY_DEFAULTS): number => numberParam(p, key, BATTERY_DEFAULTS[key]);
    const unit = new BatteryUnit(
      der.id,
      {
        rating_mw,
        rating_mva: der.rating_mva,
        energy_mwh: numberParam(p, 'energy_mwh', rating_mw * BATTERY_DEFAULTS.duration_h),
        soc0: own('soc0'),
        socMin: own('socMin'),
        socMax: own('socMax'),
        etaCharge: own('etaCharge'),
        etaDischarge: own('etaDischarge'),
        mode,
        virtualInertia_s: own('virtualInertia_s'),
        droop_pu: own('droop_pu'),
        tau_s: own('tau_s'),
        initial_mw: der.p_mw,
        vset_pu: der.vset_pu,
      },
      cfg.frequencyDroop,
      cfg.voltVar,
      f0_hz,
    );
    unit.cost_per_mwh = own('cost_per_mwh');
    unit.protection = new Ieee1547Protection(cfg, f0_hz);
    return unit;
  },
};

/**
 * The technologies of the source review's Table 1 plus storage and CHP, in the order the grid
 * schema lists them. To add one, add an entry here (docs/twin.md, "Add a DER technology").
 */
export const DER_TECHNOLOGIES: readonly DerTechnology[] = [
  PV,
  WIND,
  BATTERY,
  genset('diesel-genset', 'G'),
  genset('gas-genset', 'G'),
  genset('chp', 'C'),
  dispatchableInverter('micro-turbine', 'T', MICRO_TURBINE_DEFAULTS),
  dispatchableInverter('fuel-cell', 'F', FUEL_CELL_DEFAULTS),
  genset('dual-fuel-genset', 'G', GENSETS),
  genset('combustion-turbine', 'G', GENSETS),
];

/** The technology of this name, if the list has it. */
export function findDerTechnology(
  name: string,
  technologies: readonly DerTechnology[] = DER_TECHNOLOGIES,
): DerTechnology | undefined {
  return technologies.find((t) => t.name === name);
}

/** The diagram symbol of a technology (`~` for one the list does not know, e.g. hardware). */
export function derGlyph(name: string, technologies: readonly DerTechnology[] = DER_TECHNOLOGIES): string {
  return findDerTechnology(name, technologies)?.glyph ?? '~';
}

/** The `ders[].technology` enum and per-technology `params` rules of the grid schema. */
function derSchemaParts(technologies: readonly DerTechnology[]): { enum: string[]; allOf: JsonSchema[] } {
  const selectable = technologies.filter((t) => !t.variantOf);
  return {
    enum: selectable.map((t) => t.name),
    allOf: selectable.map((t) => {
      const variants = technologies.filter((v) => v.variantOf?.includes(t.name)).map((v) => v.name);
      const model = variants.length ? { model: { enum: variants, description: 'Finer engine model.' } } : {};
      return {
        if: { properties: { technology: { const: t.name } }, required: ['technology'] },
        // biome-ignore lint/suspicious/noThenProperty: JSON Schema's if/then, never awaited
        then: {
          properties: {
            params: {
              type: 'object',
              additionalProperties: false,
              properties: { ...COMMON_DER_PARAMS, ...model, ...t.params },
            },
          },
        },
      };
    }),
  };
}

/**
 * The grid schema with its DER technologies taken from a technology list: the published file for
 * DER_TECHNOLOGIES, or an extended schema for a list with technologies of one's own.
 */
export function gridSchemaWith(
  technologies: readonly DerTechnology[] = DER_TECHNOLOGIES,
): Record<string, unknown> {
  const schema = gridSchema() as { properties: { ders: { items: Record<string, unknown> } } };
  const items = schema.properties.ders.items as {
    properties: { technology: { enum: string[] } };
    allOf: JsonSchema[];
  };
  const parts = derSchemaParts(technologies);
  items.properties.technology.enum = parts.enum;
  items.allOf = parts.allOf;
  return schema;
}
