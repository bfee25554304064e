/*
 * HAL of the emulated boards under QEMU (mps2-an386, lm3s6965evb, microbit memory map):
 *   UART: the machine's UART driver (uart_cmsdk.c, uart_pl011.c; see uart.h) hands every received
 *         byte to uart_rx_byte from its receive interrupt; they wait in a ring buffer for the main
 *         loop's deframer. TX is polled.
 *   Tick: SysTick, one interrupt per millisecond, wakes the main loop. Its clock per machine
 *         (SYSTICK_HZ, SYSTICK_CORE_CLOCK, set by the Makefile): mps2-an386 the 25 MHz core clock;
 *         lm3s6965evb the reference clock, 12.5 MHz under QEMU 7.2.
 *   Time: hal_now_us reads the host's clock (semihosting SYS_ELAPSED). QEMU on a busy host delivers
 *         a late timer interrupt once for several periods, so counting ticks loses time there; on a
 *         real part the tick count (or a free-running timer) is the clock.
 *   Provisioning: device id, signing key and intervals come from the command line QEMU passes
 *         through semihosting (-semihosting-config arg=...), the wall clock from semihosting's
 *         SYS_TIME at boot. A real board reads these from its key store and RTC instead.
 * Everything chip-specific of a port lives in files like these (docs/firmware.md, porting).
 */
#include <stdlib.h>
#include <string.h>

#include "hal.h"
#include "hal_target.h"
#include "semihosting.h"
#include "uart.h"

#define REG32(addr) (*(volatile uint32_t *)(addr))
#define SYST_CSR REG32(0xE000E010u)
#define SYST_RVR REG32(0xE000E014u)
#define SYST_CVR REG32(0xE000E018u)
#define SYST_CSR_ENABLE 0x1u
#define SYST_CSR_TICKINT 0x2u
#define SYST_CSR_CORE_CLOCK 0x4u

/* Power of two, larger than a whole signed frame, so one exchange never wraps it. */
#define RX_RING_SIZE 1024u

#if !defined(SYSTICK_HZ) || !defined(SYSTICK_CORE_CLOCK)
#error "define SYSTICK_HZ (SysTick's input clock) and SYSTICK_CORE_CLOCK (1: core clock, 0: reference clock)"
#endif

static const uint32_t ticks_per_ms = SYSTICK_HZ / 1000u;
static uint8_t rx_ring[RX_RING_SIZE];
static volatile uint32_t rx_head; /* written by the interrupt */
static uint32_t rx_tail;          /* written by the main loop */
static volatile uint32_t rx_overruns;
static uint64_t boot_signing_time; /* 10 us units since 2015-01-01 at boot */
static bool verbose_log;

void SysTick_Handler(void) {
  /* Nothing to count (hal_now_us reads the host's clock): taking the interrupt ends the main loop's
   * WFI, so the board's duties run at least once a millisecond. */
}

void uart_rx_byte(uint8_t byte) {
  uint32_t head = rx_head;
  if (head - rx_tail < RX_RING_SIZE) {
    rx_ring[head % RX_RING_SIZE] = byte;
    rx_head = head + 1u;
  } else {
    rx_overruns++; /* dropped: the deframer resynchronises at the next delimiter */
  }
}

uint64_t hal_now_us(void) { return semihost_elapsed_ns() / 1000u; }

uint64_t hal_signing_time(void) { return boot_signing_time + hal_now_us() / 10u; }

bool hal_should_stop(void) { return false; /* a microcontroller runs until power-off */ }

void hal_log(const char *message) {
  if (!verbose_log) return;
  semihost_write("board: ");
  semihost_write(message);
  semihost_write("\n");
}

size_t hal_uart_write(const uint8_t *data, size_t len) {
  for (size_t i = 0; i < len; i++) uart_tx_byte(data[i]);
  return len;
}

size_t hal_uart_read(uint8_t *buf, size_t cap, uint32_t timeout_ms) {
  uint64_t start = hal_now_us();
  while (rx_head == rx_tail && hal_now_us() - start < (uint64_t)timeout_ms * 1000u) {
    __asm__ volatile("wfi"); /* sleeps until the next byte or tick */
  }
  size_t n = 0;
  while (n < cap && rx_tail != rx_head) {
    buf[n++] = rx_ring[rx_tail % RX_RING_SIZE];
    rx_tail++;
  }
  return n;
}

static void fail(const char *why, const char *token) __attribute__((noreturn));
static void fail(const char *why, const char *token) {
  semihost_write("board: ");
  semihost_write(why);
  if (token != NULL) semihost_write(token);
  semihost_write("\n");
  semihost_exit(0);
}

