// The outbound Worker's entry module (wrangler.toml's `main`; the local workerd of dev/world.mjs
// runs it too): a plain `{ fetch }` calling the Rust `fetch` export of the build. build/ is
// worker-build's output: index.js (the wasm-bindgen glue bundled with worker-build's shim) and
// index_bg.wasm, which `wrangler deploy` uploads as it is.
//
// Why not worker-build's own default export: it is a `WorkerEntrypoint` subclass behind a Proxy,
// so workerd constructs an entrypoint per request and a second Proxy's `get` trap runs on every
// property access. This Worker keeps no per-instance state, so the plain object loses nothing
// and does less per request. It once measured faster; with today's workerd the two cost the
// same within noise (bench/RESULTS.md, issue 15).
import Generated from "./build/index.js";

// worker-build's handler: `Entrypoint.prototype.fetch = function fetch(arg) { return
// exports.fetch.call(this, arg, this.env, this.ctx) }`, reading only `env` and `ctx` of `this`.
const handler = Generated.prototype?.fetch;
if (typeof handler !== "function") {
  throw new Error("build/index.js has no Entrypoint.prototype.fetch: worker-build's output changed, update worker.mjs");
}

export default {
  fetch(request, env, ctx) {
    return handler.call({ env, ctx }, request);
  },
};
