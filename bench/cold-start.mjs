// Cold start: what the first intercepted request of a fresh isolate costs, against a warm one.
//
//   node bench/cold-start.mjs 10=target/bench/worker-10 10000=target/bench/worker-10000
//   (make bench-cold builds those and runs this)
//
// Per sample, a fresh workerd (miniflare) with a user Worker whose fetch() goes through the
// outbound Worker under test to an upstream Worker answering at once. Timed from Node:
//   start  `new Miniflare` until ready (workerd start, script and Wasm compile);
//   first  the first request through the outbound Worker (instantiation, the policy's load,
//          the matcher's first use);
//   warm   the median of the next WARM requests;
// and first - warm, the cost a customer's first request in a new isolate pays. The JS outbound
// Worker of the platform's docs (bench/seed-outbound.js, N blocked domains) is measured the same
// way. Medians over SAMPLES samples (interleaved across configurations), p90 beside them.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { Miniflare } from "miniflare";
import { INJECT_HOST, blockedDomains } from "./gen-policy.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CD = "2026-04-20";
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 9);
const WARM = Number(process.env.BENCH_WARM ?? 20);
const JWT_SECRET = "bench-hs256-secret-not-a-real-key";

const builds = process.argv.slice(2).map((arg) => {
  const [n, dir] = arg.split("=");
  if (!n || !dir || !Number.isInteger(Number(n))) throw new Error(`usage: node bench/cold-start.mjs N=dir ...; got ${arg}`);
  return { n: Number(n), dir: path.resolve(dir) };
});
if (builds.length === 0) {
  console.error("usage: node bench/cold-start.mjs 10=target/bench/worker-10 10000=target/bench/worker-10000");
  process.exit(2);
}

const UPSTREAM = `export default { fetch() { return new Response("ok"); } };`;
// The request: a pass to a host that is not on the block list (the common case).
const USER = `export default { async fetch() { const r = await fetch("https://pass.example.org/x"); await r.arrayBuffer(); return new Response(String(r.status)); } };`;

function configurations() {
  const out = [];
  for (const { n, dir } of builds) {
    out.push({
      name: `js-${n}`,
      outbound: {
        modulesRoot: HERE,
        modules: [{ type: "ESModule", path: path.join(HERE, "seed-outbound.js") }],
        bindings: { customer_name: "acme", BLOCKED: blockedDomains(n).join(","), INJECT_HOST, JWT_SECRET },
      },
      props: null,
    });
    out.push({
      name: `rust-${n}`,
      wasm: path.join(dir, "index_bg.wasm"),
      outbound: {
        modulesRoot: dir,
        modules: [
          { type: "ESModule", path: path.join(dir, "index.js") },
          { type: "CompiledWasm", path: path.join(dir, "index_bg.wasm") },
        ],
        bindings: { JWT_SECRET, EGRESS_IDENTITY_FROM_PROPS: "true" },
      },
      props: { customer_name: "acme" },
    });
  }
  return out;
}

async function sample(c) {
  const t0 = performance.now();
  const mf = new Miniflare({
    workers: [
      { name: "user", modules: true, script: USER, compatibilityDate: CD, outboundService: c.props ? { name: "ob", props: c.props } : "ob" },
      { name: "ob", compatibilityDate: CD, outboundService: "upstream", ...c.outbound },
      { name: "upstream", modules: true, script: UPSTREAM, compatibilityDate: CD },
    ],
  });
  try {
    await mf.ready;
    const user = await mf.getWorker("user");
    const t1 = performance.now();
    const first = await user.fetch("http://user.test/");
    const status = await first.text();
    const t2 = performance.now();
    if (status !== "200") throw new Error(`${c.name}: the request did not pass (${status})`);
    const warm = [];
    for (let i = 0; i < WARM; i++) {
      const s = performance.now();
      await (await user.fetch("http://user.test/")).text();
      warm.push(performance.now() - s);
    }
    return { start: t1 - t0, first: t2 - t1, warm: quantile(warm, 0.5) };
  } finally {
    await mf.dispose();
  }
}

const quantile = (xs, p) => { const s = [...xs].sort((a, b) => a - b); const i = (s.length - 1) * p, lo = Math.floor(i), hi = Math.ceil(i); return s[lo] + (s[hi] - s[lo]) * (i - lo); };

const configs = configurations();
const results = Object.fromEntries(configs.map((c) => [c.name, []]));
for (let round = 0; round < SAMPLES; round++) {
  // Rotate the order so background load hits every configuration alike.
  for (let k = 0; k < configs.length; k++) {
    const c = configs[(round + k) % configs.length];
    results[c.name].push(await sample(c));
  }
}

const ms = (x) => x.toFixed(1).padStart(7);
console.log(`cold start, ${SAMPLES} samples each (fresh workerd per sample), milliseconds: median (p90)`);
console.log(`${"config".padEnd(12)} ${"wasm raw/gzip".padStart(20)} ${"start".padStart(17)} ${"first".padStart(17)} ${"warm".padStart(17)} ${"first-warm".padStart(17)}`);
for (const c of configs) {
  const r = results[c.name];
  const col = (f) => `${ms(quantile(r.map(f), 0.5))} (${ms(quantile(r.map(f), 0.9))})`;
  let size = "-";
  if (c.wasm) {
    const bytes = readFileSync(c.wasm);
    size = `${Math.round(bytes.length / 1024)}/${Math.round(gzipSync(bytes, { level: 9 }).length / 1024)} KiB`;
  }
  console.log(`${c.name.padEnd(12)} ${size.padStart(20)} ${col((s) => s.start)} ${col((s) => s.first)} ${col((s) => s.warm)} ${col((s) => s.first - s.warm)}`);
}
