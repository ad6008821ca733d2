// A/B harness (not part of make bench-worker), steadier than bench/ab.mjs: each configuration
// runs in its OWN workerd, so its CPU time can be read from /proc and no configuration's
// garbage collection or cache misses land on another's. bench/run.mjs's 10-domain mix;
// configurations: `name=dir` (a Worker build: index.js + index_bg.wasm), `name=file.js` (a JS
// outbound module, customer as ctx.props) and JS=js-10,js-10+log,floor,passjs-props,...
// Prints, per configuration, the added workerd CPU time and wall time per request over no
// outbound Worker (median and p90 over rounds; rounds rotate the order).
// Usage: JS=js-10,floor R=30 B=30 node bench/cpu.mjs before=target/bench/a after=target/bench/b
import path from "node:path";
import { Miniflare } from "miniflare";
import { INJECT_HOST, blockedDomains } from "./gen-policy.mjs";
const BENCH = path.dirname(new URL(import.meta.url).pathname);
const BATCH = 40, ROUNDS = Number(process.env.R ?? 3), BPR = Number(process.env.B ?? 6);
const N = 10, JWT_SECRET = "bench-hs256-secret-not-a-real-key", CD = "2026-04-20";
const blocked = blockedDomains(N);
const urls = [];
for (let i = 0; i < BATCH; i++) {
  const slot = i % 10;
  if (slot === 3) { const d = blocked[(blocked.length - 1 - ((i * 7) % blocked.length) + blocked.length) % blocked.length]; urls.push(`https://${i % 2 ? "cdn." : ""}${d}/payload/${i}`); }
  else if (slot === 7) urls.push(`https://${INJECT_HOST}/v1/items/${i}`);
  else urls.push(`https://site-${i}.example.org/page/${i}?q=${i}`);
}
const USER = `export default { async fetch(request, env) { const urls = JSON.parse(env.URLS); const counts = {};
 for (const url of urls) { const res = await fetch(url); await res.arrayBuffer(); counts[res.status] = (counts[res.status] ?? 0) + 1; }
 return Response.json(counts); } };`;
const UP = `export default { fetch() { return new Response("upstream ok", { headers: { "content-type": "text/plain" } }); } };`;
const PASS_JS = `export default { fetch(request, env, ctx) { const c = env.customer_name ?? ctx.props?.customer_name; return fetch(request); } };`;
const PASS_CLASS = `import { WorkerEntrypoint } from "cloudflare:workers"; export default class extends WorkerEntrypoint { fetch(request) { const c = this.env.customer_name ?? this.ctx.props?.customer_name; return fetch(request); } };`;
const configs = [{ name: "none", outbound: null }];
const names = ["none"];
const add = (name, outbound, props) => { names.push(name); configs.push({ name, outbound, props }); };
const js = (name, main, props) => add(name, { name: `ob-${name}`, modulesRoot: BENCH, modules: [{ type: "ESModule", path: path.join(BENCH, main) }, ...(main === "seed-outbound.js" ? [] : [{ type: "ESModule", path: path.join(BENCH, "seed-outbound.js") }])],
  compatibilityDate: CD, bindings: { customer_name: "acme", BLOCKED: blocked.join(","), INJECT_HOST, JWT_SECRET }, outboundService: "upstream" }, props);
