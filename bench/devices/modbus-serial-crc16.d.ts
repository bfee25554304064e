/** modbus-serial's CRC-16/MODBUS helper (CommonJS, shipped without typings). */
declare module 'modbus-serial/utils/crc16.js' {
  /** CRC-16/MODBUS of all of `buffer`. */
  const crc16: (buffer: Uint8Array) => number;
  export default crc16;
}
