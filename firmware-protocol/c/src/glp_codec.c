/* Stateless codec: CRC-32C, COBS, payload packing and frame build/check. */
#include <string.h>

#include "glp.h"

typedef char glp_assert_float_is_32_bit[(sizeof(float) == 4) ? 1 : -1];
typedef char glp_assert_double_is_64_bit[(sizeof(double) == 8) ? 1 : -1];

static const char *const STATUS_NAMES[GLP_STATUS_COUNT] = {
    "OK",           "COBS_INVALID",    "OVERSIZE",     "TOO_SHORT",     "CRC_MISMATCH",
    "BAD_VERSION",  "UNKNOWN_INCOMPAT_FLAG", "LENGTH_MISMATCH", "PAYLOAD_TOO_SHORT", "UNKNOWN_MESSAGE",
    "UNSIGNED",     "NO_KEY",          "BAD_SIGNATURE", "REPLAY",       "REORDERED",
    "STALE",        "BUFFER",          "ARGUMENT"};

const char *glp_status_name(glp_status_t status) {
  return ((unsigned)status < GLP_STATUS_COUNT) ? STATUS_NAMES[status] : "UNKNOWN_STATUS";
}

/* ---- CRC-32C, reflected polynomial 0x82F63B78, bitwise per nibble: 64-byte table, MCU friendly ---- */
static const uint32_t CRC32C_NIBBLE[16] = {
    0x00000000u, 0x105EC76Fu, 0x20BD8EDEu, 0x30E349B1u, 0x417B1DBCu, 0x5125DAD3u, 0x61C69362u, 0x7198540Du,
    0x82F63B78u, 0x92A8FC17u, 0xA24BB5A6u, 0xB21572C9u, 0xC38D26C4u, 0xD3D3E1ABu, 0xE330A81Au, 0xF36E6F75u};

uint32_t glp_crc32c(const uint8_t *data, size_t len) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < len; i++) {
    crc ^= data[i];
    crc = (crc >> 4) ^ CRC32C_NIBBLE[crc & 0x0Fu];
    crc = (crc >> 4) ^ CRC32C_NIBBLE[crc & 0x0Fu];
  }
  return crc ^ 0xFFFFFFFFu;
}

/* ---- COBS ---- */
size_t glp_cobs_encode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap) {
  if (cap == 0) return 0;
  size_t code_index = 0, out = 1;
  uint8_t code = 1;
  for (size_t i = 0; i < len; i++) {
    if (src[i] == 0) {
      dst[code_index] = code;
      code_index = out++;
      code = 1;
    } else {
      if (out >= cap) return 0;
      dst[out++] = src[i];
      code++;
      if (code == 0xFF) {
        dst[code_index] = code;
        code_index = out++;
        code = 1;
      }
    }
    if (code_index >= cap) return 0;
  }
  if (code_index >= cap) return 0;
  dst[code_index] = code;
  return out;
}

glp_status_t glp_cobs_decode(const uint8_t *src, size_t len, uint8_t *dst, size_t cap, size_t *out_len) {
  size_t out = 0, i = 0;
  while (i < len) {
    uint8_t code = src[i];
    if (code == 0) return GLP_ERR_COBS_INVALID;
    size_t block_end = i + code;
    if (block_end > len) return GLP_ERR_COBS_INVALID;
    i++;
    if (out + (block_end - i) > cap) return GLP_ERR_OVERSIZE;
    for (; i < block_end; i++) {
      if (src[i] == 0) return GLP_ERR_COBS_INVALID;
      dst[out++] = src[i];
    }
    if (code != 0xFF && i < len) {
      if (out >= cap) return GLP_ERR_OVERSIZE;
      dst[out++] = 0;
    }
  }
  *out_len = out;
  return GLP_OK;
}

/* ---- little-endian field access (alignment- and host-endianness-independent) ---- */
static void put_u16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static void put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_f32(uint8_t *p, float f) {
  uint32_t v;
  memcpy(&v, &f, 4);
  put_u32(p, v);
}
static void put_f64(uint8_t *p, double d) {
  uint64_t v;
  memcpy(&v, &d, 8);
  put_u64(p, v);
}
static uint16_t get_u16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t get_u32(const uint8_t *p) {
  return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static uint64_t get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}
