/* POSIX HAL for the emulated boards: a pseudo-terminal it creates itself (like a USB board showing
 * up as /dev/ttyACM0) or an existing tty, plus clean exit on SIGTERM/SIGINT or stdin closing. */
#include "hal_posix.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "hal.h"

static int uart_fd = -1;
static int pty_slave_fd = -1; /* held open so the master never sees EIO/HUP while the bench reconnects */
static bool watch_stdin = false;
static bool verbose_log = false;
static volatile sig_atomic_t stop_requested = 0;
static bool stdin_closed = false;

static void on_signal(int sig) {
  (void)sig;
  stop_requested = 1;
}

static uint64_t clock_us(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t hal_now_us(void) { return clock_us(CLOCK_MONOTONIC); }

uint64_t hal_signing_time(void) {
  const uint64_t epoch_2015_unix_s = 1420070400u;
  uint64_t unix_us = clock_us(CLOCK_REALTIME);
  uint64_t since = unix_us > epoch_2015_unix_s * 1000000u ? unix_us - epoch_2015_unix_s * 1000000u : 0u;
  return since / 10u;
}

bool hal_should_stop(void) { return stop_requested != 0 || stdin_closed; }

void hal_log(const char *message) {
  if (verbose_log) fprintf(stderr, "board: %s\n", message);
}

size_t hal_uart_write(const uint8_t *data, size_t len) {
  size_t done = 0;
  int spins = 0;
  while (done < len) {
    ssize_t n = write(uart_fd, data + done, len - done);
    if (n > 0) {
      done += (size_t)n;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    /* A full TX queue (nobody reading the pty yet) may wait a few ms, never stall the control loop. */
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && spins++ < 5) {
      struct pollfd p = {uart_fd, POLLOUT, 0};
      (void)poll(&p, 1, 1);
      continue;
    }
    break; /* drop the rest of the frame: the receiver resynchronises at the next delimiter */
  }
  return done;
}

size_t hal_uart_read(uint8_t *buf, size_t cap, uint32_t timeout_ms) {
  struct pollfd fds[2];
  nfds_t n = 0;
  fds[n].fd = uart_fd;
  fds[n].events = POLLIN;
  fds[n].revents = 0;
  n++;
  if (watch_stdin) {
    fds[n].fd = STDIN_FILENO;
    fds[n].events = POLLIN;
    fds[n].revents = 0;
    n++;
  }
  int r = poll(fds, n, (int)timeout_ms);
  if (r <= 0) return 0;
  if (watch_stdin && (fds[1].revents & (POLLIN | POLLHUP | POLLERR))) {
    char sink[64];
    ssize_t got = read(STDIN_FILENO, sink, sizeof sink);
    if (got <= 0) stdin_closed = true;
  }
  if (fds[0].revents & POLLIN) {
    ssize_t got = read(uart_fd, buf, cap);
    if (got > 0) return (size_t)got;
  }
  if (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL)) {
    /* The other end of the tty went away (e.g. socat stopped): wait instead of spinning; a board
     * keeps running while its host is gone, as a real one would. */
    struct pollfd only_stdin = {STDIN_FILENO, POLLIN, 0};
    (void)poll(&only_stdin, watch_stdin ? 1 : 0, (int)timeout_ms);
    if (watch_stdin && (only_stdin.revents & (POLLIN | POLLHUP | POLLERR))) {
      char sink[64];
      if (read(STDIN_FILENO, sink, sizeof sink) <= 0) stdin_closed = true;
    }
  }
  return 0;
}

static bool set_raw(int fd) {
  struct termios t;
  if (tcgetattr(fd, &t) != 0) return false;
  /* cfmakeraw equivalent, spelled out for strict C99 + POSIX */
  t.c_iflag &= (tcflag_t) ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXOFF);
  t.c_oflag &= (tcflag_t)~OPOST;
  t.c_lflag &= (tcflag_t) ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
  t.c_cflag &= (tcflag_t) ~(CSIZE | PARENB);
  t.c_cflag |= CS8 | CLOCAL | CREAD;
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  cfsetispeed(&t, B115200);
  cfsetospeed(&t, B115200);
  return tcsetattr(fd, TCSANOW, &t) == 0;
}

