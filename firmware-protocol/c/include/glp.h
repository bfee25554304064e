/*
 * gridloop firmware protocol: C99 reference library. No malloc, no globals: all state lives in a
 * glp_link_t the caller owns; the UART and clocks are reached through hook functions.
 * SPEC.md in the parent directory is the byte-level contract; this header mirrors its numbers.
 */
#ifndef GLP_H
#define GLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "glp_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- wire constants ---- */
#define GLP_PROTOCOL_VERSION 1u
#define GLP_PROTOCOL_VERSION_MINOR 0u
#define GLP_HEADER_LEN 9u
#define GLP_CRC_LEN 4u
#define GLP_SIGNATURE_BLOCK_LEN 13u
#define GLP_SIGNATURE_LEN 6u
#define GLP_SIGNING_KEY_LEN 32u
#define GLP_MAX_RAW_FRAME (GLP_HEADER_LEN + GLP_MAX_PAYLOAD + GLP_SIGNATURE_BLOCK_LEN + GLP_CRC_LEN)
#define GLP_MIN_RAW_FRAME (GLP_HEADER_LEN + GLP_CRC_LEN)
/* COBS adds one code byte per 254 bytes, plus one. */
#define GLP_MAX_ENCODED_FRAME (GLP_MAX_RAW_FRAME + GLP_MAX_RAW_FRAME / 254u + 1u)
/* Largest wire frame: encoded bytes plus the 0x00 delimiter. */
#define GLP_MAX_WIRE_FRAME (GLP_MAX_ENCODED_FRAME + 1u)
#define GLP_BROADCAST_DEVICE_ID 0xFFFFu

#define GLP_INCOMPAT_SIGNED 0x01u
#define GLP_KNOWN_INCOMPAT_FLAGS GLP_INCOMPAT_SIGNED
#define GLP_COMPAT_ACK_REQUESTED 0x01u

/* generated:layouts:begin (message ids, payload lengths, field bits and structs: generated from messages.yaml by `npm run generate:protocol`; do not edit) */
enum glp_msg_id {
  GLP_MSG_HELLO = 0x01,
  GLP_MSG_MEASUREMENT = 0x02,
  GLP_MSG_DEVICE_STATE = 0x03,
  GLP_MSG_SETPOINT = 0x04,
  GLP_MSG_CONFIG = 0x05,
  GLP_MSG_HEARTBEAT = 0x06,
  GLP_MSG_TIME_SYNC = 0x07,
  GLP_MSG_ALARM = 0x08,
  GLP_MSG_ACK = 0x09,
  GLP_MSG_NACK = 0x0A
};

#define GLP_HELLO_LEN 40u
#define GLP_MEASUREMENT_LEN 28u
#define GLP_DEVICE_STATE_LEN 28u
#define GLP_SETPOINT_LEN 28u
#define GLP_CONFIG_LEN 56u
#define GLP_HEARTBEAT_LEN 20u
#define GLP_TIME_SYNC_LEN 28u
#define GLP_ALARM_TEXT_LEN 24u
#define GLP_ALARM_LEN 44u
#define GLP_ACK_LEN 4u
#define GLP_NACK_LEN 8u

/* SETPOINT `fields` bits. */
#define GLP_SP_ACTIVE_POWER 0x01u
#define GLP_SP_REACTIVE_POWER 0x02u
#define GLP_SP_ACTIVE_POWER_LIMITS 0x04u
#define GLP_SP_REACTIVE_POWER_LIMIT 0x08u
#define GLP_SP_MODE 0x10u
#define GLP_SP_FUNCTIONS 0x20u

/* CONFIG `fields` bits. */
#define GLP_CFG_FREQUENCY_DROOP 0x01u
#define GLP_CFG_VOLT_VAR 0x02u
#define GLP_CFG_SOC_LIMITS 0x04u
#define GLP_CFG_CATEGORY 0x08u
#define GLP_CFG_WATCHDOG 0x10u

/* HELLO / CAPABILITIES (device → bench), sent at start and repeated until the bench answers. */
typedef struct {
  uint8_t device_type;
  uint8_t protocol_major;
  uint8_t protocol_minor;
  uint8_t firmware_major;
  uint8_t firmware_minor;
  uint8_t firmware_patch;
  uint8_t link_flags;
  uint8_t ieee1547_categories;
  uint32_t functions;
  float rated_active_power_w;
  float rated_reactive_power_var;
  float rated_apparent_power_va;
  float rated_energy_wh;
  float nominal_voltage_v;
  float nominal_frequency_hz;
  uint32_t serial_number;
} glp_hello_t;

