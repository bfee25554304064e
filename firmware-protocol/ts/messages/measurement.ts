/** MEASUREMENT (twin → device) and DEVICE_STATE (device → twin): the per-step exchange. */

export interface Measurement {
  type: 'MEASUREMENT';
  /** Twin step index this measurement belongs to; the device echoes it in DEVICE_STATE. */
  step: number;
  /** Twin time in seconds since the start of the run. */
  twinTimeS: number;
  /** Bus voltage magnitude, per unit of the device's nominal voltage. */
  voltagePu: number;
  /** Bus voltage angle, radians. */
  voltageAngleRad: number;
  frequencyHz: number;
  /** Rate of change of frequency, Hz/s. */
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

export interface DeviceState {
  type: 'DEVICE_STATE';
  /** Step index of the MEASUREMENT this state answers (0 before the first one). */
  step: number;
  /** Active power, W, generator convention (positive = export / discharge). */
  activePowerW: number;
  /** Reactive power, var, positive = injection. */
  reactivePowerVar: number;
  /** State of charge 0…1; NaN for devices without storage. */
  stateOfCharge: number;
  /** `OperatingMode`. */
  mode: number;
  /** SunSpec 701 `InvSt` (`InverterState`). */
  inverterState: number;
  /** SunSpec 802 `ChaSt` (`ChargeState`), 0 when not a storage device. */
  chargeState: number;
  /** SunSpec 701 `Alrm` bitfield. */
  inverterAlarms: number;
  /** SunSpec 802 `Evt1` bitfield (BMS alarms and warnings). */
  bmsEvents: number;
}
export const DEVICE_STATE_LENGTH = 28;

export function writeDeviceState(view: DataView, offset: number, s: DeviceState): number {
  view.setUint32(offset, s.step >>> 0, true);
  view.setFloat32(offset + 4, s.activePowerW, true);
  view.setFloat32(offset + 8, s.reactivePowerVar, true);
  view.setFloat32(offset + 12, s.stateOfCharge, true);
  view.setUint8(offset + 16, s.mode);
  view.setUint8(offset + 17, s.inverterState);
  view.setUint8(offset + 18, s.chargeState);
  view.setUint8(offset + 19, 0);
  view.setUint32(offset + 20, s.inverterAlarms >>> 0, true);
  view.setUint32(offset + 24, s.bmsEvents >>> 0, true);
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
