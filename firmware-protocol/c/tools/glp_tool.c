/*
 * glp-tool: the C codec on the command line, for cross-language tests.
 *   glp-tool decode [--key HEX64] [--require-signed]   (without --key: no signature verification)
 *       stdin: one wire frame per line (hex, trailing 00 optional)
 *       stdout: one JSON object per line: {"status":"OK","seq":..,"message":{..}} or {"status":"CRC_MISMATCH"}
 *       (floats as bit patterns: "f32:0x3f800000", "f64:0x3ff0000000000000"; u64 as decimal strings)
 *   glp-tool encode
 *       stdin: one message per line: TYPE seq deviceId compatFlags field... [sign linkId timestamp keyhex]
 *       (fields in the order of the payload layout; floats as IEEE-754 bit patterns in hex: 0x3f800000)
 *       stdout: wire frame hex per line, or "ERROR <why>"
 */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "glp.h"

/* Debian's arm-none-eabi-gcc pairs GCC's own stdint.h with newlib's inttypes.h, which then leaves out
 * the 64-bit format macros; uint64_t is unsigned long long there. */
#ifndef PRIu64
#define PRIu64 "llu"
#define PRIx64 "llx"
#endif

typedef enum { K_U8, K_U16, K_U32, K_U64, K_F32, K_F64, K_F32X4, K_TEXT } kind_t;
typedef struct {
  const char *name;
  kind_t kind;
  size_t offset;
} field_t;
typedef struct {
  const char *type;
  uint8_t id;
  const field_t *fields;
  size_t count;
} layout_t;

#define F(member, name, kind) {name, kind, offsetof(glp_message_t, u.member)}
static const field_t HELLO[] = {F(hello.device_type, "deviceType", K_U8),
                                F(hello.protocol_major, "protocolMajor", K_U8),
                                F(hello.protocol_minor, "protocolMinor", K_U8),
                                F(hello.firmware_major, "firmwareMajor", K_U8),
                                F(hello.firmware_minor, "firmwareMinor", K_U8),
                                F(hello.firmware_patch, "firmwarePatch", K_U8),
                                F(hello.link_flags, "linkFlags", K_U8),
                                F(hello.ieee1547_categories, "ieee1547Categories", K_U8),
                                F(hello.functions, "functions", K_U32),
                                F(hello.rated_active_power_w, "ratedActivePowerW", K_F32),
                                F(hello.rated_reactive_power_var, "ratedReactivePowerVar", K_F32),
                                F(hello.rated_apparent_power_va, "ratedApparentPowerVa", K_F32),
                                F(hello.rated_energy_wh, "ratedEnergyWh", K_F32),
                                F(hello.nominal_voltage_v, "nominalVoltageV", K_F32),
                                F(hello.nominal_frequency_hz, "nominalFrequencyHz", K_F32),
                                F(hello.serial_number, "serialNumber", K_U32)};
static const field_t MEASUREMENT[] = {F(measurement.step, "step", K_U32),
                                      F(measurement.twin_time_s, "twinTimeS", K_F64),
                                      F(measurement.voltage_pu, "voltagePu", K_F32),
                                      F(measurement.voltage_angle_rad, "voltageAngleRad", K_F32),
                                      F(measurement.frequency_hz, "frequencyHz", K_F32),
                                      F(measurement.rocof_hz_per_s, "rocofHzPerS", K_F32)};
static const field_t DEVICE_STATE[] = {F(device_state.step, "step", K_U32),
                                       F(device_state.active_power_w, "activePowerW", K_F32),
                                       F(device_state.reactive_power_var, "reactivePowerVar", K_F32),
                                       F(device_state.state_of_charge, "stateOfCharge", K_F32),
                                       F(device_state.mode, "mode", K_U8),
                                       F(device_state.inverter_state, "inverterState", K_U8),
                                       F(device_state.charge_state, "chargeState", K_U8),
                                       F(device_state.inverter_alarms, "inverterAlarms", K_U32),
                                       F(device_state.bms_events, "bmsEvents", K_U32)};
