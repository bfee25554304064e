/**
 * Wire constants. SPEC.md is the authority; the C header `glp.h` mirrors these numbers. The message ids
 * (like every payload layout) are generated from ../messages.yaml.
 */

/** Protocol major version carried in every header. A frame with another major version is discarded. */
export const PROTOCOL_VERSION = 1;
/** Minor version, announced in HELLO only. Minor versions only append payload fields. */
export const PROTOCOL_VERSION_MINOR = 0;

export const HEADER_LENGTH = 9;
export const CRC_LENGTH = 4;
export const SIGNATURE_BLOCK_LENGTH = 13; // link id (1) + timestamp (6) + truncated HMAC (6)
export const SIGNATURE_LENGTH = 6;
export const MAX_PAYLOAD_LENGTH = 255;
/** Largest decoded frame: header + payload + signature block + CRC. */
export const MAX_RAW_FRAME_LENGTH = HEADER_LENGTH + MAX_PAYLOAD_LENGTH + SIGNATURE_BLOCK_LENGTH + CRC_LENGTH;
/** Largest COBS-encoded frame without its 0x00 delimiter (one code byte per 254 bytes, plus one). */
export const MAX_ENCODED_FRAME_LENGTH = MAX_RAW_FRAME_LENGTH + Math.floor(MAX_RAW_FRAME_LENGTH / 254) + 1;
/** Smallest decoded frame: header with an empty payload and the CRC. */
export const MIN_RAW_FRAME_LENGTH = HEADER_LENGTH + CRC_LENGTH;

/** Incompatible flags: a receiver that does not know a set bit must discard the frame. */
export const IncompatFlag = {
  SIGNED: 0x01,
} as const;
export const KNOWN_INCOMPAT_FLAGS = IncompatFlag.SIGNED;

/** Compatible flags: a receiver that does not know a set bit ignores it. */
export const CompatFlag = {
  ACK_REQUESTED: 0x01,
} as const;

// generated:message-ids:begin (generated from messages.yaml by `npm run generate:protocol`; do not edit)
export const MessageId = {
  HELLO: 0x01,
  MEASUREMENT: 0x02,
  DEVICE_STATE: 0x03,
  SETPOINT: 0x04,
  CONFIG: 0x05,
  HEARTBEAT: 0x06,
  TIME_SYNC: 0x07,
  ALARM: 0x08,
  ACK: 0x09,
  NACK: 0x0a,
} as const;
// generated:message-ids:end
export type MessageType = keyof typeof MessageId;

/** Device id a bench uses to address every device on a link. */
export const BROADCAST_DEVICE_ID = 0xffff;

// generated:enums:begin (generated from messages.yaml by `npm run generate:protocol`; do not edit)
/** HELLO `device_type`. */
export const DeviceType = {
  INVERTER: 1,
  BATTERY: 2,
} as const;

/** Supported (HELLO) and enabled (SETPOINT) functions. */
export const DeviceFunction = {
  FREQ_WATT: 0x01,
  VOLT_VAR: 0x02,
  GRID_FORMING: 0x04,
  SOC_MANAGEMENT: 0x08,
  CONSTANT_POWER: 0x10,
} as const;

/** HELLO link flags. */
export const LinkFlag = {
  SIGNING_SUPPORTED: 0x01,
  SIGNING_REQUIRED: 0x02,
} as const;

/** Operating mode in DEVICE_STATE and SETPOINT (mirrors SunSpec 701 DERMode bits 0 and 1). */
export const OperatingMode = {
  OFF: 0,
  GRID_FOLLOWING: 1,
  GRID_FORMING: 2,
} as const;

/** SunSpec model 701 `InvSt`. */
export const InverterState = {
  OFF: 0,
  SLEEPING: 1,
  STARTING: 2,
  RUNNING: 3,
  THROTTLED: 4,
  SHUTTING_DOWN: 5,
  FAULT: 6,
  STANDBY: 7,
} as const;

/** SunSpec model 701 `Alrm` bit numbers (C: the bit masks). */
export const InverterAlarmBit = {
  GROUND_FAULT: 0,
  DC_OVER_VOLT: 1,
  AC_DISCONNECT: 2,
  DC_DISCONNECT: 3,
  GRID_DISCONNECT: 4,
  CABINET_OPEN: 5,
  MANUAL_SHUTDOWN: 6,
  OVER_TEMP: 7,
  OVER_FREQUENCY: 8,
  UNDER_FREQUENCY: 9,
  AC_OVER_VOLT: 10,
  AC_UNDER_VOLT: 11,
  BLOWN_STRING_FUSE: 12,
  UNDER_TEMP: 13,
  MEMORY_LOSS: 14,
  HW_TEST_FAILURE: 15,
  MANUFACTURER_ALRM: 16,
} as const;

/** SunSpec model 802 `ChaSt` (0 = not a storage device). */
export const ChargeState = {
  NOT_APPLICABLE: 0,
  OFF: 1,
  EMPTY: 2,
  DISCHARGING: 3,
  CHARGING: 4,
  FULL: 5,
  HOLDING: 6,
  TESTING: 7,
} as const;

/** SunSpec model 802 `Evt1` bit numbers (BMS alarms and warnings; C: the bit masks). */
export const BmsEventBit = {
  COMMUNICATION_ERROR: 0,
  OVER_TEMP_ALARM: 1,
  OVER_TEMP_WARNING: 2,
  UNDER_TEMP_ALARM: 3,
  UNDER_TEMP_WARNING: 4,
  OVER_CHARGE_CURRENT_ALARM: 5,
  OVER_CHARGE_CURRENT_WARNING: 6,
  OVER_DISCHARGE_CURRENT_ALARM: 7,
  OVER_DISCHARGE_CURRENT_WARNING: 8,
  OVER_VOLT_ALARM: 9,
  OVER_VOLT_WARNING: 10,
  UNDER_VOLT_ALARM: 11,
  UNDER_VOLT_WARNING: 12,
  UNDER_SOC_MIN_ALARM: 13,
  UNDER_SOC_MIN_WARNING: 14,
  OVER_SOC_MAX_ALARM: 15,
  OVER_SOC_MAX_WARNING: 16,
  VOLTAGE_IMBALANCE_WARNING: 17,
  TEMPERATURE_IMBALANCE_ALARM: 18,
  TEMPERATURE_IMBALANCE_WARNING: 19,
  CONTACTOR_ERROR: 20,
  FAN_ERROR: 21,
  GROUND_FAULT: 22,
  OPEN_DOOR_ERROR: 23,
  CURRENT_IMBALANCE_WARNING: 24,
  OTHER_ALARM: 25,
  OTHER_WARNING: 26,
  CONFIGURATION_ALARM: 28,
  CONFIGURATION_WARNING: 29,
} as const;

/** NACK reason codes. */
export const NackReason = {
  UNKNOWN_MESSAGE: 1,
  BAD_LENGTH: 2,
  OUT_OF_RANGE: 3,
  UNSUPPORTED_FUNCTION: 4,
  UNSIGNED: 5,
  BAD_SIGNATURE: 6,
  REPLAY: 7,
  BUSY: 8,
  WRONG_STATE: 9,
} as const;

/** ALARM `severity`. */
export const AlarmSeverity = {
  DEBUG: 0,
  INFO: 1,
  WARNING: 2,
  ALARM: 3,
  CRITICAL: 4,
} as const;

/** ALARM `source`. */
export const AlarmSource = {
  DEVICE: 0,
  INVERTER: 1,
  BMS: 2,
  PROTOCOL: 3,
} as const;
// generated:enums:end
