/** MEASUREMENT, DEVICE_STATE: payload layouts, generated from firmware-protocol/messages.yaml by `npm run generate:protocol`; do not edit. */

/** MEASUREMENT (twin → device), once per step; the device answers with DEVICE_STATE. */
export interface Measurement {
  type: 'MEASUREMENT';
  /** twin step index; echoed in DEVICE_STATE */
  step: number;
  /** twin time since the start of the run, s */
  twinTimeS: number;
  /** bus voltage magnitude, per unit of the device's nominal voltage */
  voltagePu: number;
  /** bus voltage angle, rad */
  voltageAngleRad: number;
  /** island frequency, Hz */
  frequencyHz: number;
  /** rate of change of frequency, Hz/s */
  rocofHzPerS: number;
}
export const MEASUREMENT_LENGTH = 28;

export function writeMeasurement(view: DataView, offset: number, m: Measurement): number {
  view.setUint32(offset, m.step >>> 0, true);
  view.setFloat64(offset + 4, m.twinTimeS, true);
  view.setFloat32(offset + 12, m.voltagePu, true);
  view.setFloat32(offset + 16, m.voltageAngleRad, true);
  view.setFloat32(offset + 20, m.frequencyHz, true);
  view.setFloat32(offset + 24, m.rocofHzPerS, true);
  return MEASUREMENT_LENGTH;
}

export function readMeasurement(view: DataView, offset: number): Measurement {
  return {
    type: 'MEASUREMENT',
    step: view.getUint32(offset, true),
    twinTimeS: view.getFloat64(offset + 4, true),
    voltagePu: view.getFloat32(offset + 12, true),
    voltageAngleRad: view.getFloat32(offset + 16, true),
    frequencyHz: view.getFloat32(offset + 20, true),
    rocofHzPerS: view.getFloat32(offset + 24, true),
  };
}

/** DEVICE_STATE (device → twin), the answer to a MEASUREMENT. */
export interface DeviceState {
  type: 'DEVICE_STATE';
  /** step of the MEASUREMENT this answers (0 before the first) */
  step: number;
  /** W, generator convention: + export / discharge */
  activePowerW: number;
  /** var, + injection */
  reactivePowerVar: number;
  /** 0…1; NaN without storage */
  stateOfCharge: number;
  /** 0 off, 1 grid-following, 2 grid-forming (SunSpec 701 `DERMode` bits 0/1) */
  mode: number;
  /** SunSpec 701 `InvSt`: 0 OFF, 1 SLEEPING, 2 STARTING, 3 RUNNING, 4 THROTTLED, 5 SHUTTING_DOWN, 6 FAULT, 7 STANDBY */
  inverterState: number;
  /** SunSpec 802 `ChaSt`: 1 OFF, 2 EMPTY, 3 DISCHARGING, 4 CHARGING, 5 FULL, 6 HOLDING, 7 TESTING; 0 = no storage */
  chargeState: number;
  /** SunSpec 701 `Alrm` bitfield (bit 0 GROUND_FAULT … 8 OVER_FREQUENCY, 9 UNDER_FREQUENCY, 10 AC_OVER_VOLT, 11 AC_UNDER_VOLT … 16 MANUFACTURER_ALRM) */
  inverterAlarms: number;
  /** SunSpec 802 `Evt1` bitfield (bit 0 COMMUNICATION_ERROR, 5/6 OVER_CHARGE_CURRENT alarm/warning, 7/8 OVER_DISCHARGE_CURRENT, 13/14 UNDER_SOC_MIN, 15/16 OVER_SOC_MAX, … 28/29 CONFIGURATION) */
  bmsEvents: number;
}
export const DEVICE_STATE_LENGTH = 28;

export function writeDeviceState(view: DataView, offset: number, m: DeviceState): number {
  view.setUint32(offset, m.step >>> 0, true);
  view.setFloat32(offset + 4, m.activePowerW, true);
  view.setFloat32(offset + 8, m.reactivePowerVar, true);
  view.setFloat32(offset + 12, m.stateOfCharge, true);
  view.setUint8(offset + 16, m.mode);
  view.setUint8(offset + 17, m.inverterState);
  view.setUint8(offset + 18, m.chargeState);
  view.setUint8(offset + 19, 0);
  view.setUint32(offset + 20, m.inverterAlarms >>> 0, true);
  view.setUint32(offset + 24, m.bmsEvents >>> 0, true);
  return DEVICE_STATE_LENGTH;
}

export function readDeviceState(view: DataView, offset: number): DeviceState {
  return {
    type: 'DEVICE_STATE',
    step: view.getUint32(offset, true),
    activePowerW: view.getFloat32(offset + 4, true),
    reactivePowerVar: view.getFloat32(offset + 8, true),
    stateOfCharge: view.getFloat32(offset + 12, true),
    mode: view.getUint8(offset + 16),
    inverterState: view.getUint8(offset + 17),
    chargeState: view.getUint8(offset + 18),
    inverterAlarms: view.getUint32(offset + 20, true),
    bmsEvents: view.getUint32(offset + 24, true),
  };
}
