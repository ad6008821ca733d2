#!/usr/bin/env bash
# Builds bench/rust-floor (the least a Rust outbound Worker can be) into bench/rust-floor/build
# with the tools scripts/build-worker.sh installed, panic=abort; bench/cold-start.mjs runs it
# through the same committed entry module (worker.mjs) as this Worker.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$cargo_bin:$PATH"
# shellcheck source=scripts/tool-env.sh
. "$root/scripts/tool-env.sh"

cd "$root/bench/rust-floor"
worker-build --release
