/* Arm PrimeCell PL011 (UART0 of QEMU's lm3s6965evb at 0x4000C000, interrupt on IRQ 5) with its
 * 16-byte receive FIFO on: one interrupt takes every byte that arrived meanwhile. */
#include "uart.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define UART0_BASE 0x4000C000u
#define UART_DR REG32(UART0_BASE + 0x00u)
#define UART_FR REG32(UART0_BASE + 0x18u)
#define UART_IBRD REG32(UART0_BASE + 0x24u)
#define UART_FBRD REG32(UART0_BASE + 0x28u)
#define UART_LCRH REG32(UART0_BASE + 0x2Cu)
#define UART_CR REG32(UART0_BASE + 0x30u)
#define UART_IFLS REG32(UART0_BASE + 0x34u)
#define UART_IMSC REG32(UART0_BASE + 0x38u)
#define UART_ICR REG32(UART0_BASE + 0x44u)
#define UART_FR_RXFE 0x10u
#define UART_FR_TXFF 0x20u
#define UART_LCRH_8BIT_FIFO 0x70u
#define UART_CR_ENABLE_RX_TX 0x301u
#define UART_INT_RX_AND_TIMEOUT 0x50u
#define NVIC_ISER0 REG32(0xE000E100u)
#define UART0_RX_IRQ 5u

void uart_init(void) {
  UART_CR = 0;
  UART_IBRD = 27u; /* 115200 baud at 50 MHz (QEMU ignores the rate) */
  UART_FBRD = 8u;
  UART_LCRH = UART_LCRH_8BIT_FIFO;
  UART_IFLS = 0; /* interrupt at 1/8 full, or on the receive timeout */
  UART_IMSC = UART_INT_RX_AND_TIMEOUT;
  UART_CR = UART_CR_ENABLE_RX_TX;
  NVIC_ISER0 = 1u << UART0_RX_IRQ;
}

void uart_tx_byte(uint8_t byte) {
  while (UART_FR & UART_FR_TXFF) {
  }
  UART_DR = byte;
}

void UART0_RX_IRQHandler(void) {
  UART_ICR = UART_INT_RX_AND_TIMEOUT;
  while (!(UART_FR & UART_FR_RXFE)) uart_rx_byte((uint8_t)UART_DR);
}
