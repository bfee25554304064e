/*
 * libFuzzer harness for the C decoder: arbitrary bytes, in arbitrary chunks, through the link's
 * deframer (with and without a signing policy), plus the one-shot raw-frame decoder. Checks that
 * every event is counted and that accepted frames re-encode to something that decodes the same.
 */
#include <stdlib.h>
#include <string.h>

#include "glp.h"

static uint64_t fixed_time(void *user) {
  (void)user;
  return 1000000000ull;
}
static size_t sink_write(void *user, const uint8_t *d, size_t n) {
  (void)user;
  (void)d;
  return n;
}

typedef struct {
  uint32_t frames, errors;
} counts_t;

static void on_event(void *ctx, glp_status_t st, const glp_frame_t *f) {
  counts_t *c = (counts_t *)ctx;
  if (st == GLP_OK) {
    c->frames++;
    if (f == NULL) abort();
    uint8_t wire[GLP_MAX_WIRE_FRAME], raw[GLP_MAX_RAW_FRAME];
    size_t n = glp_encode_frame(&f->message, f->seq, f->device_id, f->compat_flags, NULL, wire, sizeof wire);
    if (n == 0) abort();
    size_t raw_len = 0;
    glp_frame_t again;
    if (glp_cobs_decode(wire, n - 1, raw, sizeof raw, &raw_len) != GLP_OK) abort();
    if (glp_decode_raw_frame(raw, raw_len, &again) != GLP_OK) abort();
    if (memcmp(&again.message, &f->message, sizeof again.message) != 0) abort();
  } else {
    c->errors++;
    if (st >= GLP_ERR_BUFFER) abort();
    /* a header is reported only once it can be trusted */
    if (f != NULL && st <= GLP_ERR_UNKNOWN_INCOMPAT_FLAG) abort();
    if (f == NULL && st > GLP_ERR_UNKNOWN_INCOMPAT_FLAG) abort();
  }
}

static const uint8_t KEY[32] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static glp_link_t link;
  if (size == 0) return 0;
  uint8_t mode = data[0];
  data++;
  size--;
  glp_hooks_t hooks = {sink_write, fixed_time, fixed_time, NULL};
  glp_link_init(&link, &hooks, 1);
  if (mode & 0x80) glp_link_set_signing(&link, KEY, 0, false, (mode & 0x40) != 0);
  size_t chunk = (size_t)(mode & 0x3F) + 1;
  counts_t counts = {0, 0};
  for (size_t at = 0; at < size; at += chunk) {
    size_t n = size - at < chunk ? size - at : chunk;
    glp_link_rx(&link, data + at, n, on_event, &counts);
  }
  if (counts.frames != link.stats.rx_frames || counts.errors != link.stats.rx_errors) abort();
  uint32_t by_code = 0;
  for (int i = 0; i < GLP_STATUS_COUNT; i++) by_code += link.stats.rx_error_by_code[i];
  if (by_code != link.stats.rx_errors || link.stats.rx_error_by_code[GLP_OK] != 0) abort();

  glp_frame_t f;
  glp_status_t st = glp_decode_raw_frame(data, size, &f);
  if ((unsigned)st >= GLP_STATUS_COUNT) abort();
  uint8_t out[GLP_MAX_RAW_FRAME];
  size_t out_len = 0;
  (void)glp_cobs_decode(data, size, out, sizeof out, &out_len);
  return 0;
}