const wanted = (process.env.JS ?? "js-10,js-10+log").split(",").filter(Boolean);
if (wanted.includes("js-10")) js("js-10", "seed-outbound.js");
if (wanted.includes("js-10+log")) js("js-10+log", "seed-outbound-logged.js");
if (wanted.includes("floor")) add("floor", { name: "ob-floor", modulesRoot: BENCH, modules: [{ type: "ESModule", path: path.join(BENCH, "floor-outbound.js") }], compatibilityDate: CD, bindings: { BLOCKED: blocked.join(","), INJECT_HOST, JWT_SECRET }, outboundService: "upstream" }, { customer_name: "acme" });
if (wanted.includes("passjs-env")) add("passjs-env", { name: "ob-passjs-env", modules: true, script: PASS_JS, compatibilityDate: CD, bindings: { customer_name: "acme" }, outboundService: "upstream" });
if (wanted.includes("passjs-props")) add("passjs-props", { name: "ob-passjs-props", modules: true, script: PASS_JS, compatibilityDate: CD, outboundService: "upstream" }, { customer_name: "acme" });
if (wanted.includes("passjs-class")) add("passjs-class", { name: "ob-passjs-class", modules: true, script: PASS_CLASS, compatibilityDate: CD, outboundService: "upstream" }, { customer_name: "acme" });
for (const arg of process.argv.slice(2)) {
  const [name, dir0] = arg.split("="); const dir = path.resolve(dir0);
  if (dir.endsWith(".js")) { add(name, { name: `ob-${name}`, modulesRoot: path.dirname(dir), modules: [{ type: "ESModule", path: dir }], compatibilityDate: CD, bindings: { JWT_SECRET }, outboundService: "upstream" }, { customer_name: "acme" }); continue; }
  add(name, { name: `ob-${name}`, modulesRoot: dir, modules: [{ type: "ESModule", path: path.join(dir, "index.js") }, { type: "CompiledWasm", path: path.join(dir, "index_bg.wasm") }],
    compatibilityDate: CD, bindings: { JWT_SECRET }, outboundService: "upstream" }, { customer_name: "acme" });
}
import { execSync } from "node:child_process"; import { readFileSync as rf } from "node:fs";
const live = () => execSync(`pgrep -P ${process.pid} workerd || true`).toString().trim().split("\n").filter((p) => { try { return p && rf(`/proc/${p}/stat`, "utf8").split(") ")[1][0] !== "Z"; } catch { return false; } });
const runs = {};
for (const c of configs) {
  const before = new Set(live());
  const workers = [{ name: "upstream", modules: true, script: UP, compatibilityDate: CD },
    { name: "user", modules: true, script: USER, compatibilityDate: CD, bindings: { URLS: JSON.stringify(urls) },
      outboundService: c.outbound ? (c.props ? { name: c.outbound.name, props: c.props } : c.outbound.name) : "upstream" }];
  if (c.outbound) workers.push(c.outbound);
  const mf = new Miniflare({ handleRuntimeStdio(o, e) { o.resume(); e.pipe(process.stderr); }, workers });
  await mf.ready;
  const pid = live().filter((p) => !before.has(p)).pop();
  runs[c.name] = { mf, pid, user: await mf.getWorker("user") };
}
const cpu = (pid) => { const f = rf(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" "); return (Number(f[11]) + Number(f[12])) * 10; }; // ms (100 Hz ticks)
async function batch(n) { const r = await runs[n].user.fetch("http://b/"); return await r.json(); }
for (const n of names) { let c; for (let i = 0; i < 20; i++) c = await batch(n); if (n !== "none" && !n.startsWith("passjs") && (c[403] !== 4 || c[200] !== 36)) { console.error(n, "bad", c); process.exit(1); } }
const q = (xs, p) => { const s = [...xs].sort((a, b) => a - b); const i = (s.length - 1) * p, lo = Math.floor(i), hi = Math.ceil(i); return s[lo] + (s[hi] - s[lo]) * (i - lo); };
const added = Object.fromEntries(names.map((n) => [n, []])); const base = [];
const wall = Object.fromEntries(names.map((n) => [n, []])); const wbase = [];
for (let r = 0; r < ROUNDS; r++) { const per = {}, perw = {};
  for (let i = 0; i < names.length; i++) { const n = names[(i + r) % names.length]; const c0 = cpu(runs[n].pid); const t0 = process.hrtime.bigint(); for (let b = 0; b < BPR; b++) await batch(n); per[n] = (cpu(runs[n].pid) - c0) / (BPR * BATCH); perw[n] = Number(process.hrtime.bigint() - t0) / 1e6 / (BPR * BATCH); }
  base.push(per.none); wbase.push(perw.none); for (const n of names) { added[n].push(per[n] - per.none); wall[n].push(perw[n] - perw.none); } }
for (const n of names) await runs[n].mf.dispose();
console.log(`one workerd per configuration; ${ROUNDS} rounds x ${BPR} batches x ${BATCH} requests; baseline CPU ${q(base, 0.5).toFixed(3)} ms/request, wall ${q(wbase, 0.5).toFixed(3)} ms/request`);
console.log(`${"added per request (ms)".padEnd(22)} ${"CPU med".padStart(8)} ${"CPU p90".padStart(8)} ${"wall med".padStart(8)} ${"wall p90".padStart(8)}`);
for (const n of names.slice(1)) console.log(`${n.padEnd(22)} ${q(added[n], 0.5).toFixed(3).padStart(8)} ${q(added[n], 0.9).toFixed(3).padStart(8)} ${q(wall[n], 0.5).toFixed(3).padStart(8)} ${q(wall[n], 0.9).toFixed(3).padStart(8)}`);
