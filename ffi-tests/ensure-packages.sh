#!/usr/bin/env bash
# Installs the Debian packages the demo, the benchmark and the tests need,
# when they are missing: libotr5 (the reference library and its headers),
# libgcrypt's headers (which libotr's headers include), pkg-config, a C
# toolchain and valgrind.
set -euo pipefail
need=()
for pkg in libotr5-dev libotr5-bin libgcrypt20-dev valgrind pkg-config gcc g++ make binutils "$@"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