static float get_f32(const uint8_t *p) {
  uint32_t v = get_u32(p);
  float f;
  memcpy(&f, &v, 4);
  return f;
}
static double get_f64(const uint8_t *p) {
  uint64_t v = get_u64(p);
  double d;
  memcpy(&d, &v, 8);
  return d;
}

/* generated:payload-codec:begin (generated from messages.yaml by `npm run generate:protocol`; do not edit) */
size_t glp_payload_len(uint8_t message_id) {
  switch (message_id) {
    case GLP_MSG_HELLO: return GLP_HELLO_LEN;
    case GLP_MSG_MEASUREMENT: return GLP_MEASUREMENT_LEN;
    case GLP_MSG_DEVICE_STATE: return GLP_DEVICE_STATE_LEN;
    case GLP_MSG_SETPOINT: return GLP_SETPOINT_LEN;
    case GLP_MSG_CONFIG: return GLP_CONFIG_LEN;
    case GLP_MSG_HEARTBEAT: return GLP_HEARTBEAT_LEN;
    case GLP_MSG_TIME_SYNC: return GLP_TIME_SYNC_LEN;
    case GLP_MSG_ALARM: return GLP_ALARM_LEN;
    case GLP_MSG_ACK: return GLP_ACK_LEN;
    case GLP_MSG_NACK: return GLP_NACK_LEN;
    default: return 0;
  }
}

size_t glp_encode_payload(const glp_message_t *m, uint8_t *p, size_t cap) {
  size_t len = glp_payload_len(m->id);
  if (len == 0 || len > cap) return 0;
  memset(p, 0, len);
  switch (m->id) {
    case GLP_MSG_HELLO: {
      const glp_hello_t *x = &m->u.hello;
      p[0] = x->device_type;
      p[1] = x->protocol_major;
      p[2] = x->protocol_minor;
      p[3] = x->firmware_major;
      p[4] = x->firmware_minor;
      p[5] = x->firmware_patch;
      p[6] = x->link_flags;
      p[7] = x->ieee1547_categories;
      put_u32(p + 8, x->functions);
      put_f32(p + 12, x->rated_active_power_w);
      put_f32(p + 16, x->rated_reactive_power_var);
      put_f32(p + 20, x->rated_apparent_power_va);
      put_f32(p + 24, x->rated_energy_wh);
      put_f32(p + 28, x->nominal_voltage_v);
      put_f32(p + 32, x->nominal_frequency_hz);
      put_u32(p + 36, x->serial_number);
      break;
    }
    case GLP_MSG_MEASUREMENT: {
      const glp_measurement_t *x = &m->u.measurement;
      put_u32(p, x->step);
      put_f64(p + 4, x->twin_time_s);
      put_f32(p + 12, x->voltage_pu);
      put_f32(p + 16, x->voltage_angle_rad);
      put_f32(p + 20, x->frequency_hz);
      put_f32(p + 24, x->rocof_hz_per_s);
      break;
    }
    case GLP_MSG_DEVICE_STATE: {
      const glp_device_state_t *x = &m->u.device_state;
      put_u32(p, x->step);
      put_f32(p + 4, x->active_power_w);
      put_f32(p + 8, x->reactive_power_var);
      put_f32(p + 12, x->state_of_charge);
      p[16] = x->mode;
      p[17] = x->inverter_state;
      p[18] = x->charge_state;
      put_u32(p + 20, x->inverter_alarms);
      put_u32(p + 24, x->bms_events);
      break;
    }
    case GLP_MSG_SETPOINT: {
      const glp_setpoint_t *x = &m->u.setpoint;
      put_u16(p, x->fields);
      p[2] = x->mode;
      put_u32(p + 4, x->enabled_functions);
      put_f32(p + 8, x->active_power_w);
      put_f32(p + 12, x->reactive_power_var);
      put_f32(p + 16, x->active_power_max_w);
      put_f32(p + 20, x->active_power_min_w);
      put_f32(p + 24, x->reactive_power_max_var);
      break;
    }
    case GLP_MSG_CONFIG: {
      const glp_config_t *x = &m->u.config;
      put_u16(p, x->fields);
      p[2] = x->ieee1547_category;
      put_f32(p + 4, x->droop_pu);
      put_f32(p + 8, x->frequency_deadband_hz);
      for (int i = 0; i < 4; i++) put_f32(p + 12 + 4 * i, x->volt_var_v_pu[i]);
      for (int i = 0; i < 4; i++) put_f32(p + 28 + 4 * i, x->volt_var_q_pu[i]);
      put_f32(p + 44, x->state_of_charge_min);
      put_f32(p + 48, x->state_of_charge_max);
      put_u32(p + 52, x->watchdog_ms);
      break;
    }
    case GLP_MSG_HEARTBEAT: {
      const glp_heartbeat_t *x = &m->u.heartbeat;
      put_u32(p, x->uptime_ms);
      put_u32(p + 4, x->rx_frames);
      put_u32(p + 8, x->rx_errors);
      put_u32(p + 12, x->tx_frames);
      p[16] = x->state;
      break;
    }
    case GLP_MSG_TIME_SYNC: {
      const glp_time_sync_t *x = &m->u.time_sync;
      p[0] = x->phase;
      put_u64(p + 4, x->origin_us);
      put_u64(p + 12, x->receive_us);
      put_u64(p + 20, x->transmit_us);
      break;
    }
    case GLP_MSG_ALARM: {
      const glp_alarm_t *x = &m->u.alarm;
      p[0] = x->severity;
      p[1] = x->source;
      put_u16(p + 2, x->code);
      put_u32(p + 4, x->inverter_alarms);
      put_u32(p + 8, x->bms_events);
      put_f32(p + 12, x->value);
      put_u32(p + 16, x->uptime_ms);
      for (size_t i = 0; i < GLP_ALARM_TEXT_LEN && x->text[i] != '\0'; i++) {
        uint8_t c = (uint8_t)x->text[i];
        p[20 + i] = c < 0x80 ? c : (uint8_t)'?';
      }
      break;
    }
    case GLP_MSG_ACK: {
      const glp_ack_t *x = &m->u.ack;
      p[0] = x->message_id;
      put_u16(p + 2, x->seq);
      break;
    }
    case GLP_MSG_NACK: {
      const glp_nack_t *x = &m->u.nack;
      p[0] = x->message_id;
      p[1] = x->reason;
      put_u16(p + 2, x->seq);
      put_u32(p + 4, x->detail);
      break;
    }
    default:
      return 0;
  }
  return len;
}

