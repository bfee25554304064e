/** HELLO: payload layouts, generated from firmware-protocol/messages.yaml by `npm run generate:protocol`; do not edit. */

/** HELLO / CAPABILITIES (device → bench), sent at start and repeated until the bench answers. */
export interface Hello {
  type: 'HELLO';
  /** 1 inverter, 2 battery */
  deviceType: number;
  /** 1 */
  protocolMajor: number;
  /** 0 */
  protocolMinor: number;
  firmwareMajor: number;
  firmwareMinor: number;
  firmwarePatch: number;
  /** bit 0 signing supported, bit 1 signing required (the device rejects unsigned frames) */
  linkFlags: number;
  /** supported IEEE 1547-2018 categories: bit 0 A, bit 1 B (normal performance); bit 4 I, bit 5 II, bit 6 III (abnormal) */
  ieee1547Categories: number;
  /** supported functions (table below) */
  functions: number;
  /** W */
  ratedActivePowerW: number;
  /** var */
  ratedReactivePowerVar: number;
  /** VA */
  ratedApparentPowerVa: number;
  /** usable energy, Wh; 0 without storage */
  ratedEnergyWh: number;
  /** V */
  nominalVoltageV: number;
  /** Hz */
  nominalFrequencyHz: number;
  serialNumber: number;
}
export const HELLO_LENGTH = 40;

export function writeHello(view: DataView, offset: number, m: Hello): number {
  view.setUint8(offset, m.deviceType);
  view.setUint8(offset + 1, m.protocolMajor);
  view.setUint8(offset + 2, m.protocolMinor);
  view.setUint8(offset + 3, m.firmwareMajor);
  view.setUint8(offset + 4, m.firmwareMinor);
  view.setUint8(offset + 5, m.firmwarePatch);
  view.setUint8(offset + 6, m.linkFlags);
  view.setUint8(offset + 7, m.ieee1547Categories);
  view.setUint32(offset + 8, m.functions >>> 0, true);
  view.setFloat32(offset + 12, m.ratedActivePowerW, true);
  view.setFloat32(offset + 16, m.ratedReactivePowerVar, true);
  view.setFloat32(offset + 20, m.ratedApparentPowerVa, true);
  view.setFloat32(offset + 24, m.ratedEnergyWh, true);
  view.setFloat32(offset + 28, m.nominalVoltageV, true);
  view.setFloat32(offset + 32, m.nominalFrequencyHz, true);
  view.setUint32(offset + 36, m.serialNumber >>> 0, true);
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
