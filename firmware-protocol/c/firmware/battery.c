#include "battery.h"

#include <math.h>
#include <string.h>

void battery_init(battery_t *b, const battery_params_t *p) {
  memset(b, 0, sizeof *b);
  b->rated_power_w = p->rated_power_w > 0 ? p->rated_power_w : 5000.0f;
  b->rated_reactive_var = b->rated_power_w;
  b->capacity_wh = p->capacity_wh > 0 ? p->capacity_wh : 10000.0f;
  b->charge_efficiency = 0.95f;
  b->discharge_efficiency = 0.95f;
  b->nominal_frequency_hz = p->nominal_frequency_hz > 0 ? p->nominal_frequency_hz : 50.0f;
  b->nominal_voltage_v = 230.0f;
  b->mode = GLP_MODE_GRID_FOLLOWING;
  b->enabled_functions = GLP_FN_FREQ_WATT | GLP_FN_SOC_MANAGEMENT;
  b->p_max_w = b->rated_power_w;
  b->p_min_w = -b->rated_power_w;
  b->q_max_var = b->rated_reactive_var;
  b->droop_pu = 0.05f;
  b->deadband_hz = 0.0f;
  b->soc_min = 0.10f;
  b->soc_max = 0.90f;
  b->soc = p->initial_soc >= 0.0f && p->initial_soc <= 1.0f ? p->initial_soc : 0.5;
  b->inverter_state = GLP_INVST_STANDBY;
  b->charge_state = GLP_CHAST_HOLDING;
}

static float clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

/* Frequency deviation outside the dead band (0 inside it). */
static float outside_deadband(float deviation, float deadband) {
  if (deviation > deadband) return deviation - deadband;
  if (deviation < -deadband) return deviation + deadband;
  return 0.0f;
}

static void integrate_soc(battery_t *b, double dt_s) {
  if (dt_s <= 0.0) return;
  double energy_wh = (double)b->p_w * dt_s / 3600.0; /* >0 discharged to the grid */
  double stored_change = energy_wh > 0 ? -energy_wh / b->discharge_efficiency : -energy_wh * b->charge_efficiency;
  b->soc += stored_change / b->capacity_wh;
  if (b->soc < 0.0) b->soc = 0.0;
  if (b->soc > 1.0) b->soc = 1.0;
}