/* MEASUREMENT (twin → device), once per step; the device answers with DEVICE_STATE. */
typedef struct {
  uint32_t step;
  double twin_time_s;
  float voltage_pu;
  float voltage_angle_rad;
  float frequency_hz;
  float rocof_hz_per_s;
} glp_measurement_t;

/* DEVICE_STATE (device → twin), the answer to a MEASUREMENT. */
typedef struct {
  uint32_t step;
  float active_power_w;
  float reactive_power_var;
  float state_of_charge;
  uint8_t mode;
  uint8_t inverter_state;
  uint8_t charge_state;
  uint32_t inverter_alarms;
  uint32_t bms_events;
} glp_device_state_t;

/* SETPOINT (twin or operator → device). Only the fields whose bit is set in `fields` apply. */
typedef struct {
  uint16_t fields;
  uint8_t mode;
  uint32_t enabled_functions;
  float active_power_w;
  float reactive_power_var;
  float active_power_max_w;
  float active_power_min_w;
  float reactive_power_max_var;
} glp_setpoint_t;

/* CONFIG (twin or operator → device). Only the fields whose bit is set in `fields` apply. */
typedef struct {
  uint16_t fields;
  uint8_t ieee1547_category;
  float droop_pu;
  float frequency_deadband_hz;
  float volt_var_v_pu[4];
  float volt_var_q_pu[4];
  float state_of_charge_min;
  float state_of_charge_max;
  uint32_t watchdog_ms;
} glp_config_t;

/* HEARTBEAT (both ways), once a second, and while a run is paused. */
typedef struct {
  uint32_t uptime_ms;
  uint32_t rx_frames;
  uint32_t rx_errors;
  uint32_t tx_frames;
  uint8_t state;
} glp_heartbeat_t;

/* TIME_SYNC, an NTP-style exchange: offset = ((t2 − t1) + (t3 − t4)) / 2, delay = (t4 − t1) − (t3 − t2). */
typedef struct {
  uint8_t phase;
  uint64_t origin_us;
  uint64_t receive_us;
  uint64_t transmit_us;
} glp_time_sync_t;

/* ALARM / LOG (device → bench), an event with severity, codes and a short ASCII text. */
typedef struct {
  uint8_t severity;
  uint8_t source;
  uint16_t code;
  uint32_t inverter_alarms;
  uint32_t bms_events;
  float value;
  uint32_t uptime_ms;
  char text[GLP_ALARM_TEXT_LEN + 1]; /* NUL-terminated here; NUL-padded on the wire */
} glp_alarm_t;

/* ACK (both ways), the frame `seq` of message `msg_id` was applied. */
typedef struct {
  uint8_t message_id;
  uint16_t seq;
} glp_ack_t;

/* NACK (both ways), the frame `seq` of message `msg_id` was refused, and why. */
typedef struct {
  uint8_t message_id;
  uint8_t reason;
  uint16_t seq;
  uint32_t detail;
} glp_nack_t;

typedef struct {
  uint8_t id; /* enum glp_msg_id: selects the union member */
  union {
    glp_hello_t hello;
    glp_measurement_t measurement;
    glp_device_state_t device_state;
    glp_setpoint_t setpoint;
    glp_config_t config;
    glp_heartbeat_t heartbeat;
    glp_time_sync_t time_sync;
    glp_alarm_t alarm;
    glp_ack_t ack;
    glp_nack_t nack;
  } u;
} glp_message_t;
/* generated:layouts:end */

/* generated:enums:begin (named field values: generated from messages.yaml by `npm run generate:protocol`; do not edit) */
/* HELLO `device_type`. */
enum glp_device_type {
  GLP_DEVICE_INVERTER = 1,
  GLP_DEVICE_BATTERY = 2
};

/* Supported (HELLO) and enabled (SETPOINT) functions. */
enum glp_function {
  GLP_FN_FREQ_WATT = 0x01,
  GLP_FN_VOLT_VAR = 0x02,
  GLP_FN_GRID_FORMING = 0x04,
  GLP_FN_SOC_MANAGEMENT = 0x08,
  GLP_FN_CONSTANT_POWER = 0x10
};

/* HELLO link flags. */
enum glp_link_flag {
  GLP_LINK_SIGNING_SUPPORTED = 0x01,
  GLP_LINK_SIGNING_REQUIRED = 0x02
};