glp_status_t glp_decode_payload(uint8_t message_id, const uint8_t *p, size_t len, glp_message_t *m) {
  size_t need = glp_payload_len(message_id);
  if (need == 0) return GLP_ERR_UNKNOWN_MESSAGE;
  if (len < need) return GLP_ERR_PAYLOAD_TOO_SHORT;
  memset(m, 0, sizeof *m);
  m->id = message_id;
  switch (message_id) {
    case GLP_MSG_HELLO: {
      glp_hello_t *x = &m->u.hello;
      x->device_type = p[0];
      x->protocol_major = p[1];
      x->protocol_minor = p[2];
      x->firmware_major = p[3];
      x->firmware_minor = p[4];
      x->firmware_patch = p[5];
      x->link_flags = p[6];
      x->ieee1547_categories = p[7];
      x->functions = get_u32(p + 8);
      x->rated_active_power_w = get_f32(p + 12);
      x->rated_reactive_power_var = get_f32(p + 16);
      x->rated_apparent_power_va = get_f32(p + 20);
      x->rated_energy_wh = get_f32(p + 24);
      x->nominal_voltage_v = get_f32(p + 28);
      x->nominal_frequency_hz = get_f32(p + 32);
      x->serial_number = get_u32(p + 36);
      break;
    }
    case GLP_MSG_MEASUREMENT: {
      glp_measurement_t *x = &m->u.measurement;
      x->step = get_u32(p);
      x->twin_time_s = get_f64(p + 4);
      x->voltage_pu = get_f32(p + 12);
      x->voltage_angle_rad = get_f32(p + 16);
      x->frequency_hz = get_f32(p + 20);
      x->rocof_hz_per_s = get_f32(p + 24);
      break;
    }
    case GLP_MSG_DEVICE_STATE: {
      glp_device_state_t *x = &m->u.device_state;
      x->step = get_u32(p);
      x->active_power_w = get_f32(p + 4);
      x->reactive_power_var = get_f32(p + 8);
      x->state_of_charge = get_f32(p + 12);
      x->mode = p[16];
      x->inverter_state = p[17];
      x->charge_state = p[18];
      x->inverter_alarms = get_u32(p + 20);
      x->bms_events = get_u32(p + 24);
      break;
    }
    case GLP_MSG_SETPOINT: {
      glp_setpoint_t *x = &m->u.setpoint;
      x->fields = get_u16(p);
      x->mode = p[2];
      x->enabled_functions = get_u32(p + 4);
      x->active_power_w = get_f32(p + 8);
      x->reactive_power_var = get_f32(p + 12);
      x->active_power_max_w = get_f32(p + 16);
      x->active_power_min_w = get_f32(p + 20);
      x->reactive_power_max_var = get_f32(p + 24);
      break;
    }
    case GLP_MSG_CONFIG: {
      glp_config_t *x = &m->u.config;
      x->fields = get_u16(p);
      x->ieee1547_category = p[2];
      x->droop_pu = get_f32(p + 4);
      x->frequency_deadband_hz = get_f32(p + 8);
      for (int i = 0; i < 4; i++) x->volt_var_v_pu[i] = get_f32(p + 12 + 4 * i);
      for (int i = 0; i < 4; i++) x->volt_var_q_pu[i] = get_f32(p + 28 + 4 * i);
      x->state_of_charge_min = get_f32(p + 44);
      x->state_of_charge_max = get_f32(p + 48);
      x->watchdog_ms = get_u32(p + 52);
      break;
    }
    case GLP_MSG_HEARTBEAT: {
      glp_heartbeat_t *x = &m->u.heartbeat;
      x->uptime_ms = get_u32(p);
      x->rx_frames = get_u32(p + 4);
      x->rx_errors = get_u32(p + 8);
      x->tx_frames = get_u32(p + 12);
      x->state = p[16];
      break;
    }
    case GLP_MSG_TIME_SYNC: {
      glp_time_sync_t *x = &m->u.time_sync;
      x->phase = p[0];
      x->origin_us = get_u64(p + 4);
      x->receive_us = get_u64(p + 12);
      x->transmit_us = get_u64(p + 20);
      break;
    }
    case GLP_MSG_ALARM: {
      glp_alarm_t *x = &m->u.alarm;
      x->severity = p[0];
      x->source = p[1];
      x->code = get_u16(p + 2);
      x->inverter_alarms = get_u32(p + 4);
      x->bms_events = get_u32(p + 8);
      x->value = get_f32(p + 12);
      x->uptime_ms = get_u32(p + 16);
      for (size_t i = 0; i < GLP_ALARM_TEXT_LEN; i++) {
        uint8_t c = p[20 + i];
        if (c == 0) break;
        x->text[i] = (char)(c < 0x80 ? c : '?');
      }
      break;
    }
    case GLP_MSG_ACK: {
      glp_ack_t *x = &m->u.ack;
      x->message_id = p[0];
      x->seq = get_u16(p + 2);
      break;
    }
    case GLP_MSG_NACK: {
      glp_nack_t *x = &m->u.nack;
      x->message_id = p[0];
      x->reason = p[1];
      x->seq = get_u16(p + 2);
      x->detail = get_u32(p + 4);
      break;
    }
    default:
      return GLP_ERR_UNKNOWN_MESSAGE;
  }
  return GLP_OK;
}
/* generated:payload-codec:end */