void battery_on_measurement(battery_t *b, const glp_measurement_t *m) {
  /* Zero-order hold: the power reported at the previous measurement applied until this one. */
  /* A non-finite twin time is ignored rather than poisoning every later integration step. */
  if (isfinite(m->twin_time_s)) {
    if (b->has_time) {
      double dt = m->twin_time_s - b->last_time_s;
      if (dt > 0.0 && dt <= 86400.0) integrate_soc(b, dt);
    }
    b->last_time_s = m->twin_time_s;
    b->has_time = true;
  }
  b->step = m->step;

  float f_nom = b->nominal_frequency_hz;
  uint32_t inv_alarms = 0;
  if (m->frequency_hz > f_nom * 1.033f) inv_alarms |= GLP_ALRM_OVER_FREQUENCY;
  if (m->frequency_hz < f_nom * 0.95f) inv_alarms |= GLP_ALRM_UNDER_FREQUENCY;
  if (m->voltage_pu > 1.10f) inv_alarms |= GLP_ALRM_AC_OVER_VOLT;
  if (m->voltage_pu < 0.88f) inv_alarms |= GLP_ALRM_AC_UNDER_VOLT;

  uint32_t bms = 0;
  if (b->soc <= b->soc_min) bms |= GLP_BMS_UNDER_SOC_MIN_WARNING;
  if (b->soc <= 0.0) bms |= GLP_BMS_UNDER_SOC_MIN_ALARM;
  if (b->soc >= b->soc_max) bms |= GLP_BMS_OVER_SOC_MAX_WARNING;
  if (b->soc >= 1.0) bms |= GLP_BMS_OVER_SOC_MAX_ALARM;

  if (b->mode == GLP_MODE_OFF || !isfinite(m->frequency_hz)) {
    b->p_w = 0.0f;
    b->q_var = 0.0f;
    b->inverter_state = GLP_INVST_STANDBY;
    b->charge_state = GLP_CHAST_HOLDING;
    b->inverter_alarms = inv_alarms;
    b->bms_events = bms;
    return;
  }

  float p = b->p_set_w;
  bool droop = (b->enabled_functions & GLP_FN_FREQ_WATT) != 0 || b->mode == GLP_MODE_GRID_FORMING;
  if (droop && b->droop_pu > 0.0f) {
    float deadband = b->mode == GLP_MODE_GRID_FORMING ? 0.0f : b->deadband_hz;
    float dev = outside_deadband(m->frequency_hz - f_nom, deadband);
    p -= dev / (b->droop_pu * f_nom) * b->rated_power_w;
  }
  float requested = p;
  float hi = b->p_max_w < b->rated_power_w ? b->p_max_w : b->rated_power_w;
  float lo = b->p_min_w > -b->rated_power_w ? b->p_min_w : -b->rated_power_w;
  p = clampf(p, lo, hi);
  if (requested > hi) bms |= GLP_BMS_OVER_DISCHARGE_CURRENT_WARNING;
  if (requested < lo) bms |= GLP_BMS_OVER_CHARGE_CURRENT_WARNING;
  bool soc_limited = false;
  /* The BMS always enforces the SoC window: no discharge at/below min, no charge at/above max. */
  if (b->soc <= b->soc_min && p > 0.0f) {
    p = 0.0f;
    soc_limited = true;
  }
  if (b->soc >= b->soc_max && p < 0.0f) {
    p = 0.0f;
    soc_limited = true;
  }
  b->p_w = p;
  b->q_var = clampf(b->q_set_var, -b->q_max_var, b->q_max_var);
  b->inverter_alarms = inv_alarms;
  b->bms_events = bms;
  b->inverter_state = (p != requested || soc_limited) ? GLP_INVST_THROTTLED : GLP_INVST_RUNNING;
  if (b->soc <= b->soc_min && p >= 0.0f) b->charge_state = GLP_CHAST_EMPTY;
  else if (b->soc >= b->soc_max && p <= 0.0f) b->charge_state = GLP_CHAST_FULL;
  else if (p > 0.0f) b->charge_state = GLP_CHAST_DISCHARGING;
  else if (p < 0.0f) b->charge_state = GLP_CHAST_CHARGING;
  else b->charge_state = GLP_CHAST_HOLDING;
}

int battery_on_setpoint(battery_t *b, const glp_setpoint_t *s, uint32_t *detail) {
  float lim = b->rated_power_w;
  if ((s->fields & GLP_SP_ACTIVE_POWER) && !(fabsf(s->active_power_w) <= lim)) {
    *detail = GLP_SP_ACTIVE_POWER;
    return GLP_NACK_OUT_OF_RANGE;
  }
  if ((s->fields & GLP_SP_REACTIVE_POWER) && !(fabsf(s->reactive_power_var) <= b->rated_reactive_var)) {
    *detail = GLP_SP_REACTIVE_POWER;
    return GLP_NACK_OUT_OF_RANGE;
  }
  if ((s->fields & GLP_SP_ACTIVE_POWER_LIMITS) &&
      !(s->active_power_min_w <= s->active_power_max_w && s->active_power_max_w <= lim &&
        s->active_power_min_w >= -lim)) {
    *detail = GLP_SP_ACTIVE_POWER_LIMITS;
    return GLP_NACK_OUT_OF_RANGE;
  }
  if ((s->fields & GLP_SP_REACTIVE_POWER_LIMIT) &&
      !(s->reactive_power_max_var >= 0.0f && s->reactive_power_max_var <= b->rated_reactive_var)) {
    *detail = GLP_SP_REACTIVE_POWER_LIMIT;
    return GLP_NACK_OUT_OF_RANGE;
  }
  if ((s->fields & GLP_SP_MODE) && s->mode > GLP_MODE_GRID_FORMING) {
    *detail = GLP_SP_MODE;
    return GLP_NACK_OUT_OF_RANGE;
  }
  const uint32_t supported = GLP_FN_FREQ_WATT | GLP_FN_GRID_FORMING | GLP_FN_SOC_MANAGEMENT | GLP_FN_CONSTANT_POWER;
  if ((s->fields & GLP_SP_FUNCTIONS) && (s->enabled_functions & ~supported) != 0) {
    *detail = s->enabled_functions & ~supported;
    return GLP_NACK_UNSUPPORTED_FUNCTION;
  }
  if (s->fields & GLP_SP_ACTIVE_POWER) b->p_set_w = s->active_power_w;
  if (s->fields & GLP_SP_REACTIVE_POWER) b->q_set_var = s->reactive_power_var;
  if (s->fields & GLP_SP_ACTIVE_POWER_LIMITS) {
    b->p_max_w = s->active_power_max_w;
    b->p_min_w = s->active_power_min_w;
  }
  if (s->fields & GLP_SP_REACTIVE_POWER_LIMIT) b->q_max_var = s->reactive_power_max_var;
  if (s->fields & GLP_SP_MODE) b->mode = s->mode;
  if (s->fields & GLP_SP_FUNCTIONS) b->enabled_functions = s->enabled_functions;
  return 0;
}

