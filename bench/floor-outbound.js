// The contract's floor: a JS outbound Worker doing only what docs/deploy.md and docs/decision-log.md ask of
// ANY implementation, with the cheapest decision possible. It is not a product (no policy
// language, no canonicalisation, no report mode); it measures what the contract itself costs
// in workerd, so bench/run.mjs can show how much of this Worker's added latency is the
// contract's and how much is this Worker's own.
//
// Per request: the customer from env (as the dispatch namespace passes it; ctx.props when env
// has none); a decision by exact-host-or-parent-domain lookup in a Set of BLOCKED (O(labels),
// any list size); block -> the 403 JSON, not forwarded; inject (INJECT_HOST) -> a client
// Authorization dropped and a cached HS256 token set (minted with WebCrypto once per customer,
// as a per-isolate token cache does); otherwise the headers copied; forwarded with redirect
// "manual" and the upstream timeout (an AbortController aborted by a timer, cleared when the
// response headers come); then one schema 2 decision object logged with console.log after the
// upstream answered, every field of the contract, its `chain` the SHA-256 of the previous
// chain value and the line's canonical text (keys sorted at every level), with WebCrypto.
// What it leaves out: the Analytics Engine data point (the benchmarks bind none), checkpoints
// and the keyed (HMAC) chain.
import { generateJWT } from "./seed-outbound.js";

const POLICY = { name: "floor", serial: 300, sha256: "0".repeat(64), source: "embedded" };
const UPSTREAM_TIMEOUT_MS = 15000;
const enc = new TextEncoder();

let blocked = null;
const tokens = new Map();
let isolate = null; // random bytes are refused at global scope: drawn by the first request
let seq = 0;
// The chain so far: each line is sealed after the one before it, in the order written.
let previous = Promise.resolve(new Uint8Array(32));

/** The peer's token (bench/seed-outbound.js), minted once per customer and cached. */
async function token(customer, secret, audience) {
  let jwt = tokens.get(customer);
  if (!jwt) {
    jwt = await generateJWT(customer, secret, audience);
    tokens.set(customer, jwt);
  }
  return jwt;
}

function isBlocked(host) {
  for (let rest = host; ; ) {
    if (blocked.has(rest)) return true;
    const dot = rest.indexOf(".");
    if (dot === -1) return false;
    rest = rest.slice(dot + 1);
  }
}

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** Writes `line` (its keys already sorted at every level, so its JSON is the canonical text)
 *  with the next `seq` and its `chain`, after the isolate's previous line. */
function write(line) {
  line.seq = ++seq;
  previous = previous.then(async (prev) => {
    const canonical = enc.encode(JSON.stringify(line));
    const input = new Uint8Array(32 + canonical.length);
    input.set(prev);
    input.set(canonical, 32);
    const chain = new Uint8Array(await crypto.subtle.digest("SHA-256", input));
    console.log({ ...line, chain: hex(chain) });
    return chain;
  });
  return previous;
}

export default {
  async fetch(request, env, ctx) {
    const arrived = Date.now();
    blocked ??= new Set((env.BLOCKED || "").split(",").filter(Boolean));
    isolate ??= hex(crypto.getRandomValues(new Uint8Array(8)));
    const customer = env.customer_name ?? ctx.props?.customer_name ?? null;
    const url = new URL(request.url);
    const host = url.hostname;
    const inject = host === (env.INJECT_HOST || "api.example.com");
    const action = isBlocked(host) ? "block" : inject ? "inject" : "pass";
    const decisionId = crypto.randomUUID();
    // The schema 2 fields but `chain`, in sorted key order.
    const line = (status, outcome) => ({
      action, chain_alg: "sha256", credential: inject ? "floor-jwt" : null, customer, decision_id: decisionId,
      duration_ms: Date.now() - arrived, engine: "0.1.0", error: null, host, isolate, method: request.method,
      outcome, path: url.pathname, path_redacted: false, policy: POLICY, port: 443,
      reason: action === "block" ? "blocked" : action === "pass" ? "default_action" : null,
      report_rule: null, rule: action === "pass" ? null : action, scheme: url.protocol.slice(0, -1), sent: status !== null,
      seq: 0, status, tags: [], ts: new Date(arrived).toISOString(), v: 2, would_block: false,
    });
    if (action === "block") {
      await write(line(null, "blocked"));
      return Response.json({ error: "egress_blocked", decision_id: decisionId }, { status: 403 });
    }
    const headers = new Headers(request.headers);
    if (inject) headers.set("authorization", `Bearer ${await token(customer, env.JWT_SECRET || "secret", host)}`);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), UPSTREAM_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(new Request(request, { headers, redirect: "manual", signal: abort.signal }));
    } finally {
      clearTimeout(timer);
    }
    await write(line(response.status, inject ? "injected" : "forwarded"));
    return response;
  },
};
