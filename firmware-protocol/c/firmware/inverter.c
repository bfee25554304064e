#include "inverter.h"

#include <math.h>
#include <string.h>

/* IEEE 1547-2018 Table 8 defaults (category B volt-var) and Table 24/25 frequency-droop defaults
 * (dbOF = dbUF = 0.036 Hz, kOF = kUF = 0.05). */
static const float CAT_B_V[4] = {0.92f, 0.98f, 1.02f, 1.08f};
static const float CAT_B_Q[4] = {0.44f, 0.0f, 0.0f, -0.44f};

void inverter_init(inverter_t *v, const inverter_params_t *p) {
  memset(v, 0, sizeof *v);
  v->rated_power_w = p->rated_power_w > 0 ? p->rated_power_w : 10000.0f;
  v->rated_apparent_va = v->rated_power_w;
  v->rated_reactive_var = 0.44f * v->rated_power_w;
  v->nominal_frequency_hz = p->nominal_frequency_hz > 0 ? p->nominal_frequency_hz : 50.0f;
  v->nominal_voltage_v = 230.0f;
  v->mode = GLP_MODE_GRID_FOLLOWING;
  v->enabled_functions = GLP_FN_FREQ_WATT | GLP_FN_VOLT_VAR;
  v->category = 0x02u | 0x20u; /* B / II */
  /* Available primary power is the upper limit; by default the inverter dispatches all of it. */
  v->p_max_w = p->available_power_w >= 0 && p->available_power_w < v->rated_power_w ? p->available_power_w
                                                                                    : v->rated_power_w;
  v->p_set_w = v->p_max_w;
  v->p_min_w = 0.0f;
  v->q_max_var = v->rated_reactive_var;
  v->droop_pu = 0.05f;
  v->deadband_hz = 0.036f;
  memcpy(v->vv_v, CAT_B_V, sizeof CAT_B_V);
  memcpy(v->vv_q, CAT_B_Q, sizeof CAT_B_Q);
  v->inverter_state = GLP_INVST_STANDBY;
}

static float clampf(float x, float lo, float hi) { return x < lo ? lo : (x > hi ? hi : x); }

float inverter_volt_var_pu(const inverter_t *v, float u) {
  if (u <= v->vv_v[0]) return v->vv_q[0];
  if (u >= v->vv_v[3]) return v->vv_q[3];
  for (int i = 0; i < 3; i++) {
    if (u <= v->vv_v[i + 1]) {
      float span = v->vv_v[i + 1] - v->vv_v[i];
      if (span <= 0.0f) return v->vv_q[i + 1];
      return v->vv_q[i] + (v->vv_q[i + 1] - v->vv_q[i]) * (u - v->vv_v[i]) / span;
    }
  }
  return v->vv_q[3];
}

