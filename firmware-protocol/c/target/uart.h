/* The UART driver of an emulated board's machine, below hal_qemu.c. */
#ifndef GLP_UART_H
#define GLP_UART_H

#include <stdint.h>

/* Configures UART0 (8N1, receiver and its interrupt on) and enables its IRQ in the NVIC. */
void uart_init(void);
/* Sends one byte, waiting while the transmitter is full. */
void uart_tx_byte(uint8_t byte);
/* Called by the driver's receive interrupt for each byte received (hal_qemu.c). */
void uart_rx_byte(uint8_t byte);
/* The receive interrupt handler (startup.c's vector table names it). */
void UART0_RX_IRQHandler(void);

#endif
