// A/B harness (not part of make bench-worker): bench/run.mjs's 10-domain mix through the
// configurations of bench/ab-configs.mjs, all in ONE workerd, R rounds x B batches x 40
// requests, interleaved; prints the added latency (median, p90) per configuration.
// bench/cpu.mjs (one workerd per configuration) is steadier.
// Usage: JS=js-10,js-10+log,floor R=10 B=8 node bench/ab.mjs before=target/bench/a after=target/bench/b
import { Miniflare } from "miniflare";
import { BATCH, CD, UP, batchOk, configurations, quantile as q, userWorker } from "./ab-configs.mjs";

const ROUNDS = Number(process.env.R ?? 3), BPR = Number(process.env.B ?? 6);
const configs = configurations(process.argv.slice(2), (process.env.JS ?? "js-10,js-10+log").split(",").filter(Boolean));
const names = configs.map((c) => c.name);
const workers = [{ name: "upstream", modules: true, script: UP, compatibilityDate: CD }];
for (const c of configs) {
  if (c.outbound) workers.push(c.outbound);
  workers.push(userWorker(c, `user-${c.name}`));
}
const mf = new Miniflare({ handleRuntimeStdio(o, e) { o.resume(); e.pipe(process.stderr); }, workers });
await mf.ready;
const users = Object.fromEntries(await Promise.all(names.map(async (n) => [n, await mf.getWorker(`user-${n}`)])));
async function batch(n) { const t0 = process.hrtime.bigint(); const r = await users[n].fetch("http://b/"); const c = await r.json(); return { ms: Number(process.hrtime.bigint() - t0) / 1e6, c }; }
for (const n of names) { let c; for (let i = 0; i < 3; i++) ({ c } = await batch(n)); if (!batchOk(n, c)) { console.error(n, "bad", c); process.exit(1); } }
const added = Object.fromEntries(names.map((n) => [n, []])); const base = [];
for (let r = 0; r < ROUNDS; r++) { const per = Object.fromEntries(names.map((n) => [n, []]));
  for (let b = 0; b < BPR; b++) { for (let i = 0; i < names.length; i++) { const n = names[(i + b + r) % names.length]; per[n].push((await batch(n)).ms / BATCH); } }
  const none = q(per.none, 0.5); base.push(none); for (const n of names) for (const v of per[n]) added[n].push(v - none); }
await mf.dispose();
console.log(`baseline ${q(base, 0.5).toFixed(3)} ms; added ms (median p90), ${ROUNDS}x${BPR}x${BATCH}`);
for (const n of names.slice(1)) console.log(`${n.padEnd(22)} ${q(added[n], 0.5).toFixed(3)}  ${q(added[n], 0.9).toFixed(3)}`);