void inverter_on_measurement(inverter_t *v, const glp_measurement_t *m) {
  v->step = m->step;
  float f_nom = v->nominal_frequency_hz;
  uint32_t alarms = 0;
  if (m->frequency_hz > f_nom * 1.033f) alarms |= GLP_ALRM_OVER_FREQUENCY;
  if (m->frequency_hz < f_nom * 0.95f) alarms |= GLP_ALRM_UNDER_FREQUENCY;
  if (m->voltage_pu > 1.10f) alarms |= GLP_ALRM_AC_OVER_VOLT;
  if (m->voltage_pu < 0.88f) alarms |= GLP_ALRM_AC_UNDER_VOLT;
  v->inverter_alarms = alarms;
  if (v->mode == GLP_MODE_OFF || !isfinite(m->frequency_hz) || !isfinite(m->voltage_pu)) {
    v->p_w = 0.0f;
    v->q_var = 0.0f;
    v->inverter_state = GLP_INVST_STANDBY;
    return;
  }
  /* p_max: available primary power (e.g. PV at its maximum power point); p_set: dispatch, possibly
   * curtailed below it to keep headroom for under-frequency response. */
  float available = v->p_max_w < v->rated_power_w ? v->p_max_w : v->rated_power_w;
  float pre = clampf(v->p_set_w, 0.0f, available);
  float p = pre;
  float q = v->q_set_var;
  bool throttled = false;
  if (v->mode == GLP_MODE_GRID_FORMING && (v->enabled_functions & GLP_FN_GRID_FORMING)) {
    /* P-f and Q-V droop without dead band, about the dispatch set-points. */
    p = v->p_set_w - (m->frequency_hz - f_nom) / (v->droop_pu * f_nom) * v->rated_power_w;
    q = v->q_set_var - (m->voltage_pu - 1.0f) / v->droop_pu * v->rated_reactive_var;
    p = clampf(p, v->p_min_w, v->p_max_w < v->rated_power_w ? v->p_max_w : v->rated_power_w);
  } else {
    if (v->enabled_functions & GLP_FN_FREQ_WATT) {
      float over = m->frequency_hz - (f_nom + v->deadband_hz);
      float under = (f_nom - v->deadband_hz) - m->frequency_hz;
      if (over > 0.0f) {
        p = pre - over / (v->droop_pu * f_nom) * v->rated_power_w;
        throttled = true;
      } else if (under > 0.0f) {
        /* Uses headroom only: never above the available power. */
        p = pre + under / (v->droop_pu * f_nom) * v->rated_power_w;
      }
      p = clampf(p, v->p_min_w > 0.0f ? v->p_min_w : 0.0f, available);
    }
    if (v->enabled_functions & GLP_FN_VOLT_VAR) q = inverter_volt_var_pu(v, m->voltage_pu) * v->rated_reactive_var;
  }
  q = clampf(q, -v->q_max_var, v->q_max_var);
  /* Apparent-power limit with active-power priority. */
  float s_max = v->rated_apparent_va;
  float q_room = s_max * s_max - p * p;
  q_room = q_room > 0.0f ? sqrtf(q_room) : 0.0f;
  q = clampf(q, -q_room, q_room);
  v->p_w = p;
  v->q_var = q;
  v->inverter_state = throttled ? GLP_INVST_THROTTLED : GLP_INVST_RUNNING;
}

int inverter_on_setpoint(inverter_t *v, const glp_setpoint_t *s, uint32_t *detail) {
  if ((s->fields & GLP_SP_ACTIVE_POWER) && !(s->active_power_w >= 0.0f && s->active_power_w <= v->rated_power_w)) {
    *detail = GLP_SP_ACTIVE_POWER;
    return GLP_NACK_OUT_OF_RANGE;
  }
  if ((s->fields & GLP_SP_REACTIVE_POWER) && !(fabsf(s->reactive_power_var) <= v->rated_reactive_var)) {
    *detail = GLP_SP_REACTIVE_POWER;
    return GLP_NACK_OUT_OF_RANGE;
  }
  if ((s->fields & GLP_SP_ACTIVE_POWER_LIMITS) &&
      !(s->active_power_min_w >= 0.0f && s->active_power_min_w <= s->active_power_max_w &&
        s->active_power_max_w <= v->rated_power_w)) {
    *detail = GLP_SP_ACTIVE_POWER_LIMITS;
    return GLP_NACK_OUT_OF_RANGE;
  }
  if ((s->fields & GLP_SP_REACTIVE_POWER_LIMIT) &&
      !(s->reactive_power_max_var >= 0.0f && s->reactive_power_max_var <= v->rated_reactive_var)) {
    *detail = GLP_SP_REACTIVE_POWER_LIMIT;
    return GLP_NACK_OUT_OF_RANGE;
  }
  if ((s->fields & GLP_SP_MODE) && s->mode > GLP_MODE_GRID_FORMING) {
    *detail = GLP_SP_MODE;
    return GLP_NACK_OUT_OF_RANGE;
  }
  const uint32_t supported = GLP_FN_FREQ_WATT | GLP_FN_VOLT_VAR | GLP_FN_GRID_FORMING | GLP_FN_CONSTANT_POWER;
  if ((s->fields & GLP_SP_FUNCTIONS) && (s->enabled_functions & ~supported) != 0) {
    *detail = s->enabled_functions & ~supported;
    return GLP_NACK_UNSUPPORTED_FUNCTION;
  }
  if (s->fields & GLP_SP_ACTIVE_POWER) v->p_set_w = s->active_power_w;
  if (s->fields & GLP_SP_REACTIVE_POWER) v->q_set_var = s->reactive_power_var;
  if (s->fields & GLP_SP_ACTIVE_POWER_LIMITS) {
    v->p_max_w = s->active_power_max_w;
    v->p_min_w = s->active_power_min_w;
  }
  if (s->fields & GLP_SP_REACTIVE_POWER_LIMIT) v->q_max_var = s->reactive_power_max_var;
  if (s->fields & GLP_SP_MODE) v->mode = s->mode;
  if (s->fields & GLP_SP_FUNCTIONS) v->enabled_functions = s->enabled_functions;
  return 0;
}

