// The benchmarks' workload (bench/run.mjs, bench/cold-start.mjs, bench/profile.mjs) and the
// outbound Workers they compare; also the policy the Makefile builds each bench Worker with:
//   node bench/workload.mjs policy N   -> a policy blocking N domains (and their subdomains, as
//                                         the JS peer's substring match does) plus an HS256
//                                         inject rule for api.example.com
//   node bench/workload.mjs domains N  -> the same N domains, comma-separated (the JS peer's
//                                         BLOCKED binding)
import path from "node:path";
import { pathToFileURL } from "node:url";

export const INJECT_HOST = "api.example.com";
export const JWT_SECRET = "bench-hs256-secret-not-a-real-key";
/** Requests per batch: a sample is one batch of sequential fetch()es made inside workerd. */
export const BATCH = Number(process.env.BENCH_BATCH ?? 40);

/** N distinct domains, none a substring of another's host name. */
export function blockedDomains(n) {
  return Array.from({ length: n }, (_, i) => `threat-${i.toString(36)}-x${(i * 7919) % 10007}.net`);
}

const FEED_TLDS = ["com", "net", "org", "info", "xyz", "ru", "top", "io"];
/** The `i`-th name of a generated threat feed (bench/cold-start.mjs, tests/reliability):
 *  pseudo-random labels, as real feeds' names are (a counter-like series would compress into
 *  almost nothing and flatter the measurement); 8 to 16 characters, a quarter under a `cdnN.`
 *  subdomain, eight TLDs. */
export function feedName(i) {
  let h = Math.imul(i + 1, 0x9e3779b1) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  const label = `${h.toString(36)}${(i * 7 + 3).toString(36)}`;
  return `${h % 4 === 0 ? `cdn${h % 7}.` : ""}${label}.${FEED_TLDS[(h >>> 8) % FEED_TLDS.length]}`;
}

// BENCH_MIX=pass:80,block:10,inject:10 (the default) sets the mix, to see where time goes
// (BENCH_MIX=inject:1: inject requests only).
export const MIX = Object.fromEntries((process.env.BENCH_MIX ?? "pass:80,block:10,inject:10").split(",").map((kv) => {
  const [k, v] = kv.split(":");
  if (!["pass", "block", "inject"].includes(k) || !(Number(v) >= 0)) throw new Error(`BENCH_MIX: bad entry ${kv}`);
  return [k, Number(v)];
}));
const MIX_TOTAL = (MIX.pass ?? 0) + (MIX.block ?? 0) + (MIX.inject ?? 0);

/** The URLs of one batch against N blocked domains, the kinds interleaved in the mix's
 *  proportions, and how many of them a correct outbound Worker blocks. */
