/*
 * Cortex-M startup for the gridloop images (M0/M0+ and M3/M4 alike): the vector table, the reset
 * handler (FPU on, .data copied from flash, .bss zeroed, main) and the fault
 * handler. Interrupt handlers are weak: a HAL defines the ones it uses (SysTick_Handler,
 * UART0_RX_IRQHandler: UART0's receive interrupt, IRQ 0 on mps2-an386, IRQ 5 on lm3s6965evb; each
 * machine leaves the other's slot disabled).
 */
#include <stdint.h>

#include "target.h"

extern uint32_t __stack_top__, __data_load__, __data_start__, __data_end__, __bss_start__, __bss_end__;

#if defined(TARGET_NEWLIB_CRT0)
/* Semihosted runners: newlib's crt0 (rdimon) sets up stdio and argv, then calls main. */
extern void _start(void) __attribute__((noreturn));
#define ENTER_C_RUNTIME() _start()
#else
/* C only: no static constructors to run. */
extern int main(void);
#define ENTER_C_RUNTIME() (void)main()
#endif

void Reset_Handler(void) __attribute__((noreturn));
void Reset_Handler(void) {
#if defined(__ARM_FP)
  /* CPACR: full access to CP10/CP11, before any floating-point instruction runs. */
  *(volatile uint32_t *)0xE000ED88u |= 0xFu << 20;
  __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
  const uint32_t *from = &__data_load__;
  for (uint32_t *to = &__data_start__; to < &__data_end__;) *to++ = *from++;
  for (uint32_t *to = &__bss_start__; to < &__bss_end__;) *to++ = 0;
  ENTER_C_RUNTIME();
  for (;;) {
  }
}

/* Hands the stacked frame (MSP or PSP, from EXC_RETURN bit 2) to target_fault. Thumb-1 only, so the
 * same handler serves ARMv6-M. */
void HardFault_Handler(void) __attribute__((naked));
void HardFault_Handler(void) {
  __asm__ volatile(
      "movs r0, #4\n\t"
      "mov r1, lr\n\t"
      "tst r0, r1\n\t"
      "beq 1f\n\t"
      "mrs r0, psp\n\t"
      "b 2f\n"
      "1:\n\t"
      "mrs r0, msp\n"
      "2:\n\t"
      "ldr r2, =target_fault\n\t"
      "bx r2\n\t"
      ".ltorg");
}

static void unexpected_interrupt(void) {
  for (;;) {
  }
}

#define WEAK_HANDLER __attribute__((weak, alias("unexpected_interrupt")))
void NMI_Handler(void) WEAK_HANDLER;
void SVC_Handler(void) WEAK_HANDLER;
void PendSV_Handler(void) WEAK_HANDLER;
void SysTick_Handler(void) WEAK_HANDLER;
void UART0_RX_IRQHandler(void) WEAK_HANDLER;

typedef void (*vector_t)(void);
/* 16 system vectors, then the device interrupts this project uses (external IRQ 0 upwards). The
 * unused ones point at unexpected_interrupt. */
__attribute__((section(".vectors"), used)) const vector_t vector_table[16 + 8] = {
    (vector_t)(uintptr_t)&__stack_top__,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
    HardFault_Handler, /* MemManage (ARMv7-M; escalates to HardFault when disabled) */
    HardFault_Handler, /* BusFault */
    HardFault_Handler, /* UsageFault */
    0,
    0,
    0,
    0,
    SVC_Handler,
    0,
    0,
    PendSV_Handler,
    SysTick_Handler,
    UART0_RX_IRQHandler, /* IRQ 0: mps2-an386 UART0 RX */
    unexpected_interrupt,
    unexpected_interrupt,
    unexpected_interrupt,
    unexpected_interrupt,
    UART0_RX_IRQHandler, /* IRQ 5: lm3s6965evb UART0 */
    unexpected_interrupt,
    unexpected_interrupt,
};
