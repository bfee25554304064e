/** SETPOINT and CONFIG (twin or operator → device). Only fields whose bit is set in `fields` apply. */

export const SetpointField = {
  ACTIVE_POWER: 0x01,
  REACTIVE_POWER: 0x02,
  ACTIVE_POWER_LIMITS: 0x04,
  REACTIVE_POWER_LIMIT: 0x08,
  MODE: 0x10,
  FUNCTIONS: 0x20,
} as const;

export interface Setpoint {
  type: 'SETPOINT';
  /** `SetpointField` bits: which of the fields below the device applies. */
  fields: number;
  /** `OperatingMode`. */
  mode: number;
  /** `DeviceFunction` bits to enable (others disabled). */
  enabledFunctions: number;
  activePowerW: number;
  reactivePowerVar: number;
  /** Upper active-power limit, W (export / discharge). */
  activePowerMaxW: number;
  /** Lower active-power limit, W (negative = import / charge). */
  activePowerMinW: number;
  /** Reactive-power magnitude limit, var. */
  reactivePowerMaxVar: number;
}
export const SETPOINT_LENGTH = 28;

export function writeSetpoint(view: DataView, offset: number, s: Setpoint): number {
  view.setUint16(offset, s.fields, true);
  view.setUint8(offset + 2, s.mode);
  view.setUint8(offset + 3, 0);
  view.setUint32(offset + 4, s.enabledFunctions >>> 0, true);
  view.setFloat32(offset + 8, s.activePowerW, true);
  view.setFloat32(offset + 12, s.reactivePowerVar, true);
  view.setFloat32(offset + 16, s.activePowerMaxW, true);
  view.setFloat32(offset + 20, s.activePowerMinW, true);
  view.setFloat32(offset + 24, s.reactivePowerMaxVar, true);
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

export const ConfigField = {
  FREQUENCY_DROOP: 0x01,
  VOLT_VAR: 0x02,
  SOC_LIMITS: 0x04,
  CATEGORY: 0x08,
  WATCHDOG: 0x10,
} as const;

export interface Config {
  type: 'CONFIG';
  /** `ConfigField` bits. */
  fields: number;
  /** IEEE 1547 category: low nibble normal (1 A, 2 B), high nibble abnormal (1 I, 2 II, 3 III). */
  ieee1547Category: number;
  /** Frequency droop R, per unit (0.05 = 5 %: rated power change per 5 % frequency change). */
  droopPu: number;
  /** Frequency-watt dead band, Hz (each side of nominal). */
  frequencyDeadbandHz: number;
  /** Volt-var curve voltages V1…V4, per unit. */
  voltVarVoltagesPu: [number, number, number, number];
  /** Volt-var curve reactive powers Q1…Q4, fraction of rated reactive power (positive = injection). */
  voltVarReactivePu: [number, number, number, number];
  stateOfChargeMin: number;
  stateOfChargeMax: number;
  /** Device watchdog: safe state after this long without a valid frame from the bench. */
  watchdogMs: number;
}
export const CONFIG_LENGTH = 56;

export function writeConfig(view: DataView, offset: number, c: Config): number {
  view.setUint16(offset, c.fields, true);
  view.setUint8(offset + 2, c.ieee1547Category);
  view.setUint8(offset + 3, 0);
  view.setFloat32(offset + 4, c.droopPu, true);
  view.setFloat32(offset + 8, c.frequencyDeadbandHz, true);
  for (let i = 0; i < 4; i++) view.setFloat32(offset + 12 + 4 * i, c.voltVarVoltagesPu[i], true);
  for (let i = 0; i < 4; i++) view.setFloat32(offset + 28 + 4 * i, c.voltVarReactivePu[i], true);
  view.setFloat32(offset + 44, c.stateOfChargeMin, true);
  view.setFloat32(offset + 48, c.stateOfChargeMax, true);
  view.setUint32(offset + 52, c.watchdogMs >>> 0, true);
  return CONFIG_LENGTH;
}

export function readConfig(view: DataView, offset: number): Config {
  const f = (i: number) => view.getFloat32(offset + i, true);
  return {
    type: 'CONFIG',
    fields: view.getUint16(offset, true),
    ieee1547Category: view.getUint8(offset + 2),
    droopPu: f(4),
    frequencyDeadbandHz: f(8),
    voltVarVoltagesPu: [f(12), f(16), f(20), f(24)],
    voltVarReactivePu: [f(28), f(32), f(36), f(40)],
    stateOfChargeMin: f(44),
    stateOfChargeMax: f(48),
    watchdogMs: view.getUint32(offset + 52, true),
  };
}
