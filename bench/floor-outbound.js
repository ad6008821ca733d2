// The contract's floor: a JS outbound Worker doing only what docs/deploy.md and docs/decision-log.md ask of
// ANY implementation, with the cheapest decision possible. It is not a product (no policy
// language, no canonicalisation, no report mode); it measures what the contract itself costs
// in workerd, so bench/run.mjs can show how much of this Worker's added latency is the
// contract's and how much is this Worker's own.
//
// Per request: the customer from env/ctx.props; a decision by exact-host-or-parent-domain
// lookup in a Set of BLOCKED (O(labels), any list size); block -> the 403 JSON, not forwarded;
// inject (INJECT_HOST) -> a client Authorization dropped and a cached HS256 token set (minted
// with WebCrypto once per customer, as a per-isolate token cache does); otherwise the headers
// copied; forwarded with redirect "manual"; then one decision object logged with console.log
// after the upstream answered (its status is a field), with every field of the contract.
import { generateJWT } from "./seed-outbound.js";

const POLICY = { name: "floor", sha256: "0".repeat(64) };

let blocked = null;
const tokens = new Map();

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

export default {
  async fetch(request, env, ctx) {
    const arrived = Date.now();
    blocked ??= new Set((env.BLOCKED || "").split(",").filter(Boolean));
    const customer = env.customer_name ?? ctx.props?.customer_name ?? null;
    const url = new URL(request.url);
    const host = url.hostname;
    const inject = host === (env.INJECT_HOST || "api.example.com");
    const action = isBlocked(host) ? "block" : inject ? "inject" : "pass";
    const line = (status) => ({
      v: 1, ts: new Date(arrived).toISOString(), decision_id: crypto.randomUUID(), customer, tags: [],
      action, would_block: false, rule: action === "pass" ? null : action, report_rule: null,
      reason: action === "block" ? "blocked" : action === "pass" ? "default_action" : null,
      method: request.method, scheme: url.protocol.slice(0, -1), host, port: 443, path: url.pathname,
      credential: inject ? "floor-jwt" : null, policy: POLICY, status, error: null, duration_ms: Date.now() - arrived,
    });
    if (action === "block") {
      const entry = line(null);
      console.log(entry);
      return Response.json({ error: "egress_blocked", decision_id: entry.decision_id }, { status: 403 });
    }
    const headers = new Headers(request.headers);
    if (inject) headers.set("authorization", `Bearer ${await token(customer, env.JWT_SECRET || "secret", host)}`);
    const response = await fetch(new Request(request, { headers, redirect: "manual" }));
    console.log(line(response.status));
    return response;
  },
};
