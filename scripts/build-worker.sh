#!/usr/bin/env bash
# Builds the outbound Worker: build/index.js + build/index_bg.wasm (worker-build's layout, run
# through the committed entry module worker.mjs), with $EGRESS_POLICY (default
# policy/policy.toml) compiled in by build.rs.
#
# Works offline except for the package registries: worker-build would download wasm-bindgen,
# wasm-opt and esbuild from GitHub, so this script points it at pinned local copies instead
# (`<TOOL>_BIN`, see worker-build's src/binary.rs):
#   - worker-build 0.8.7 and wasm-bindgen-cli 0.2.130 (must equal the `wasm-bindgen` pin in
#     Cargo.toml) from crates.io into ~/.cargo/bin, installed when missing;
#   - wasm-opt (npm `binaryen`) and esbuild from node_modules (`npm ci`).
#
# Panic strategy (EGRESS_PANIC): the code has no panic paths by construction (clippy denies
# unwrap/expect/panic/indexing), and as a second line of defence the default build uses
# worker-build's `--panic-unwind` (nightly toolchain + `-Zbuild-std`, both from rustup): a
# panic then fails only its own request, where the default `panic=abort` build resets the
# Wasm instance under every in-flight request of the isolate. Should the nightly toolchain be
# unavailable or fail to build, the build FAILS: a Worker without that guarantee is never
# built silently. EGRESS_PANIC=abort asks for the panic=abort build on the pinned stable
# toolchain explicitly (and says so in the build output).
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
  cargo install worker-build --version "$WORKER_BUILD_VERSION"
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

# shellcheck source=scripts/tool-env.sh
. "$root/scripts/tool-env.sh"

# worker-build's --panic-unwind builds with the toolchain named `nightly`, whatever rustup's
# `nightly` is that day: two builds of one commit could differ. The nightly is pinned here, and
# shims ahead on PATH make worker-build's `nightly` (in `cargo +nightly`, `rustc +nightly`,
# `rustup ... nightly`) this one. Moving the pin is a reviewed change of this line.
NIGHTLY=nightly-2026-05-20

nightly_ready() { # the pinned nightly with rust-src and the wasm32 target, installed if missing
  if ! rustc "+$NIGHTLY" --version >/dev/null 2>&1; then
    rustup toolchain install "$NIGHTLY" --profile minimal -c rust-src -t wasm32-unknown-unknown || return 1
  fi
  rustup component add --toolchain "$NIGHTLY" rust-src >/dev/null || return 1
  rustup target add --toolchain "$NIGHTLY" wasm32-unknown-unknown >/dev/null || return 1
}

pin_nightly() { # shims for cargo, rustc and rustup that read `nightly` as $NIGHTLY
  pins="$root/target/pinned-nightly"
  mkdir -p "$pins"
  for tool in cargo rustc rustup; do
    real="$(command -v "$tool")"
    cat >"$pins/$tool" <<SHIM
#!/bin/sh
for arg in "\$@"; do
  shift
  case "\$arg" in
    +nightly) set -- "\$@" "+$NIGHTLY" ;;
    nightly) set -- "\$@" "$NIGHTLY" ;;
    *) set -- "\$@" "\$arg" ;;
  esac
done
exec "$real" "\$@"
SHIM
    chmod +x "$pins/$tool"
  done
  export PATH="$pins:$PATH"
}

fail() {
  echo "error: $1" >&2
  echo "error: the Worker is built with --panic-unwind so that a panic fails only its own" >&2
  echo "error: request; without it a panic resets the Wasm instance under every in-flight" >&2
  echo "error: request of the isolate. Fix the toolchain, or build with EGRESS_PANIC=abort" >&2
  echo "error: to accept that explicitly." >&2
  exit 1
}

# The embedded policy's serial (docs/deploy.md, "Which policy decides"): EGRESS_POLICY_SERIAL,
# else the commit's time in microseconds (SOURCE_DATE_EPOCH when set): the same commit builds
# the same bytes, and a later commit supersedes the bundles signed before it.
if [ -z "${EGRESS_POLICY_SERIAL:-}" ]; then
  epoch="${SOURCE_DATE_EPOCH:-$(git -C "$root" log -1 --format=%ct 2>/dev/null || true)}"
  if [ -z "$epoch" ]; then
    echo "error: no git commit to take the policy's serial from: set EGRESS_POLICY_SERIAL (or SOURCE_DATE_EPOCH)" >&2
    exit 1
  fi
  export EGRESS_POLICY_SERIAL="${epoch}000000"
fi

panic="${EGRESS_PANIC:-unwind}"
case "$panic" in
  unwind | abort) ;;
  *) echo "EGRESS_PANIC must be unwind or abort, not ${panic}" >&2; exit 2 ;;
esac
echo "building the Worker (EGRESS_POLICY=${EGRESS_POLICY:-policy/policy.toml}, serial $EGRESS_POLICY_SERIAL, panic=$panic)" >&2
if [ "$panic" = unwind ]; then
  nightly_ready || fail "the nightly toolchain for --panic-unwind could not be installed"
  pin_nightly
  worker-build --release --panic-unwind \
    || fail "worker-build --release --panic-unwind failed (see above)"
else
  echo "EGRESS_PANIC=abort: building with panic=abort as asked" >&2
  worker-build --release
fi

wasm=build/index_bg.wasm
raw=$(wc -c <"$wasm")
gz=$(gzip -9 -c "$wasm" | wc -c)
printf 'build/index_bg.wasm (panic=%s): %d bytes raw (%d KiB), %d bytes gzip -9 (%d KiB)\n' \
  "$panic" "$raw" $((raw / 1024)) "$gz" $((gz / 1024))
