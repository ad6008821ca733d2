// make bench-worker: the added latency of an outbound Worker, in ONE workerd (miniflare).
//
// The same request mix (80% pass, 10% block, 10% inject to api.example.com) is sent by a user
// Worker through:
//   none        no outbound Worker (the user Worker's fetch()es go straight to the upstream),
//   js-N        bench/seed-outbound.js, the documented JS outbound Worker (BLOCKED = N domains,
//               substring match; HS256 JWT minted with WebCrypto per request; no logging),
//   js-N+log    the same plus one decision-log-shaped console.log per request
//               (bench/seed-outbound-logged.js): what logging alone costs,
//   floor-N     bench/floor-outbound.js: the contract's floor, a JS Worker doing only what the
//               contract asks of any implementation (header copy, redirect "manual", cached
//               token, one decision object logged after the upstream answered) with the
//               cheapest decision (a Set lookup per host label): what the contract itself costs,
//   rust-N      this Worker, built with bench/gen-policy.mjs's policy of the same N domains
//               (exact + subdomains) and an HS256 inject rule for the same host,
// for N = each size given on the command line (`N=dir-with-index.js-and-index_bg.wasm`).
// The upstream is a Worker in the same workerd answering at once, so the differences are the
// outbound Workers' own cost (plus one extra Worker hop, which both outbound Workers pay).
//
// A sample is one batch of BATCH sequential fetch()es made inside the user Worker, timed from
// Node; per-request latency = batch time / BATCH. Added latency = that minus the median of
// `none` in the same round. Rounds interleave the configurations so background load on the
// machine hits them alike. Reported: median and p90 over all batches, and the ratio to js-N.
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { INJECT_HOST, blockedDomains } from "./gen-policy.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const COMPATIBILITY_DATE = "2026-04-20";
const BATCH = Number(process.env.BENCH_BATCH ?? 40);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const BATCHES_PER_ROUND = Number(process.env.BENCH_BATCHES ?? 8);
const WARMUP_BATCHES = 3;
const JWT_SECRET = "bench-hs256-secret-not-a-real-key";

const builds = process.argv.slice(2).map((arg) => {
  const [n, dir] = arg.split("=");
  if (!n || !dir || !Number.isInteger(Number(n))) throw new Error(`usage: node bench/run.mjs N=dir ...; got ${arg}`);
  return { n: Number(n), dir: path.resolve(dir) };
});
if (builds.length === 0) {
  console.error("usage: node bench/run.mjs 10=target/bench/worker-10 10000=target/bench/worker-10000");
  process.exit(2);
}

// BENCH_MIX=pass:80,block:10,inject:10 (the default) sets the mix, to see where time goes.
const MIX = Object.fromEntries((process.env.BENCH_MIX ?? "pass:80,block:10,inject:10").split(",").map((kv) => {
  const [k, v] = kv.split(":");
  if (!["pass", "block", "inject"].includes(k) || !(Number(v) >= 0)) throw new Error(`BENCH_MIX: bad entry ${kv}`);
  return [k, Number(v)];
}));
const MIX_TOTAL = (MIX.pass ?? 0) + (MIX.block ?? 0) + (MIX.inject ?? 0);

/** The request list of one batch, the kinds interleaved in the mix's proportions. */
function requestMix(n) {
  const blocked = blockedDomains(n);
  const urls = [];
  const kinds = [];
  for (let i = 0; i < BATCH; i++) {
    // Deterministic interleaving: at each position pick the kind furthest behind its share.
    const want = (k) => ((i + 1) * (MIX[k] ?? 0)) / MIX_TOTAL - kinds.filter((x) => x === k).length;
    const kind = ["block", "inject", "pass"].reduce((a, b) => (want(b) > want(a) ? b : a));
    kinds.push(kind);
    if (kind === "block") {
      // Spread over the list, the last entry included (worst case for a linear scan).
      const d = blocked[(blocked.length - 1 - ((i * 7) % blocked.length) + blocked.length) % blocked.length];
      urls.push(`https://${i % 2 ? "cdn." : ""}${d}/payload/${i}`);
    } else if (kind === "inject") {
      urls.push(`https://${INJECT_HOST}/v1/items/${i}`);
    } else {
      urls.push(`https://site-${i}.example.org/page/${i}?q=${i}`);
    }
  }
  return { urls, blocks: kinds.filter((k) => k === "block").length };
}