static const field_t SETPOINT[] = {F(setpoint.fields, "fields", K_U16),
                                   F(setpoint.mode, "mode", K_U8),
                                   F(setpoint.enabled_functions, "enabledFunctions", K_U32),
                                   F(setpoint.active_power_w, "activePowerW", K_F32),
                                   F(setpoint.reactive_power_var, "reactivePowerVar", K_F32),
                                   F(setpoint.active_power_max_w, "activePowerMaxW", K_F32),
                                   F(setpoint.active_power_min_w, "activePowerMinW", K_F32),
                                   F(setpoint.reactive_power_max_var, "reactivePowerMaxVar", K_F32)};
static const field_t CONFIG[] = {F(config.fields, "fields", K_U16),
                                 F(config.ieee1547_category, "ieee1547Category", K_U8),
                                 F(config.droop_pu, "droopPu", K_F32),
                                 F(config.frequency_deadband_hz, "frequencyDeadbandHz", K_F32),
                                 F(config.volt_var_v_pu, "voltVarVoltagesPu", K_F32X4),
                                 F(config.volt_var_q_pu, "voltVarReactivePu", K_F32X4),
                                 F(config.state_of_charge_min, "stateOfChargeMin", K_F32),
                                 F(config.state_of_charge_max, "stateOfChargeMax", K_F32),
                                 F(config.watchdog_ms, "watchdogMs", K_U32)};
static const field_t HEARTBEAT[] = {F(heartbeat.uptime_ms, "uptimeMs", K_U32), F(heartbeat.rx_frames, "rxFrames", K_U32),
                                    F(heartbeat.rx_errors, "rxErrors", K_U32), F(heartbeat.tx_frames, "txFrames", K_U32),
                                    F(heartbeat.state, "state", K_U8)};
static const field_t TIME_SYNC[] = {F(time_sync.phase, "phase", K_U8), F(time_sync.origin_us, "originUs", K_U64),
                                    F(time_sync.receive_us, "receiveUs", K_U64),
                                    F(time_sync.transmit_us, "transmitUs", K_U64)};
static const field_t ALARM[] = {F(alarm.severity, "severity", K_U8),
                                F(alarm.source, "source", K_U8),
                                F(alarm.code, "code", K_U16),
                                F(alarm.inverter_alarms, "inverterAlarms", K_U32),
                                F(alarm.bms_events, "bmsEvents", K_U32),
                                F(alarm.value, "value", K_F32),
                                F(alarm.uptime_ms, "uptimeMs", K_U32),
                                F(alarm.text, "text", K_TEXT)};
static const field_t ACK[] = {F(ack.message_id, "messageId", K_U8), F(ack.seq, "seq", K_U16)};
static const field_t NACK[] = {F(nack.message_id, "messageId", K_U8), F(nack.reason, "reason", K_U8),
                               F(nack.seq, "seq", K_U16), F(nack.detail, "detail", K_U32)};
#define L(name, id, arr) {name, id, arr, sizeof arr / sizeof arr[0]}
static const layout_t LAYOUTS[] = {L("HELLO", GLP_MSG_HELLO, HELLO),
                                   L("MEASUREMENT", GLP_MSG_MEASUREMENT, MEASUREMENT),
                                   L("DEVICE_STATE", GLP_MSG_DEVICE_STATE, DEVICE_STATE),
                                   L("SETPOINT", GLP_MSG_SETPOINT, SETPOINT),
                                   L("CONFIG", GLP_MSG_CONFIG, CONFIG),
                                   L("HEARTBEAT", GLP_MSG_HEARTBEAT, HEARTBEAT),
                                   L("TIME_SYNC", GLP_MSG_TIME_SYNC, TIME_SYNC),
                                   L("ALARM", GLP_MSG_ALARM, ALARM),
                                   L("ACK", GLP_MSG_ACK, ACK),
                                   L("NACK", GLP_MSG_NACK, NACK)};
