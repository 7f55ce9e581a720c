#!/usr/bin/env bash
# The test command of libotr-rs (README: "make check"). It installs what it
# needs, then runs: formatting and lint checks, the Rust unit tests, the
# header freshness check, the ABI checks against Debian's libotr 4.1.1
# headers and library, every C harness against both libraries, and the
# real applications (ffi-tests/apps).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
stage=$top/stage
out=$top/ffi-tests/out
rm -rf "$out"; mkdir -p "$out"

bash ffi-tests/ensure-packages.sh
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt

passed=0 failed=0
step() {
  local name=$1; shift
  echo "== $name"
  if "$@"; then passed=$((passed + 1)); else echo "FAILED: $name"; failed=$((failed + 1)); fi
}

step "cargo fmt" cargo fmt --all -- --check
step "cargo clippy" cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo test" cargo test --workspace --locked
step "header is fresh" make -s check-headers
make -s install PREFIX="$stage" >/dev/null
lib=$stage/lib/libotr.so.5

layout() {
  local a=$out/abi
  mkdir -p "$a"
  # Chained with &&: inside `step`, set -e does not stop at a failure.
  gcc -std=gnu11 -Wall -Wextra -Werror -I/usr/include ffi-tests/abi/layout.c -o "$a/layout-theirs" &&
  gcc -std=gnu11 -Wall -Wextra -Werror -Iinclude ffi-tests/abi/layout.c -o "$a/layout-ours" &&
  g++ -x c++ -std=c++11 -D_Alignof=alignof -Wall -Wextra -Werror -Iinclude -fsyntax-only ffi-tests/abi/layout.c &&
  "$a/layout-theirs" > "$a/layout-theirs.txt" &&
  "$a/layout-ours" > "$a/layout-ours.txt" &&
  diff -u "$a/layout-theirs.txt" "$a/layout-ours.txt" &&
    echo "layout: $(wc -l < "$a/layout-ours.txt") sizes, offsets and values identical"
}
step "ABI layout" layout
step "ABI prototypes" bash ffi-tests/abi/protos.sh "$top/include" "$out/abi"
step "ABI names" bash ffi-tests/abi/names.sh "$top/include" "$out/abi"
step "ABI exports" bash ffi-tests/abi/exports.sh "$lib" "$out/abi"
step "AM_PATH_LIBOTR" bash ffi-tests/abi/autoconf.sh "$stage" "$out/abi"

for h in ffi-tests/harness/*.c; do
  name=$(basename "$h" .c)
  step "harness $name" bash ffi-tests/run-harness.sh "$name" "$stage" "$out"
done
for s in ffi-tests/cross/*.sh; do
  [ -e "$s" ] || continue
  step "cross $(basename "$s" .sh)" bash "$s" "$stage" "$out"
done

for s in ffi-tests/apps/*.sh; do
  [ -e "$s" ] || continue
  step "apps $(basename "$s" .sh)" bash "$s" "$stage" "$out"
done

echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
