// What holds workerd's memory after a burst (issue 17's load check): the same bursts through
// configurations of the harness, workerd's VmRSS after each, 10 s later, and after V8 collected
// every isolate's garbage (HeapProfiler.collectGarbage over workerd's inspector). Not a check: a
// probe whose figures go to bench/RESULTS.md.
//
//   node tests/reliability/load-memory.mjs [rust|floor] [--no-tail] [--n N] [--in-flight K] [--bursts B]
//
// `rust`: this Worker (build/); `floor`: bench/floor-outbound.js, a JS outbound Worker doing only
// what the contract asks; `--no-tail`: no Tail Worker (the lines go to workerd's stdout only).
// Prints one JSON line per configuration.
import { setTimeout as sleep } from "node:timers/promises";
import WebSocket from "ws";
import { drive, mib } from "./measure.mjs";
import { HOSTS, startReliabilityWorld } from "./world.mjs";

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const worker = args.includes("floor") ? "floor" : "rust";
const tail = !args.includes("--no-tail");
const N = option("--n", 1000);
const IN_FLIGHT = option("--in-flight", 500);
const BURSTS = option("--bursts", 3);
const CUSTOMERS = 10;
const INSPECTOR = 9229 + Math.floor(Math.random() * 500);

/** Full garbage collection in every isolate of the world's workerd, through its inspector. */
async function collectGarbage() {
  const targets = await (await fetch(`http://127.0.0.1:${INSPECTOR}/json/list`)).json();
  for (const { webSocketDebuggerUrl: url } of targets) {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
    const done = new Promise((resolve) => ws.on("message", (m) => JSON.parse(m).id === 1 && resolve()));
    ws.send(JSON.stringify({ id: 1, method: "HeapProfiler.collectGarbage" }));
    await done;
    ws.close();
  }
  return targets.length;
}

const world = await startReliabilityWorld({
  customers: CUSTOMERS, instant: true, tail, keepLines: false, inspectorPort: INSPECTOR,
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
  const figures = { worker, tail, n: N, inFlight: IN_FLIGHT, started: rss() };
  await burst("warm");
  await sleep(3000);
  figures.baseline = rss();
  figures.isolates = await collectGarbage();
  await sleep(2000);
  figures.baselineAfterGc = rss();
  figures.bursts = [];
  for (let b = 0; b < BURSTS; b++) {
    const t0 = performance.now();
    const results = await burst(`b${b}`);
    const seconds = (performance.now() - t0) / 1000;
    const after = rss();
    await sleep(10_000);
    const idle = rss();
    await collectGarbage();
    await sleep(2000);
    figures.bursts.push({
      perSecond: Math.round(N / seconds), errors: results.filter((r) => r.error).length, fiveXx: results.filter((r) => r.status >= 500).length,
      after, idle10s: idle, afterGc: rss(),
    });
  }
  figures.decisions = world.log.decisions;
  figures.wasm = (await world.wasm()).bytes;
  console.log(JSON.stringify(figures));
} finally {
  await world.dispose();
}