int inverter_on_config(inverter_t *v, const glp_config_t *c, uint32_t *detail) {
  if ((c->fields & GLP_CFG_FREQUENCY_DROOP) &&
      !(c->droop_pu >= 0.02f && c->droop_pu <= 0.05f && c->frequency_deadband_hz >= 0.017f &&
        c->frequency_deadband_hz <= 1.0f)) {
    /* IEEE 1547-2018 ranges of allowable settings: k 0.02..0.05, db 0.017..1.0 Hz. */
    *detail = GLP_CFG_FREQUENCY_DROOP;
    return GLP_NACK_OUT_OF_RANGE;
  }
  if (c->fields & GLP_CFG_VOLT_VAR) {
    for (int i = 0; i < 4; i++) {
      if (!(c->volt_var_v_pu[i] > 0.5f && c->volt_var_v_pu[i] < 1.5f) || !(fabsf(c->volt_var_q_pu[i]) <= 1.0f) ||
          (i > 0 && c->volt_var_v_pu[i] < c->volt_var_v_pu[i - 1])) {
        *detail = GLP_CFG_VOLT_VAR;
        return GLP_NACK_OUT_OF_RANGE;
      }
    }
  }
  if (c->fields & GLP_CFG_SOC_LIMITS) {
    *detail = GLP_CFG_SOC_LIMITS;
    return GLP_NACK_UNSUPPORTED_FUNCTION;
  }
  if (c->fields & GLP_CFG_FREQUENCY_DROOP) {
    v->droop_pu = c->droop_pu;
    v->deadband_hz = c->frequency_deadband_hz;
  }
  if (c->fields & GLP_CFG_VOLT_VAR) {
    memcpy(v->vv_v, c->volt_var_v_pu, sizeof v->vv_v);
    memcpy(v->vv_q, c->volt_var_q_pu, sizeof v->vv_q);
  }
  if (c->fields & GLP_CFG_CATEGORY) v->category = c->ieee1547_category;
  return 0;
}

void inverter_safe_state(inverter_t *v) {
  v->p_w = 0.0f;
  v->q_var = 0.0f;
  v->inverter_state = GLP_INVST_STANDBY;
}

void inverter_state(const inverter_t *v, glp_device_state_t *out) {
  memset(out, 0, sizeof *out);
  out->step = v->step;
  out->active_power_w = v->p_w;
  out->reactive_power_var = v->q_var;
  out->state_of_charge = NAN;
  out->mode = v->mode;
  out->inverter_state = v->inverter_state;
  out->charge_state = GLP_CHAST_NOT_APPLICABLE;
  out->inverter_alarms = v->inverter_alarms;
}

void inverter_hello(const inverter_t *v, glp_hello_t *h) {
  memset(h, 0, sizeof *h);
  h->device_type = GLP_DEVICE_INVERTER;
  h->protocol_major = GLP_PROTOCOL_VERSION;
  h->protocol_minor = GLP_PROTOCOL_VERSION_MINOR;
  h->firmware_minor = 1;
  h->ieee1547_categories = 0x01u | 0x02u | 0x10u | 0x20u | 0x40u;
  h->functions = GLP_FN_FREQ_WATT | GLP_FN_VOLT_VAR | GLP_FN_GRID_FORMING | GLP_FN_CONSTANT_POWER;
  h->rated_active_power_w = v->rated_power_w;
  h->rated_reactive_power_var = v->rated_reactive_var;
  h->rated_apparent_power_va = v->rated_apparent_va;
  h->rated_energy_wh = 0.0f;
  h->nominal_voltage_v = v->nominal_voltage_v;
  h->nominal_frequency_hz = v->nominal_frequency_hz;
  h->serial_number = 0x1A7E0001u;
}
