/* Board runtime shared by the example firmwares: protocol handling, HELLO until the bench talks,
 * heartbeats, watchdog. The device model is reached through board_app_t. */
#ifndef GLP_BOARD_H
#define GLP_BOARD_H

#include "glp.h"

typedef struct {
  void (*hello)(const void *model, glp_hello_t *h);
  void (*on_measurement)(void *model, const glp_measurement_t *m);
  int (*on_setpoint)(void *model, const glp_setpoint_t *s, uint32_t *detail);
  int (*on_config)(void *model, const glp_config_t *c, uint32_t *detail);
  void (*safe_state)(void *model);
  void (*state)(const void *model, glp_device_state_t *out);
} board_app_t;

typedef struct {
  glp_link_t link;
  const board_app_t *app;
  void *model;
  bool bench_seen;
  bool watchdog_tripped;
  uint32_t hello_interval_ms;
  uint32_t heartbeat_interval_ms;
  uint32_t watchdog_ms;
  uint64_t last_hello_us, last_rx_us, last_heartbeat_us, boot_us, last_auth_nack_us;
  uint32_t not_for_us;
  uint32_t last_inverter_alarms, last_bms_events;
} board_t;

typedef struct {
  uint16_t device_id;
  uint32_t hello_interval_ms;
  uint32_t heartbeat_interval_ms;
  uint32_t watchdog_ms;
} board_options_t;

void board_init(board_t *b, const board_app_t *app, void *model, const board_options_t *options);
/* Feeds received bytes. */
void board_receive(board_t *b, const uint8_t *data, size_t len);
/* Periodic duties: HELLO until the bench is seen, heartbeats, watchdog. */
void board_tick(board_t *b);
/* Main loop over the HAL until hal_should_stop(). */
void board_run(board_t *b);

#endif
