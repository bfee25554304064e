/* Example firmware physics against closed-form values. */
#include <string.h>

#include "battery.h"
#include "check.h"
#include "inverter.h"

static glp_measurement_t meas(uint32_t step, double t, float f, float v) {
  glp_measurement_t m;
  memset(&m, 0, sizeof m);
  m.step = step;
  m.twin_time_s = t;
  m.frequency_hz = f;
  m.voltage_pu = v;
  return m;
}

static void set_p(battery_t *b, float p) {
  glp_setpoint_t s;
  memset(&s, 0, sizeof s);
  s.fields = GLP_SP_ACTIVE_POWER;
  s.active_power_w = p;
  uint32_t detail = 0;
  CHECK_EQ_INT(battery_on_setpoint(b, &s, &detail), 0);
}

static void test_battery_droop(void) {
  battery_t b;
  battery_params_t p = {5000.0f, 10000.0f, 0.5f, 50.0f};
  battery_init(&b, &p);
  /* P = P_set - (f - f_nom) / (R f_nom) * P_rated, R = 0.05: 0.1 Hz low -> +200 W */
  glp_measurement_t m = meas(1, 0.0, 49.9f, 1.0f);
  battery_on_measurement(&b, &m);
  CHECK_NEAR(b.p_w, 200.0, 0.01);
  m = meas(2, 0.01, 50.25f, 1.0f);
  set_p(&b, 1000.0f);
  battery_on_measurement(&b, &m);
  CHECK_NEAR(b.p_w, 1000.0 - 0.25 / 2.5 * 5000.0, 0.01);
  CHECK_EQ_INT(b.charge_state, GLP_CHAST_DISCHARGING);
  m = meas(3, 0.015, 50.75f, 1.0f);
  battery_on_measurement(&b, &m);
  CHECK_NEAR(b.p_w, 1000.0 - 0.75 / 2.5 * 5000.0, 0.01);
  CHECK_EQ_INT(b.charge_state, GLP_CHAST_CHARGING);
  /* deep under-frequency (1000 + 6000 W requested) saturates at the rated power and warns */
  m = meas(3, 0.02, 47.0f, 1.0f);
  battery_on_measurement(&b, &m);
  CHECK_NEAR(b.p_w, 5000.0, 1e-3);
  CHECK((b.bms_events & GLP_BMS_OVER_DISCHARGE_CURRENT_WARNING) != 0);
  CHECK_EQ_INT(b.inverter_state, GLP_INVST_THROTTLED);
  CHECK((b.inverter_alarms & GLP_ALRM_UNDER_FREQUENCY) != 0);
}

static void test_battery_soc(void) {
  battery_t b;
  battery_params_t p = {5000.0f, 10000.0f, 0.5f, 50.0f};
  battery_init(&b, &p);
  set_p(&b, 1000.0f);
  glp_measurement_t m = meas(1, 0.0, 50.0f, 1.0f);
  battery_on_measurement(&b, &m);
  CHECK_NEAR(b.p_w, 1000.0, 1e-3);
  /* one hour at 1 kW discharge, eta_d = 0.95: dSoC = -1000 / 0.95 / 10000 */
  m = meas(2, 3600.0, 50.0f, 1.0f);
  battery_on_measurement(&b, &m);
  CHECK_NEAR(b.soc, 0.5 - 1000.0 / 0.95 / 10000.0, 1e-6);
  /* one hour at 2 kW charge, eta_c = 0.95: dSoC = +2000 * 0.95 / 10000 */
  double before = b.soc;
  set_p(&b, -2000.0f);
  battery_on_measurement(&b, &m); /* same time: no integration, new power */
  CHECK_NEAR(b.soc, before, 1e-12);
  m = meas(3, 7200.0, 50.0f, 1.0f);
  battery_on_measurement(&b, &m);
  CHECK_NEAR(b.soc, before + 2000.0 * 0.95 / 10000.0, 1e-6);
  /* a NaN twin time is ignored: integration continues from the last finite time */
  before = b.soc;
  glp_measurement_t bad = meas(99, NAN, 50.0f, 1.0f);
  battery_on_measurement(&b, &bad);
  CHECK_NEAR(b.soc, before, 1e-12);
  m = meas(4, 7200.0 + 1800.0, 50.0f, 1.0f);
  battery_on_measurement(&b, &m);
  CHECK_NEAR(b.soc, before + 2000.0 * 0.5 * 0.95 / 10000.0, 1e-6);
  /* time going backwards (new run) never integrates */
  before = b.soc;
  m = meas(5, 10.0, 50.0f, 1.0f);
  battery_on_measurement(&b, &m);
  CHECK_NEAR(b.soc, before, 1e-12);
}