#define LAYOUT_COUNT (sizeof LAYOUTS / sizeof LAYOUTS[0])

/* Floats are printed as their exact bit patterns ("f32:0x3f800000"), so comparisons are exact. */
static void print_f32(float f) {
  uint32_t bits;
  memcpy(&bits, &f, 4);
  printf("\"f32:0x%08" PRIx32 "\"", bits);
}
static void print_f64(double d) {
  uint64_t bits;
  memcpy(&bits, &d, 8);
  printf("\"f64:0x%016" PRIx64 "\"", bits);
}

static void print_message(const glp_message_t *m) {
  const layout_t *layout = NULL;
  for (size_t i = 0; i < LAYOUT_COUNT; i++) {
    if (LAYOUTS[i].id == m->id) layout = &LAYOUTS[i];
  }
  if (!layout) {
    printf("null");
    return;
  }
  printf("{\"type\":\"%s\"", layout->type);
  const unsigned char *base = (const unsigned char *)m;
  for (size_t i = 0; i < layout->count; i++) {
    const field_t *f = &layout->fields[i];
    const void *p = base + f->offset;
    printf(",\"%s\":", f->name);
    switch (f->kind) {
      case K_U8: printf("%u", (unsigned)*(const uint8_t *)p); break;
      case K_U16: printf("%u", (unsigned)*(const uint16_t *)p); break;
      case K_U32: printf("%" PRIu32, *(const uint32_t *)p); break;
      case K_U64: printf("\"%" PRIu64 "\"", *(const uint64_t *)p); break;
      case K_F32: print_f32(*(const float *)p); break;
      case K_F64: print_f64(*(const double *)p); break;
      case K_F32X4:
        printf("[");
        for (int k = 0; k < 4; k++) {
          if (k) printf(",");
          print_f32(((const float *)p)[k]);
        }
        printf("]");
        break;
      case K_TEXT: {
        const char *s = (const char *)p;
        printf("\"");
        for (size_t k = 0; s[k] != '\0'; k++) {
          if (s[k] == '"' || s[k] == '\\') printf("\\%c", s[k]);
          else if ((unsigned char)s[k] < 0x20) printf("\\u%04x", (unsigned)(unsigned char)s[k]);
          else putchar(s[k]);
        }
        printf("\"");
        break;
      }
    }
  }
  printf("}");
}

static int hex_nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static long parse_hex(const char *s, uint8_t *out, size_t cap) {
  size_t n = 0;
  while (s[0] && s[0] != '\n' && s[0] != '\r') {
    int hi = hex_nibble(s[0]), lo = s[1] ? hex_nibble(s[1]) : -1;
    if (hi < 0 || lo < 0 || n >= cap) return -1;
    out[n++] = (uint8_t)(hi << 4 | lo);
    s += 2;
  }
  return (long)n;
}

typedef struct {
  int events;
  glp_status_t status;
  glp_frame_t frame;
} capture_t;

static void capture(void *ctx, glp_status_t st, const glp_frame_t *f) {
  capture_t *c = (capture_t *)ctx;
  c->events++;
  c->status = st;
  if (f) c->frame = *f;
}

static size_t discard_write(void *user, const uint8_t *d, size_t n) {
  (void)user;
  (void)d;
  return n;
}
static uint64_t zero_time(void *user) {
  (void)user;
  return 0;
}

/* Longest input line. The host default takes any frame; a microcontroller build (firmware-protocol/c/target)
 * lowers it to fit its RAM: a wire frame is at most ~600 hex digits. */
#ifndef GLP_TOOL_LINE_MAX
#define GLP_TOOL_LINE_MAX (1 << 16)
#endif
static char line[GLP_TOOL_LINE_MAX];

