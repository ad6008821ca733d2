// Where an outbound Worker's time goes (not part of make bench-worker). SOURCE is a Worker build
// directory (index.js + index_bg.wasm), or `js` for the docs' JS Worker plus one log line.
//
//   node bench/profile.mjs SOURCE               V8 CPU profile of the outbound isolate (miniflare
//                                               inspectorPort + CDP Profiler, 50 us sampling)
//                                               under NB (60) batches of bench/run.mjs's 10-domain
//                                               mix, after 5 warm-up batches; self time per
//                                               request by function, largest first
//   node bench/profile.mjs --first SOURCE       the same for one fresh isolate's first request
//                                               (25 us sampling): where its extra milliseconds go
//   node bench/profile.mjs --wasm-call DIR [N]  the build's fetch export called N (5000) times
//                                               inside ONE request, small JS fakes standing in for
//                                               Request/Headers/Response/fetch and console.log a
//                                               no-op: microseconds per call of the Wasm and its
//                                               glue alone (median of 5 runs, minus an empty run)
import path from "node:path";
import WebSocket from "ws";
import { ENTRY, ROOT, startWorld, workerModules } from "../dev/world.mjs";
import { BATCH, JWT_SECRET, caller, peer, requestMix, rust } from "./workload.mjs";

const PORT = 9331;
const [mode, ...rest] = process.argv.slice(2);
const usage = "usage: node bench/profile.mjs [--first] DIR|js, or node bench/profile.mjs --wasm-call DIR [N]";
if (mode === "--wasm-call") await wasmCall(rest[0], Number(rest[1] ?? 5000));
else if (mode === "--first") await profile(rest[0], { first: true });
else await profile(mode, { first: false });

/** The outbound configuration for SOURCE (bench/workload.mjs's): rust-10, or js-10+log. */
function outboundFor(source) {
  if (!source) {
    console.error(usage);
    process.exit(2);
  }
  return source === "js" ? peer("js+log", 10) : rust(10, "", path.resolve(source));
}

async function profile(source, { first }) {
  const c = outboundFor(source);
  const outbound = { ...c.outbound, name: "outbound" };
  const world = await startWorld({ inspectorPort: PORT, outbound: [outbound], users: [caller("user", { ...c, outbound }, requestMix(10).urls)] });
  const user = await world.worker("user");
  const batch = async () => (await user.fetch(`http://bench/${first ? "?url=https%3A%2F%2Fpass.example.org%2Fx" : ""}`)).text();
  if (!first) for (let i = 0; i < 5; i++) await batch();
  const list = await (await fetch(`http://127.0.0.1:${PORT}/json/list`)).json();
  const target = list.find((x) => x.id.endsWith(":outbound") || x.title?.endsWith("outbound"));
  if (!target) throw new Error(`no inspector target for the outbound Worker: ${JSON.stringify(list)}`);
  const ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((r) => ws.on("open", r));
  let id = 0;
  const pending = new Map();
  ws.on("message", (m) => { const d = JSON.parse(m); if (d.id && pending.has(d.id)) { pending.get(d.id)(d); pending.delete(d.id); } });
  const send = (method, params = {}) => new Promise((r) => { const i = ++id; pending.set(i, r); ws.send(JSON.stringify({ id: i, method, params })); });
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: first ? 25 : 50 });
  await send("Profiler.start");
  const batches = first ? 1 : Number(process.env.NB ?? 60);
  const t0 = performance.now();
  for (let i = 0; i < batches; i++) await batch();
  const wall = performance.now() - t0;
  const { result } = await send("Profiler.stop");
  const p = result.profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map();
  let total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    const f = byId.get(p.samples[i]).callFrame;
    const key = `${f.functionName || "(anon)"} ${f.url.split("/").pop()}:${f.lineNumber}:${f.columnNumber}`;
    self.set(key, (self.get(key) ?? 0) + (p.timeDeltas[i] ?? 0));
    total += p.timeDeltas[i] ?? 0;
  }
  const requests = first ? 1 : batches * BATCH;
  console.log(first
    ? `first request: wall ${wall.toFixed(1)} ms; profiled ${(total / 1000).toFixed(1)} ms of the isolate; self time (ms):`
    : `wall ${wall.toFixed(0)} ms for ${requests} requests; profiled ${(total / 1000).toFixed(1)} ms; per request (us):`);
  for (const [key, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, first ? 25 : 40)) {
    console.log((first ? us / 1000 : us / requests).toFixed(2).padStart(8), key);
  }
  ws.close();
  await world.dispose();
}

async function wasmCall(dir, n) {
  if (!dir) {
    console.error(usage);
    process.exit(2);
  }
  const wrapper = `
import worker from "./${path.relative(ROOT, ENTRY)}";
class H { constructor(init) { this.m = new Map(init instanceof H ? init.m : Object.entries(init ?? {})); }
  get(k) { return this.m.get(k) ?? null; } set(k, v) { this.m.set(k, v); } delete(k) { this.m.delete(k); } keys() { return this.m.keys(); } }
class Rq { constructor(u, init) { if (u instanceof Rq) { this.url = u.url; this.method = u.method; } else { this.url = u; this.method = "GET"; }
  this.headers = init?.headers instanceof H ? init.headers : new H(init?.headers); this.redirect = init?.redirect; } }
class Rs { constructor(body, init) { this.body = body; this.status = init?.status ?? 200; this.headers = init?.headers; } }
const URLS = ${JSON.stringify(requestMix(10).urls)};
export default {
  async fetch(request, env) {
    const n = Number(new URL(request.url).searchParams.get("n"));
    const real = { H: globalThis.Headers, Rq: globalThis.Request, Rs: globalThis.Response, fetch: globalThis.fetch, log: console.log };
    Object.assign(globalThis, { Headers: H, Request: Rq, Response: Rs });
    const answer = new Rs("ok");
    globalThis.fetch = () => Promise.resolve(answer);
    console.log = () => {};
    const requests = URLS.map((u) => new Rq(u, { headers: { "user-agent": "bench" } }));
    const ctx = { waitUntil() {} };
    try {
      for (let i = 0; i < n; i++) await worker.fetch(requests[i % requests.length], env, ctx);
    } finally {
      Object.assign(globalThis, { Headers: real.H, Request: real.Rq, Response: real.Rs, fetch: real.fetch });
      console.log = real.log;
    }
    return new real.Rs("done " + n);
  },
};`;
  const { modules } = workerModules(dir);
  const world = await startWorld({
    workers: [{
      name: "wasm-call",
      modulesRoot: ROOT,
      modules: [{ type: "ESModule", path: path.join(ROOT, "wasm-call.mjs"), contents: wrapper }, ...modules],
      bindings: { customer_name: "acme", JWT_SECRET },
    }],
  });
  const run = async (count) => {
    const t0 = process.hrtime.bigint();
    const text = await (await world.mf.dispatchFetch(`http://bench/?n=${count}`)).text();
    if (!text.startsWith("done")) throw new Error(text);
    return Number(process.hrtime.bigint() - t0) / 1e3;
  };
  await run(2000);
  const perCall = [];
  for (let i = 0; i < 5; i++) perCall.push(((await run(n)) - (await run(0))) / n);
  perCall.sort((a, b) => a - b);
  console.log(`${path.basename(path.resolve(dir))}: ${perCall[2].toFixed(1)} us per call (median of 5 x ${n}; runs ${perCall.map((x) => x.toFixed(1)).join(" ")})`);
  await world.dispose();
}
