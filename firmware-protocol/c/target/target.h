/* What startup.c needs from the rest of a Cortex-M image, and what it gives. */
#ifndef GLP_TARGET_H
#define GLP_TARGET_H

#include <stdint.h>

/* Called from the HardFault handler with the exception's stacked frame (r0-r3, r12, lr, pc, xpsr)
 * and EXC_RETURN. Never returns: a port logs and resets, the QEMU images report and stop QEMU. */
void target_fault(const uint32_t *frame, uint32_t exc_return) __attribute__((noreturn));

#endif
