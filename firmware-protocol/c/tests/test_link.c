#include <string.h>

#include "check.h"
#include "glp.h"

typedef struct {
  uint8_t data[8192];
  size_t len;
  uint64_t now;
  uint64_t sign_now;
} wire_t;

static size_t wire_write(void *user, const uint8_t *data, size_t len) {
  wire_t *w = (wire_t *)user;
  if (w->len + len > sizeof w->data) return 0;
  memcpy(w->data + w->len, data, len);
  w->len += len;
  return len;
}
static uint64_t wire_now(void *user) { return ((wire_t *)user)->now; }
static uint64_t wire_sign_now(void *user) { return ((wire_t *)user)->sign_now; }

typedef struct {
  int frames;
  int errors;
  glp_status_t last_status;
  glp_frame_t last;
  bool error_header; /* the last error came with a trusted header */
  uint16_t error_seq;
} sink_t;

static void on_frame(void *ctx, glp_status_t st, const glp_frame_t *f) {
  sink_t *s = (sink_t *)ctx;
  s->last_status = st;
  if (st == GLP_OK) {
    s->frames++;
    s->last = *f;
  } else {
    s->errors++;
    s->error_header = f != NULL;
    if (f) s->error_seq = f->seq;
  }
}

static glp_message_t measurement(uint32_t step) {
  glp_message_t m;
  memset(&m, 0, sizeof m);
  m.id = GLP_MSG_MEASUREMENT;
  m.u.measurement.step = step;
  m.u.measurement.frequency_hz = 50.0f;
  m.u.measurement.voltage_pu = 1.0f;
  return m;
}

static void test_deframer_chunking_and_garbage(void) {
  static wire_t tx;
  static glp_link_t a, b;
  memset(&tx, 0, sizeof tx);
  glp_hooks_t hooks = {wire_write, wire_now, NULL, &tx};
  glp_link_init(&a, &hooks, 5);
  glp_link_init(&b, &hooks, 5);
  for (uint32_t i = 0; i < 3; i++) {
    glp_message_t m = measurement(i);
    CHECK_EQ_INT(glp_link_send(&a, &m, 0), GLP_OK);
  }
  CHECK_EQ_INT(a.stats.tx_frames, 3);
  /* byte by byte */
  sink_t sink;
  memset(&sink, 0, sizeof sink);
  for (size_t i = 0; i < tx.len; i++) glp_link_rx(&b, tx.data + i, 1, on_frame, &sink);
  CHECK_EQ_INT(sink.frames, 3);
  CHECK_EQ_INT(sink.errors, 0);
  CHECK_EQ_INT(sink.last.message.u.measurement.step, 2);
  CHECK_EQ_INT(sink.last.seq, 2);
  /* garbage, then a frame after a delimiter */
  const uint8_t junk[] = {0x12, 0x34, 0x56, 0x00};
  memset(&sink, 0, sizeof sink);
  glp_link_rx(&b, junk, sizeof junk, on_frame, &sink);
  CHECK(!sink.error_header);
  glp_link_rx(&b, tx.data, tx.len, on_frame, &sink);
  CHECK_EQ_INT(sink.errors, 1);
  CHECK_EQ_INT(sink.frames, 3);
  CHECK_EQ_INT(b.stats.rx_error_by_code[GLP_ERR_COBS_INVALID] + b.stats.rx_error_by_code[GLP_ERR_TOO_SHORT], 1);
  /* oversize: reported once, then resynchronised */
  static uint8_t flood[3 * GLP_MAX_ENCODED_FRAME];
  memset(flood, 0x41, sizeof flood);
  memset(&sink, 0, sizeof sink);
  glp_link_rx(&b, flood, sizeof flood, on_frame, &sink);
  CHECK_EQ_INT(sink.errors, 1);
  CHECK_EQ_INT(sink.last_status, GLP_ERR_OVERSIZE);
  const uint8_t zero = 0;
  glp_link_rx(&b, &zero, 1, on_frame, &sink);
  glp_link_rx(&b, tx.data, tx.len, on_frame, &sink);
  CHECK_EQ_INT(sink.frames, 3);
  CHECK_EQ_INT(b.stats.rx_error_by_code[GLP_ERR_OVERSIZE], 1);
  /* empty frames are not errors */
  const uint8_t zeros[] = {0, 0, 0};
  memset(&sink, 0, sizeof sink);
  glp_link_rx(&b, zeros, sizeof zeros, on_frame, &sink);
  CHECK_EQ_INT(sink.errors + sink.frames, 0);
}

