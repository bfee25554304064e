/**
 * Datasheet-style default parameters per technology of the source review's Table 1 (diesel,
 * natural gas, dual fuel, micro-turbine, combustion turbine, fuel cell, photovoltaic, wind) plus
 * battery storage and combined heat and power. Values are typical of manufacturer data sheets and
 * textbook ranges for units of 0.1–5 MW (Kundur ch. 9–11; IEEE Std 1547-2018; NREL DER guides):
 * they are starting points, every one can be overridden per unit in the grid file's `params`.
 */

export interface GensetDefaults {
  /** Inertia constant on the machine rating, s. */
  h_s: number;
  droop_pu: number;
  tauGovernor_s: number;
  tauTurbine_s: number;
  /** Ramp limit in pu of rating per second (Infinity = none). */
  ramp_pu_s: number;
  /** Minimum stable loading, pu. */
  pmin_pu: number;
  startDelay_s: number;
  cost_per_mwh: number;
  /** Power factor capability (|Q| ≤ S·sin(acos pf)). */
  pf: number;
}

export const GENSET_DEFAULTS: Record<
  'diesel-genset' | 'gas-genset' | 'dual-fuel-genset' | 'combustion-turbine' | 'chp',
  GensetDefaults
> = {
  // High-speed diesel: fast fuel rack, small inertia, accepts large block loads.
  'diesel-genset': {
    h_s: 1.0,
    droop_pu: 0.04,
    tauGovernor_s: 0.05,
    tauTurbine_s: 0.5,
    ramp_pu_s: Number.POSITIVE_INFINITY,
    pmin_pu: 0.3,
    startDelay_s: 10,
    cost_per_mwh: 250,
    pf: 0.8,
  },
  // Lean-burn natural-gas engine: slower load acceptance (ISO 8528-5 G2 class).
  'gas-genset': {
    h_s: 1.5,
    droop_pu: 0.04,
    tauGovernor_s: 0.1,
    tauTurbine_s: 1.0,
    ramp_pu_s: 0.2,
    pmin_pu: 0.3,
    startDelay_s: 30,
    cost_per_mwh: 120,
    pf: 0.8,
  },
  // Dual-fuel (diesel pilot + gas): between the two.
  'dual-fuel-genset': {
    h_s: 1.2,
    droop_pu: 0.04,
    tauGovernor_s: 0.08,
    tauTurbine_s: 0.8,
    ramp_pu_s: 0.3,
    pmin_pu: 0.3,
    startDelay_s: 20,
    cost_per_mwh: 150,
    pf: 0.8,
  },
  // Industrial/aeroderivative gas turbine: more inertia, slow thermal lag and ramp.
  'combustion-turbine': {
    h_s: 3.0,
    droop_pu: 0.05,
    tauGovernor_s: 0.5,
    tauTurbine_s: 1.5,
    ramp_pu_s: 0.05,
    pmin_pu: 0.4,
    startDelay_s: 300,
    cost_per_mwh: 110,
    pf: 0.85,
  },
  // Gas-engine CHP unit: heat-led by default, runs at its reference.
  chp: {
    h_s: 1.5,
    droop_pu: 0.05,
    tauGovernor_s: 0.1,
    tauTurbine_s: 1.0,
    ramp_pu_s: 0.1,
    pmin_pu: 0.5,
    startDelay_s: 60,
    cost_per_mwh: 80,
    pf: 0.9,
  },
};

export interface InverterSourceDefaults {
  /** First-order response time constant of the source, s. */
  tau_s: number;
  ramp_pu_s: number;
  cost_per_mwh: number;
}

export const MICRO_TURBINE_DEFAULTS: InverterSourceDefaults = {
  tau_s: 2.0,
  ramp_pu_s: 0.1,
  cost_per_mwh: 140,
};
export const FUEL_CELL_DEFAULTS: InverterSourceDefaults = { tau_s: 1.0, ramp_pu_s: 0.05, cost_per_mwh: 130 };

export const PV_DEFAULTS = {
  /** Irradiance at solar noon on a clear day, W/m². */
  peakIrradiance_w_m2: 1000,
  sunrise_h: 6,
  sunset_h: 18,
  /** Mean cloud passages per hour. */
  cloudRate_per_h: 4,
  /** Mean fraction of irradiance a cloud removes. */
  cloudDepth: 0.6,
  cloudDuration_s: 60,
  /** Time constant of a cloud edge, s. */
  cloudEdge_s: 4,
  ambient_c: 25,
  /** Nominal operating cell temperature, °C (800 W/m², 20 °C ambient). */
  noct_c: 45,
  /** Power temperature coefficient, 1/°C (crystalline silicon). */
  tempCoeff_per_c: -0.004,
  cost_per_mwh: 0,
};

export const WIND_DEFAULTS = {
  meanSpeed_m_s: 9,
  turbulenceIntensity: 0.1,
  /** Correlation time of the turbulence (Ornstein–Uhlenbeck), s. */
  turbulenceTime_s: 10,
  cutIn_m_s: 3,
  rated_m_s: 12,
  cutOut_m_s: 25,
  /** Restart after cut-out once the wind falls below this. */
  restart_m_s: 20,
  cost_per_mwh: 0,
};

export const BATTERY_DEFAULTS = {
  /** Hours of storage at rated power. */
  duration_h: 2,
  soc0: 0.6,
  socMin: 0.1,
  socMax: 0.9,
  etaCharge: 0.95,
  etaDischarge: 0.95,
  /** Virtual inertia constant when grid-forming (VSM), s. */
  virtualInertia_s: 2.0,
  droop_pu: 0.02,
  /** Power-loop time constant of the grid-forming control, s. */
  tau_s: 0.05,
  cost_per_mwh: 60,
};

export const LOAD_DEFAULTS = {
  /** ZIP fractions (constant impedance, current, power); sum to 1. */
  zip: [0.3, 0.3, 0.4] as [number, number, number],
  zipQ: [0.5, 0.3, 0.2] as [number, number, number],
  /** Active power change per unit frequency change (pu/pu); typical 1–2. */
  kpf: 1.5,
  kqf: -1.0,
};
