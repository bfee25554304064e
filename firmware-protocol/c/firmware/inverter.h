/* Inverter controller: grid-following with IEEE 1547-2018 frequency-watt and volt-var, optional
 * grid-forming P-f / Q-V droop. Pure logic, no I/O. */
#ifndef GLP_INVERTER_H
#define GLP_INVERTER_H

#include "glp.h"

typedef struct {
  float rated_power_w, rated_apparent_va, rated_reactive_var;
  float nominal_frequency_hz, nominal_voltage_v;
  uint8_t mode;
  uint32_t enabled_functions;
  uint8_t category;
  /* p_max_w: available primary power (e.g. PV), W; p_set_w: dispatch (<= available) */
  float p_set_w, q_set_var, p_max_w, p_min_w, q_max_var;
  float droop_pu, deadband_hz;
  float vv_v[4], vv_q[4];
  /* state */
  float p_w, q_var;
  uint8_t inverter_state;
  uint32_t inverter_alarms;
  uint32_t step;
} inverter_t;

typedef struct {
  float rated_power_w;
  float available_power_w;
  float nominal_frequency_hz;
} inverter_params_t;

void inverter_init(inverter_t *v, const inverter_params_t *params);
void inverter_on_measurement(inverter_t *v, const glp_measurement_t *m);
int inverter_on_setpoint(inverter_t *v, const glp_setpoint_t *s, uint32_t *detail);
int inverter_on_config(inverter_t *v, const glp_config_t *c, uint32_t *detail);
void inverter_safe_state(inverter_t *v);
void inverter_state(const inverter_t *v, glp_device_state_t *out);
void inverter_hello(const inverter_t *v, glp_hello_t *h);
/* Piecewise-linear volt-var curve, flat outside V1..V4 (fraction of rated Q). */
float inverter_volt_var_pu(const inverter_t *v, float voltage_pu);

#endif
