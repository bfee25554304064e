/* Host (POSIX) side of the HAL: command line, pseudo-terminal or tty, signals, clocks. */
#ifndef GLP_HAL_POSIX_H
#define GLP_HAL_POSIX_H

#include <stdbool.h>
#include <stdint.h>

#include "board.h"
#include "glp.h"

typedef struct {
  bool use_pty;
  const char *device_path;
  uint16_t device_id;
  bool has_key;
  uint8_t key[GLP_SIGNING_KEY_LEN];
  uint8_t link_id;
  bool require_signed;
  uint32_t hello_interval_ms, heartbeat_interval_ms, watchdog_ms;
  bool verbose;
  float nominal_frequency_hz;
  float rated_power_w;
  float capacity_wh;
  float initial_soc;
  float available_power_w;
} host_options_t;

/* Parses argv; on error prints usage to stderr and returns false. */
bool host_parse_args(int argc, char **argv, const char *program, host_options_t *options);
/* Opens the pty (printing "PTY <path>") or the device (printing "DEVICE <path>"), installs signal
 * handlers and the stdin watch. Returns false (after printing why) on failure. */
bool host_open(const host_options_t *options);
void host_close(void);

/* The whole main() of a host board: parses the options, builds the device model with init_model,
 * opens the port and runs the board until it is stopped. Returns the process's exit status (2: bad
 * arguments, 3: the port did not open). */
int host_board_main(int argc, char **argv, const char *program, const board_app_t *app, void *model,
                    void (*init_model)(void *model, const host_options_t *options));

#endif
