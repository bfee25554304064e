/*
 * libFuzzer harness for the example firmware's device models: any sequence of MEASUREMENT,
 * SETPOINT and CONFIG payloads (arbitrary bytes, so NaN, infinities and absurd ranges included)
 * must leave both controllers with finite, rated-bounded outputs and a state of charge in [0, 1].
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "battery.h"
#include "glp.h"
#include "inverter.h"

static void check_state(const glp_device_state_t *s, float rated_p, float rated_q, bool storage) {
  if (!isfinite(s->active_power_w) || fabsf(s->active_power_w) > rated_p * 1.000001f) abort();
  if (!isfinite(s->reactive_power_var) || fabsf(s->reactive_power_var) > rated_q * 1.000001f) abort();
  if (storage && !(s->state_of_charge >= 0.0f && s->state_of_charge <= 1.0f)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  battery_t battery;
  inverter_t inverter;
  battery_params_t bp = {5000.0f, 10000.0f, 0.5f, 50.0f};
  inverter_params_t ip = {10000.0f, 8000.0f, 60.0f};
  battery_init(&battery, &bp);
  inverter_init(&inverter, &ip);
  size_t at = 0;
  while (at < size) {
    uint8_t op = data[at++];
    /* op % 3: 0 MEASUREMENT, 1 SETPOINT, 2 CONFIG; bit 7 picks the inverter */
    uint8_t id = op % 3u == 0 ? GLP_MSG_MEASUREMENT : (op % 3u == 1 ? GLP_MSG_SETPOINT : GLP_MSG_CONFIG);
    size_t need = glp_payload_len(id);
    if (size - at < need) break;
    glp_message_t m;
    if (glp_decode_payload(id, data + at, need, &m) != GLP_OK) abort();
    at += need;
    uint32_t detail = 0;
    bool to_battery = (op & 0x80u) == 0;
    switch (id) {
      case GLP_MSG_MEASUREMENT:
        if (to_battery) battery_on_measurement(&battery, &m.u.measurement);
        else inverter_on_measurement(&inverter, &m.u.measurement);
        break;
      case GLP_MSG_SETPOINT:
        if (to_battery) (void)battery_on_setpoint(&battery, &m.u.setpoint, &detail);
        else (void)inverter_on_setpoint(&inverter, &m.u.setpoint, &detail);
        break;
      default:
        if (to_battery) (void)battery_on_config(&battery, &m.u.config, &detail);
        else (void)inverter_on_config(&inverter, &m.u.config, &detail);
        break;
    }
    glp_device_state_t s;
    battery_state(&battery, &s);
    check_state(&s, battery.rated_power_w, battery.rated_reactive_var, true);
    inverter_state(&inverter, &s);
    check_state(&s, inverter.rated_power_w, inverter.rated_apparent_va, false);
  }
  return 0;
}
