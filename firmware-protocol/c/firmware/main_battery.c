/* Host build of the battery controller firmware. */
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

static void init_model(void *m, const host_options_t *o) {
  battery_params_t params = {o->rated_power_w, o->capacity_wh, o->initial_soc, o->nominal_frequency_hz};
  battery_init((battery_t *)m, &params);
}

int main(int argc, char **argv) {
  static battery_t battery;
  return host_board_main(argc, argv, "battery-board", &APP, &battery, init_model);
}