size_t glp_build_raw_frame(const glp_message_t *m, uint16_t seq, uint16_t device_id, uint8_t compat_flags,
                           const glp_sign_params_t *sign, uint8_t *out, size_t cap) {
  if (cap < GLP_HEADER_LEN + GLP_CRC_LEN) return 0;
  size_t payload_len = glp_encode_payload(m, out + GLP_HEADER_LEN, cap - GLP_HEADER_LEN - GLP_CRC_LEN);
  if (payload_len == 0 || payload_len > GLP_MAX_PAYLOAD) return 0;
  out[0] = GLP_PROTOCOL_VERSION;
  out[1] = sign ? GLP_INCOMPAT_SIGNED : 0;
  out[2] = compat_flags;
  out[3] = m->id;
  put_u16(out + 4, seq);
  put_u16(out + 6, device_id);
  out[8] = (uint8_t)payload_len;
  size_t end = GLP_HEADER_LEN + payload_len;
  if (sign) {
#if GLP_ENABLE_SIGNING
    if (cap < end + GLP_SIGNATURE_BLOCK_LEN + GLP_CRC_LEN || sign->key == NULL) return 0;
    if (sign->timestamp > 0xFFFFFFFFFFFFull) return 0;
    out[end] = sign->link_id;
    for (int i = 0; i < 6; i++) out[end + 1 + i] = (uint8_t)(sign->timestamp >> (8 * i));
    uint8_t mac[32];
    glp_hmac_sha256(sign->key, GLP_SIGNING_KEY_LEN, out, end + 7, mac);
    memcpy(out + end + 7, mac, GLP_SIGNATURE_LEN);
    end += GLP_SIGNATURE_BLOCK_LEN;
#else
    return 0;
#endif
  }
  if (cap < end + GLP_CRC_LEN) return 0;
  put_u32(out + end, glp_crc32c(out, end));
  return end + GLP_CRC_LEN;
}

