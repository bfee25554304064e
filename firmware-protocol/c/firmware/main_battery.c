/* Host build of the battery controller firmware. */
#include <stdio.h>

#include "battery.h"
#include "board.h"
#include "hal_posix.h"

static void hello(const void *m, glp_hello_t *h) { battery_hello((const battery_t *)m, h); }
static void on_measurement(void *m, const glp_measurement_t *x) { battery_on_measurement((battery_t *)m, x); }
static int on_setpoint(void *m, const glp_setpoint_t *s, uint32_t *d) { return battery_on_setpoint((battery_t *)m, s, d); }
static int on_config(void *m, const glp_config_t *c, uint32_t *d) { return battery_on_config((battery_t *)m, c, d); }
static void safe_state(void *m) { battery_safe_state((battery_t *)m); }
static void state(const void *m, glp_device_state_t *s) { battery_state((const battery_t *)m, s); }

static const board_app_t APP = {hello, on_measurement, on_setpoint, on_config, safe_state, state};

int main(int argc, char **argv) {
  host_options_t o;
  if (!host_parse_args(argc, argv, "battery-board", &o)) return 2;
  battery_params_t params = {o.rated_power_w, o.capacity_wh, o.initial_soc, o.nominal_frequency_hz};
  static battery_t battery;
  static board_t board;
  battery_init(&battery, &params);
  board_options_t bo = {o.device_id, o.hello_interval_ms, o.heartbeat_interval_ms, o.watchdog_ms};
  if (!host_open(&o)) return 3;
  board_init(&board, &APP, &battery, &bo);
#if GLP_ENABLE_SIGNING
  if (o.has_key) glp_link_set_signing(&board.link, o.key, o.link_id, true, o.require_signed);
#else
  if (o.has_key) {
    fprintf(stderr, "%s: built without signing (GLP_ENABLE_SIGNING=0)\n", argv[0]);
    return 2;
  }
#endif
  board_run(&board);
  host_close();
  return 0;
}
