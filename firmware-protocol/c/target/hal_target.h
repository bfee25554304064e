/* Start-up of a Cortex-M board: what main_target.c needs beyond hal.h (clock, UART and interrupts
 * started, the provisioning read). Implemented by hal_qemu.c for QEMU's machines. */
#ifndef GLP_HAL_TARGET_H
#define GLP_HAL_TARGET_H

#include <stdbool.h>
#include <stdint.h>

#include "glp.h"

typedef struct {
  uint16_t device_id;
  bool has_key;
  uint8_t key[GLP_SIGNING_KEY_LEN];
  uint8_t link_id;
  bool require_signed;
  uint32_t hello_interval_ms, heartbeat_interval_ms, watchdog_ms;
  bool verbose;
  /* Tests only: fault on purpose this long after boot (0: never). */
  uint32_t crash_after_ms;
} target_config_t;

/* Starts the tick and the UART (receive interrupt on) and reads the provisioning. */
void hal_target_init(target_config_t *config);
/* Called once per main-loop pass. */
void hal_target_poll(const target_config_t *config);

#endif
