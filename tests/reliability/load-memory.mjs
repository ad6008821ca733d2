// What holds workerd's memory after a burst (issue 17's load check): the same bursts through
// configurations of the harness, workerd's VmRSS after each, 10 s later, and after V8 collected
// every isolate's garbage (HeapProfiler.collectGarbage over workerd's inspector). Not a check: a
// probe whose figures go to bench/RESULTS.md.
//
//   node tests/reliability/load-memory.mjs [rust|floor] [--stdout] [--direct] [--n N] [--in-flight K] [--bursts B] [--hold MS]
//
// `rust`: this Worker (build/); `floor`: bench/floor-outbound.js, a JS outbound Worker doing only
// what the contract asks; `--stdout`: no Tail Worker, the lines read from workerd's stdout;
// `--direct`: requests straight to the router's own socket, not through miniflare's entry Worker;
// `--hold MS`: a first warm-up burst whose every request the upstream holds MS milliseconds (all
// in flight at once). Each isolate's V8 heap (total and used MiB, Runtime.getHeapUsage) is printed
// to stderr after each burst.
// Prints one JSON line per configuration.
import { setTimeout as sleep } from "node:timers/promises";
import { collectGarbage, heaps } from "./inspector.mjs";
import { drive, mib } from "./measure.mjs";
import { HOSTS, startReliabilityWorld } from "./world.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const worker = args.includes("floor") ? "floor" : "rust";
const lines = args.includes("--stdout") ? "stdout" : "tail";
const direct = args.includes("--direct");
const N = option("--n", 1000);
const IN_FLIGHT = option("--in-flight", 500);
const BURSTS = option("--bursts", 3);
const CUSTOMERS = 10;
const HOLD = option("--hold", 0);
const INSPECTOR = 9229 + Math.floor(Math.random() * 500);

const poke = async () => { await (await world.request(`https://${HOSTS.pass}/probe/inspect`)).arrayBuffer(); };
const collect = async () => (await collectGarbage(INSPECTOR, { poke })).answered;
const isolates = async () => JSON.stringify(await heaps(INSPECTOR, { poke }));
const world = await startReliabilityWorld({
  customers: CUSTOMERS, instant: true, lines, direct, keepLines: false, inspectorPort: INSPECTOR,
  ...(worker === "floor" ? { from: "bench/floor-outbound.js" } : {}),
});
const burst = (label) => drive(N, IN_FLIGHT, async (i) => {
  const kind = i % 10 < 8 ? "pass" : i % 10 === 8 ? "block" : "inject";
  const res = await world.request(`https://${HOSTS[kind]}/probe/${label}/${i}`, { customer: i % CUSTOMERS });
  await res.arrayBuffer();
  return { status: res.status };
});
try {
  const rss = () => mib(world.memory().rss);
  const figures = { worker, lines, direct, n: N, inFlight: IN_FLIGHT, started: rss() };
  const say = (what) => console.error(`# ${((performance.now()) / 1000).toFixed(1)} s: ${what}, RSS ${rss()} MiB`);
  say("started");
  if (HOLD) { await burst(`hold/${HOLD}/x`); say(`held heaps ${await isolates()}`); }
  await burst("warm");
  say(`warmed up heaps ${await isolates()}`);
  await sleep(3000);
  figures.baseline = rss();
  figures.isolates = await collect();
  await sleep(2000);
  figures.baselineAfterGc = rss();
  figures.bursts = [];
  for (let b = 0; b < BURSTS; b++) {
    const t0 = performance.now();
    const results = await burst(`b${b}`);
    const seconds = (performance.now() - t0) / 1000;
    const after = rss();
    say(`burst ${b} heaps ${await isolates()}`);
    await sleep(10_000);
    const idle = rss();
    const gc = await collect();
    await sleep(2000);
    const afterGc = rss();
    const gc2 = await collect();
    await sleep(2000);
    figures.bursts.push({
      gc, gc2, afterGc2: rss(), perSecond: Math.round(N / seconds), errors: results.filter((r) => r.error).length, fiveXx: results.filter((r) => r.status >= 500).length,
      after, idle10s: idle, afterGc,
    });
  }
  figures.decisions = world.log.decisions;
  figures.wasm = (await world.wasm()).bytes;
  console.log(JSON.stringify(figures));
} finally {
  await world.dispose();
}