static int parse_hex_key(const char *hex, uint8_t *key) {
  if (strlen(hex) != 2 * GLP_SIGNING_KEY_LEN) return -1;
  for (size_t i = 0; i < GLP_SIGNING_KEY_LEN; i++) {
    unsigned v;
    char pair[3] = {hex[2 * i], hex[2 * i + 1], 0};
    char *end;
    v = (unsigned)strtoul(pair, &end, 16);
    if (*end != 0) return -1;
    key[i] = (uint8_t)v;
  }
  return 0;
}

static void usage(const char *program) {
  fprintf(stderr,
          "usage: %s (--pty | --device PATH) [options]\n"
          "  --pty                 create a pseudo-terminal and print 'PTY <path>'\n"
          "  --device PATH         open an existing tty (e.g. one end of a socat pair)\n"
          "  --device-id N         device id in frame headers (default 1)\n"
          "  --key HEX64           32-byte signing key: sign frames\n"
          "  --link-id N           signing link id (default 0)\n"
          "  --require-signed      reject unsigned frames (needs --key)\n"
          "  --hello-ms N          HELLO period until the bench talks (default 1000)\n"
          "  --heartbeat-ms N      heartbeat period (default 1000)\n"
          "  --watchdog-ms N       safe state after N ms without frames (default 2000)\n"
          "  --nominal-hz F        nominal frequency (default 50)\n"
          "  --rated-w F           rated active power, W\n"
          "  --capacity-wh F       battery: usable energy, Wh (default 10000)\n"
          "  --soc F               battery: initial state of charge 0..1 (default 0.5)\n"
          "  --available-w F       inverter: available primary power, W (default rated)\n"
          "  --verbose             diagnostics on stderr\n"
          "The board exits on SIGTERM/SIGINT or when stdin (a pipe or terminal) closes.\n",
          program);
}

static bool parse_number(const char *s, double lo, double hi, double *out) {
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (errno != 0 || end == s || *end != 0 || !(v >= lo && v <= hi)) return false;
  *out = v;
  return true;
}

bool host_parse_args(int argc, char **argv, const char *program, host_options_t *o) {
  memset(o, 0, sizeof *o);
  o->device_id = 1;
  o->nominal_frequency_hz = 50.0f;
  o->initial_soc = 0.5f;
  o->available_power_w = -1.0f;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;
    double v;
#define NEED_VALUE                                           \
  if (value == NULL) {                                       \
    fprintf(stderr, "%s: %s needs a value\n", program, a);   \
    usage(program);                                          \
    return false;                                            \
  }                                                          \
  i++
#define NUMBER(lo, hi)                                                              \
  NEED_VALUE;                                                                       \
  if (!parse_number(value, lo, hi, &v)) {                                           \
    fprintf(stderr, "%s: %s %s: expected a number in [%g, %g]\n", program, a, value, \
            (double)(lo), (double)(hi));                                            \
    return false;                                                                   \
  }
    if (strcmp(a, "--pty") == 0) {
      o->use_pty = true;
    } else if (strcmp(a, "--device") == 0) {
      NEED_VALUE;
      o->device_path = value;
    } else if (strcmp(a, "--device-id") == 0) {
      NUMBER(0, 65534);
      o->device_id = (uint16_t)v;
    } else if (strcmp(a, "--key") == 0) {
      NEED_VALUE;
      if (parse_hex_key(value, o->key) != 0) {
        fprintf(stderr, "%s: --key: expected 64 hex digits\n", program);
        return false;
      }
      o->has_key = true;
    } else if (strcmp(a, "--link-id") == 0) {
      NUMBER(0, 255);
      o->link_id = (uint8_t)v;
    } else if (strcmp(a, "--require-signed") == 0) {
      o->require_signed = true;
    } else if (strcmp(a, "--hello-ms") == 0) {
      NUMBER(1, 600000);
      o->hello_interval_ms = (uint32_t)v;
    } else if (strcmp(a, "--heartbeat-ms") == 0) {
      NUMBER(1, 600000);
      o->heartbeat_interval_ms = (uint32_t)v;
    } else if (strcmp(a, "--watchdog-ms") == 0) {
      NUMBER(1, 3600000);
      o->watchdog_ms = (uint32_t)v;
    } else if (strcmp(a, "--nominal-hz") == 0) {
      NUMBER(1, 1000);
      o->nominal_frequency_hz = (float)v;
    } else if (strcmp(a, "--rated-w") == 0) {
      NUMBER(1, 1e9);
      o->rated_power_w = (float)v;
    } else if (strcmp(a, "--capacity-wh") == 0) {
      NUMBER(1e-3, 1e12);
      o->capacity_wh = (float)v;
    } else if (strcmp(a, "--soc") == 0) {
      NUMBER(0, 1);
      o->initial_soc = (float)v;
    } else if (strcmp(a, "--available-w") == 0) {
      NUMBER(0, 1e9);
      o->available_power_w = (float)v;
    } else if (strcmp(a, "--verbose") == 0) {
      o->verbose = true;
    } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(program);
      exit(0);
    } else {
      fprintf(stderr, "%s: unknown option %s\n", program, a);
      usage(program);
      return false;
    }
