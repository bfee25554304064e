#include "board.h"

#include <string.h>

#include "hal.h"

static size_t uart_write_hook(void *user, const uint8_t *data, size_t len) {
  (void)user;
  return hal_uart_write(data, len);
}
static uint64_t now_hook(void *user) {
  (void)user;
  return hal_now_us();
}
static uint64_t signing_time_hook(void *user) {
  (void)user;
  return hal_signing_time();
}

static void send_hello(board_t *b) {
  glp_message_t m;
  memset(&m, 0, sizeof m);
  m.id = GLP_MSG_HELLO;
  b->app->hello(b->model, &m.u.hello);
#if GLP_ENABLE_SIGNING
  if (b->link.has_key) m.u.hello.link_flags |= GLP_LINK_SIGNING_SUPPORTED;
  if (b->link.require_signed_rx) m.u.hello.link_flags |= GLP_LINK_SIGNING_REQUIRED;
#endif
  (void)glp_link_send(&b->link, &m, 0);
  b->last_hello_us = hal_now_us();
}

static void send_state(board_t *b) {
  glp_message_t m;
  memset(&m, 0, sizeof m);
  m.id = GLP_MSG_DEVICE_STATE;
  b->app->state(b->model, &m.u.device_state);
  (void)glp_link_send(&b->link, &m, 0);
  /* Rising alarm bits are reported once as ALARM frames. */
  uint32_t new_inv = m.u.device_state.inverter_alarms & ~b->last_inverter_alarms;
  uint32_t new_bms = m.u.device_state.bms_events & ~b->last_bms_events;
  b->last_inverter_alarms = m.u.device_state.inverter_alarms;
  b->last_bms_events = m.u.device_state.bms_events;
  if (new_inv != 0 || new_bms != 0) {
    glp_message_t a;
    memset(&a, 0, sizeof a);
    a.id = GLP_MSG_ALARM;
    a.u.alarm.severity = GLP_SEV_WARNING;
    a.u.alarm.source = new_bms != 0 ? GLP_SRC_BMS : GLP_SRC_INVERTER;
    a.u.alarm.code = 1;
    a.u.alarm.inverter_alarms = m.u.device_state.inverter_alarms;
    a.u.alarm.bms_events = m.u.device_state.bms_events;
    a.u.alarm.value = m.u.device_state.state_of_charge;
    a.u.alarm.uptime_ms = (uint32_t)((hal_now_us() - b->boot_us) / 1000u);
    memcpy(a.u.alarm.text, "alarm bits raised", sizeof "alarm bits raised");
    (void)glp_link_send(&b->link, &a, 0);
  }
}

static void send_ack(board_t *b, const glp_frame_t *f) {
  glp_message_t m;
  memset(&m, 0, sizeof m);
  m.id = GLP_MSG_ACK;
  m.u.ack.message_id = f->message_id;
  m.u.ack.seq = f->seq;
  (void)glp_link_send(&b->link, &m, 0);
}

static void send_nack(board_t *b, const glp_frame_t *f, int reason, uint32_t detail) {
  glp_message_t m;
  memset(&m, 0, sizeof m);
  m.id = GLP_MSG_NACK;
  m.u.nack.message_id = f->message_id;
  m.u.nack.reason = (uint8_t)reason;
  m.u.nack.seq = f->seq;
  m.u.nack.detail = detail;
  (void)glp_link_send(&b->link, &m, 0);
}

static void send_heartbeat(board_t *b) {
  glp_message_t m;
  glp_device_state_t s;
  memset(&m, 0, sizeof m);
  b->app->state(b->model, &s);
  m.id = GLP_MSG_HEARTBEAT;
  m.u.heartbeat.uptime_ms = (uint32_t)((hal_now_us() - b->boot_us) / 1000u);
  m.u.heartbeat.rx_frames = b->link.stats.rx_frames;
  m.u.heartbeat.rx_errors = b->link.stats.rx_errors;
  m.u.heartbeat.tx_frames = b->link.stats.tx_frames;
  m.u.heartbeat.state = s.inverter_state;
  (void)glp_link_send(&b->link, &m, 0);
  b->last_heartbeat_us = hal_now_us();
}

/* Authentication failures are answered with a NACK naming the reason (at most one per 100 ms, so
 * a flood of forged frames cannot turn the board into an amplifier); other bad frames are only
 * counted, and unknown message ids are ignored as SPEC §11 requires. */
