/** SETPOINT, CONFIG: payload layouts, generated from firmware-protocol/messages.yaml by `npm run generate:protocol`; do not edit. */

/** SETPOINT `fields` bits. */
export const SetpointField = {
  ACTIVE_POWER: 0x01,
  REACTIVE_POWER: 0x02,
  ACTIVE_POWER_LIMITS: 0x04,
  REACTIVE_POWER_LIMIT: 0x08,
  MODE: 0x10,
  FUNCTIONS: 0x20,
} as const;

/** SETPOINT (twin or operator → device). Only the fields whose bit is set in `fields` apply. */
export interface Setpoint {
  type: 'SETPOINT';
  /** bit mask of the fields below */
  fields: number;
  /** operating mode (as DEVICE_STATE) */
  mode: number;
  /** functions to enable; all others disabled */
  enabledFunctions: number;
  /** dispatch set-point P, W (battery: + discharge; inverter: ≤ available power) */
  activePowerW: number;
  /** set-point Q, var */
  reactivePowerVar: number;
  /** upper P limit, W (inverter: available primary power) */
  activePowerMaxW: number;
  /** lower P limit, W (negative: charge / import) */
  activePowerMinW: number;
  /** |Q| limit, var */
  reactivePowerMaxVar: number;
}
export const SETPOINT_LENGTH = 28;

export function writeSetpoint(view: DataView, offset: number, m: Setpoint): number {
  view.setUint16(offset, m.fields, true);
  view.setUint8(offset + 2, m.mode);
  view.setUint8(offset + 3, 0);
  view.setUint32(offset + 4, m.enabledFunctions >>> 0, true);
  view.setFloat32(offset + 8, m.activePowerW, true);
  view.setFloat32(offset + 12, m.reactivePowerVar, true);
  view.setFloat32(offset + 16, m.activePowerMaxW, true);
  view.setFloat32(offset + 20, m.activePowerMinW, true);
  view.setFloat32(offset + 24, m.reactivePowerMaxVar, true);
  return SETPOINT_LENGTH;
}

export function readSetpoint(view: DataView, offset: number): Setpoint {
  return {
    type: 'SETPOINT',
    fields: view.getUint16(offset, true),
    mode: view.getUint8(offset + 2),
    enabledFunctions: view.getUint32(offset + 4, true),
    activePowerW: view.getFloat32(offset + 8, true),
    reactivePowerVar: view.getFloat32(offset + 12, true),
    activePowerMaxW: view.getFloat32(offset + 16, true),
    activePowerMinW: view.getFloat32(offset + 20, true),
    reactivePowerMaxVar: view.getFloat32(offset + 24, true),
  };
}

/** CONFIG `fields` bits. */
export const ConfigField = {
  FREQUENCY_DROOP: 0x01,
  VOLT_VAR: 0x02,
  SOC_LIMITS: 0x04,
  CATEGORY: 0x08,
  WATCHDOG: 0x10,
} as const;

/** CONFIG (twin or operator → device). Only the fields whose bit is set in `fields` apply. */
export interface Config {
  type: 'CONFIG';
  /** bit mask */
  fields: number;
  /** low nibble normal (1 A, 2 B), high nibble abnormal (1 I, 2 II, 3 III) */
  ieee1547Category: number;
  /** frequency droop R (0.05 = 5 %: rated power per 5 % frequency deviation) */
  droopPu: number;
  /** dead band each side of nominal, Hz */
  frequencyDeadbandHz: number;
  /** volt-var curve voltages V1…V4, p.u., non-decreasing */
  voltVarVoltagesPu: [number, number, number, number];
  /** Q1…Q4, fraction of rated reactive power, + injection */
  voltVarReactivePu: [number, number, number, number];
  /** 0…1 */
  stateOfChargeMin: number;
  /** 0…1, > min */
  stateOfChargeMax: number;
  /** device watchdog (§10) */
  watchdogMs: number;
}
export const CONFIG_LENGTH = 56;

export function writeConfig(view: DataView, offset: number, m: Config): number {
  view.setUint16(offset, m.fields, true);
  view.setUint8(offset + 2, m.ieee1547Category);
  view.setUint8(offset + 3, 0);
  view.setFloat32(offset + 4, m.droopPu, true);
  view.setFloat32(offset + 8, m.frequencyDeadbandHz, true);
  for (let i = 0; i < 4; i++) view.setFloat32(offset + 12 + 4 * i, m.voltVarVoltagesPu[i], true);
  for (let i = 0; i < 4; i++) view.setFloat32(offset + 28 + 4 * i, m.voltVarReactivePu[i], true);
  view.setFloat32(offset + 44, m.stateOfChargeMin, true);
  view.setFloat32(offset + 48, m.stateOfChargeMax, true);
  view.setUint32(offset + 52, m.watchdogMs >>> 0, true);
  return CONFIG_LENGTH;
}

export function readConfig(view: DataView, offset: number): Config {
  return {
    type: 'CONFIG',
    fields: view.getUint16(offset, true),
    ieee1547Category: view.getUint8(offset + 2),
    droopPu: view.getFloat32(offset + 4, true),
    frequencyDeadbandHz: view.getFloat32(offset + 8, true),
    voltVarVoltagesPu: [
      view.getFloat32(offset + 12, true),
      view.getFloat32(offset + 16, true),
      view.getFloat32(offset + 20, true),
      view.getFloat32(offset + 24, true),
    ],
    voltVarReactivePu: [
      view.getFloat32(offset + 28, true),
      view.getFloat32(offset + 32, true),
      view.getFloat32(offset + 36, true),
      view.getFloat32(offset + 40, true),
    ],
    stateOfChargeMin: view.getFloat32(offset + 44, true),
    stateOfChargeMax: view.getFloat32(offset + 48, true),
    watchdogMs: view.getUint32(offset + 52, true),
  };
}