size_t glp_encode_frame(const glp_message_t *m, uint16_t seq, uint16_t device_id, uint8_t compat_flags,
                        const glp_sign_params_t *sign, uint8_t *out, size_t cap) {
  uint8_t raw[GLP_MAX_RAW_FRAME];
  size_t raw_len = glp_build_raw_frame(m, seq, device_id, compat_flags, sign, raw, sizeof raw);
  if (raw_len == 0 || cap < 2) return 0;
  size_t n = glp_cobs_encode(raw, raw_len, out, cap - 1);
  if (n == 0) return 0;
  out[n] = 0;
  return n + 1;
}

glp_status_t glp_decode_raw_frame(const uint8_t *raw, size_t len, glp_frame_t *f) {
  if (len < GLP_MIN_RAW_FRAME) return GLP_ERR_TOO_SHORT;
  if (len > GLP_MAX_RAW_FRAME) return GLP_ERR_OVERSIZE;
  size_t crc_end = len - GLP_CRC_LEN;
  if (get_u32(raw + crc_end) != glp_crc32c(raw, crc_end)) return GLP_ERR_CRC_MISMATCH;
  memset(f, 0, sizeof *f);
  f->version = raw[0];
  f->incompat_flags = raw[1];
  f->compat_flags = raw[2];
  f->message_id = raw[3];
  f->seq = get_u16(raw + 4);
  f->device_id = get_u16(raw + 6);
  f->payload_len = raw[8];
  if (f->version != GLP_PROTOCOL_VERSION) return GLP_ERR_BAD_VERSION;
  if (f->incompat_flags & (uint8_t)~GLP_KNOWN_INCOMPAT_FLAGS) return GLP_ERR_UNKNOWN_INCOMPAT_FLAG;
  f->signed_frame = (f->incompat_flags & GLP_INCOMPAT_SIGNED) != 0;
  size_t expected = GLP_HEADER_LEN + f->payload_len + (f->signed_frame ? GLP_SIGNATURE_BLOCK_LEN : 0) + GLP_CRC_LEN;
  if (len != expected) return GLP_ERR_LENGTH_MISMATCH;
  size_t payload_end = GLP_HEADER_LEN + f->payload_len;
  if (f->signed_frame) {
    f->link_id = raw[payload_end];
    f->timestamp = 0;
    for (int i = 5; i >= 0; i--) f->timestamp = (f->timestamp << 8) | raw[payload_end + 1 + i];
  }
  return glp_decode_payload(f->message_id, raw + GLP_HEADER_LEN, f->payload_len, &f->message);
}