/* Operating mode in DEVICE_STATE and SETPOINT (mirrors SunSpec 701 DERMode bits 0 and 1). */
enum glp_mode {
  GLP_MODE_OFF = 0,
  GLP_MODE_GRID_FOLLOWING = 1,
  GLP_MODE_GRID_FORMING = 2
};

/* SunSpec model 701 `InvSt`. */
enum glp_inv_state {
  GLP_INVST_OFF = 0,
  GLP_INVST_SLEEPING = 1,
  GLP_INVST_STARTING = 2,
  GLP_INVST_RUNNING = 3,
  GLP_INVST_THROTTLED = 4,
  GLP_INVST_SHUTTING_DOWN = 5,
  GLP_INVST_FAULT = 6,
  GLP_INVST_STANDBY = 7
};

/* SunSpec model 701 `Alrm` bit numbers (C: the bit masks). */
#define GLP_ALRM_GROUND_FAULT (1ul << 0)
#define GLP_ALRM_DC_OVER_VOLT (1ul << 1)
#define GLP_ALRM_AC_DISCONNECT (1ul << 2)
#define GLP_ALRM_DC_DISCONNECT (1ul << 3)
#define GLP_ALRM_GRID_DISCONNECT (1ul << 4)
#define GLP_ALRM_CABINET_OPEN (1ul << 5)
#define GLP_ALRM_MANUAL_SHUTDOWN (1ul << 6)
#define GLP_ALRM_OVER_TEMP (1ul << 7)
#define GLP_ALRM_OVER_FREQUENCY (1ul << 8)
#define GLP_ALRM_UNDER_FREQUENCY (1ul << 9)
#define GLP_ALRM_AC_OVER_VOLT (1ul << 10)
#define GLP_ALRM_AC_UNDER_VOLT (1ul << 11)
#define GLP_ALRM_BLOWN_STRING_FUSE (1ul << 12)
#define GLP_ALRM_UNDER_TEMP (1ul << 13)
#define GLP_ALRM_MEMORY_LOSS (1ul << 14)
#define GLP_ALRM_HW_TEST_FAILURE (1ul << 15)
#define GLP_ALRM_MANUFACTURER_ALRM (1ul << 16)

/* SunSpec model 802 `ChaSt` (0 = not a storage device). */
enum glp_cha_state {
  GLP_CHAST_NOT_APPLICABLE = 0,
  GLP_CHAST_OFF = 1,
  GLP_CHAST_EMPTY = 2,
  GLP_CHAST_DISCHARGING = 3,
  GLP_CHAST_CHARGING = 4,
  GLP_CHAST_FULL = 5,
  GLP_CHAST_HOLDING = 6,
  GLP_CHAST_TESTING = 7
};

/* SunSpec model 802 `Evt1` bit numbers (BMS alarms and warnings; C: the bit masks). */
#define GLP_BMS_COMMUNICATION_ERROR (1ul << 0)
#define GLP_BMS_OVER_TEMP_ALARM (1ul << 1)
#define GLP_BMS_OVER_TEMP_WARNING (1ul << 2)
#define GLP_BMS_UNDER_TEMP_ALARM (1ul << 3)
#define GLP_BMS_UNDER_TEMP_WARNING (1ul << 4)
#define GLP_BMS_OVER_CHARGE_CURRENT_ALARM (1ul << 5)
#define GLP_BMS_OVER_CHARGE_CURRENT_WARNING (1ul << 6)
#define GLP_BMS_OVER_DISCHARGE_CURRENT_ALARM (1ul << 7)
#define GLP_BMS_OVER_DISCHARGE_CURRENT_WARNING (1ul << 8)
#define GLP_BMS_OVER_VOLT_ALARM (1ul << 9)
#define GLP_BMS_OVER_VOLT_WARNING (1ul << 10)
#define GLP_BMS_UNDER_VOLT_ALARM (1ul << 11)
#define GLP_BMS_UNDER_VOLT_WARNING (1ul << 12)
#define GLP_BMS_UNDER_SOC_MIN_ALARM (1ul << 13)
#define GLP_BMS_UNDER_SOC_MIN_WARNING (1ul << 14)
#define GLP_BMS_OVER_SOC_MAX_ALARM (1ul << 15)
#define GLP_BMS_OVER_SOC_MAX_WARNING (1ul << 16)
#define GLP_BMS_VOLTAGE_IMBALANCE_WARNING (1ul << 17)
#define GLP_BMS_TEMPERATURE_IMBALANCE_ALARM (1ul << 18)
#define GLP_BMS_TEMPERATURE_IMBALANCE_WARNING (1ul << 19)
#define GLP_BMS_CONTACTOR_ERROR (1ul << 20)
#define GLP_BMS_FAN_ERROR (1ul << 21)
#define GLP_BMS_GROUND_FAULT (1ul << 22)
#define GLP_BMS_OPEN_DOOR_ERROR (1ul << 23)
#define GLP_BMS_CURRENT_IMBALANCE_WARNING (1ul << 24)
#define GLP_BMS_OTHER_ALARM (1ul << 25)
#define GLP_BMS_OTHER_WARNING (1ul << 26)
#define GLP_BMS_CONFIGURATION_ALARM (1ul << 28)
#define GLP_BMS_CONFIGURATION_WARNING (1ul << 29)

