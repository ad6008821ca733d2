// The contract's floor: a JS outbound Worker doing only what docs/deploy.md and docs/decision-log.md ask of
// ANY implementation, with the cheapest decision possible. It is not a product (no policy
// language, no canonicalisation, no report mode); it measures what the contract itself costs
// in workerd, so bench/run.mjs can show how much of this Worker's added latency is the
// contract's and how much is this Worker's own.
//
// Per request: the customer and tags from env (as the dispatch namespace passes them); a
// decision by exact-host-or-parent-domain lookup in a Set of BLOCKED (O(labels), any list
// size); block -> the 403 JSON, not forwarded; otherwise forwarded with redirect "manual"
// under the upstream timeout (an AbortController aborted by a timer, cleared when the response
// headers come; 504 / 502 answered, and logged, when it fires or the fetch fails). A pass
// copies no headers unless a Host header disagrees with the URL; an inject (INJECT_HOST)
// copies them, drops the client's Authorization, sets a cached HS256 token (minted with
// WebCrypto once per customer and again shortly before it expires, as a per-isolate token
// cache does) and sends no `cf` options, uncached. Then one schema 2 decision object, every
// field of the contract, its `chain` the SHA-256 of the previous chain value and the line's
// canonical text (keys sorted at every level) with WebCrypto, logged under `waitUntil` so the
// line outlives a caller that left (tests/e2e/bench-floor.test.mjs audits the lines).
//
// What it leaves out, as cheaper than the contract: the customer and tags are not checked
// (clean names, the nested `customer_context` shape, `no_customer`), no path or method
// bounds, no header allow-list for inject beyond Authorization, no Analytics Engine data
// point (the benchmarks bind none), no checkpoint lines, no keyed chain.
import { generateJWT } from "./seed-outbound.js";

const POLICY = { name: "floor", serial: 300, sha256: "0".repeat(64), source: "embedded" };
// docs/deploy.md's default EGRESS_UPSTREAM_TIMEOUT_MS.
const UPSTREAM_TIMEOUT_MS = 25000;
const TOKEN_TTL_SECS = 300;
const enc = new TextEncoder();

let blocked = null;
const tokens = new Map();
let isolate = null; // random bytes are refused at global scope: drawn by the first request
let seq = 0;
// The chain so far: each line is sealed after the one before it, in the order written.
let previous = Promise.resolve(new Uint8Array(32));

/** The peer's token (bench/seed-outbound.js), cached per customer until 30 s before it expires. */
async function token(customer, secret, audience) {
  const now = Date.now() / 1000;
  let cached = tokens.get(customer);
  if (!cached || cached.expires - now < 30) {
    cached = { jwt: await generateJWT(customer, secret, audience), expires: now + TOKEN_TTL_SECS };
    tokens.set(customer, cached);
  }
  return cached.jwt;
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
 *  with the next `seq` and its `chain`, after the isolate's previous line; kept alive past
 *  the response with `waitUntil`. */
function write(ctx, line) {
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
  ctx.waitUntil(previous);
}

/** The request's headers, with what the plan changes: `null` when a pass changes nothing. */
function forwardHeaders(request, host, jwt) {
  const sent = request.headers.get("host");
  if (jwt === null && (sent === null || sent.toLowerCase() === host)) return null;
  const headers = new Headers(request.headers);
  if (sent !== null && sent.toLowerCase() !== host) headers.delete("host");
  if (jwt !== null) headers.set("authorization", `Bearer ${jwt}`);
  return headers;
}

export default {
  async fetch(request, env, ctx) {
    const arrived = Date.now();
    blocked ??= new Set((env.BLOCKED || "").split(",").filter(Boolean));
    isolate ??= hex(crypto.getRandomValues(new Uint8Array(8)));
    const customer = env.customer_name ?? null;
    const tags = env.customer_tags ?? [];
    const url = new URL(request.url);
    const host = url.hostname;
    const inject = host === (env.INJECT_HOST || "api.example.com");
    const action = isBlocked(host) ? "block" : inject ? "inject" : "pass";
    const decisionId = crypto.randomUUID();
    const port = url.port ? Number(url.port) : url.protocol === "http:" ? 80 : 443;
    // The schema 2 fields but `chain`, in sorted key order.
    const line = (status, outcome, error = null) => ({
      action, chain_alg: "sha256", credential: inject ? "floor-jwt" : null, customer, decision_id: decisionId,
      duration_ms: Date.now() - arrived, engine: "0.1.0", error, host, isolate, method: request.method,
      outcome, path: url.pathname, path_redacted: false, policy: POLICY, port,
      reason: action === "block" ? "blocked" : action === "pass" ? "default_action" : null,
      report_rule: null, rule: action === "pass" ? null : action, scheme: url.protocol.slice(0, -1),
      sent: action !== "block", seq: 0, status, tags, ts: new Date(arrived).toISOString(), v: 2, would_block: false,
    });
    const answer = (status, error, outcome, lineError) => {
      write(ctx, line(null, outcome, lineError));
      return Response.json({ error, decision_id: decisionId }, { status });
    };
    if (action === "block") return answer(403, "egress_blocked", "blocked", null);
    const headers = forwardHeaders(request, host, inject ? await token(customer, env.JWT_SECRET || "secret", host) : null);
    const abort = new AbortController();
    const init = { redirect: "manual", signal: abort.signal };
    if (headers) init.headers = headers;
    if (inject) Object.assign(init, { cf: {}, cache: "no-store" });
    const timer = setTimeout(() => abort.abort(), UPSTREAM_TIMEOUT_MS);
    let response;
    try {
      response = await fetch(new Request(request, init));
    } catch {
      return abort.signal.aborted
        ? answer(504, "egress_upstream_timeout", "failed", "upstream_timeout")
        : answer(502, "egress_upstream_unreachable", "failed", "upstream_unreachable");
    } finally {
      clearTimeout(timer);
    }
    write(ctx, line(response.status, inject ? "injected" : "forwarded"));
    return response;
  },
};
