// V8 CPU profile of one fresh isolate's first intercepted request (miniflare inspectorPort +
// CDP Profiler, 25 us sampling): where the first request's extra milliseconds go.
// Usage: node bench/first-request-profile.mjs target/bench/worker-10   (a build dir)
//        node bench/first-request-profile.mjs js   (the docs' JS Worker plus one log line)
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import WebSocket from "ws";
import { INJECT_HOST, blockedDomains } from "./gen-policy.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CD = "2026-04-20", JWT_SECRET = "bench-hs256-secret-not-a-real-key", PORT = 9332;
const arg = process.argv[2];
const USER = `export default { async fetch() { const r = await fetch("https://pass.example.org/x"); await r.arrayBuffer(); return new Response(String(r.status)); } };`;
const UP = `export default { fetch() { return new Response("ok"); } };`;
const ob = arg === "js"
  ? { modulesRoot: HERE, modules: [{ type: "ESModule", path: path.join(HERE, "seed-outbound-logged.js") }, { type: "ESModule", path: path.join(HERE, "seed-outbound.js") }],
      bindings: { customer_name: "acme", BLOCKED: blockedDomains(10).join(","), INJECT_HOST, JWT_SECRET } }
  : { modulesRoot: path.resolve(arg), modules: [{ type: "ESModule", path: path.join(path.resolve(arg), "index.js") }, { type: "CompiledWasm", path: path.join(path.resolve(arg), "index_bg.wasm") }],
      bindings: { JWT_SECRET, EGRESS_IDENTITY_FROM_PROPS: "true" } };
const mf = new Miniflare({ inspectorPort: PORT, handleRuntimeStdio(o, e) { o.resume(); e.resume(); }, workers: [
  { name: "user", modules: true, script: USER, compatibilityDate: CD, outboundService: arg === "js" ? "ob" : { name: "ob", props: { customer_name: "acme" } } },
  { name: "upstream", modules: true, script: UP, compatibilityDate: CD },
  { name: "ob", compatibilityDate: CD, outboundService: "upstream", ...ob } ] });
await mf.ready;
const user = await mf.getWorker("user");
const list = await (await fetch(`http://127.0.0.1:${PORT}/json/list`)).json();
const t = list.find((x) => x.id.includes(":ob") || x.title?.includes("ob"));
const ws = new WebSocket(t.webSocketDebuggerUrl); await new Promise((r) => ws.on("open", r));
let id = 0; const pending = new Map();
ws.on("message", (m) => { const d = JSON.parse(m); if (d.id && pending.has(d.id)) { pending.get(d.id)(d); pending.delete(d.id); } });
const send = (method, params = {}) => new Promise((r) => { const i = ++id; pending.set(i, r); ws.send(JSON.stringify({ id: i, method, params })); });
await send("Profiler.enable"); await send("Profiler.setSamplingInterval", { interval: 25 });
await send("Profiler.start");
const t0 = performance.now();
await (await user.fetch("http://b/")).text();
const wall = performance.now() - t0;
const { result } = await send("Profiler.stop");
const p = result.profile; const byId = new Map(p.nodes.map((n) => [n.id, n]));
const dt = new Map(); for (let i = 0; i < p.samples.length; i++) dt.set(p.samples[i], (dt.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const self = new Map(); let total = 0;
for (const [nid, us] of dt) { const n = byId.get(nid); const k = `${n.callFrame.functionName || "(anon)"} ${n.callFrame.url.split("/").pop()}:${n.callFrame.lineNumber}`; self.set(k, (self.get(k) ?? 0) + us); total += us; }
console.log(`first request: wall ${wall.toFixed(1)} ms; profiled ${(total / 1000).toFixed(1)} ms of the isolate; self time (ms):`);
for (const [k, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log((us / 1000).toFixed(2).padStart(8), k);
ws.close(); await mf.dispose();
