// A/B harness (not part of make bench-worker), steadier than bench/ab.mjs: each configuration
// runs in its OWN workerd, so its CPU time can be read from /proc and no configuration's
// garbage collection or cache misses land on another's. bench/run.mjs's 10-domain mix;
// configurations: `name=dir` (a Worker build: index.js + index_bg.wasm), `name=file.js` (a JS
// outbound module, customer as ctx.props) and JS=js-10,js-10+log,floor,passjs-props,...
// Prints, per configuration, the added workerd CPU time and wall time per request over no
// outbound Worker (median and p90 over rounds; rounds rotate the order).
// Usage: JS=js-10,floor R=30 B=30 node bench/cpu.mjs before=target/bench/a after=target/bench/b
import { execSync } from "node:child_process";
import { readFileSync as rf } from "node:fs";
import { Miniflare } from "miniflare";
import { BATCH, CD, UP, batchOk, configurations, quantile as q, userWorker } from "./ab-configs.mjs";

const ROUNDS = Number(process.env.R ?? 3), BPR = Number(process.env.B ?? 6);
const configs = configurations(process.argv.slice(2), (process.env.JS ?? "js-10,js-10+log").split(",").filter(Boolean));
const names = configs.map((c) => c.name);
/** Live workerd processes started by this process (miniflare's runtime children). */
const live = () => execSync(`pgrep -P ${process.pid} workerd || true`).toString().trim().split("\n").filter((p) => { try { return p && rf(`/proc/${p}/stat`, "utf8").split(") ")[1][0] !== "Z"; } catch { return false; } });
const runs = {};
for (const c of configs) {
  const before = new Set(live());
  const workers = [{ name: "upstream", modules: true, script: UP, compatibilityDate: CD }, userWorker(c, "user")];
  if (c.outbound) workers.push(c.outbound);
  const mf = new Miniflare({ handleRuntimeStdio(o, e) { o.resume(); e.pipe(process.stderr); }, workers });
  await mf.ready;
  const pid = live().filter((p) => !before.has(p)).pop();
  runs[c.name] = { mf, pid, user: await mf.getWorker("user") };
}
const cpu = (pid) => { const f = rf(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" "); return (Number(f[11]) + Number(f[12])) * 10; }; // ms (100 Hz ticks)
async function batch(n) { const r = await runs[n].user.fetch("http://b/"); return await r.json(); }
for (const n of names) { let c; for (let i = 0; i < 20; i++) c = await batch(n); if (!batchOk(n, c)) { console.error(n, "bad", c); process.exit(1); } }
const added = Object.fromEntries(names.map((n) => [n, []])); const base = [];
const wall = Object.fromEntries(names.map((n) => [n, []])); const wbase = [];
for (let r = 0; r < ROUNDS; r++) { const per = {}, perw = {};
  for (let i = 0; i < names.length; i++) { const n = names[(i + r) % names.length]; const c0 = cpu(runs[n].pid); const t0 = process.hrtime.bigint(); for (let b = 0; b < BPR; b++) await batch(n); per[n] = (cpu(runs[n].pid) - c0) / (BPR * BATCH); perw[n] = Number(process.hrtime.bigint() - t0) / 1e6 / (BPR * BATCH); }
  base.push(per.none); wbase.push(perw.none); for (const n of names) { added[n].push(per[n] - per.none); wall[n].push(perw[n] - perw.none); } }
for (const n of names) await runs[n].mf.dispose();
console.log(`one workerd per configuration; ${ROUNDS} rounds x ${BPR} batches x ${BATCH} requests; baseline CPU ${q(base, 0.5).toFixed(3)} ms/request, wall ${q(wbase, 0.5).toFixed(3)} ms/request`);
console.log(`${"added per request (ms)".padEnd(22)} ${"CPU med".padStart(8)} ${"CPU p90".padStart(8)} ${"wall med".padStart(8)} ${"wall p90".padStart(8)}`);
for (const n of names.slice(1)) console.log(`${n.padEnd(22)} ${q(added[n], 0.5).toFixed(3).padStart(8)} ${q(added[n], 0.9).toFixed(3).padStart(8)} ${q(wall[n], 0.5).toFixed(3).padStart(8)} ${q(wall[n], 0.9).toFixed(3).padStart(8)}`);
