#include "semihosting.h"

#include "target.h"

enum { SYS_WRITE0 = 0x04, SYS_TIME = 0x11, SYS_GET_CMDLINE = 0x15, SYS_EXIT = 0x18, SYS_ELAPSED = 0x30 };
enum { ADP_STOPPED_APPLICATION_EXIT = 0x20026, ADP_STOPPED_RUNTIME_ERROR = 0x20023 };

static int semihost_call(int op, void *arg) {
  register int r0 __asm__("r0") = op;
  register void *r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

void semihost_write(const char *text) { (void)semihost_call(SYS_WRITE0, (void *)(uintptr_t)text); }

int semihost_cmdline(char *buf, size_t cap) {
  struct {
    char *buf;
    int len;
  } block = {buf, (int)cap};
  if (semihost_call(SYS_GET_CMDLINE, &block) != 0) return -1;
  return block.len;
}

uint32_t semihost_time(void) { return (uint32_t)semihost_call(SYS_TIME, NULL); }

uint64_t semihost_elapsed_ns(void) {
  uint32_t ticks[2] = {0, 0};
  if (semihost_call(SYS_ELAPSED, ticks) != 0) return 0;
  return (uint64_t)ticks[1] << 32 | ticks[0];
}

void semihost_exit(int success) {
  (void)semihost_call(SYS_EXIT, (void *)(uintptr_t)(success ? ADP_STOPPED_APPLICATION_EXIT : ADP_STOPPED_RUNTIME_ERROR));
  for (;;) {
  }
}

static void hex32(char *out, uint32_t v) {
  for (int i = 7; i >= 0; i--) {
    out[i] = "0123456789abcdef"[v & 0xfu];
    v >>= 4;
  }
}

/* An emulated board that faults says where and stops QEMU, so a test sees the fault at once instead
 * of a silent board. */
void target_fault(const uint32_t *frame, uint32_t exc_return) {
  (void)exc_return;
  char text[] = "GLP FAULT hard fault pc=0x00000000 lr=0x00000000\n";
  hex32(text + 26, frame[6]);
  hex32(text + 40, frame[5]);
  semihost_write(text);
  semihost_exit(0 /* failure */);
}
