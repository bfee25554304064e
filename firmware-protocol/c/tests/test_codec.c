#include <string.h>

#include "check.h"
#include "glp.h"

static void hex_to_bytes(const char *hex, uint8_t *out, size_t *len) {
  size_t n = strlen(hex) / 2;
  for (size_t i = 0; i < n; i++) {
    unsigned v;
    sscanf(hex + 2 * i, "%2x", &v);
    out[i] = (uint8_t)v;
  }
  *len = n;
}

static void test_crc(void) {
  CHECK_EQ_INT(glp_crc32c((const uint8_t *)"123456789", 9), 0xE3069283u);
  CHECK_EQ_INT(glp_crc32c(NULL, 0), 0);
}

static void test_cobs(void) {
  static const struct {
    const char *decoded, *encoded;
  } cases[] = {{"", "01"},           {"00", "0101"},         {"0000", "010101"},
               {"11220033", "0311220233"}, {"11223344", "0511223344"}, {"11000000", "0211010101"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t dec[16], enc[16], out[16];
    size_t dec_len, enc_len, out_len = 0;
    hex_to_bytes(cases[i].decoded, dec, &dec_len);
    hex_to_bytes(cases[i].encoded, enc, &enc_len);
    size_t n = glp_cobs_encode(dec, dec_len, out, sizeof out);
    CHECK_EQ_INT(n, enc_len);
    CHECK(memcmp(out, enc, enc_len) == 0);
    CHECK_EQ_INT(glp_cobs_decode(enc, enc_len, out, sizeof out, &out_len), GLP_OK);
    CHECK_EQ_INT(out_len, dec_len);
    CHECK(memcmp(out, dec, dec_len) == 0);
  }
  /* 254 non-zero bytes: a full 0xFF block then a final code byte */
  uint8_t big[254], enc[260], back[260];
  for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i + 1);
  size_t n = glp_cobs_encode(big, sizeof big, enc, sizeof enc);
  CHECK_EQ_INT(n, 256);
  CHECK_EQ_INT(enc[0], 0xFF);
  size_t back_len = 0;
  CHECK_EQ_INT(glp_cobs_decode(enc, n, back, sizeof back, &back_len), GLP_OK);
  CHECK_EQ_INT(back_len, 254);
  CHECK(memcmp(back, big, 254) == 0);
  /* output that does not fit */
  CHECK_EQ_INT(glp_cobs_encode(big, sizeof big, enc, 100), 0);
  CHECK_EQ_INT(glp_cobs_decode(enc, n, back, 100, &back_len), GLP_ERR_OVERSIZE);
  /* malformed */
  const uint8_t past_end[] = {0x05, 0x11, 0x22};
  CHECK_EQ_INT(glp_cobs_decode(past_end, sizeof past_end, back, sizeof back, &back_len), GLP_ERR_COBS_INVALID);
  const uint8_t inner_zero[] = {0x03, 0x00, 0x22};
  CHECK_EQ_INT(glp_cobs_decode(inner_zero, sizeof inner_zero, back, sizeof back, &back_len), GLP_ERR_COBS_INVALID);
}

static void test_sha256(void) {
  /* FIPS 180-2 appendix B.1 */
  uint8_t d[32];
  glp_sha256((const uint8_t *)"abc", 3, d);
  static const uint8_t abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40,
                                  0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17,
                                  0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
  CHECK(memcmp(d, abc, 32) == 0);
  /* RFC 4231 test case 2: key "Jefe" */
  const char *data = "what do ya want for nothing?";
  glp_hmac_sha256((const uint8_t *)"Jefe", 4, (const uint8_t *)data, strlen(data), d);
  static const uint8_t tc2[32] = {0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24,
                                  0x26, 0x08, 0x95, 0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27,
                                  0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9, 0x64, 0xec, 0x38, 0x43};
  CHECK(memcmp(d, tc2, 32) == 0);
  /* RFC 4231 test case 6: 131-byte key (hashed first) */
  uint8_t key[131];
  memset(key, 0xaa, sizeof key);
  const char *tc6data = "Test Using Larger Than Block-Size Key - Hash Key First";
  glp_hmac_sha256(key, sizeof key, (const uint8_t *)tc6data, strlen(tc6data), d);
  static const uint8_t tc6[32] = {0x60, 0xe4, 0x31, 0x59, 0x1e, 0xe0, 0xb6, 0x7f, 0x0d, 0x8a, 0x26,
                                  0xaa, 0xcb, 0xf5, 0xb7, 0x7f, 0x8e, 0x0b, 0xc6, 0x21, 0x37, 0x28,
                                  0xc5, 0x14, 0x05, 0x46, 0x04, 0x0f, 0x0e, 0xe3, 0x7f, 0x54};
  CHECK(memcmp(d, tc6, 32) == 0);
}

