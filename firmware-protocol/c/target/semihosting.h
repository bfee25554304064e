/* Arm semihosting: the emulated board's line to its host (QEMU -semihosting-config enable=on).
 * Only the QEMU images use it: on a real part without a debugger attached, BKPT 0xAB faults. */
#ifndef GLP_SEMIHOSTING_H
#define GLP_SEMIHOSTING_H

#include <stddef.h>
#include <stdint.h>

/* Writes a NUL-terminated string to the host's console (QEMU: its stderr or the semihosting chardev). */
void semihost_write(const char *text);
/* Copies the command line QEMU was given (-semihosting-config arg=...) into buf; returns its length or -1. */
int semihost_cmdline(char *buf, size_t cap);
/* Host wall-clock time, seconds since 1970 (the emulated board's real-time clock at boot). */
uint32_t semihost_time(void);
/* Host time since QEMU started, ns (SYS_ELAPSED; QEMU counts in nanoseconds). */
uint64_t semihost_elapsed_ns(void);
/* Ends the emulation: QEMU exits with status 0 (success) or 1. */
void semihost_exit(int success) __attribute__((noreturn));

#endif
