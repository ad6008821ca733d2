// Cold start: what the first intercepted request of a fresh isolate costs, against a warm one.
//
//   node bench/cold-start.mjs 10=target/bench/worker-10 10000=target/bench/worker-10000
//   (make bench-cold builds those and runs this)
//
// Per sample, a fresh workerd (dev/world.mjs) with a user Worker whose fetch() goes through the
// outbound Worker under test to an upstream Worker answering at once. Timed from Node:
//   start  dev/world.mjs's startWorld until ready (workerd start, script and Wasm compile);
//   first  the first request through the outbound Worker (instantiation, the policy's load,
//          the matcher's first use);
//   warm   the median of the next WARM requests;
// and first - warm, the cost a customer's first request in a new isolate pays. The JS outbound
// Worker of the platform's docs (bench/seed-outbound.js, N blocked domains) is measured the same
// way, alone (`js-N`) and with one decision-shaped log line per request (`js-N+log`), and so is
// the contract's floor (`floor-N`, bench/floor-outbound.js). Medians over SAMPLES samples (interleaved across configurations), p90 beside them.
//
// BENCH_FEED=N (e.g. 1000000) adds `bundle-N`: the first build's Worker with a KV namespace
// holding a signed bundle of a policy whose domain list has N names (made with
// `target/debug/egress-policy bundle`). Its first request waits for the KV read (at most 1 s)
// and then the bundle's load; `active` is the time from that first request until a request
// is decided by the bundle (a listed name answered 403).
import { execFileSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { startWorld } from "../dev/world.mjs";
import { caller, configurations, feedName, quantile } from "./workload.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 9);
const WARM = Number(process.env.BENCH_WARM ?? 20);

// `N=dir`, or `N/label=dir` to compare two builds for the same N (A/B: `10/old=... 10/new=...`).
const { configs: all } = configurations(process.argv.slice(2),
  "usage: node bench/cold-start.mjs 10=target/bench/worker-10 10000=target/bench/worker-10000");
// The request: a pass to a host that is not on the block list (the common case), or `?url=`.
const PASS = ["https://pass.example.org/x"];
const FEED = Number(process.env.BENCH_FEED ?? 0);
const FEED_PROBE = `https://${feedName(0)}/x`;

/** A signed bundle of a policy blocking a generated list of `n` names, and its public key. */
function feedBundle(n) {
  const dir = mkdtempSync(path.join(tmpdir(), "egress-cold-"));
  // Short names, as real feeds mostly are: about 15 bytes a line.
  const names = Array.from({ length: n }, (_, i) => feedName(i));
  writeFileSync(path.join(dir, "feed.txt"), names.join("\n") + "\n");
  writeFileSync(path.join(dir, "policy.toml"), `version = 1\nname = "feed-${n}"\n[defaults]\naction = "pass"\n\n[[rules]]\nid = "block-feed"\naction = "block"\nlists = ["feed"]\n\n[lists.feed]\nfile = "feed.txt"\nmatch = "subdomains"\n`);
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  writeFileSync(path.join(dir, "key.pem"), privateKey.export({ type: "pkcs8", format: "pem" }));
  const cli = path.join(HERE, "../target/debug/egress-policy");
  // The default serial (now) is above any build's (its commit's time).
  execFileSync(cli, ["bundle", path.join(dir, "policy.toml"), "--key-file", path.join(dir, "key.pem"), "--environment", "bench", "-o", path.join(dir, "bundle.bin")]);
  const bytes = readFileSync(path.join(dir, "bundle.bin"));
  const head = readFileSync(path.join(dir, "bundle.bin.head"));
  return { bytes, head, publicKey: publicKey.export({ type: "spki", format: "der" }).subarray(-32).toString("base64url") };
}

/** Every configuration but `none` (bench/workload.mjs), and with BENCH_FEED the bundle's. */
function coldConfigurations() {
  const out = all.filter((c) => c.outbound).map((c) => ({ ...c, wasm: c.kind === "rust" ? path.join(c.outbound.from.endsWith(".js") ? path.dirname(c.outbound.from) : c.outbound.from, "index_bg.wasm") : null }));
  if (FEED > 0) {
    const rust = out.find((c) => c.kind === "rust");
    const feed = feedBundle(FEED);
    const name = `bundle-${FEED}`;
    out.push({
      ...rust,
      name,
      bundle: feed.bytes,
      head: feed.head,
      outbound: {
        ...rust.outbound,
        name: `ob-${name}`,
        bindings: { ...rust.outbound.bindings, EGRESS_BUNDLE_PUBLIC_KEY: feed.publicKey, EGRESS_BUNDLE_ENVIRONMENT: "bench" },
        kv: true,
      },
    });
  }
  return out;
}

async function sample(c) {
  const t0 = performance.now();
  const world = await startWorld({ outbound: [c.outbound], users: [caller("user", c, PASS)] });
  try {
    if (c.bundle) {
      await world.kv.put("policy-bundle", c.bundle);
      await world.kv.put("policy-bundle:head", c.head);
    }
    const user = await world.worker("user");
    const status = async (url) => Object.keys(await (await user.fetch(`http://user.test/${url ? `?url=${encodeURIComponent(url)}` : ""}`)).json()).join();
    const t1 = performance.now();
    const first = await status();
    const t2 = performance.now();
    if (first !== "200") throw new Error(`${c.name}: the request did not pass (${first})`);
    let active = null;
    if (c.bundle) {
      // Until a listed name is refused: the bundle decides from then on.
      for (;;) {
        if ((await status(FEED_PROBE)) === "403") { active = performance.now() - t1; break; }
        if (performance.now() - t1 > 60_000) throw new Error(`${c.name}: the bundle never decided`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const warm = [];
    for (let i = 0; i < WARM; i++) {
      const s = performance.now();
      await status();
      warm.push(performance.now() - s);
    }
    return { start: t1 - t0, first: t2 - t1, warm: quantile(warm, 0.5), active };
  } finally {
    await world.dispose();
  }
}

const configs = coldConfigurations();
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
console.log(`${"config".padEnd(16)} ${"wasm raw/gzip".padStart(20)} ${"start".padStart(17)} ${"first".padStart(17)} ${"warm".padStart(17)} ${"first-warm".padStart(17)}`);
for (const c of configs) {
  const r = results[c.name];
  const col = (f) => `${ms(quantile(r.map(f), 0.5))} (${ms(quantile(r.map(f), 0.9))})`;
  let size = "-";
  if (c.wasm) {
    const bytes = readFileSync(c.wasm);
    size = `${Math.round(bytes.length / 1024)}/${Math.round(gzipSync(bytes, { level: 9 }).length / 1024)} KiB`;
  }
  const active = c.bundle ? `  bundle deciding after ${col((s) => s.active)} (bundle ${Math.round(c.bundle.length / 1024)} KiB)` : "";
  console.log(`${c.name.padEnd(16)} ${size.padStart(20)} ${col((s) => s.start)} ${col((s) => s.first)} ${col((s) => s.warm)} ${col((s) => s.first - s.warm)}${active}`);
}
