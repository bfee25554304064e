/* Cortex-M build of the example firmware: the battery controller, or the inverter with
 * -DBOARD_INVERTER. The same board runtime (board.c) and device models as the host build. */
#include "board.h"
#include "hal.h"
#include "hal_target.h"

#if defined(BOARD_INVERTER)
#include "inverter.h"
typedef inverter_t model_t;
static void hello(const void *m, glp_hello_t *h) { inverter_hello((const inverter_t *)m, h); }
static void on_measurement(void *m, const glp_measurement_t *x) { inverter_on_measurement((inverter_t *)m, x); }
static int on_setpoint(void *m, const glp_setpoint_t *s, uint32_t *d) { return inverter_on_setpoint((inverter_t *)m, s, d); }
static int on_config(void *m, const glp_config_t *c, uint32_t *d) { return inverter_on_config((inverter_t *)m, c, d); }
static void safe_state(void *m) { inverter_safe_state((inverter_t *)m); }
static void state(const void *m, glp_device_state_t *s) { inverter_state((const inverter_t *)m, s); }
static void model_init(model_t *m) {
  inverter_params_t params = {0.0f, -1.0f, 50.0f}; /* rated and available power: the model's defaults */
  inverter_init(m, &params);
}
#else
#include "battery.h"
typedef battery_t model_t;
static void hello(const void *m, glp_hello_t *h) { battery_hello((const battery_t *)m, h); }
static void on_measurement(void *m, const glp_measurement_t *x) { battery_on_measurement((battery_t *)m, x); }
static int on_setpoint(void *m, const glp_setpoint_t *s, uint32_t *d) { return battery_on_setpoint((battery_t *)m, s, d); }
static int on_config(void *m, const glp_config_t *c, uint32_t *d) { return battery_on_config((battery_t *)m, c, d); }
static void safe_state(void *m) { battery_safe_state((battery_t *)m); }
static void state(const void *m, glp_device_state_t *s) { battery_state((const battery_t *)m, s); }
static void model_init(model_t *m) {
  battery_params_t params = {0.0f, 0.0f, 0.5f, 50.0f}; /* rating and capacity: the model's defaults */
  battery_init(m, &params);
}
#endif

static const board_app_t APP = {hello, on_measurement, on_setpoint, on_config, safe_state, state};

/* One board: its link context and runtime state (board.link), sized in the size report. */
static board_t board;

int main(void) {
  static target_config_t config;
  static model_t model;
  static uint8_t rx[64];
  hal_target_init(&config);
  model_init(&model);
  board_options_t options = {config.device_id, config.hello_interval_ms, config.heartbeat_interval_ms,
                             config.watchdog_ms};
  board_init(&board, &APP, &model, &options);
#if GLP_ENABLE_SIGNING
  if (config.has_key) glp_link_set_signing(&board.link, config.key, config.link_id, true, config.require_signed);
#endif
  for (;;) {
    size_t n = hal_uart_read(rx, sizeof rx, 1u);
    if (n > 0) board_receive(&board, rx, n);
    board_tick(&board);
    hal_target_poll(&config);
  }
}