static void reject_frame(board_t *b, glp_status_t status, const glp_frame_t *f) {
  int reason;
  switch (status) {
    case GLP_ERR_UNSIGNED: reason = GLP_NACK_UNSIGNED; break;
    case GLP_ERR_NO_KEY:
    case GLP_ERR_BAD_SIGNATURE: reason = GLP_NACK_BAD_SIGNATURE; break;
    case GLP_ERR_REPLAY:
    case GLP_ERR_REORDERED:
    case GLP_ERR_STALE: reason = GLP_NACK_REPLAY; break;
    default: return;
  }
  if (f == NULL || (f->device_id != b->link.device_id && f->device_id != GLP_BROADCAST_DEVICE_ID)) return;
  uint64_t now = hal_now_us();
  if (b->last_auth_nack_us != 0 && now - b->last_auth_nack_us < 100000u) return;
  b->last_auth_nack_us = now;
  send_nack(b, f, reason, (uint32_t)status);
}

static void handle_frame(void *ctx, glp_status_t status, const glp_frame_t *f) {
  board_t *b = (board_t *)ctx;
  if (status != GLP_OK) {
    reject_frame(b, status, f); /* already counted by the link */
    return;
  }
  if (f->device_id != b->link.device_id && f->device_id != GLP_BROADCAST_DEVICE_ID) {
    b->not_for_us++;
    return;
  }
  b->bench_seen = true;
  b->last_rx_us = hal_now_us();
  b->watchdog_tripped = false;
  const glp_message_t *m = &f->message;
  uint32_t detail = 0;
  int reason;
  switch (m->id) {
    case GLP_MSG_MEASUREMENT:
      b->app->on_measurement(b->model, &m->u.measurement);
      send_state(b);
      break;
    case GLP_MSG_SETPOINT:
      reason = b->app->on_setpoint(b->model, &m->u.setpoint, &detail);
      if (reason == 0) send_ack(b, f);
      else send_nack(b, f, reason, detail);
      break;
    case GLP_MSG_CONFIG:
      reason = b->app->on_config(b->model, &m->u.config, &detail);
      if (reason == 0 && (m->u.config.fields & GLP_CFG_WATCHDOG) != 0) b->watchdog_ms = m->u.config.watchdog_ms;
      if (reason == 0) send_ack(b, f);
      else send_nack(b, f, reason, detail);
      break;
    case GLP_MSG_HELLO:
      send_hello(b);
      break;
    case GLP_MSG_TIME_SYNC:
      if (m->u.time_sync.phase == 0) {
        glp_message_t r;
        memset(&r, 0, sizeof r);
        r.id = GLP_MSG_TIME_SYNC;
        r.u.time_sync.phase = 1;
        r.u.time_sync.origin_us = m->u.time_sync.origin_us;
        r.u.time_sync.receive_us = b->last_rx_us;
        r.u.time_sync.transmit_us = hal_now_us();
        (void)glp_link_send(&b->link, &r, 0);
      }
      break;
    case GLP_MSG_HEARTBEAT:
      send_heartbeat(b);
      break;
    default:
      break; /* DEVICE_STATE, ALARM, ACK, NACK from the bench: nothing to do */
  }
}

void board_init(board_t *b, const board_app_t *app, void *model, const board_options_t *options) {
  memset(b, 0, sizeof *b);
  glp_hooks_t hooks = {uart_write_hook, now_hook, signing_time_hook, NULL};
  glp_link_init(&b->link, &hooks, options->device_id);
  b->app = app;
  b->model = model;
  b->hello_interval_ms = options->hello_interval_ms ? options->hello_interval_ms : 1000u;
  b->heartbeat_interval_ms = options->heartbeat_interval_ms ? options->heartbeat_interval_ms : 1000u;
  b->watchdog_ms = options->watchdog_ms ? options->watchdog_ms : 2000u;
  b->boot_us = hal_now_us();
}

void board_receive(board_t *b, const uint8_t *data, size_t len) { glp_link_rx(&b->link, data, len, handle_frame, b); }

void board_tick(board_t *b) {
  uint64_t now = hal_now_us();
  if (!b->bench_seen) {
    if (b->last_hello_us == 0 || now - b->last_hello_us >= (uint64_t)b->hello_interval_ms * 1000u) send_hello(b);
    return;
  }
  if (now - b->last_heartbeat_us >= (uint64_t)b->heartbeat_interval_ms * 1000u) send_heartbeat(b);
  if (!b->watchdog_tripped && now - b->last_rx_us >= (uint64_t)b->watchdog_ms * 1000u) {
    b->watchdog_tripped = true;
    b->app->safe_state(b->model);
    hal_log("watchdog expired: safe state");
  }
}

void board_run(board_t *b) {
  uint8_t buf[256];
  while (!hal_should_stop()) {
    size_t n = hal_uart_read(buf, sizeof buf, 10u);
    if (n > 0) board_receive(b, buf, n);
    board_tick(b);
  }
}
