// The cost of this Worker's own Wasm call and glue, without the runtime's Request/Headers/
// Response/fetch: a Worker build's fetch export is called N times inside ONE request in
// workerd, with small JS fakes standing in for the runtime objects and console.log a no-op.
// Prints microseconds per call (median of 5 runs of N calls, minus an empty run).
// The mix is bench/ab-configs.mjs's batch (32 pass, 4 block, 4 inject), repeated.
// Usage: node bench/wasm-call.mjs target/bench/worker-10 [N=5000]
import path from "node:path";
import { Miniflare } from "miniflare";
import { CD, urls } from "./ab-configs.mjs";

const dir = path.resolve(process.argv[2] ?? "");
const N = Number(process.argv[3] ?? 5000);
const WRAPPER = `
import worker from "./index.js";
class H { constructor(init) { this.m = new Map(init instanceof H ? init.m : Object.entries(init ?? {})); }
  get(k) { return this.m.get(k) ?? null; } set(k, v) { this.m.set(k, v); } delete(k) { this.m.delete(k); } }
class Rq { constructor(u, init) { if (u instanceof Rq) { this.url = u.url; this.method = u.method; } else { this.url = u; this.method = "GET"; }
  this.headers = init?.headers instanceof H ? init.headers : new H(init?.headers); this.redirect = init?.redirect; } }
class Rs { constructor(body, init) { this.body = body; this.status = init?.status ?? 200; this.headers = init?.headers; } }
const URLS = ${JSON.stringify(urls)};
export default {
  async fetch(request, env) {
    const n = Number(new URL(request.url).searchParams.get("n"));
    const real = { H: globalThis.Headers, Rq: globalThis.Request, Rs: globalThis.Response, fetch: globalThis.fetch, log: console.log };
    Object.assign(globalThis, { Headers: H, Request: Rq, Response: Rs });
    const answer = new Rs("ok");
    globalThis.fetch = () => Promise.resolve(answer);
    console.log = () => {};
    const requests = URLS.map((u) => new Rq(u, { headers: { "user-agent": "bench" } }));
    const ctx = { props: { customer_name: "acme" }, waitUntil() {} };
    try {
      for (let i = 0; i < n; i++) await worker.fetch(requests[i % requests.length], env, ctx);
    } finally {
      Object.assign(globalThis, { Headers: real.H, Request: real.Rq, Response: real.Rs, fetch: real.fetch });
      console.log = real.log;
    }
    return new real.Rs("done " + n);
  },
};`;
const mf = new Miniflare({
  modulesRoot: dir,
  modules: [
    { type: "ESModule", path: path.join(dir, "wasm-call-wrapper.mjs"), contents: WRAPPER },
    { type: "ESModule", path: path.join(dir, "index.js") },
    { type: "CompiledWasm", path: path.join(dir, "index_bg.wasm") },
  ],
  compatibilityDate: CD,
  bindings: { JWT_SECRET: "bench-hs256-secret-not-a-real-key", EGRESS_IDENTITY_FROM_PROPS: "true" },
});
await mf.ready;
const run = async (n) => {
  const t0 = process.hrtime.bigint();
  const text = await (await mf.dispatchFetch(`http://bench/?n=${n}`)).text();
  if (!text.startsWith("done")) throw new Error(text);
  return Number(process.hrtime.bigint() - t0) / 1e3;
};
await run(2000);
const perCall = [];
for (let i = 0; i < 5; i++) perCall.push(((await run(N)) - (await run(0))) / N);
perCall.sort((a, b) => a - b);
console.log(`${path.basename(dir)}: ${perCall[2].toFixed(1)} us per call (median of 5 x ${N}; runs ${perCall.map((x) => x.toFixed(1)).join(" ")})`);
await mf.dispose();