/* NACK reason codes. */
enum glp_nack_reason {
  GLP_NACK_UNKNOWN_MESSAGE = 1,
  GLP_NACK_BAD_LENGTH = 2,
  GLP_NACK_OUT_OF_RANGE = 3,
  GLP_NACK_UNSUPPORTED_FUNCTION = 4,
  GLP_NACK_UNSIGNED = 5,
  GLP_NACK_BAD_SIGNATURE = 6,
  GLP_NACK_REPLAY = 7,
  GLP_NACK_BUSY = 8,
  GLP_NACK_WRONG_STATE = 9
};

/* ALARM `severity`. */
enum glp_alarm_severity {
  GLP_SEV_DEBUG = 0,
  GLP_SEV_INFO = 1,
  GLP_SEV_WARNING = 2,
  GLP_SEV_ALARM = 3,
  GLP_SEV_CRITICAL = 4
};

/* ALARM `source`. */
enum glp_alarm_source {
  GLP_SRC_DEVICE = 0,
  GLP_SRC_INVERTER = 1,
  GLP_SRC_BMS = 2,
  GLP_SRC_PROTOCOL = 3
};
/* generated:enums:end */

/* ---- status codes: the same set, in the same order, as the TypeScript FrameErrorCode ---- */
typedef enum {
  GLP_OK = 0,
  GLP_ERR_COBS_INVALID,
  GLP_ERR_OVERSIZE,
  GLP_ERR_TOO_SHORT,
  GLP_ERR_CRC_MISMATCH,
  GLP_ERR_BAD_VERSION,
  GLP_ERR_UNKNOWN_INCOMPAT_FLAG,
  GLP_ERR_LENGTH_MISMATCH,
  GLP_ERR_PAYLOAD_TOO_SHORT,
  GLP_ERR_UNKNOWN_MESSAGE,
  GLP_ERR_UNSIGNED,
  GLP_ERR_NO_KEY,
  GLP_ERR_BAD_SIGNATURE,
  GLP_ERR_REPLAY,
  GLP_ERR_REORDERED,
  GLP_ERR_STALE,
  /* local failures, never caused by received bytes */
  GLP_ERR_BUFFER,
  GLP_ERR_ARGUMENT,
  GLP_STATUS_COUNT
} glp_status_t;

/** Name of a status code ("CRC_MISMATCH"), matching the TypeScript codes. */
const char *glp_status_name(glp_status_t status);

typedef struct {
  uint8_t version, incompat_flags, compat_flags, message_id;
  uint16_t seq, device_id;
  uint8_t payload_len;
  bool signed_frame;
  uint8_t link_id;
  uint64_t timestamp; /* 10 us units since 2015-01-01T00:00:00Z */
  glp_message_t message;
} glp_frame_t;

typedef struct {
  const uint8_t *key; /* GLP_SIGNING_KEY_LEN bytes */
  uint8_t link_id;
  uint64_t timestamp;
} glp_sign_params_t;

/* ---- stateless codec ---- */
uint32_t glp_crc32c(const uint8_t *data, size_t len);
/* COBS-encodes src into dst (capacity cap). Returns bytes written (no delimiter), 0 if it does not fit. */
size_t glp_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap);
/* Decodes src (no delimiter) into dst. Returns GLP_OK, GLP_ERR_COBS_INVALID or GLP_ERR_OVERSIZE. */
glp_status_t glp_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len);

/* Payload length of a known message id, 0 for unknown ids. */
size_t glp_payload_len(uint8_t message_id);
/* Writes m's payload; returns its length, 0 on unknown id or small buffer. */
size_t glp_encode_payload(const glp_message_t *m, uint8_t *out, size_t cap);
/* Reads a payload of message_id (len may exceed the layout: newer minor versions append fields). */
glp_status_t glp_decode_payload(uint8_t message_id, const uint8_t *payload, size_t len, glp_message_t *out);

