// make bench-worker: the added latency of an outbound Worker per request.
//
//   node bench/run.mjs [--cpu] N[/label]=dir ...
//   (make bench-worker: 10=target/bench/worker-10 10000=target/bench/worker-10000)
//
// The same request mix (80% pass, 10% block, 10% inject to api.example.com; BENCH_MIX) is sent
// by a user Worker through:
//   none        no outbound Worker (the user Worker's fetch()es go straight to the upstream),
//   js-N        bench/seed-outbound.js, the documented JS outbound Worker (BLOCKED = N domains,
//               substring match; HS256 JWT minted with WebCrypto per request; no logging),
//   js-N+log    the same plus one decision-log-shaped console.log per request
//               (bench/seed-outbound-logged.js): what logging alone costs,
//   floor-N     bench/floor-outbound.js: the contract's floor, a JS Worker doing only what the
//               contract asks of any implementation (header copy, redirect "manual", the
//               upstream timeout, cached token, one schema 2 decision object with its SHA-256
//               chain logged after the upstream answered; tests/e2e/bench-floor.test.mjs
//               audits its lines) with the cheapest decision (a Set lookup per host label):
//               what the contract itself costs,
//   rust-N      this Worker, built with bench/workload.mjs's policy of the same N domains
//               (exact + subdomains) and an HS256 inject rule for the same host,
// each given the customer as `env.customer_name`, as a deployed outbound Worker gets it,
// for N = each size given on the command line (`N=dir-with-index.js-and-index_bg.wasm`;
// `N/label=dir` compares several builds for one N, e.g. `10/before=... 10/after=...`).
// BENCH_PEERS=js,js+log,floor chooses the peers. The upstream is a Worker in the same workerd
// answering at once, so the differences are the outbound Workers' own cost (plus one extra
// Worker hop, which every outbound Worker pays).
//
// A sample is one batch of BATCH sequential fetch()es made inside the user Worker, timed from
// Node; per-request latency = batch time / BATCH. Added latency = that minus the median of
// `none` in the same round. Rounds interleave the configurations so background load on the
// machine hits them alike. Reported: median and p90 over all batches, and the ratio to js-N.
// --cpu: each configuration in a workerd of its own, so no configuration's garbage collection
// or cache misses land on another's; also reports each workerd's added CPU time per request
// (from /proc, summed per round: steadier than wall time on a shared machine).
import { execSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { startWorld } from "../dev/world.mjs";
import { BATCH, INJECT_HOST, MIX, caller, configurations, quantile, requestMix } from "./workload.mjs";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const BATCHES_PER_ROUND = Number(process.env.BENCH_BATCHES ?? 8);
const WARMUP_BATCHES = 3;
const args = process.argv.slice(2);
const separate = args[0] === "--cpu";
const { builds, configs } = configurations(separate ? args.slice(1) : args,
  "usage: node bench/run.mjs [--cpu] 10=target/bench/worker-10 10000=target/bench/worker-10000");

/** The world(s): one workerd for all, or (--cpu) one per configuration with its process id. */
const userOf = (c) => caller(`user-${c.name}`, c, requestMix(c.n ?? builds[0].n).urls);
const runs = {};
if (separate) {
  for (const c of configs) {
    const before = new Set(workerdPids());
    const world = await startWorld({ outbound: c.outbound ? [c.outbound] : [], users: [userOf(c)] });
    const pid = workerdPids().find((p) => !before.has(p));
    runs[c.name] = { world, pid, user: await world.worker(`user-${c.name}`) };
  }
} else {
  const world = await startWorld({ outbound: configs.flatMap((c) => (c.outbound ? [c.outbound] : [])), users: configs.map(userOf) });
  for (const c of configs) runs[c.name] = { world, user: await world.worker(`user-${c.name}`) };
}
const dispose = () => Promise.all([...new Set(Object.values(runs).map((r) => r.world))].map((w) => w.dispose()));

/** Live workerd processes started by this process (miniflare's runtime children). */
function workerdPids() {
  return execSync(`pgrep -P ${process.pid} workerd || true`).toString().trim().split("\n").filter((p) => {
    try { return p && readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1][0] !== "Z"; } catch { return false; }
  });
}
/** CPU time of a process so far, ms (user + system, 100 Hz ticks). */
function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

async function batch(name) {
  const t0 = process.hrtime.bigint();
  const res = await runs[name].user.fetch("http://bench.local/");
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
    await dispose();
    process.exit(1);
  }
}

