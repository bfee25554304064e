/* Battery controller: frequency droop around a set-point, SoC tracking with charge/discharge
 * efficiencies, power and SoC limits, BMS alarms modelled on SunSpec 802. Pure logic, no I/O. */
#ifndef GLP_BATTERY_H
#define GLP_BATTERY_H

#include "glp.h"

typedef struct {
  /* ratings */
  float rated_power_w;
  float rated_reactive_var;
  float capacity_wh;
  float charge_efficiency;
  float discharge_efficiency;
  float nominal_frequency_hz;
  float nominal_voltage_v;
  /* settings (SETPOINT / CONFIG) */
  uint8_t mode;
  uint32_t enabled_functions;
  float p_set_w, q_set_var, p_max_w, p_min_w, q_max_var;
  float droop_pu, deadband_hz;
  float soc_min, soc_max;
  /* state */
  double soc;
  double last_time_s;
  bool has_time;
  float p_w, q_var;
  uint8_t inverter_state, charge_state;
  uint32_t inverter_alarms, bms_events;
  uint32_t step;
} battery_t;

typedef struct {
  float rated_power_w;
  float capacity_wh;
  float initial_soc;
  float nominal_frequency_hz;
} battery_params_t;

void battery_init(battery_t *b, const battery_params_t *params);
/* Integrates SoC over the time since the previous measurement with the power then applied, then
 * computes the new operating point for this measurement. */
void battery_on_measurement(battery_t *b, const glp_measurement_t *m);
/* Returns 0 when applied, else a glp_nack_reason (detail: offending field bit). */
int battery_on_setpoint(battery_t *b, const glp_setpoint_t *s, uint32_t *detail);
int battery_on_config(battery_t *b, const glp_config_t *c, uint32_t *detail);
/* Watchdog expiry: stop exchanging power. */
void battery_safe_state(battery_t *b);
void battery_state(const battery_t *b, glp_device_state_t *out);
void battery_hello(const battery_t *b, glp_hello_t *h);

#endif