static void test_round_trip_all_messages(void) {
  glp_message_t msgs[10];
  memset(msgs, 0, sizeof msgs);
  msgs[0].id = GLP_MSG_HELLO;
  msgs[0].u.hello.device_type = GLP_DEVICE_BATTERY;
  msgs[0].u.hello.rated_energy_wh = 10000.0f;
  msgs[0].u.hello.serial_number = 0xDEADBEEFu;
  msgs[1].id = GLP_MSG_MEASUREMENT;
  msgs[1].u.measurement.step = 42;
  msgs[1].u.measurement.twin_time_s = 1.0 / 3.0;
  msgs[1].u.measurement.frequency_hz = 49.95f;
  msgs[2].id = GLP_MSG_DEVICE_STATE;
  msgs[2].u.device_state.active_power_w = -123.5f;
  msgs[2].u.device_state.bms_events = 0x80000001u;
  msgs[3].id = GLP_MSG_SETPOINT;
  msgs[3].u.setpoint.fields = 0x3F;
  msgs[3].u.setpoint.active_power_min_w = -4000.0f;
  msgs[4].id = GLP_MSG_CONFIG;
  msgs[4].u.config.volt_var_v_pu[3] = 1.08f;
  msgs[4].u.config.watchdog_ms = 500;
  msgs[5].id = GLP_MSG_HEARTBEAT;
  msgs[5].u.heartbeat.rx_errors = 7;
  msgs[6].id = GLP_MSG_TIME_SYNC;
  msgs[6].u.time_sync.transmit_us = 0xFFFFFFFFFFFFFFFFull;
  msgs[7].id = GLP_MSG_ALARM;
  memcpy(msgs[7].u.alarm.text, "exactly twenty-four char", 24);
  msgs[8].id = GLP_MSG_ACK;
  msgs[8].u.ack.seq = 65535;
  msgs[9].id = GLP_MSG_NACK;
  msgs[9].u.nack.reason = GLP_NACK_OUT_OF_RANGE;
  for (size_t i = 0; i < 10; i++) {
    uint8_t wire[GLP_MAX_WIRE_FRAME], raw[GLP_MAX_RAW_FRAME];
    size_t n = glp_encode_frame(&msgs[i], (uint16_t)i, 77, 0, NULL, wire, sizeof wire);
    CHECK(n > 0);
    CHECK_EQ_INT(wire[n - 1], 0);
    for (size_t k = 0; k + 1 < n; k++) CHECK(wire[k] != 0);
    size_t raw_len = 0;
    CHECK_EQ_INT(glp_cobs_decode(wire, n - 1, raw, sizeof raw, &raw_len), GLP_OK);
    glp_frame_t f;
    CHECK_EQ_INT(glp_decode_raw_frame(raw, raw_len, &f), GLP_OK);
    CHECK_EQ_INT(f.seq, i);
    CHECK_EQ_INT(f.device_id, 77);
    CHECK_EQ_INT(f.payload_len, glp_payload_len(msgs[i].id));
    CHECK(memcmp(&f.message, &msgs[i], sizeof msgs[i]) == 0);
  }
}

static void test_decode_rejections(void) {
  glp_message_t m;
  memset(&m, 0, sizeof m);
  m.id = GLP_MSG_MEASUREMENT;
  uint8_t raw[GLP_MAX_RAW_FRAME];
  size_t len = glp_build_raw_frame(&m, 1, 2, 0, NULL, raw, sizeof raw);
  CHECK_EQ_INT(len, GLP_HEADER_LEN + GLP_MEASUREMENT_LEN + GLP_CRC_LEN);
  glp_frame_t f;
  raw[10] ^= 1;
  CHECK_EQ_INT(glp_decode_raw_frame(raw, len, &f), GLP_ERR_CRC_MISMATCH);
  raw[10] ^= 1;
  CHECK_EQ_INT(glp_decode_raw_frame(raw, 12, &f), GLP_ERR_TOO_SHORT);
  uint8_t mutated[GLP_MAX_RAW_FRAME];
  struct {
    size_t at;
    uint8_t value;
    glp_status_t expected;
  } cases[] = {{0, 2, GLP_ERR_BAD_VERSION},
               {1, 0x80, GLP_ERR_UNKNOWN_INCOMPAT_FLAG},
               {3, 0x7F, GLP_ERR_UNKNOWN_MESSAGE},
               {8, 27, GLP_ERR_LENGTH_MISMATCH},
               {2, 0xFE, GLP_OK /* unknown compatible flags are ignored */}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    memcpy(mutated, raw, len);
    mutated[cases[i].at] = cases[i].value;
    uint32_t crc = glp_crc32c(mutated, len - 4);
    for (int k = 0; k < 4; k++) mutated[len - 4 + k] = (uint8_t)(crc >> (8 * k));
    CHECK_EQ_INT(glp_decode_raw_frame(mutated, len, &f), cases[i].expected);
  }
  CHECK(strcmp(glp_status_name(GLP_ERR_CRC_MISMATCH), "CRC_MISMATCH") == 0);
  CHECK(strcmp(glp_status_name((glp_status_t)999), "UNKNOWN_STATUS") == 0);
  /* encode into a buffer that is too small */
  uint8_t tiny[20];
  CHECK_EQ_INT(glp_encode_frame(&m, 1, 2, 0, NULL, tiny, sizeof tiny), 0);
  m.id = 0x7F;
  CHECK_EQ_INT(glp_encode_frame(&m, 1, 2, 0, NULL, raw, sizeof raw), 0);
}

void test_codec(void) {
  test_crc();
  test_cobs();
  test_sha256();
  test_round_trip_all_messages();
  test_decode_rejections();
}
