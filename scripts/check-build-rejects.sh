#!/usr/bin/env bash
# An invalid policy must fail the Worker's build, printing the diagnostics `egress-policy check`
# prints (ISSUE 3: "an invalid policy fails the build with check's diagnostics").
#
# Runs build.rs through a native `cargo check` of the Worker package with EGRESS_POLICY set to
# a broken fixture, and requires (1) a failed build, (2) every diagnostic line of `check`'s
# output for the same file in the build's output, (3) the build's own closing line.
# Usage: scripts/check-build-rejects.sh [POLICY]  (needs target/debug/egress-policy: make cargo-test)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

policy="${1:-crates/cli/tests/fixtures/check/bad_credentials.toml}"
cli=target/debug/egress-policy
[ -x "$cli" ] || cargo build --quiet --bin egress-policy

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if "$cli" check "$policy" >"$tmp/check.out" 2>&1; then
  echo "check-build-rejects: $policy is valid; give an invalid policy" >&2
  exit 2
fi
if EGRESS_POLICY="$policy" cargo check --quiet -p egress-policy-worker >"$tmp/build.out" 2>&1; then
  echo "FAIL: the Worker built with the invalid policy $policy" >&2
  exit 1
fi

missing=0
# The diagnostics themselves: each `file:line:col: error[...]` line and its help lines (the
# summary line is check's own and differs from the build's closing line).
while IFS= read -r line; do
  if ! grep -qF -- "$line" "$tmp/build.out"; then
    echo "FAIL: the build's output lacks check's line: $line" >&2
    missing=1
  fi
done < <(grep -E "^$policy:[0-9]+:[0-9]+: |^ *= help: " "$tmp/check.out")
if ! grep -qF "error: the policy \`$policy\` does not compile; the Worker was not built" "$tmp/build.out"; then
  echo "FAIL: the build's output lacks its closing line" >&2
  missing=1
fi
if [ "$missing" -ne 0 ]; then
  echo "--- build output ---" >&2
  cat "$tmp/build.out" >&2
  exit 1
fi
count=$(grep -cE "^$policy:[0-9]+:[0-9]+: " "$tmp/check.out")
echo "ok: the Worker build fails on $policy with check's $count diagnostics"