static void test_battery_soc_limits(void) {
  battery_t b;
  battery_params_t p = {5000.0f, 1000.0f, 0.11f, 50.0f};
  battery_init(&b, &p);
  set_p(&b, 5000.0f);
  glp_measurement_t m = meas(1, 0.0, 50.0f, 1.0f);
  battery_on_measurement(&b, &m);
  CHECK_NEAR(b.p_w, 5000.0, 1e-3);
  /* 5 kW for 10 s from 1 kWh: -13.9 Wh stored -> SoC 0.11 - 0.0146 < soc_min = 0.10 */
  m = meas(2, 10.0, 50.0f, 1.0f);
  battery_on_measurement(&b, &m);
  CHECK(b.soc < 0.10);
  CHECK_NEAR(b.p_w, 0.0, 1e-9);
  CHECK((b.bms_events & GLP_BMS_UNDER_SOC_MIN_WARNING) != 0);
  CHECK_EQ_INT(b.charge_state, GLP_CHAST_EMPTY);
  CHECK_EQ_INT(b.inverter_state, GLP_INVST_THROTTLED);
  /* charging is still allowed when empty */
  set_p(&b, -1000.0f);
  battery_on_measurement(&b, &m);
  CHECK_NEAR(b.p_w, -1000.0, 1e-3);
  /* full: no charge */
  battery_params_t full = {5000.0f, 1000.0f, 0.95f, 50.0f};
  battery_init(&b, &full);
  set_p(&b, -1000.0f);
  battery_on_measurement(&b, &m);
  CHECK_NEAR(b.p_w, 0.0, 1e-9);
  CHECK((b.bms_events & GLP_BMS_OVER_SOC_MAX_WARNING) != 0);
  CHECK_EQ_INT(b.charge_state, GLP_CHAST_FULL);
}

static void test_battery_commands(void) {
  battery_t b;
  battery_params_t p = {5000.0f, 10000.0f, 0.5f, 60.0f};
  battery_init(&b, &p);
  glp_setpoint_t s;
  memset(&s, 0, sizeof s);
  uint32_t detail = 0;
  s.fields = GLP_SP_ACTIVE_POWER;
  s.active_power_w = 6000.0f;
  CHECK_EQ_INT(battery_on_setpoint(&b, &s, &detail), GLP_NACK_OUT_OF_RANGE);
  CHECK_EQ_INT(detail, GLP_SP_ACTIVE_POWER);
  s.fields = GLP_SP_FUNCTIONS;
  s.enabled_functions = GLP_FN_VOLT_VAR;
  CHECK_EQ_INT(battery_on_setpoint(&b, &s, &detail), GLP_NACK_UNSUPPORTED_FUNCTION);
  s.fields = GLP_SP_ACTIVE_POWER_LIMITS;
  s.active_power_max_w = 2000.0f;
  s.active_power_min_w = -1000.0f;
  CHECK_EQ_INT(battery_on_setpoint(&b, &s, &detail), 0);
  glp_config_t c;
  memset(&c, 0, sizeof c);
  c.fields = GLP_CFG_FREQUENCY_DROOP;
  c.droop_pu = 0.04f;
  c.frequency_deadband_hz = 0.036f;
  CHECK_EQ_INT(battery_on_config(&b, &c, &detail), 0);
  /* 60 Hz, R = 4 %, db 0.036 Hz: f = 59.836 -> 0.128 Hz outside -> 0.128 / 2.4 * 5000 = 266.7 W */
  glp_measurement_t m = meas(1, 0.0, 59.8f, 1.0f);
  battery_on_measurement(&b, &m);
  CHECK_NEAR(b.p_w, (60.0 - 0.036 - 59.8) / (0.04 * 60.0) * 5000.0, 0.05);
  /* limits apply */
  m = meas(2, 0.0, 59.0f, 1.0f);
  battery_on_measurement(&b, &m);
  CHECK_NEAR(b.p_w, 2000.0, 1e-3);
  m = meas(3, 0.0, 61.0f, 1.0f);
  battery_on_measurement(&b, &m);
  CHECK_NEAR(b.p_w, -1000.0, 1e-3);
  CHECK((b.bms_events & GLP_BMS_OVER_CHARGE_CURRENT_WARNING) != 0);
  c.fields = GLP_CFG_SOC_LIMITS;
  c.state_of_charge_min = 0.9f;
  c.state_of_charge_max = 0.2f;
  CHECK_EQ_INT(battery_on_config(&b, &c, &detail), GLP_NACK_OUT_OF_RANGE);
  /* mode OFF: no power */
  s.fields = GLP_SP_MODE;
  s.mode = GLP_MODE_OFF;
  CHECK_EQ_INT(battery_on_setpoint(&b, &s, &detail), 0);
  battery_on_measurement(&b, &m);
  CHECK_NEAR(b.p_w, 0.0, 1e-9);
  /* watchdog safe state */
  battery_safe_state(&b);
  CHECK((b.bms_events & GLP_BMS_COMMUNICATION_ERROR) != 0);
  CHECK_EQ_INT(b.inverter_state, GLP_INVST_STANDBY);
}