static const uint8_t KEY[32] = {0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15,
                                16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

static size_t signed_frame(uint32_t step, uint64_t ts, const uint8_t *key, uint8_t link_id, uint8_t *out) {
  glp_message_t m = measurement(step);
  glp_sign_params_t sp = {key, link_id, ts};
  return glp_encode_frame(&m, (uint16_t)step, 5, 0, &sp, out, GLP_MAX_WIRE_FRAME);
}

static sink_t last_feed;

static glp_status_t feed(glp_link_t *l, const uint8_t *wire, size_t n) {
  memset(&last_feed, 0, sizeof last_feed);
  glp_link_rx(l, wire, n, on_frame, &last_feed);
  return last_feed.frames + last_feed.errors == 1 ? last_feed.last_status : GLP_ERR_ARGUMENT;
}

static void test_signing(void) {
  static wire_t tx;
  static glp_link_t rx;
  memset(&tx, 0, sizeof tx);
  tx.sign_now = 10000000000ull;
  glp_hooks_t hooks = {wire_write, wire_now, wire_sign_now, &tx};
  glp_link_init(&rx, &hooks, 5);
  glp_link_set_signing(&rx, KEY, 0, false, true);
  uint8_t f1[GLP_MAX_WIRE_FRAME], f2[GLP_MAX_WIRE_FRAME], f0[GLP_MAX_WIRE_FRAME], tmp[GLP_MAX_WIRE_FRAME];
  uint64_t base = tx.sign_now - 100;
  size_t n1 = signed_frame(1, base + 1, KEY, 1, f1);
  size_t n2 = signed_frame(2, base + 2, KEY, 1, f2);
  size_t n0 = signed_frame(0, base, KEY, 1, f0);
  CHECK_EQ_INT(feed(&rx, f1, n1), GLP_OK);
  CHECK_EQ_INT(feed(&rx, f2, n2), GLP_OK);
  CHECK_EQ_INT(feed(&rx, f1, n1), GLP_ERR_REPLAY);
  CHECK_EQ_INT(feed(&rx, f0, n0), GLP_ERR_REORDERED);
  /* tampered: flip a payload byte in the raw frame and fix the CRC */
  uint8_t raw[GLP_MAX_RAW_FRAME];
  size_t raw_len = 0;
  size_t n3 = signed_frame(3, base + 3, KEY, 1, tmp);
  CHECK_EQ_INT(glp_cobs_decode(tmp, n3 - 1, raw, sizeof raw, &raw_len), GLP_OK);
  raw[GLP_HEADER_LEN + 20] ^= 0x40;
  uint32_t crc = glp_crc32c(raw, raw_len - 4);
  for (int k = 0; k < 4; k++) raw[raw_len - 4 + k] = (uint8_t)(crc >> (8 * k));
  size_t n = glp_cobs_encode(raw, raw_len, tmp, sizeof tmp - 1);
  tmp[n++] = 0;
  CHECK_EQ_INT(feed(&rx, tmp, n), GLP_ERR_BAD_SIGNATURE);
  /* wrong key */
  uint8_t other[32];
  memset(other, 0x5A, sizeof other);
  n = signed_frame(4, base + 4, other, 1, tmp);
  CHECK_EQ_INT(feed(&rx, tmp, n), GLP_ERR_BAD_SIGNATURE);
  /* unsigned when required */
  glp_message_t m = measurement(5);
  n = glp_encode_frame(&m, 5, 5, 0, NULL, tmp, sizeof tmp);
  CHECK_EQ_INT(feed(&rx, tmp, n), GLP_ERR_UNSIGNED);
  /* rejected after the CRC: the handler gets the header (for a NACK naming the frame) */
  CHECK(last_feed.error_header);
  CHECK_EQ_INT(last_feed.error_seq, 5);
  /* a new stream's first frame older than the window */
  n = signed_frame(6, tx.sign_now - GLP_STALE_WINDOW - 1, KEY, 2, tmp);
  CHECK_EQ_INT(feed(&rx, tmp, n), GLP_ERR_STALE);
  n = signed_frame(7, tx.sign_now - 5, KEY, 2, tmp);
  CHECK_EQ_INT(feed(&rx, tmp, n), GLP_OK);
  CHECK_EQ_INT(rx.stats.rx_frames, 3);
  CHECK_EQ_INT(rx.stats.rx_errors, 6);
  CHECK_EQ_INT(rx.stats.rx_error_by_code[GLP_ERR_BAD_SIGNATURE], 2);

  /* link-level sending: timestamps strictly increase even when the clock stands still */
  static glp_link_t txl;
  memset(&tx, 0, sizeof tx);
  tx.sign_now = 1000;
  glp_link_init(&txl, &hooks, 5);
  glp_link_set_signing(&txl, KEY, 9, true, false);
  glp_message_t a = measurement(1);
  CHECK_EQ_INT(glp_link_send(&txl, &a, 0), GLP_OK);
  CHECK_EQ_INT(glp_link_send(&txl, &a, 0), GLP_OK);
  CHECK_EQ_INT(txl.last_tx_timestamp, 1001);
  static glp_link_t rx2;
  glp_link_init(&rx2, &hooks, 5);
  glp_link_set_signing(&rx2, KEY, 0, false, true);
  sink_t sink;
  memset(&sink, 0, sizeof sink);
  glp_link_rx(&rx2, tx.data, tx.len, on_frame, &sink);
  CHECK_EQ_INT(sink.frames, 2);
  CHECK_EQ_INT(sink.last.link_id, 9);
  CHECK_EQ_INT(sink.last.timestamp, 1001);
  CHECK(sink.last.signed_frame);
}

void test_link(void) {
  test_deframer_chunking_and_garbage();
  test_signing();
}
