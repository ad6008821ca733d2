#!/usr/bin/env bash
# The Worker build must fail, not fall back to panic=abort, when the unwind toolchain is
# missing: a panic=abort build resets the Wasm instance under every in-flight request of the
# isolate on any panic, and nobody would notice the guarantee was gone.
#
# Runs scripts/build-worker.sh with a CARGO_HOME whose bin/ holds the real worker-build and
# wasm-bindgen (so nothing is installed) beside a `rustc` that knows no nightly toolchain and
# a `rustup` that cannot install one. Requires a failed build that says why and names
# EGRESS_PANIC=abort, and build/ left as it was. Needs worker-build and wasm-bindgen in
# ~/.cargo/bin (make build installs them).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

real_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
for tool in worker-build wasm-bindgen cargo; do
  [ -x "$real_bin/$tool" ] || { echo "check-build-needs-unwind: $real_bin/$tool is missing (run make build)" >&2; exit 2; }
done

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/cargo/bin"
for tool in worker-build wasm-bindgen cargo; do ln -s "$real_bin/$tool" "$tmp/cargo/bin/$tool"; done
cat >"$tmp/cargo/bin/rustc" <<'FAKE'
#!/bin/sh
echo "error: toolchain 'nightly' is not installed (simulated)" >&2
exit 1
FAKE
cat >"$tmp/cargo/bin/rustup" <<'FAKE'
#!/bin/sh
echo "error: could not download the toolchain (simulated)" >&2
exit 1
FAKE
chmod +x "$tmp/cargo/bin/rustc" "$tmp/cargo/bin/rustup"

before="$(stat -c %Y build/index_bg.wasm 2>/dev/null || echo none)"
if CARGO_HOME="$tmp/cargo" scripts/build-worker.sh >"$tmp/out" 2>&1; then
  echo "FAIL: the Worker built without the unwind toolchain" >&2
  cat "$tmp/out" >&2
  exit 1
fi
for expected in "the nightly toolchain for --panic-unwind could not be installed" "EGRESS_PANIC=abort"; do
  if ! grep -qF -- "$expected" "$tmp/out"; then
    echo "FAIL: the failed build does not say: $expected" >&2
    cat "$tmp/out" >&2
    exit 1
  fi
done
if grep -qi "panic=abort instead\|building with panic=abort" "$tmp/out"; then
  echo "FAIL: the build fell back to panic=abort" >&2
  exit 1
fi
after="$(stat -c %Y build/index_bg.wasm 2>/dev/null || echo none)"
if [ "$before" != "$after" ]; then
  echo "FAIL: build/index_bg.wasm changed although the build failed" >&2
  exit 1
fi
echo "ok: without the unwind toolchain the Worker build fails (EGRESS_PANIC=abort is the explicit way out)"
