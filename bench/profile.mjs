// V8 CPU profile of this Worker's isolate (miniflare inspectorPort + CDP Profiler, 50 us sampling)
// under bench/run.mjs's 10-domain mix; prints self time per request by function, largest first.
// Usage: NB=40 node bench/profile.mjs target/bench/worker-10   (a build dir with index.js + index_bg.wasm)
import path from "node:path";
import { Miniflare } from "miniflare";
import WebSocket from "ws";
import { INJECT_HOST, blockedDomains } from "./gen-policy.mjs";
const CD = "2026-04-20", JWT_SECRET = "bench-hs256-secret-not-a-real-key";
const dir = path.resolve(process.argv[2]);
const blocked = blockedDomains(10); const urls = [];
for (let i = 0; i < 40; i++) { const slot = i % 10;
  if (slot === 3) { const d = blocked[(blocked.length - 1 - ((i * 7) % blocked.length) + blocked.length) % blocked.length]; urls.push(`https://${i % 2 ? "cdn." : ""}${d}/payload/${i}`); }
  else if (slot === 7) urls.push(`https://${INJECT_HOST}/v1/items/${i}`); else urls.push(`https://site-${i}.example.org/page/${i}?q=${i}`); }
const USER = `export default { async fetch(request, env) { const urls = JSON.parse(env.URLS); for (const url of urls) { const res = await fetch(url); await res.arrayBuffer(); } return new Response("ok"); } };`;
const UP = `export default { fetch() { return new Response("upstream ok"); } };`;
const mf = new Miniflare({ inspectorPort: 9331, handleRuntimeStdio(o, e) { o.resume(); e.resume(); }, workers: [
  { name: "user", modules: true, script: USER, compatibilityDate: CD, bindings: { URLS: JSON.stringify(urls) }, outboundService: { name: "ob", props: { customer_name: "acme" } } },
  { name: "upstream", modules: true, script: UP, compatibilityDate: CD },
  { name: "ob", modulesRoot: dir, modules: [{ type: "ESModule", path: path.join(dir, "index.js") }, { type: "CompiledWasm", path: path.join(dir, "index_bg.wasm") }], compatibilityDate: CD, bindings: { JWT_SECRET, EGRESS_IDENTITY_FROM_PROPS: "true" }, outboundService: "upstream" } ] });
await mf.ready;
const user = await mf.getWorker("user");
for (let i = 0; i < 5; i++) await (await user.fetch("http://b/")).text();
const list = await (await fetch("http://127.0.0.1:9331/json/list")).json();
const t = list.find((x) => x.id.includes(":ob") || x.title?.includes("ob")) ; 
if (!t) { console.log(list); process.exit(1); }
const ws = new WebSocket(t.webSocketDebuggerUrl); await new Promise((r) => ws.on("open", r));
let id = 0; const pending = new Map();
ws.on("message", (m) => { const d = JSON.parse(m); if (d.id && pending.has(d.id)) { pending.get(d.id)(d); pending.delete(d.id); } });
const send = (method, params = {}) => new Promise((r) => { const i = ++id; pending.set(i, r); ws.send(JSON.stringify({ id: i, method, params })); });
await send("Profiler.enable"); await send("Profiler.setSamplingInterval", { interval: 50 });
await send("Profiler.start");
const t0 = Date.now(); const NB = Number(process.env.NB ?? 60);
for (let i = 0; i < NB; i++) await (await user.fetch("http://b/")).text();
const wall = Date.now() - t0;
const { result } = await send("Profiler.stop");
const p = result.profile; const byId = new Map(p.nodes.map((n) => [n.id, n]));
const dt = new Map(); for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const self = new Map(); let total = 0;
for (const [nid, us] of dt) { const n = byId.get(nid); const k = `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.split("/").pop()}:${n.callFrame.lineNumber}:${n.callFrame.columnNumber}`; self.set(k, (self.get(k) ?? 0) + us); total += us; }
const reqs = NB * 40;
console.log(`wall ${wall} ms for ${reqs} requests; profiled ${ (total/1000).toFixed(1)} ms; per request (us):`);
for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 40)) console.log((us / reqs).toFixed(2).padStart(8), k);
ws.close(); await mf.dispose();