static void test_inverter(void) {
  inverter_t v;
  inverter_params_t p = {10000.0f, -1.0f, 50.0f};
  inverter_init(&v, &p);
  /* IEEE 1547-2018 category B volt-var defaults: (0.92, 0.44) (0.98, 0) (1.02, 0) (1.08, -0.44) */
  CHECK_NEAR(inverter_volt_var_pu(&v, 0.90f), 0.44, 1e-6);
  CHECK_NEAR(inverter_volt_var_pu(&v, 0.95f), 0.22, 1e-5);
  CHECK_NEAR(inverter_volt_var_pu(&v, 1.00f), 0.0, 1e-6);
  CHECK_NEAR(inverter_volt_var_pu(&v, 1.05f), -0.22, 1e-5);
  CHECK_NEAR(inverter_volt_var_pu(&v, 1.20f), -0.44, 1e-6);
  /* over-frequency: P = P_pre - (f - (f_nom + db)) / (k f_nom) * P_rated, k = 0.05, db = 0.036 */
  glp_setpoint_t s;
  memset(&s, 0, sizeof s);
  uint32_t detail = 0;
  s.fields = GLP_SP_ACTIVE_POWER;
  s.active_power_w = 8000.0f;
  CHECK_EQ_INT(inverter_on_setpoint(&v, &s, &detail), 0);
  glp_measurement_t m = meas(1, 0.0, 50.5f, 1.0f);
  inverter_on_measurement(&v, &m);
  CHECK_NEAR(v.p_w, 8000.0 - (50.5 - 50.036) / 2.5 * 10000.0, 0.1);
  CHECK_EQ_INT(v.inverter_state, GLP_INVST_THROTTLED);
  /* under-frequency uses headroom between dispatch (6 kW) and available (10 kW) */
  s.active_power_w = 6000.0f;
  CHECK_EQ_INT(inverter_on_setpoint(&v, &s, &detail), 0);
  m = meas(2, 0.0, 49.8f, 1.0f);
  inverter_on_measurement(&v, &m);
  CHECK_NEAR(v.p_w, 6000.0 + (49.964 - 49.8) / 2.5 * 10000.0, 0.1);
  /* ... but never above the available power */
  m = meas(3, 0.0, 48.0f, 1.0f);
  inverter_on_measurement(&v, &m);
  CHECK_NEAR(v.p_w, 10000.0, 1e-3);
  /* inside the dead band: dispatch unchanged; volt-var gives Q; S-limit with P priority */
  m = meas(4, 0.0, 50.03f, 0.95f);
  inverter_on_measurement(&v, &m);
  CHECK_NEAR(v.p_w, 6000.0, 1e-3);
  CHECK_NEAR(v.q_var, 0.22 * 4400.0, 0.5);
  s.active_power_w = 9900.0f;
  CHECK_EQ_INT(inverter_on_setpoint(&v, &s, &detail), 0);
  m = meas(5, 0.0, 50.0f, 0.90f);
  inverter_on_measurement(&v, &m);
  CHECK_NEAR(v.q_var, sqrt(10000.0 * 10000.0 - 9900.0 * 9900.0), 1.0);
  /* grid-forming droop: P = P_set - (f - f_nom) / (m f_nom) P_rated without dead band */
  s.fields = GLP_SP_MODE | GLP_SP_FUNCTIONS | GLP_SP_ACTIVE_POWER;
  s.mode = GLP_MODE_GRID_FORMING;
  s.enabled_functions = GLP_FN_GRID_FORMING;
  s.active_power_w = 5000.0f;
  CHECK_EQ_INT(inverter_on_setpoint(&v, &s, &detail), 0);
  m = meas(6, 0.0, 50.02f, 1.0f);
  inverter_on_measurement(&v, &m);
  CHECK_NEAR(v.p_w, 5000.0 - 0.02 / 2.5 * 10000.0, 0.1);
  /* IEEE 1547 range of allowable droop settings */
  glp_config_t c;
  memset(&c, 0, sizeof c);
  c.fields = GLP_CFG_FREQUENCY_DROOP;
  c.droop_pu = 0.10f;
  c.frequency_deadband_hz = 0.036f;
  CHECK_EQ_INT(inverter_on_config(&v, &c, &detail), GLP_NACK_OUT_OF_RANGE);
  c.fields = GLP_CFG_VOLT_VAR;
  const float vv[4] = {0.9f, 1.0f, 1.0f, 1.1f}, qq[4] = {0.25f, 0.0f, 0.0f, -0.25f}; /* category A */
  memcpy(c.volt_var_v_pu, vv, sizeof vv);
  memcpy(c.volt_var_q_pu, qq, sizeof qq);
  CHECK_EQ_INT(inverter_on_config(&v, &c, &detail), 0);
  CHECK_NEAR(inverter_volt_var_pu(&v, 1.05f), -0.125, 1e-5);
  glp_device_state_t st;
  inverter_state(&v, &st);
  CHECK(isnan(st.state_of_charge));
  CHECK_EQ_INT(st.charge_state, GLP_CHAST_NOT_APPLICABLE);
}

void test_models(void) {
  test_battery_droop();
  test_battery_soc();
  test_battery_soc_limits();
  test_battery_commands();
  test_inverter();
}
