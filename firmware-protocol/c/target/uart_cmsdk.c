/* Arm CMSDK APB UART (UART0 of QEMU's mps2-an386 at 0x40004000, receive interrupt on IRQ 0). A
 * one-byte receive buffer: each byte is one interrupt. */
#include "uart.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define UART0_BASE 0x40004000u
#define UART_DATA REG32(UART0_BASE + 0x00u)
#define UART_STATE REG32(UART0_BASE + 0x04u)
#define UART_CTRL REG32(UART0_BASE + 0x08u)
#define UART_INTCLEAR REG32(UART0_BASE + 0x0Cu)
#define UART_BAUDDIV REG32(UART0_BASE + 0x10u)
#define UART_STATE_TX_FULL 0x1u
#define UART_STATE_RX_FULL 0x2u
#define UART_CTRL_TX_EN 0x1u
#define UART_CTRL_RX_EN 0x2u
#define UART_CTRL_RX_INT_EN 0x8u
#define UART_INT_RX 0x2u
#define NVIC_ISER0 REG32(0xE000E100u)
#define UART0_RX_IRQ 0u

void uart_init(void) {
  UART_BAUDDIV = 25000000u / 115200u; /* QEMU ignores the rate but needs a valid divisor (>= 16) */
  UART_CTRL = UART_CTRL_TX_EN | UART_CTRL_RX_EN | UART_CTRL_RX_INT_EN;
  NVIC_ISER0 = 1u << UART0_RX_IRQ;
}

void uart_tx_byte(uint8_t byte) {
  while (UART_STATE & UART_STATE_TX_FULL) {
  }
  UART_DATA = byte;
}

void UART0_RX_IRQHandler(void) {
  UART_INTCLEAR = UART_INT_RX;
  while (UART_STATE & UART_STATE_RX_FULL) uart_rx_byte((uint8_t)UART_DATA);
}
