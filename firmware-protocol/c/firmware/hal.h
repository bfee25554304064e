/*
 * Tiny HAL: everything the example firmware needs from a platform. A microcontroller port
 * implements these with its UART driver and a timer; hal_posix.c implements them on a host over a
 * pseudo-terminal or tty so the same firmware runs as an emulated board.
 */
#ifndef GLP_HAL_H
#define GLP_HAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Writes bytes to the UART; returns bytes accepted (may be fewer when the TX buffer is full). */
size_t hal_uart_write(const uint8_t *data, size_t len);
/* Reads up to cap bytes, waiting at most timeout_ms; returns bytes read (0 on timeout). */
size_t hal_uart_read(uint8_t *buf, size_t cap, uint32_t timeout_ms);
/* Monotonic microseconds since boot. */
uint64_t hal_now_us(void);
/* Signing clock: 10 us units since 2015-01-01T00:00:00Z (MAVLink's epoch). */
uint64_t hal_signing_time(void);
/* True when the platform asks the firmware to stop (host: SIGTERM/SIGINT or stdin closed). */
bool hal_should_stop(void);
/* Diagnostic text (host: stderr when verbose; MCU: may be a no-op). */
void hal_log(const char *message);

#endif
