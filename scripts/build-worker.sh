#!/usr/bin/env bash
# Builds the outbound Worker: build/index.js + build/index_bg.wasm (worker-build's layout),
# with $EGRESS_POLICY (default policy/policy.toml) compiled in by build.rs.
#
# Works offline except for the package registries: worker-build would download wasm-bindgen,
# wasm-opt and esbuild from GitHub, so this script points it at pinned local copies instead
# (`<TOOL>_BIN`, see worker-build's src/binary.rs):
#   - worker-build 0.8.7 and wasm-bindgen-cli 0.2.130 (must equal the `wasm-bindgen` pin in
#     Cargo.toml) from crates.io into ~/.cargo/bin, installed when missing;
#   - wasm-opt (npm `binaryen`) and esbuild from node_modules (`npm ci`).
#
# Panic strategy: the default `--panic-unwind` build (nightly + build-std, fetched by rustup)
# turns a panic into an exception for that one request instead of resetting the Wasm instance
# under every in-flight request. EGRESS_PANIC=abort builds with the stable toolchain only.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

WORKER_BUILD_VERSION=0.8.7
WASM_BINDGEN_VERSION=0.2.130
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$cargo_bin:$PATH"

have_version() { # tool, expected version: true when `tool --version` mentions it
  command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -qF "$2"
}

if ! have_version worker-build "$WORKER_BUILD_VERSION"; then
  echo "installing worker-build $WORKER_BUILD_VERSION" >&2
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked
fi
if ! have_version wasm-bindgen "$WASM_BINDGEN_VERSION"; then
  # Not --locked: one of its locked dependency versions is no longer on crates.io.
  echo "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION" >&2
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
fi

if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -e node_modules/.bin/esbuild ]; then
  echo "node_modules lacks wasm-opt/esbuild: running npm ci" >&2
  npm ci --no-audit --no-fund
fi

export WASM_BINDGEN_BIN="$cargo_bin/wasm-bindgen"
export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
esbuild_native="$root/node_modules/@esbuild/$(node -p 'process.platform + "-" + process.arch')/bin/esbuild"
if [ -x "$esbuild_native" ]; then
  export ESBUILD_BIN="$esbuild_native"
else
  export ESBUILD_BIN="$root/node_modules/.bin/esbuild"
fi

args=(--release)
case "${EGRESS_PANIC:-unwind}" in
  unwind) args+=(--panic-unwind) ;;
  abort) ;;
  *) echo "EGRESS_PANIC must be unwind or abort, not ${EGRESS_PANIC}" >&2; exit 2 ;;
esac

echo "worker-build ${args[*]} (EGRESS_POLICY=${EGRESS_POLICY:-policy/policy.toml})" >&2
worker-build "${args[@]}"

wasm=build/index_bg.wasm
raw=$(wc -c <"$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
printf 'build/index_bg.wasm: %d bytes raw (%d KiB), %d bytes gzip -9 (%d KiB)\n' \
  "$raw" $((raw / 1024)) "$gz" $((gz / 1024))
