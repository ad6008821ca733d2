// Scratch A/B harness (not part of make bench-worker): bench/run.mjs's 10-domain mix through any
// number of Rust builds (`name=dir`) plus JS variants (JS=js-10,js-10+log,floor,passjs-env,passjs-props,passjs-class),
// R rounds x B batches x 40 requests, interleaved; prints added ms (median, p90) per variant.
// Usage: JS=js-10,js-10+log R=10 B=8 node bench/ab.mjs before=target/bench/a after=target/bench/b
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
const workers = [{ name: "upstream", modules: true, script: UP, compatibilityDate: CD }];
const names = ["none"];
const add = (name, outbound, props) => {
  names.push(name);
  workers.push(outbound);
  workers.push({ name: `user-${name}`, modules: true, script: USER, compatibilityDate: CD, bindings: { URLS: JSON.stringify(urls) },
    outboundService: props ? { name: outbound.name, props } : outbound.name });
};
workers.push({ name: "user-none", modules: true, script: USER, compatibilityDate: CD, bindings: { URLS: JSON.stringify(urls) }, outboundService: "upstream" });
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
  add(name, { name: `ob-${name}`, modulesRoot: dir, modules: [{ type: "ESModule", path: path.join(dir, "index.js") }, { type: "CompiledWasm", path: path.join(dir, "index_bg.wasm") }],
    compatibilityDate: CD, bindings: { JWT_SECRET }, outboundService: "upstream" }, { customer_name: "acme" });
}
const mf = new Miniflare({ handleRuntimeStdio(o, e) { o.resume(); e.pipe(process.stderr); }, workers });
await mf.ready;
const users = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await mf.getWorker(`user-${n}`)])));
async function batch(n) { const t0 = process.hrtime.bigint(); const r = await users[n].fetch("http://b/"); const c = await r.json(); return { ms: Number(process.hrtime.bigint() - t0) / 1e6, c }; }
for (const n of names) { let c; for (let i = 0; i < 3; i++) ({ c } = await batch(n)); if (n !== "none" && !n.startsWith("passjs") && (c[403] !== 4 || c[200] !== 36)) { console.error(n, "bad", c); process.exit(1); } }
const q = (xs, p) => { const s = [...xs].sort((a, b) => a - b); const i = (s.length - 1) * p, lo = Math.floor(i), hi = Math.ceil(i); return s[lo] + (s[hi] - s[lo]) * (i - lo); };
const added = Object.fromEntries(names.map((n) => [n, []])); const base = [];
for (let r = 0; r < ROUNDS; r++) { const per = Object.fromEntries(names.map((n) => [n, []]));
  for (let b = 0; b < BPR; b++) { for (let i = 0; i < names.length; i++) { const n = names[(i + b + r) % names.length]; per[n].push((await batch(n)).ms / BATCH); } }
  const none = q(per.none, 0.5); base.push(none); for (const n of names) for (const v of per[n]) added[n].push(v - none); }
await mf.dispose();
console.log(`baseline ${q(base, 0.5).toFixed(3)} ms; added ms (median p90), ${ROUNDS}x${BPR}x${BATCH}`);
for (const n of names.slice(1)) console.log(`${n.padEnd(22)} ${q(added[n], 0.5).toFixed(3)}  ${q(added[n], 0.9).toFixed(3)}`);