#undef NUMBER
#undef NEED_VALUE
  }
  if (o->use_pty == (o->device_path != NULL)) {
    fprintf(stderr, "%s: give exactly one of --pty or --device PATH\n", program);
    usage(program);
    return false;
  }
  if (o->require_signed && !o->has_key) {
    fprintf(stderr, "%s: --require-signed needs --key\n", program);
    return false;
  }
  return true;
}

bool host_open(const host_options_t *o) {
  verbose_log = o->verbose;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);

  /* Watch stdin only when it can close (pipe, socket, terminal); /dev/null or a file would read EOF at once. */
  struct stat st;
  if (fstat(STDIN_FILENO, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode) || isatty(STDIN_FILENO))) {
    watch_stdin = true;
  }

  if (o->use_pty) {
    int master = posix_openpt(O_RDWR | O_NOCTTY);
    if (master < 0 || grantpt(master) != 0 || unlockpt(master) != 0) {
      fprintf(stderr, "board: cannot create a pseudo-terminal: %s\n", strerror(errno));
      return false;
    }
    const char *name = ptsname(master);
    if (name == NULL) {
      fprintf(stderr, "board: ptsname failed: %s\n", strerror(errno));
      return false;
    }
    pty_slave_fd = open(name, O_RDWR | O_NOCTTY);
    if (pty_slave_fd < 0 || !set_raw(pty_slave_fd)) {
      fprintf(stderr, "board: cannot configure %s: %s\n", name, strerror(errno));
      return false;
    }
    uart_fd = master;
    int flags = fcntl(uart_fd, F_GETFL);
    fcntl(uart_fd, F_SETFL, flags | O_NONBLOCK);
    printf("PTY %s\n", name);
  } else {
    uart_fd = open(o->device_path, O_RDWR | O_NOCTTY | O_NONBLOCK);
    if (uart_fd < 0) {
      fprintf(stderr, "board: cannot open %s: %s\n", o->device_path, strerror(errno));
      return false;
    }
    if (isatty(uart_fd) && !set_raw(uart_fd)) {
      fprintf(stderr, "board: cannot configure %s: %s\n", o->device_path, strerror(errno));
      return false;
    }
    printf("DEVICE %s\n", o->device_path);
  }
  fflush(stdout);
  return true;
}

void host_close(void) {
  if (uart_fd >= 0) close(uart_fd);
  if (pty_slave_fd >= 0) close(pty_slave_fd);
  uart_fd = -1;
  pty_slave_fd = -1;
}

int host_board_main(int argc, char **argv, const char *program, const board_app_t *app, void *model,
                    void (*init_model)(void *model, const host_options_t *options)) {
  host_options_t o;
  if (!host_parse_args(argc, argv, program, &o)) return 2;
  static board_t board;
  init_model(model, &o);
  board_options_t bo = {o.device_id, o.hello_interval_ms, o.heartbeat_interval_ms, o.watchdog_ms};
  if (!host_open(&o)) return 3;
  board_init(&board, app, model, &bo);
#if GLP_ENABLE_SIGNING
  if (o.has_key) glp_link_set_signing(&board.link, o.key, o.link_id, true, o.require_signed);
#else
  if (o.has_key) {
    fprintf(stderr, "%s: built without signing (GLP_ENABLE_SIGNING=0)\n", argv[0]);
    return 2;
  }
#endif
  board_run(&board);
  host_close();
  return 0;
}