/* Builds header, payload, optional signature block and CRC (the un-stuffed frame). Returns length, 0 on error. */
size_t glp_build_raw_frame(const glp_message_t *m, uint16_t seq, uint16_t device_id, uint8_t compat_flags,
                           const glp_sign_params_t *sign, uint8_t *out, size_t cap);
/* Whole wire frame: COBS-stuffed and 0x00-terminated. Returns length, 0 on error. */
size_t glp_encode_frame(const glp_message_t *m, uint16_t seq, uint16_t device_id, uint8_t compat_flags,
                        const glp_sign_params_t *sign, uint8_t *out, size_t cap);
/* Checks and decodes an un-stuffed frame (no signature verification). */
glp_status_t glp_decode_raw_frame(const uint8_t *raw, size_t len, glp_frame_t *frame);

#if GLP_ENABLE_SIGNING
void glp_sha256(const uint8_t *data, size_t len, uint8_t digest[32]);
void glp_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *data, size_t len, uint8_t mac[32]);
#endif

/* ---- link: a context pointer instead of globals ---- */
typedef struct {
  /* Writes len bytes to the UART; returns bytes accepted. */
  size_t (*uart_write)(void *user, const uint8_t *data, size_t len);
  /* Monotonic microseconds. */
  uint64_t (*now_us)(void *user);
  /* Signing clock, 10 us units since 2015-01-01 (optional: NULL disables STALE checks and signs
   * with a counter continuing from the last timestamp seen). */
  uint64_t (*signing_time)(void *user);
  void *user;
} glp_hooks_t;

typedef struct {
  uint32_t rx_frames;
  uint32_t rx_errors;
  uint32_t rx_error_by_code[GLP_STATUS_COUNT];
  uint32_t tx_frames;
  uint32_t tx_errors;
  uint32_t rx_bytes;
} glp_stats_t;

typedef struct {
  bool used;
  uint8_t link_id;
  uint8_t next;
  uint64_t newest;
  uint64_t recent[GLP_REPLAY_WINDOW];
} glp_sign_stream_t;

typedef struct {
  glp_hooks_t hooks;
  uint16_t device_id;
  uint16_t tx_seq;
  size_t rx_len;
  bool rx_discarding;
  uint8_t rx_buf[GLP_MAX_ENCODED_FRAME];
  uint8_t raw[GLP_MAX_RAW_FRAME];
  uint8_t tx_buf[GLP_MAX_WIRE_FRAME];
#if GLP_ENABLE_SIGNING
  bool has_key, sign_tx, require_signed_rx;
  uint8_t key[GLP_SIGNING_KEY_LEN];
  uint8_t tx_link_id;
  uint64_t last_tx_timestamp;
  glp_sign_stream_t streams[GLP_SIGN_STREAMS];
#endif
  glp_stats_t stats;
} glp_link_t;

void glp_link_init(glp_link_t *link, const glp_hooks_t *hooks, uint16_t device_id);
#if GLP_ENABLE_SIGNING
/* Provisions a key (copied). sign_tx: sign outgoing frames; require_rx: reject unsigned incoming ones. */
void glp_link_set_signing(glp_link_t *link, const uint8_t key[GLP_SIGNING_KEY_LEN], uint8_t link_id, bool sign_tx,
                          bool require_rx);
#endif

/* Called once per frame or rejected frame, which is counted in stats.rx_error_by_code[status].
 * status GLP_OK: frame valid. Rejected after the CRC, version and flag checks passed (length,
 * signature, unknown message...): frame holds the trusted header fields, message undecoded.
 * Rejected earlier: frame is NULL. */
typedef void (*glp_rx_handler_t)(void *ctx, glp_status_t status, const glp_frame_t *frame);

/* Feeds received bytes; calls handler for each complete frame or rejected frame. */
void glp_link_rx(glp_link_t *link, const uint8_t *data, size_t len, glp_rx_handler_t handler, void *ctx);
/* Checks and decodes one un-stuffed frame with the link's signing policy (used by glp_link_rx). */
glp_status_t glp_link_accept_raw(glp_link_t *link, const uint8_t *raw, size_t len, glp_frame_t *frame);
/* Encodes and writes one frame with the next sequence number (signed when configured). */
glp_status_t glp_link_send(glp_link_t *link, const glp_message_t *m, uint8_t compat_flags);

#ifdef __cplusplus
}
#endif
#endif /* GLP_H */