static uint32_t parse_uint(const char *option, const char *value, uint32_t lo, uint32_t hi) {
  char *end;
  if (value == NULL) fail("missing value for ", option);
  unsigned long v = strtoul(value, &end, 10);
  if (end == value || *end != '\0' || v < lo || v > hi) fail("bad number for ", option);
  return (uint32_t)v;
}

static int nibble(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Splits off the next space-separated token (NULL at the end). */
static char *next_token(char **cursor) {
  char *s = *cursor;
  while (*s == ' ') s++;
  if (*s == '\0') return NULL;
  char *token = s;
  while (*s != '\0' && *s != ' ') s++;
  if (*s == ' ') *s++ = '\0';
  *cursor = s;
  return token;
}

/* The command line: the same options as the host board (hal_posix.c) where they apply. */
static void parse_config(char *line, target_config_t *c) {
  char *cursor = line;
  (void)next_token(&cursor); /* program name */
  for (char *token; (token = next_token(&cursor)) != NULL;) {
    bool flag = strcmp(token, "--require-signed") == 0 || strcmp(token, "--verbose") == 0;
    char *value = flag ? NULL : next_token(&cursor);
    if (strcmp(token, "--device-id") == 0) c->device_id = (uint16_t)parse_uint(token, value, 0, 65534);
    else if (strcmp(token, "--link-id") == 0) c->link_id = (uint8_t)parse_uint(token, value, 0, 255);
    else if (strcmp(token, "--hello-ms") == 0) c->hello_interval_ms = parse_uint(token, value, 1, 600000);
    else if (strcmp(token, "--heartbeat-ms") == 0) c->heartbeat_interval_ms = parse_uint(token, value, 1, 600000);
    else if (strcmp(token, "--watchdog-ms") == 0) c->watchdog_ms = parse_uint(token, value, 1, 3600000);
    else if (strcmp(token, "--crash-after-ms") == 0) c->crash_after_ms = parse_uint(token, value, 1, 3600000);
    else if (strcmp(token, "--require-signed") == 0) c->require_signed = true;
    else if (strcmp(token, "--verbose") == 0) c->verbose = true;
    else if (strcmp(token, "--key") == 0) {
      if (value == NULL || strlen(value) != 2u * GLP_SIGNING_KEY_LEN) fail("--key: expected 64 hex digits", NULL);
      for (size_t i = 0; i < GLP_SIGNING_KEY_LEN; i++) {
        int hi = nibble(value[2 * i]), lo = nibble(value[2 * i + 1]);
        if (hi < 0 || lo < 0) fail("--key: expected 64 hex digits", NULL);
        c->key[i] = (uint8_t)(hi << 4 | lo);
      }
      c->has_key = true;
    } else {
      fail("unknown option ", token);
    }
  }
  if (c->require_signed && !c->has_key) fail("--require-signed needs --key", NULL);
}

void hal_target_init(target_config_t *config) {
  memset(config, 0, sizeof *config);
  config->device_id = 1;
  static char line[256];
  int n = semihost_cmdline(line, sizeof line - 1);
  if (n > 0) {
    line[n] = '\0';
    parse_config(line, config);
  }
  verbose_log = config->verbose;
  const uint32_t epoch_2015_unix_s = 1420070400u;
  uint32_t unix_s = semihost_time();
  boot_signing_time = unix_s > epoch_2015_unix_s ? (uint64_t)(unix_s - epoch_2015_unix_s) * 100000u : 0u;

  SYST_CSR = 0;
  SYST_RVR = ticks_per_ms - 1u;
  SYST_CVR = 0;
  SYST_CSR = (SYSTICK_CORE_CLOCK ? SYST_CSR_CORE_CLOCK : 0u) | SYST_CSR_TICKINT | SYST_CSR_ENABLE;

  uart_init();
  char hz[12];
  char *digit = hz + sizeof hz - 1;
  *digit = '\0';
  for (uint32_t v = ticks_per_ms * 1000u; v != 0u || digit == hz + sizeof hz - 1; v /= 10u) *--digit = (char)('0' + v % 10u);
  semihost_write("GLP BOARD READY, SysTick ");
  semihost_write(digit);
  semihost_write(" Hz\n");
}

void hal_target_poll(const target_config_t *config) {
  if (config->crash_after_ms != 0 && hal_now_us() >= (uint64_t)config->crash_after_ms * 1000u) {
    __asm__ volatile("udf #0"); /* fault injection for the tests: an undefined instruction */
  }
}