export function requestMix(n) {
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

/** The user Worker of every benchmark: fetches `?url=`, else each URL of env.URLS in turn,
 *  reading each body; answers with the count of each status. */
const CALLER = `
export default {
  async fetch(request, env) {
    const asked = new URL(request.url).searchParams.get("url");
    const counts = {};
    for (const url of asked ? [asked] : JSON.parse(env.URLS)) {
      const res = await fetch(url);
      await res.arrayBuffer();
      counts[res.status] = (counts[res.status] ?? 0) + 1;
    }
    return Response.json(counts);
  },
};`;

/** The user Worker `name` sending `urls` through configuration `c` (or straight to the
 *  upstream when it has no outbound Worker). */
export function caller(name, c, urls) {
  return { name, script: CALLER, bindings: { URLS: JSON.stringify(urls) }, outbound: c.outbound?.name };
}

const BENCH = path.dirname(new URL(import.meta.url).pathname);
const PEERS = {
  // The docs' JS outbound Worker: the customer in env, as deployed.
  js: (n) => ({ from: path.join(BENCH, "seed-outbound.js"), bindings: { customer_name: "acme", BLOCKED: blockedDomains(n).join(","), INJECT_HOST, JWT_SECRET } }),
  // The same plus one decision-shaped console.log per request: what logging alone costs.
  "js+log": (n) => ({ from: path.join(BENCH, "seed-outbound-logged.js"), bindings: { customer_name: "acme", BLOCKED: blockedDomains(n).join(","), INJECT_HOST, JWT_SECRET } }),
  // The contract's floor: what any outbound Worker keeping docs/'s contract does, with the
  // cheapest decision there is.
  floor: (n) => ({ from: path.join(BENCH, "floor-outbound.js"), bindings: { customer_name: "acme", BLOCKED: blockedDomains(n).join(","), INJECT_HOST, JWT_SECRET } }),
};
const PEER_NAMES = { js: (n) => `js-${n}`, "js+log": (n) => `js-${n}+log`, floor: (n) => `floor-${n}` };

/** A configuration: `{ name, n, kind, outbound }`, `outbound` an outbound Worker for
 *  dev/world.mjs (named `ob-<name>`, logging to workerd's stdout only). */
function config(name, n, kind, { from, bindings }) {
  return { name, n, kind, outbound: { name: `ob-${name}`, from, bindings, tail: false } };
}

/** The JS peer `kind` (js, js+log, floor) for N blocked domains. */
export const peer = (kind, n) => config(PEER_NAMES[kind](n), n, kind, PEERS[kind](n));

/** This Worker, built in `dir` for N blocked domains. Every configuration gets the customer as
 *  `env.customer_name`, as the dispatch namespace's outbound parameters arrive when deployed. */
export const rust = (n, label, dir) =>
  config(`rust-${n}${label}`, n, "rust", { from: dir, bindings: { customer_name: "acme", JWT_SECRET } });

/**
 * The configurations for builds `N[/label]=dir` (command-line arguments): `none` (no outbound
 * Worker) first, then per N the JS peers of BENCH_PEERS (default `js,js+log,floor`), then this
 * Worker per build (`rust-N[/label]`).
 */
export function configurations(args, usage) {
  const builds = args.map((arg) => {
    const [spec, dir] = arg.split("=");
    const [n, label] = (spec ?? "").split("/");
    if (!n || !dir || !Number.isInteger(Number(n))) throw new Error(`${usage}; got ${arg}`);
    return { n: Number(n), label: label ? `/${label}` : "", dir: path.resolve(dir) };
  });
  if (builds.length === 0) {
    console.error(usage);
    process.exit(2);
  }
  const peers = (process.env.BENCH_PEERS ?? "js,js+log,floor").split(",").filter(Boolean);
  for (const p of peers) if (!PEERS[p]) throw new Error(`BENCH_PEERS: no peer ${p} (js, js+log, floor)`);
  const configs = [{ name: "none", n: null, kind: "none", outbound: null }];
  for (const n of new Set(builds.map((b) => b.n))) for (const p of peers) configs.push(peer(p, n));
  for (const b of builds) configs.push(rust(b.n, b.label, b.dir));
  return { builds, configs };
}

export const quantile = (xs, q) => {
  const s = [...xs].sort((a, b) => a - b);
  const i = (s.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return s[lo] + (s[hi] - s[lo]) * (i - lo);
};

// The engine takes at most 10,000 entries per list: split the block list into rules.
const MAX_HOSTS_PER_RULE = 10000;

export function policyToml(n) {
  const hosts = blockedDomains(n).flatMap((d) => [d, `*.${d}`]);
  const rules = [];
  for (let i = 0; i < hosts.length; i += MAX_HOSTS_PER_RULE) {
    rules.push(`[[rules]]
id = "blocklist-${rules.length + 1}"
action = "block"
reason = "bench block list"
hosts = [
${hosts.slice(i, i + MAX_HOSTS_PER_RULE).map((h) => `  "${h}",`).join("\n")}
]
`);
  }
  return `# Generated by bench/workload.mjs for make bench-worker: ${n} blocked domains.
version = 1
name = "bench-${n}"

[defaults]
action = "pass"
mode = "enforce"
ip_literals = "block"
query_in_logs = false

${rules.join("\n")}
[[rules]]
id = "api"
action = "inject"
hosts = ["${INJECT_HOST}"]
credential = "api-jwt"

[credentials.api-jwt]
kind = "jwt"
algorithm = "HS256"
secret = "JWT_SECRET"
issuer = "egress.bench"
audience = "${INJECT_HOST}"
ttl = 300
`;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [what, count] = process.argv.slice(2);
  const n = Number(count);
  if (!Number.isInteger(n) || n < 1 || !["policy", "domains"].includes(what)) {
    console.error("usage: node bench/workload.mjs policy|domains N");
    process.exit(2);
  }
  process.stdout.write(what === "policy" ? policyToml(n) : `${blockedDomains(n).join(",")}\n`);
}
