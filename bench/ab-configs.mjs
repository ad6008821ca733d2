// What bench/ab.mjs and bench/cpu.mjs compare: bench/run.mjs's 10-domain mix (one batch of 40
// URLs), the user and upstream Workers, and the outbound configurations named on the command
// line (`name=dir` a Worker build with index.js + index_bg.wasm, `name=file.js` a JS outbound
// module) and in JS=... (js-10, js-10+log, floor, passjs-env, passjs-props, passjs-class).
import path from "node:path";
import { INJECT_HOST, blockedDomains } from "./gen-policy.mjs";

const BENCH = path.dirname(new URL(import.meta.url).pathname);
export const BATCH = 40;
export const CD = "2026-04-20";
const JWT_SECRET = "bench-hs256-secret-not-a-real-key";
const blocked = blockedDomains(10);

/** One batch: 4 blocked, 4 injected, 32 passed URLs (ONLY=block|inject|pass: 40 of one kind). */
const ONLY = process.env.ONLY;
export const urls = [];
for (let i = 0; i < BATCH; i++) {
  const slot = ONLY === "block" ? 3 : ONLY === "inject" ? 7 : ONLY === "pass" ? 0 : i % 10;
  if (slot === 3) { const d = blocked[(blocked.length - 1 - ((i * 7) % blocked.length) + blocked.length) % blocked.length]; urls.push(`https://${i % 2 ? "cdn." : ""}${d}/payload/${i}`); }
  else if (slot === 7) urls.push(`https://${INJECT_HOST}/v1/items/${i}`);
  else urls.push(`https://site-${i}.example.org/page/${i}?q=${i}`);
}
export const USER = `export default { async fetch(request, env) { const urls = JSON.parse(env.URLS); const counts = {};
 for (const url of urls) { const res = await fetch(url); await res.arrayBuffer(); counts[res.status] = (counts[res.status] ?? 0) + 1; }
 return Response.json(counts); } };`;
export const UP = `export default { fetch() { return new Response("upstream ok", { headers: { "content-type": "text/plain" } }); } };`;
const PASS_JS = `export default { fetch(request, env, ctx) { const c = env.customer_name ?? ctx.props?.customer_name; return fetch(request); } };`;
const PASS_CLASS = `import { WorkerEntrypoint } from "cloudflare:workers"; export default class extends WorkerEntrypoint { fetch(request) { const c = this.env.customer_name ?? this.ctx.props?.customer_name; return fetch(request); } };`;

/**
 * The configurations, `none` (no outbound Worker) first: `{ name, outbound, props }` with
 * `outbound` a miniflare worker (its service name `ob-<name>`, its own outbound the Worker
 * `upstream`) and `props` the customer parameters, or null to pass none.
 */
export function configurations(args, wantedJs) {
  const configs = [{ name: "none", outbound: null, props: null }];
  const add = (name, outbound, props = null) => configs.push({ name, outbound: { name: `ob-${name}`, compatibilityDate: CD, outboundService: "upstream", ...outbound }, props });
  const acme = { customer_name: "acme" };
  const seed = (main) => ({ modulesRoot: BENCH, modules: [{ type: "ESModule", path: path.join(BENCH, main) }, ...(main === "seed-outbound.js" ? [] : [{ type: "ESModule", path: path.join(BENCH, "seed-outbound.js") }])],
    bindings: { customer_name: "acme", BLOCKED: blocked.join(","), INJECT_HOST, JWT_SECRET } });
  if (wantedJs.includes("js-10")) add("js-10", seed("seed-outbound.js"));
  if (wantedJs.includes("js-10+log")) add("js-10+log", seed("seed-outbound-logged.js"));
  if (wantedJs.includes("floor")) add("floor", { modulesRoot: BENCH, modules: [{ type: "ESModule", path: path.join(BENCH, "floor-outbound.js") }, { type: "ESModule", path: path.join(BENCH, "seed-outbound.js") }], bindings: { BLOCKED: blocked.join(","), INJECT_HOST, JWT_SECRET } }, acme);
  if (wantedJs.includes("passjs-env")) add("passjs-env", { modules: true, script: PASS_JS, bindings: { customer_name: "acme" } });
  if (wantedJs.includes("passjs-props")) add("passjs-props", { modules: true, script: PASS_JS }, acme);
  if (wantedJs.includes("passjs-class")) add("passjs-class", { modules: true, script: PASS_CLASS }, acme);
  for (const arg of args) {
    const [name, given] = arg.split("=");
    if (!name || !given) throw new Error(`expected name=dir (a Worker build) or name=file.js, got ${arg}`);
    const dir = path.resolve(given);
    if (dir.endsWith(".js")) add(name, { modulesRoot: path.dirname(dir), modules: [{ type: "ESModule", path: dir }], bindings: { JWT_SECRET, EGRESS_IDENTITY_FROM_PROPS: "true" } }, acme);
    else add(name, { modulesRoot: dir, modules: [{ type: "ESModule", path: path.join(dir, "index.js") }, { type: "CompiledWasm", path: path.join(dir, "index_bg.wasm") }], bindings: { JWT_SECRET, EGRESS_IDENTITY_FROM_PROPS: "true" } }, acme);
  }
  return configs;
}

/** The user Worker of configuration `c`, named `name`. */
export function userWorker(c, name) {
  const outboundService = c.outbound ? (c.props ? { name: c.outbound.name, props: c.props } : c.outbound.name) : "upstream";
  return { name, modules: true, script: USER, compatibilityDate: CD, bindings: { URLS: JSON.stringify(urls) }, outboundService };
}

/** Whether a batch's status counts are what configuration `name` must give for the mix. */
export function batchOk(name, counts) {
  const blocked = ONLY === "block" ? BATCH : ONLY ? 0 : 4;
  return name === "none" || name.startsWith("passjs") || ((counts[403] ?? 0) === blocked && (counts[200] ?? 0) === BATCH - blocked);
}

export const quantile = (xs, p) => { const s = [...xs].sort((a, b) => a - b); const i = (s.length - 1) * p, lo = Math.floor(i), hi = Math.ceil(i); return s[lo] + (s[hi] - s[lo]) * (i - lo); };
