/** HELLO / CAPABILITIES (device → bench), sent at start and repeated until the bench answers. */

export interface Hello {
  type: 'HELLO';
  /** `DeviceType`. */
  deviceType: number;
  protocolMajor: number;
  protocolMinor: number;
  firmwareMajor: number;
  firmwareMinor: number;
  firmwarePatch: number;
  /** `LinkFlag` bits. */
  linkFlags: number;
  /** IEEE 1547 categories supported: bit0 A, bit1 B (normal); bit4 I, bit5 II, bit6 III (abnormal). */
  ieee1547Categories: number;
  /** `DeviceFunction` bits the device implements. */
  functions: number;
  ratedActivePowerW: number;
  ratedReactivePowerVar: number;
  ratedApparentPowerVa: number;
  /** Usable energy, Wh; 0 for devices without storage. */
  ratedEnergyWh: number;
  nominalVoltageV: number;
  nominalFrequencyHz: number;
  serialNumber: number;
}
export const HELLO_LENGTH = 40;

export function writeHello(view: DataView, offset: number, h: Hello): number {
  view.setUint8(offset, h.deviceType);
  view.setUint8(offset + 1, h.protocolMajor);
  view.setUint8(offset + 2, h.protocolMinor);
  view.setUint8(offset + 3, h.firmwareMajor);
  view.setUint8(offset + 4, h.firmwareMinor);
  view.setUint8(offset + 5, h.firmwarePatch);
  view.setUint8(offset + 6, h.linkFlags);
  view.setUint8(offset + 7, h.ieee1547Categories);
  view.setUint32(offset + 8, h.functions >>> 0, true);
  view.setFloat32(offset + 12, h.ratedActivePowerW, true);
  view.setFloat32(offset + 16, h.ratedReactivePowerVar, true);
  view.setFloat32(offset + 20, h.ratedApparentPowerVa, true);
  view.setFloat32(offset + 24, h.ratedEnergyWh, true);
  view.setFloat32(offset + 28, h.nominalVoltageV, true);
  view.setFloat32(offset + 32, h.nominalFrequencyHz, true);
  view.setUint32(offset + 36, h.serialNumber >>> 0, true);
  return HELLO_LENGTH;
}

export function readHello(view: DataView, offset: number): Hello {
  return {
    type: 'HELLO',
    deviceType: view.getUint8(offset),
    protocolMajor: view.getUint8(offset + 1),
    protocolMinor: view.getUint8(offset + 2),
    firmwareMajor: view.getUint8(offset + 3),
    firmwareMinor: view.getUint8(offset + 4),
    firmwarePatch: view.getUint8(offset + 5),
    linkFlags: view.getUint8(offset + 6),
    ieee1547Categories: view.getUint8(offset + 7),
    functions: view.getUint32(offset + 8, true),
    ratedActivePowerW: view.getFloat32(offset + 12, true),
    ratedReactivePowerVar: view.getFloat32(offset + 16, true),
    ratedApparentPowerVa: view.getFloat32(offset + 20, true),
    ratedEnergyWh: view.getFloat32(offset + 24, true),
    nominalVoltageV: view.getFloat32(offset + 28, true),
    nominalFrequencyHz: view.getFloat32(offset + 32, true),
    serialNumber: view.getUint32(offset + 36, true),
  };
}
