#!/usr/bin/env bash
# Installs the system packages the test suites need, or stops with a clear message naming them.
# A missing tool is a setup failure: suites are never skipped for it.
set -euo pipefail

# Debian package -> a command (or file) that proves it is there
declare -A probes=(
  [socat]=socat                  # pseudo-terminal serial links
  [gcc]=gcc                      # C reference firmware and emulated boards
  [clang]=clang                  # libFuzzer harness, sanitizers
  [libclang-rt-14-dev]=/usr/lib/llvm-14/lib/clang # sanitizer and fuzzer runtimes
  [make]=make
  [influxdb]=influxd             # InfluxDB 1.x on loopback
  [influxdb-client]=influx       # influx CLI: imports a run's points.lp.gz as-is
  [victoria-metrics]=victoria-metrics # InfluxDB v2 write API on loopback
  [chromium]=chromium            # headless browser tests
  [tshark]=tshark                # Wireshark's dissectors read a run's frame capture (Modbus RTU)
  [gcc-arm-none-eabi]=arm-none-eabi-gcc # Cortex-M builds of the reference firmware (docs/firmware.md)
  [libnewlib-arm-none-eabi]=/usr/lib/arm-none-eabi/newlib/thumb/v7e-m+fp/hard/librdimon.a # newlib(-nano), semihosting
  [qemu-system-arm]=qemu-system-arm # the Cortex-M images on emulated boards (mps2-an386, microbit)
  [redis-server]=redis-server    # BullMQ campaign queue on loopback (docs/campaigns.md)
)

# The optional ledger backends (hardhat's EDR, viem, a hardhat node; docs/market.md "Ledger engines"),
# pinned in their own folder so a plain `npm install` stays fast; the ledger tests exercise them.
backends="$(dirname "$0")/../market/ledger/backends"
if [ ! -e "$backends/node_modules/.package-lock.json" ] || [ "$backends/package-lock.json" -nt "$backends/node_modules/.package-lock.json" ]; then
  echo "gridloop test setup: installing the ledger backends (npm run ledger:install-backends)" >&2
  npm ci --prefix "$backends" --no-audit --no-fund --loglevel=error >/dev/null
fi

missing=()
for pkg in "${!probes[@]}"; do
  probe=${probes[$pkg]}
  if [[ $probe == /* ]]; then
    [ -e "$probe" ] || missing+=("$pkg")
  else
    command -v "$probe" >/dev/null 2>&1 || missing+=("$pkg")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "gridloop test setup: installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  exit 0
fi

echo "gridloop test setup: missing system packages: ${missing[*]}" >&2
echo "Install them with:  sudo apt-get install ${missing[*]}" >&2
exit 2