const added = Object.fromEntries(configs.map((c) => [c.name, []]));
const addedCpu = Object.fromEntries(configs.map((c) => [c.name, []]));
const baseline = [];
const baselineCpu = [];
const median = (xs) => quantile(xs, 0.5);

for (let round = 0; round < ROUNDS; round++) {
  const perRequest = Object.fromEntries(configs.map((c) => [c.name, []]));
  const cpu = Object.fromEntries(configs.map((c) => [c.name, 0]));
  for (let b = 0; b < BATCHES_PER_ROUND; b++) {
    // Rotate the order each batch so no configuration always runs first or last.
    const order = configs.map((_, i) => configs[(i + b + round) % configs.length]);
    for (const c of order) {
      const c0 = separate ? cpuMs(runs[c.name].pid) : 0;
      perRequest[c.name].push((await batch(c.name)).ms / BATCH);
      if (separate) cpu[c.name] += cpuMs(runs[c.name].pid) - c0;
    }
  }
  const none = median(perRequest.none);
  baseline.push(none);
  for (const c of configs) for (const v of perRequest[c.name]) added[c.name].push(v - none);
  if (separate) {
    const perReq = (name) => cpu[name] / (BATCHES_PER_ROUND * BATCH);
    baselineCpu.push(perReq("none"));
    for (const c of configs) addedCpu[c.name].push(perReq(c.name) - perReq("none"));
  }
}
await dispose();

const fmt = (x) => `${x >= 0 ? " " : ""}${x.toFixed(3)}`;
console.log(`\nAdded latency per request (ms), ${ROUNDS} rounds x ${BATCHES_PER_ROUND} batches x ${BATCH} requests per configuration${separate ? ", one workerd per configuration" : ""}`);
console.log(`mix per batch of ${BATCH}: ${JSON.stringify(MIX)} (inject: ${INJECT_HOST}, HS256)`);
console.log(`baseline (no outbound Worker): median ${median(baseline).toFixed(3)} ms per request${separate ? `, CPU ${median(baselineCpu).toFixed(3)} ms` : ""}\n`);
console.log(`config          median      p90   ratio to js-N (median)   to floor-N${separate ? "   CPU med  CPU p90" : ""}`);
const results = {};
for (const c of configs.filter((x) => x.n !== null)) {
  const med = median(added[c.name]);
  const p90 = quantile(added[c.name], 0.9);
  results[c.name] = { median: med, p90 };
  const js = results[`js-${c.n}`];
  const ratio = js && c.kind !== "js" ? `${(med / js.median).toFixed(2)}x` : "";
  const floor = results[`floor-${c.n}`];
  const toFloor = floor && c.kind === "rust" ? `${(med / floor.median).toFixed(2)}x` : "";
  const cpu = separate ? `  ${fmt(median(addedCpu[c.name])).padStart(7)}  ${fmt(quantile(addedCpu[c.name], 0.9)).padStart(7)}` : "";
  console.log(`${c.name.padEnd(14)} ${fmt(med).padStart(7)}  ${fmt(p90).padStart(7)}   ${ratio.padEnd(22)} ${toFloor.padEnd(10)}${cpu}`.trimEnd());
}
console.log("");
for (const b of builds) {
  const wasm = readFileSync(path.join(b.dir.endsWith(".js") ? path.dirname(b.dir) : b.dir, "index_bg.wasm"));
  console.log(`Wasm (${b.n} domains${b.label}): ${(wasm.length / 1024).toFixed(1)} KiB raw, ${(gzipSync(wasm, { level: 9 }).length / 1024).toFixed(1)} KiB Node zlib level 9 (GNU gzip -9, which scripts/build-worker.sh prints, gives ~2.5% less)`);
}
const targets = builds.map((b) => {
  const r = results[`rust-${b.n}${b.label}`];
  const j = results[`js-${b.n}`];
  const jl = results[`js-${b.n}+log`];
  const f = results[`floor-${b.n}`];
  if (!j || !jl || !f) return `${b.n}${b.label}: (the targets need every peer)`;
  const limit = b.n >= 10000 ? 0.2 : 1;
  const met = (x) => (x.median <= j.median * limit ? "met" : "NOT met");
  return `${b.n} domains${b.label}: rust/js = ${(r.median / j.median).toFixed(2)} (target <= ${limit}: ${met(r)}; rust/js+log = ${(r.median / jl.median).toFixed(2)})\n` +
    `    the contract's floor: floor/js = ${(f.median / j.median).toFixed(2)} (${met(f)}); rust/floor = ${(r.median / f.median).toFixed(2)}`;
});
console.log(`\nTargets:\n  ${targets.join("\n  ")}`);