const USER_WORKER = `
export default {
  async fetch(request, env) {
    const urls = JSON.parse(env.URLS);
    const counts = {};
    for (const url of urls) {
      const res = await fetch(url);
      await res.arrayBuffer();
      counts[res.status] = (counts[res.status] ?? 0) + 1;
    }
    return Response.json(counts);
  },
};`;

const UPSTREAM_WORKER = `
export default {
  fetch(request) {
    return new Response("upstream ok", { headers: { "content-type": "text/plain" } });
  },
};`;

const configs = [{ name: "none", n: null }];
for (const b of builds) {
  configs.push(
    { name: `js-${b.n}`, n: b.n, kind: "js", main: "seed-outbound.js" },
    { name: `js-${b.n}+log`, n: b.n, kind: "js", main: "seed-outbound-logged.js" },
    { name: `floor-${b.n}`, n: b.n, kind: "floor" },
    { name: `rust-${b.n}`, n: b.n, kind: "rust", dir: b.dir },
  );
}

const workers = [{ name: "upstream", modules: true, script: UPSTREAM_WORKER, compatibilityDate: COMPATIBILITY_DATE }];
for (const c of configs) {
  const mixN = c.n ?? builds[0].n;
  const user = { name: `user-${c.name}`, modules: true, script: USER_WORKER, compatibilityDate: COMPATIBILITY_DATE, bindings: { URLS: JSON.stringify(requestMix(mixN).urls) } };
  if (c.kind === "js") {
    user.outboundService = `outbound-${c.name}`;
    workers.push({
      name: `outbound-${c.name}`,
      modulesRoot: HERE,
      modules: [
        { type: "ESModule", path: path.join(HERE, c.main) },
        ...(c.main === "seed-outbound.js" ? [] : [{ type: "ESModule", path: path.join(HERE, "seed-outbound.js") }]),
      ],
      compatibilityDate: COMPATIBILITY_DATE,
      // As deployed: the customer as env.customer_name (the seed reads it there).
      bindings: { customer_name: "acme", BLOCKED: blockedDomains(c.n).join(","), INJECT_HOST, JWT_SECRET },
      outboundService: "upstream",
    });
  } else if (c.kind === "floor") {
    // Like this Worker: the customer arrives as ctx.props (the local equivalent of the
    // dispatch namespace's outbound parameters).
    user.outboundService = { name: `outbound-${c.name}`, props: { customer_name: "acme" } };
    workers.push({
      name: `outbound-${c.name}`,
      modulesRoot: HERE,
      modules: [{ type: "ESModule", path: path.join(HERE, "floor-outbound.js") }, { type: "ESModule", path: path.join(HERE, "seed-outbound.js") }],
      compatibilityDate: COMPATIBILITY_DATE,
      bindings: { BLOCKED: blockedDomains(c.n).join(","), INJECT_HOST, JWT_SECRET },
      outboundService: "upstream",
    });
  } else if (c.kind === "rust") {
    user.outboundService = { name: `outbound-${c.name}`, props: { customer_name: "acme" } };
    workers.push({
      name: `outbound-${c.name}`,
      modulesRoot: c.dir,
      modules: [
        { type: "ESModule", path: path.join(c.dir, "index.js") },
        { type: "CompiledWasm", path: path.join(c.dir, "index_bg.wasm") },
      ],
      compatibilityDate: COMPATIBILITY_DATE,
      // The customer comes as ctx.props, read only on the opt-in.
      bindings: { JWT_SECRET, EGRESS_IDENTITY_FROM_PROPS: "true" },
      outboundService: "upstream",
    });
  } else {
    user.outboundService = "upstream";
  }
  workers.push(user);
}

const mf = new Miniflare({
  // The decision log lines go to workerd's stdout: read and dropped (logging cost included).
  handleRuntimeStdio(stdout, stderr) { stdout.resume(); stderr.pipe(process.stderr); },
  workers,
});
await mf.ready;
const users = Object.fromEntries(await Promise.all(configs.map(async (c) => [c.name, await mf.getWorker(`user-${c.name}`)])));

