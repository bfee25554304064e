/* Host build of the inverter controller firmware. */
#include "inverter.h"
#include "board.h"
#include "hal_posix.h"

static void hello(const void *m, glp_hello_t *h) { inverter_hello((const inverter_t *)m, h); }
static void on_measurement(void *m, const glp_measurement_t *x) { inverter_on_measurement((inverter_t *)m, x); }
static int on_setpoint(void *m, const glp_setpoint_t *s, uint32_t *d) { return inverter_on_setpoint((inverter_t *)m, s, d); }
static int on_config(void *m, const glp_config_t *c, uint32_t *d) { return inverter_on_config((inverter_t *)m, c, d); }
static void safe_state(void *m) { inverter_safe_state((inverter_t *)m); }
static void state(const void *m, glp_device_state_t *s) { inverter_state((const inverter_t *)m, s); }

static const board_app_t APP = {hello, on_measurement, on_setpoint, on_config, safe_state, state};

static void init_model(void *m, const host_options_t *o) {
  inverter_params_t params = {o->rated_power_w, o->available_power_w, o->nominal_frequency_hz};
  inverter_init((inverter_t *)m, &params);
}

int main(int argc, char **argv) {
  static inverter_t inverter;
  return host_board_main(argc, argv, "inverter-board", &APP, &inverter, init_model);
}
