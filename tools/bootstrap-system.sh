#!/usr/bin/env bash
# Installs the system tools DTMM needs (Arm GCC + newlib, QEMU, OpenOCD, host C build
# tools, clang for the fuzzers) with apt-get when they are missing: directly as root, through sudo
# otherwise, else says what to install.  Fast no-op when all are present.
set -euo pipefail

missing=()
have() { command -v "$1" >/dev/null 2>&1; }

have arm-none-eabi-gcc || missing+=(gcc-arm-none-eabi)
# newlib: the nano C library the firmware links against
if ! have arm-none-eabi-gcc || [ ! -f "$(arm-none-eabi-gcc -print-file-name=libc_nano.a 2>/dev/null)" ]; then
  missing+=(libnewlib-arm-none-eabi)
fi
# C++ headers and libstdc++ for the Arm compiler: TFLM apps and the TFLM adapter (docs/tflm.md)
if ! have arm-none-eabi-g++ || ! printf '#include <cstdint>\n' | arm-none-eabi-g++ -x c++ -fsyntax-only - >/dev/null 2>&1; then
  missing+=(libstdc++-arm-none-eabi-newlib)
fi
have qemu-system-arm || missing+=(qemu-system-arm)
# flashing real boards: pio run -e <board> -t upload (upload_protocol = openocd, the default)
have openocd || missing+=(openocd)
have cmake || missing+=(cmake)
have gcc || missing+=(gcc)
have make || missing+=(make)
# clang with its sanitizer and libFuzzer runtimes: the C fuzz targets (tests/fuzz, make fuzz)
have clang || missing+=(clang)
if ! have clang || [ ! -f "$(clang -print-file-name=libclang_rt.fuzzer-$(uname -m).a 2>/dev/null)" ]; then
  missing+=(libclang-rt-dev)
fi
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "bootstrap: installing system packages: ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif have sudo && sudo -n true 2>/dev/null; then
  SUDO=(sudo -n)
else
  echo "bootstrap: error: missing system packages and no root/sudo; please run:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