int battery_on_config(battery_t *b, const glp_config_t *c, uint32_t *detail) {
  if ((c->fields & GLP_CFG_FREQUENCY_DROOP) &&
      !(c->droop_pu > 0.0f && c->droop_pu <= 1.0f && c->frequency_deadband_hz >= 0.0f &&
        c->frequency_deadband_hz < 5.0f)) {
    *detail = GLP_CFG_FREQUENCY_DROOP;
    return GLP_NACK_OUT_OF_RANGE;
  }
  if ((c->fields & GLP_CFG_SOC_LIMITS) &&
      !(c->state_of_charge_min >= 0.0f && c->state_of_charge_min < c->state_of_charge_max &&
        c->state_of_charge_max <= 1.0f)) {
    *detail = GLP_CFG_SOC_LIMITS;
    return GLP_NACK_OUT_OF_RANGE;
  }
  if (c->fields & GLP_CFG_VOLT_VAR) {
    *detail = GLP_CFG_VOLT_VAR;
    return GLP_NACK_UNSUPPORTED_FUNCTION;
  }
  if (c->fields & GLP_CFG_FREQUENCY_DROOP) {
    b->droop_pu = c->droop_pu;
    b->deadband_hz = c->frequency_deadband_hz;
  }
  if (c->fields & GLP_CFG_SOC_LIMITS) {
    b->soc_min = c->state_of_charge_min;
    b->soc_max = c->state_of_charge_max;
  }
  return 0;
}

void battery_safe_state(battery_t *b) {
  b->p_w = 0.0f;
  b->q_var = 0.0f;
  b->inverter_state = GLP_INVST_STANDBY;
  b->charge_state = GLP_CHAST_HOLDING;
  b->bms_events |= GLP_BMS_COMMUNICATION_ERROR;
}

void battery_state(const battery_t *b, glp_device_state_t *out) {
  memset(out, 0, sizeof *out);
  out->step = b->step;
  out->active_power_w = b->p_w;
  out->reactive_power_var = b->q_var;
  out->state_of_charge = (float)b->soc;
  out->mode = b->mode;
  out->inverter_state = b->inverter_state;
  out->charge_state = b->charge_state;
  out->inverter_alarms = b->inverter_alarms;
  out->bms_events = b->bms_events;
}

void battery_hello(const battery_t *b, glp_hello_t *h) {
  memset(h, 0, sizeof *h);
  h->device_type = GLP_DEVICE_BATTERY;
  h->protocol_major = GLP_PROTOCOL_VERSION;
  h->protocol_minor = GLP_PROTOCOL_VERSION_MINOR;
  h->firmware_major = 0;
  h->firmware_minor = 1;
  h->firmware_patch = 0;
  h->ieee1547_categories = 0x02u | 0x40u; /* normal B, abnormal III */
  h->functions = GLP_FN_FREQ_WATT | GLP_FN_GRID_FORMING | GLP_FN_SOC_MANAGEMENT | GLP_FN_CONSTANT_POWER;
  h->rated_active_power_w = b->rated_power_w;
  h->rated_reactive_power_var = b->rated_reactive_var;
  h->rated_apparent_power_va = b->rated_power_w;
  h->rated_energy_wh = b->capacity_wh;
  h->nominal_voltage_v = b->nominal_voltage_v;
  h->nominal_frequency_hz = b->nominal_frequency_hz;
  h->serial_number = 0x42A77E01u;
}
