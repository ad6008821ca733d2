// Bundle churn in workerd: a policy bundle with a large domain list (1,000,000 names; the CLI's
// `egress-policy bundle`, published through KV as docs/deploy.md says) swapped 30 times while
// the Worker serves 50 requests a second: no request fails, every request has its decision
// line, the Wasm memory stays within 3x the bundle plus 16 MiB, and workerd's peak RSS over the
// last 10 swaps is within 16 MiB of the first 10's (no leak per swap).
//
// Two bundles are built (lists A and B of as many names, different names, one name on both),
// then each swap publishes one of them again with the next serial (re-signed): every swap is
// a take-up of a new bundle of the full size (read, hash, copy into Wasm memory, load).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { feedName } from "../../bench/workload.mjs";
import { EMBEDDED_SERIAL, isDecision, startWorld } from "../e2e/harness.mjs";
import { ensureCli, keyPair, makeBundle, publish, reserial } from "../e2e/bundles.mjs";
import { memory, sampler, withPid } from "./cred-measure.mjs";

const NAMES = Number(process.env.RELIABILITY_BUNDLE_NAMES ?? 1_000_000);
const SWAPS = Number(process.env.RELIABILITY_SWAPS ?? 30);
const RATE = 50;
const MiB = 1 << 20;
const RELAY = "tests/reliability/relay-worker.mjs";
/** On both lists: blocked whichever bundle is in force. */
const ON_BOTH = "churn-blocked.example";
/** Each bundle's own emergency block: says which one is in force. */
const MARK = { A: "churn-a.example", B: "churn-b.example" };

const key = keyPair("churn");
const bundles = {};
let world;
let pid;

/** The e2e policy plus a block rule over `names` (a domain list). */
function bigBundle(label, names) {
  const text = `${names.join("\n")}\n${ON_BOTH}\n`;
  const edit = (t) => `${t}\n[[rules]]\nid = "block-churn"\naction = "block"\nlists = ["churn"]\nreason = "churn feed"\n\n[lists.churn]\nfile = "churn.txt"\nmatch = "subdomains"\n`;
  return makeBundle({ serial: EMBEDDED_SERIAL + 1, key, block: MARK[label], edit, files: { "churn.txt": text } }).bytes;
}

before(async () => {
  ensureCli();
  const started = Date.now();
  bundles.A = bigBundle("A", Array.from({ length: NAMES }, (_, i) => feedName(i)));
  bundles.B = bigBundle("B", Array.from({ length: NAMES }, (_, i) => feedName(NAMES + i)));
  console.log(`# bundles of ${NAMES} names: A ${bundles.A.length} bytes, B ${bundles.B.length} bytes, built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  ({ world, pid } = await withPid(() => startWorld({ bundle: { publicKey: key.publicKey, refreshSecs: 1 }, instances: { churn: { workerDir: RELAY } } })));
});
after(async () => { await world?.dispose(); });

const call = async (url) => {
  const res = await world.call("churn", url);
  return { status: res.status, body: await res.text() };
};

/** Publishes bundle `label` with `serial`, and waits until its emergency block decides. */
async function swap(label, serial) {
  await publish(world.kv, reserial(bundles[label], key, serial));
  const deadline = Date.now() + 60_000;
  while ((await call(`https://${MARK[label]}/probe/${randomUUID()}`)).status !== 403) {
    assert.ok(Date.now() < deadline, `bundle ${label} (serial ${serial}) not taken up within 60 s`);
    await sleep(50);
  }
}

const wasmMemory = async () => Math.max(...JSON.parse((await call("https://relay.probe/wasm-memory")).body).wasmMemoryBytes);

test(`${SWAPS} swaps of a ${NAMES}-name bundle under ${RATE} requests/s`, { timeout: 1_200_000 }, async () => {
  await swap("B", EMBEDDED_SERIAL + 1);
  const sent = [];
  const driver = setInterval(() => {
    const i = sent.length;
    const url = i % 2 ? `https://public.example.com/churn/${randomUUID()}` : `https://x.${ON_BOTH}/churn/${randomUUID()}`;
    const started = performance.now();
    sent.push(world.call("churn", url).then(async (res) => {
      await res.arrayBuffer();
      return { url, status: res.status, ms: performance.now() - started };
    }, (e) => ({ url, status: `threw ${e.message}` })));
  }, 1000 / RATE);

  const swaps = [];
  try {
    for (let i = 1; i <= SWAPS; i++) {
      const label = i % 2 ? "A" : "B";
      const rss = sampler(() => memory(pid).rss, 20);
      const started = Date.now();
      await swap(label, EMBEDDED_SERIAL + 1 + i);
      await sleep(200);
      const samples = await rss.stop();
      swaps.push({ label, ms: Date.now() - started, peakRss: Math.max(...samples), wasm: await wasmMemory() });
    }
  } finally {
    clearInterval(driver);
  }
  const results = await Promise.all(sent);

  const bundleBytes = Math.max(bundles.A.length, bundles.B.length);
  const k = Math.min(10, Math.floor(SWAPS / 2));
  const peak = (list) => Math.max(...list.map((s) => s.peakRss));
  const firstPeak = peak(swaps.slice(0, k));
  const lastPeak = peak(swaps.slice(-k));
  const wasmMax = Math.max(...swaps.map((s) => s.wasm));
  const mib = (b) => (b / MiB).toFixed(1);
  console.log(`# ${SWAPS} swaps, ${results.length} requests: take-up ${swaps.map((s) => s.ms).join(",")} ms; bundle ${mib(bundleBytes)} MiB; Wasm memory max ${mib(wasmMax)} MiB (${(wasmMax / bundleBytes).toFixed(2)}x); peak RSS first ${k} ${mib(firstPeak)} MiB, last ${k} ${mib(lastPeak)} MiB; per swap RSS ${swaps.map((s) => mib(s.peakRss)).join(",")}; Wasm ${swaps.map((s) => mib(s.wasm)).join(",")}`);

  const failed = results.filter((r) => r.status !== (r.url.includes(ON_BOTH) ? 403 : 200));
  assert.deepEqual(failed, [], "no failed request");
  const lines = (await world.logLines("churn")).filter(isDecision);
  const count = new Map();
  for (const l of lines) count.set(l.path, (count.get(l.path) ?? 0) + 1);
  const missing = results.filter((r) => count.get(new URL(r.url).pathname) !== 1);
  assert.deepEqual(missing, [], "every request has exactly one decision line");
  assert.ok(wasmMax <= 3 * bundleBytes + 16 * MiB, `Wasm memory ${mib(wasmMax)} MiB over 3x the bundle (${mib(bundleBytes)} MiB) plus 16 MiB`);
  assert.ok(lastPeak <= firstPeak + 16 * MiB, `peak RSS of the last ${k} swaps ${mib(lastPeak)} MiB, first ${k} ${mib(firstPeak)} MiB`);
});
