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
import { Miniflare } from "miniflare";
import { INJECT_HOST, blockedDomains } from "./gen-policy.mjs";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const CD = "2026-04-20";
const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 9);
const WARM = Number(process.env.BENCH_WARM ?? 20);
const JWT_SECRET = "bench-hs256-secret-not-a-real-key";

// `N=dir`, or `N/label=dir` to compare two builds for the same N (A/B: `10/old=... 10/new=...`).
const builds = process.argv.slice(2).map((arg) => {
  const [spec, dir] = arg.split("=");
  const [n, label] = (spec ?? "").split("/");
  if (!n || !dir || !Number.isInteger(Number(n))) throw new Error(`usage: node bench/cold-start.mjs N[/label]=dir ...; got ${arg}`);
  return { n: Number(n), label: label ? `/${label}` : "", dir: path.resolve(dir) };
});
if (builds.length === 0) {
  console.error("usage: node bench/cold-start.mjs 10=target/bench/worker-10 10000=target/bench/worker-10000");
  process.exit(2);
}

const UPSTREAM = `export default { fetch() { return new Response("ok"); } };`;
// The request: a pass to a host that is not on the block list (the common case), or `?url=`.
const USER = `export default { async fetch(req) { const u = new URL(req.url).searchParams.get("url") ?? "https://pass.example.org/x"; const r = await fetch(u); await r.arrayBuffer(); return new Response(String(r.status)); } };`;
const FEED = Number(process.env.BENCH_FEED ?? 0);
const FEED_TLDS = ["com", "net", "org", "info", "xyz", "ru", "top", "io"];
/** The `i`-th name of the generated feed: pseudo-random labels, as real feeds' names are (a
 *  counter-like series would compress into almost nothing and flatter the measurement). */
function feedName(i) {
  let h = Math.imul(i + 1, 0x9e3779b1) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  const label = `${h.toString(36)}${(i * 7 + 3).toString(36)}`;
  return `${h % 4 === 0 ? `cdn${h % 7}.` : ""}${label}.${FEED_TLDS[(h >>> 8) % FEED_TLDS.length]}`;
}
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

function configurations() {
  const out = [];
  const peers = new Set();
  for (const { n, label, dir } of builds) {
    if (peers.has(n)) continue;
    peers.add(n);
    // The peer as documented, and the peer plus one decision-shaped console.log per request:
    // the first log line of a fresh isolate has a cost of its own, which this Worker always pays.
    for (const [suffix, main] of [["", "seed-outbound.js"], ["+log", "seed-outbound-logged.js"]]) {
      out.push({
        name: `js-${n}${suffix}`,
        outbound: {
          modulesRoot: HERE,
          modules: [
            { type: "ESModule", path: path.join(HERE, main) },
            ...(main === "seed-outbound.js" ? [] : [{ type: "ESModule", path: path.join(HERE, "seed-outbound.js") }]),
          ],
          bindings: { customer_name: "acme", BLOCKED: blockedDomains(n).join(","), INJECT_HOST, JWT_SECRET },
        },
        props: null,
      });
    }
    // The contract's floor (bench/floor-outbound.js): what any outbound Worker keeping
    // docs/'s contract does (headers copied, redirect "manual", the line after the upstream
    // answered), with the cheapest decision there is.
    out.push({
      name: `floor-${n}`,
      outbound: {
        modulesRoot: HERE,
        modules: [
          { type: "ESModule", path: path.join(HERE, "floor-outbound.js") },
          { type: "ESModule", path: path.join(HERE, "seed-outbound.js") },
        ],
        bindings: { BLOCKED: blockedDomains(n).join(","), INJECT_HOST, JWT_SECRET },
      },
      props: { customer_name: "acme" },
    });
  }
  for (const { n, label, dir } of builds) {
    out.push({
      name: `rust-${n}${label}`,
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
  if (FEED > 0) {
    const { dir } = builds[0];
    const feed = feedBundle(FEED);
    out.push({
      name: `bundle-${FEED}`,
      wasm: path.join(dir, "index_bg.wasm"),
      bundle: feed.bytes,
      head: feed.head,
      outbound: {
        modulesRoot: dir,
        modules: [
          { type: "ESModule", path: path.join(dir, "index.js") },
          { type: "CompiledWasm", path: path.join(dir, "index_bg.wasm") },
        ],
        bindings: { JWT_SECRET, EGRESS_IDENTITY_FROM_PROPS: "true", EGRESS_BUNDLE_PUBLIC_KEY: feed.publicKey, EGRESS_BUNDLE_ENVIRONMENT: "bench" },
        kvNamespaces: { EGRESS_POLICY_KV: "cold-start-bundles" },
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
    if (c.bundle) {
      const kv = await mf.getKVNamespace("EGRESS_POLICY_KV", "ob");
      await kv.put("policy-bundle", Uint8Array.from(c.bundle).buffer);
      await kv.put("policy-bundle:head", Uint8Array.from(c.head).buffer);
    }
    const user = await mf.getWorker("user");
    const t1 = performance.now();
    const first = await user.fetch("http://user.test/");
    const status = await first.text();
    const t2 = performance.now();
    if (status !== "200") throw new Error(`${c.name}: the request did not pass (${status})`);
    let active = null;
    if (c.bundle) {
      // Until a listed name is refused: the bundle decides from then on.
      for (;;) {
        const r = await (await user.fetch(`http://user.test/?url=${encodeURIComponent(FEED_PROBE)}`)).text();
        if (r === "403") { active = performance.now() - t1; break; }
        if (performance.now() - t1 > 60_000) throw new Error(`${c.name}: the bundle never decided`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const warm = [];
    for (let i = 0; i < WARM; i++) {
      const s = performance.now();
      await (await user.fetch("http://user.test/")).text();
      warm.push(performance.now() - s);
    }
    return { start: t1 - t0, first: t2 - t1, warm: quantile(warm, 0.5), active };
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
