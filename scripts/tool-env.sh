# Points worker-build at the locally installed tools instead of downloads (sourced by
# scripts/build-worker.sh, which installs them, and scripts/build-rust-floor.sh).
# Expects $root (the repository) and $cargo_bin.
export WASM_BINDGEN_BIN="$cargo_bin/wasm-bindgen"
export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
esbuild_native="$root/node_modules/@esbuild/$(node -p 'process.platform + "-" + process.arch')/bin/esbuild"
if [ -x "$esbuild_native" ]; then
  export ESBUILD_BIN="$esbuild_native"
else
  export ESBUILD_BIN="$root/node_modules/.bin/esbuild"
fi