static int do_decode(int argc, char **argv) {
  static glp_link_t link;
  glp_hooks_t hooks = {discard_write, zero_time, NULL, NULL};
  glp_link_init(&link, &hooks, 0);
  uint8_t key[32];
  bool has_key = false, require = false;
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--key") == 0 && i + 1 < argc) {
      if (parse_hex(argv[++i], key, sizeof key) != 32) return 2;
      has_key = true;
    } else if (strcmp(argv[i], "--require-signed") == 0) {
      require = true;
    } else {
      return 2;
    }
  }
#if GLP_ENABLE_SIGNING
  if (has_key) glp_link_set_signing(&link, key, 0, false, require);
#endif
  static uint8_t wire[GLP_TOOL_LINE_MAX / 2];
  while (fgets(line, sizeof line, stdin)) {
    long n = parse_hex(line, wire, sizeof wire - 1);
    if (n < 0) {
      printf("{\"status\":\"BAD_HEX\"}\n");
      continue;
    }
    if (n == 0 || wire[n - 1] != 0) wire[n++] = 0;
    capture_t c;
    memset(&c, 0, sizeof c);
    if (has_key) {
      glp_link_rx(&link, wire, (size_t)n, capture, &c);
    } else {
      /* No key: decode without a signing policy (signed frames are decoded, not verified). */
      static uint8_t raw[GLP_MAX_RAW_FRAME];
      size_t raw_len = 0;
      c.events = 1;
      c.status = (size_t)n - 1 > GLP_MAX_ENCODED_FRAME
                     ? GLP_ERR_OVERSIZE
                     : glp_cobs_decode(wire, (size_t)n - 1, raw, sizeof raw, &raw_len);
      if (c.status == GLP_OK) c.status = glp_decode_raw_frame(raw, raw_len, &c.frame);
    }
    if (c.events != 1) {
      printf("{\"status\":\"EVENTS_%d\"}\n", c.events);
      continue;
    }
    printf("{\"status\":\"%s\"", glp_status_name(c.status));
    if (c.status == GLP_OK) {
      const glp_frame_t *f = &c.frame;
      printf(",\"seq\":%u,\"deviceId\":%u,\"compatFlags\":%u,\"signed\":%s", f->seq, f->device_id, f->compat_flags,
             f->signed_frame ? "true" : "false");
      if (f->signed_frame) printf(",\"linkId\":%u,\"timestamp\":%" PRIu64, f->link_id, f->timestamp);
      printf(",\"message\":");
      print_message(&f->message);
    }
    printf("}\n");
  }
  printf("{\"stats\":{\"rxFrames\":%" PRIu32 ",\"rxErrors\":%" PRIu32 "}}\n", link.stats.rx_frames,
         link.stats.rx_errors);
  return 0;
}

static bool parse_u64(const char *tok, uint64_t max, uint64_t *out) {
  char *end;
  unsigned long long v = strtoull(tok, &end, 0);
  if (*tok == '\0' || *end != '\0' || v > max) return false;
  *out = v;
  return true;
}

static bool parse_f32_bits(const char *tok, float *out) {
  uint64_t bits;
  if (!parse_u64(tok, 0xFFFFFFFFu, &bits)) return false;
  uint32_t b = (uint32_t)bits;
  memcpy(out, &b, 4);
  return true;
}

