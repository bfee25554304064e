/* Link context: byte-wise deframer, signing policy with replay protection, framed send. */
#include <string.h>

#include "glp.h"

void glp_link_init(glp_link_t *link, const glp_hooks_t *hooks, uint16_t device_id) {
  memset(link, 0, sizeof *link);
  link->hooks = *hooks;
  link->device_id = device_id;
}

#if GLP_ENABLE_SIGNING
void glp_link_set_signing(glp_link_t *link, const uint8_t key[GLP_SIGNING_KEY_LEN], uint8_t link_id, bool sign_tx,
                          bool require_rx) {
  memcpy(link->key, key, GLP_SIGNING_KEY_LEN);
  link->has_key = true;
  link->tx_link_id = link_id;
  link->sign_tx = sign_tx;
  link->require_signed_rx = require_rx;
}

static bool signatures_equal(const uint8_t *a, const uint8_t *b) {
  uint8_t diff = 0;
  for (size_t i = 0; i < GLP_SIGNATURE_LEN; i++) diff |= (uint8_t)(a[i] ^ b[i]);
  return diff == 0;
}

static glp_status_t check_signature(glp_link_t *link, const uint8_t *raw, const glp_frame_t *f) {
  if (!f->signed_frame) return link->require_signed_rx ? GLP_ERR_UNSIGNED : GLP_OK;
  if (!link->has_key) return GLP_ERR_NO_KEY;
  size_t signed_end = GLP_HEADER_LEN + f->payload_len + 7u;
  uint8_t mac[32];
  glp_hmac_sha256(link->key, GLP_SIGNING_KEY_LEN, raw, signed_end, mac);
  if (!signatures_equal(mac, raw + signed_end)) return GLP_ERR_BAD_SIGNATURE;

  glp_sign_stream_t *stream = NULL;
  glp_sign_stream_t *free_slot = NULL;
  glp_sign_stream_t *oldest = &link->streams[0];
  for (size_t i = 0; i < GLP_SIGN_STREAMS; i++) {
    glp_sign_stream_t *s = &link->streams[i];
    if (s->used && s->link_id == f->link_id) stream = s;
    if (!s->used && free_slot == NULL) free_slot = s;
    if (s->used && s->newest < oldest->newest) oldest = s;
  }
  if (stream != NULL) {
    if (f->timestamp <= stream->newest) {
      for (size_t i = 0; i < GLP_REPLAY_WINDOW; i++) {
        if (stream->recent[i] == f->timestamp) return GLP_ERR_REPLAY;
      }
      return GLP_ERR_REORDERED;
    }
  } else {
    if (link->hooks.signing_time != NULL) {
      uint64_t now = link->hooks.signing_time(link->hooks.user);
      if (now > GLP_STALE_WINDOW && f->timestamp < now - GLP_STALE_WINDOW) return GLP_ERR_STALE;
    }
    stream = free_slot != NULL ? free_slot : oldest;
    memset(stream, 0, sizeof *stream);
    stream->used = true;
    stream->link_id = f->link_id;
    /* UINT64_MAX never matches a 48-bit timestamp: marks empty window slots. */
    for (size_t i = 0; i < GLP_REPLAY_WINDOW; i++) stream->recent[i] = UINT64_MAX;
  }
  stream->newest = f->timestamp;
  stream->recent[stream->next] = f->timestamp;
  stream->next = (uint8_t)((stream->next + 1u) % GLP_REPLAY_WINDOW);
  return GLP_OK;
}
#endif

glp_status_t glp_link_accept_raw(glp_link_t *link, const uint8_t *raw, size_t len, glp_frame_t *frame) {
  glp_status_t st = glp_decode_raw_frame(raw, len, frame);
  /* The header is trusted once the CRC, version, flags and length checks passed: the signature is
   * checked before the message id and payload length, as in the TypeScript codec. */
  if (st != GLP_OK && st != GLP_ERR_UNKNOWN_MESSAGE && st != GLP_ERR_PAYLOAD_TOO_SHORT) return st;
#if GLP_ENABLE_SIGNING
  glp_status_t sig = check_signature(link, raw, frame);
  if (sig != GLP_OK) return sig;
#else
  (void)link;
  if (frame->signed_frame) return GLP_ERR_NO_KEY;
#endif
  return st;
}

static void finish_frame(glp_link_t *link, glp_rx_handler_t handler, void *ctx) {
  size_t raw_len = 0;
  glp_frame_t frame;
  memset(&frame, 0, sizeof frame);
  glp_status_t st = glp_cobs_decode(link->rx_buf, link->rx_len, link->raw, sizeof link->raw, &raw_len);
  if (st == GLP_OK) st = glp_link_accept_raw(link, link->raw, raw_len, &frame);
  link->rx_len = 0;
  if (st == GLP_OK) {
    link->stats.rx_frames++;
    if (handler) handler(ctx, GLP_OK, &frame);
  } else {
    link->stats.rx_errors++;
    link->stats.rx_error_by_code[st]++;
    /* The header is trustworthy once CRC, version and incompatible flags passed. */
    bool header_known = st > GLP_ERR_UNKNOWN_INCOMPAT_FLAG && st < GLP_ERR_BUFFER;
    if (handler) handler(ctx, st, header_known ? &frame : NULL);
  }
}

void glp_link_rx(glp_link_t *link, const uint8_t *data, size_t len, glp_rx_handler_t handler, void *ctx) {
  link->stats.rx_bytes += (uint32_t)len;
  for (size_t i = 0; i < len; i++) {
    uint8_t byte = data[i];
    if (byte == 0) {
      if (link->rx_discarding) {
        link->rx_discarding = false;
        link->rx_len = 0;
      } else if (link->rx_len > 0) {
        finish_frame(link, handler, ctx);
      }
      continue;
    }
    if (link->rx_discarding) continue;
    if (link->rx_len == sizeof link->rx_buf) {
      /* Oversize: report once, then skip to the next delimiter. */
      link->rx_discarding = true;
      link->rx_len = 0;
      link->stats.rx_errors++;
      link->stats.rx_error_by_code[GLP_ERR_OVERSIZE]++;
      if (handler) handler(ctx, GLP_ERR_OVERSIZE, NULL);
      continue;
    }
    link->rx_buf[link->rx_len++] = byte;
  }
}

glp_status_t glp_link_send(glp_link_t *link, const glp_message_t *m, uint8_t compat_flags) {
  const glp_sign_params_t *sign = NULL;
#if GLP_ENABLE_SIGNING
  glp_sign_params_t params;
  if (link->sign_tx) {
    uint64_t ts = link->hooks.signing_time ? link->hooks.signing_time(link->hooks.user) : 0;
    /* Timestamps must increase strictly per stream, even if the clock stalls or steps back. */
    if (ts <= link->last_tx_timestamp) ts = link->last_tx_timestamp + 1u;
    link->last_tx_timestamp = ts;
    params.key = link->key;
    params.link_id = link->tx_link_id;
    params.timestamp = ts;
    sign = &params;
  }
#endif
  size_t n = glp_encode_frame(m, link->tx_seq, link->device_id, compat_flags, sign, link->tx_buf, sizeof link->tx_buf);
  if (n == 0) {
    link->stats.tx_errors++;
    return GLP_ERR_ARGUMENT;
  }
  link->tx_seq++;
  size_t written = link->hooks.uart_write(link->hooks.user, link->tx_buf, n);
  if (written != n) {
    link->stats.tx_errors++;
    return GLP_ERR_BUFFER;
  }
  link->stats.tx_frames++;
  return GLP_OK;
}