async function batch(name) {
  const t0 = process.hrtime.bigint();
  const res = await users[name].fetch("http://bench.local/");
  const counts = await res.json();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms, counts };
}

// Warm-up, and a check that each configuration does what it should with the mix.
const expectedBlocked = requestMix(builds[0].n).blocks;
for (const c of configs) {
  let counts;
  for (let i = 0; i < WARMUP_BATCHES; i++) ({ counts } = await batch(c.name));
  const blocked = counts[403] ?? 0;
  const ok = counts[200] ?? 0;
  if (c.n === null ? ok !== BATCH : blocked !== expectedBlocked || ok !== BATCH - expectedBlocked) {
    console.error(`${c.name}: unexpected statuses for the mix: ${JSON.stringify(counts)}`);
    await mf.dispose();
    process.exit(1);
  }
}

const added = Object.fromEntries(configs.map((c) => [c.name, []]));
const baseline = [];
const median = (xs) => quantile(xs, 0.5);
function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return s[lo] + (s[hi] - s[lo]) * (i - lo);
}

for (let round = 0; round < ROUNDS; round++) {
  const perRequest = Object.fromEntries(configs.map((c) => [c.name, []]));
  for (let b = 0; b < BATCHES_PER_ROUND; b++) {
    // Rotate the order each batch so no configuration always runs first or last.
    const order = configs.map((_, i) => configs[(i + b + round) % configs.length]);
    for (const c of order) perRequest[c.name].push((await batch(c.name)).ms / BATCH);
  }
  const none = median(perRequest.none);
  baseline.push(none);
  for (const c of configs) for (const v of perRequest[c.name]) added[c.name].push(v - none);
}
await mf.dispose();

const fmt = (x) => `${x >= 0 ? " " : ""}${x.toFixed(3)}`;
console.log(`\nAdded latency per request (ms), ${ROUNDS} rounds x ${BATCHES_PER_ROUND} batches x ${BATCH} requests per configuration`);
console.log(`mix per batch of ${BATCH}: ${JSON.stringify(MIX)} (inject: ${INJECT_HOST}, HS256)`);
console.log(`baseline (no outbound Worker): median ${median(baseline).toFixed(3)} ms per request\n`);
console.log("config          median      p90   ratio to js-N (median)   to floor-N");
const results = {};
for (const c of configs.filter((x) => x.n !== null)) {
  const med = median(added[c.name]);
  const p90 = quantile(added[c.name], 0.9);
  results[c.name] = { median: med, p90 };
  const js = c.name === `js-${c.n}` ? null : results[`js-${c.n}`];
  const ratio = js ? `${(med / js.median).toFixed(2)}x` : "";
  const floor = c.name === `rust-${c.n}` ? `${(med / results[`floor-${c.n}`].median).toFixed(2)}x` : "";
  console.log(`${c.name.padEnd(14)} ${fmt(med).padStart(7)}  ${fmt(p90).padStart(7)}   ${ratio.padEnd(22)} ${floor}`);
}
console.log("");
for (const b of builds) {
  const wasm = readFileSync(path.join(b.dir, "index_bg.wasm"));
  console.log(`Wasm (${b.n} domains): ${(wasm.length / 1024).toFixed(1)} KiB raw, ${(gzipSync(wasm, { level: 9 }).length / 1024).toFixed(1)} KiB Node zlib level 9 (GNU gzip -9, which scripts/build-worker.sh prints, gives ~2.5% less)`);
}
const targets = builds.map((b) => {
  const r = results[`rust-${b.n}`];
  const j = results[`js-${b.n}`];
  const limit = b.n >= 10000 ? 0.2 : 1;
  const jl = results[`js-${b.n}+log`];
  const f = results[`floor-${b.n}`];
  const met = (x) => (x.median <= j.median * limit ? "met" : "NOT met");
  return `${b.n} domains: rust/js = ${(r.median / j.median).toFixed(2)} (target <= ${limit}: ${met(r)}; rust/js+log = ${(r.median / jl.median).toFixed(2)})\n` +
    `    the contract's floor: floor/js = ${(f.median / j.median).toFixed(2)} (${met(f)}); rust/floor = ${(r.median / f.median).toFixed(2)}`;
});
console.log(`\nTargets:\n  ${targets.join("\n  ")}`);