static int do_encode(void) {
  while (fgets(line, sizeof line, stdin)) {
    char *tokens[64];
    size_t nt = 0;
    for (char *t = strtok(line, " \t\r\n"); t && nt < 64; t = strtok(NULL, " \t\r\n")) tokens[nt++] = t;
    if (nt < 4) {
      printf("ERROR too few tokens\n");
      continue;
    }
    const layout_t *layout = NULL;
    for (size_t i = 0; i < LAYOUT_COUNT; i++) {
      if (strcmp(LAYOUTS[i].type, tokens[0]) == 0) layout = &LAYOUTS[i];
    }
    uint64_t seq, dev, compat;
    if (!layout || !parse_u64(tokens[1], 0xFFFF, &seq) || !parse_u64(tokens[2], 0xFFFF, &dev) ||
        !parse_u64(tokens[3], 0xFF, &compat)) {
      printf("ERROR bad header tokens\n");
      continue;
    }
    glp_message_t m;
    memset(&m, 0, sizeof m);
    m.id = layout->id;
    unsigned char *base = (unsigned char *)&m;
    size_t t = 4;
    bool ok = true;
    for (size_t i = 0; i < layout->count && ok; i++) {
      const field_t *f = &layout->fields[i];
      void *p = base + f->offset;
      uint64_t v = 0;
      int slots = f->kind == K_F32X4 ? 4 : 1;
      if (t + (size_t)slots > nt) {
        ok = false;
        break;
      }
      switch (f->kind) {
        case K_U8: ok = parse_u64(tokens[t], 0xFF, &v); *(uint8_t *)p = (uint8_t)v; break;
        case K_U16: ok = parse_u64(tokens[t], 0xFFFF, &v); *(uint16_t *)p = (uint16_t)v; break;
        case K_U32: ok = parse_u64(tokens[t], 0xFFFFFFFFu, &v); *(uint32_t *)p = (uint32_t)v; break;
        case K_U64: ok = parse_u64(tokens[t], UINT64_MAX, &v); *(uint64_t *)p = v; break;
        case K_F32: ok = parse_f32_bits(tokens[t], (float *)p); break;
        case K_F64: {
          ok = parse_u64(tokens[t], UINT64_MAX, &v);
          memcpy(p, &v, 8);
          break;
        }
        case K_F32X4:
          for (int k = 0; k < 4 && ok; k++) ok = parse_f32_bits(tokens[t + (size_t)k], (float *)p + k);
          break;
        case K_TEXT: {
          /* hex-encoded ASCII ("-" for empty) */
          char *s = (char *)p;
          if (strcmp(tokens[t], "-") != 0) {
            uint8_t tmp[GLP_ALARM_TEXT_LEN];
            long n = parse_hex(tokens[t], tmp, sizeof tmp);
            ok = n >= 0;
            if (ok) memcpy(s, tmp, (size_t)n);
          }
          break;
        }
      }
      t += (size_t)slots;
    }
    if (!ok) {
      printf("ERROR bad field token\n");
      continue;
    }
    glp_sign_params_t sp;
    const glp_sign_params_t *sign = NULL;
    uint8_t key[32];
    if (t < nt && strcmp(tokens[t], "sign") == 0) {
      uint64_t link_id, ts;
      if (t + 4 > nt || !parse_u64(tokens[t + 1], 255, &link_id) || !parse_u64(tokens[t + 2], 0xFFFFFFFFFFFFull, &ts) ||
          parse_hex(tokens[t + 3], key, sizeof key) != 32) {
        printf("ERROR bad signing tokens\n");
        continue;
      }
      sp.key = key;
      sp.link_id = (uint8_t)link_id;
      sp.timestamp = ts;
      sign = &sp;
    }
    uint8_t wire[GLP_MAX_WIRE_FRAME];
    size_t n = glp_encode_frame(&m, (uint16_t)seq, (uint16_t)dev, (uint8_t)compat, sign, wire, sizeof wire);
    if (n == 0) {
      printf("ERROR encode failed\n");
      continue;
    }
    for (size_t i = 0; i < n; i++) printf("%02x", wire[i]);
    printf("\n");
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "decode") == 0) return do_decode(argc, argv);
  if (argc == 2 && strcmp(argv[1], "encode") == 0) return do_encode();
  fprintf(stderr, "usage: glp-tool decode [--key HEX64] [--require-signed] | glp-tool encode\n");
  return 2;
}
