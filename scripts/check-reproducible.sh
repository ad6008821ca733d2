#!/usr/bin/env bash
# The production Wasm is reproducible from a commit: a clean build of the same sources, in
# another directory with its own target directory, gives the same bytes as build/ (the pinned
# nightly, the serial given or taken from the commit, the policy named relative to the
# workspace make that so). `make test` runs it after the e2e build:
#   scripts/check-reproducible.sh tests/e2e/policy.toml 300
# The sources are the working tree's tracked files as `git stash create` records them (HEAD
# when nothing is changed): build/ must have been built from them with the same policy and
# serial.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

policy="${1:?usage: check-reproducible.sh POLICY SERIAL}"
serial="${2:?usage: check-reproducible.sh POLICY SERIAL}"
work="$root/target/reproducible"
rm -rf "$work"
mkdir -p "$work/src"
ref="$(git stash create)"
git archive "${ref:-HEAD}" | tar -x -C "$work/src"
ln -s "$root/node_modules" "$work/src/node_modules"

echo "building a clean copy of the sources in $work (policy $policy, serial $serial)"
if ! (cd "$work/src" && EGRESS_POLICY="$policy" EGRESS_POLICY_SERIAL="$serial" \
  CARGO_TARGET_DIR="$work/target" scripts/build-worker.sh) >"$work/build.log" 2>&1; then
  tail -40 "$work/build.log" >&2
  echo "FAIL: the clean copy did not build (log: $work/build.log)" >&2
  exit 1
fi
for file in index_bg.wasm index.js; do
  if ! cmp -s "build/$file" "$work/src/build/$file"; then
    echo "FAIL: build/$file differs from a clean build of the same sources ($work/src/build/$file)" >&2
    exit 1
  fi
done
echo "ok: a clean build gives the same bytes ($(sha256sum build/index_bg.wasm | cut -c1-16)... index_bg.wasm)"
# The copy's build is only needed for the comparison.
rm -rf "$work"
