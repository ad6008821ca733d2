// The JS peer (bench/seed-outbound.js, unchanged) plus one decision-log-shaped console.log per
// request, as egress-policy writes: separates the cost of logging from the cost of deciding.
import seed from "./seed-outbound.js";

export default {
  async fetch(request, env, ctx) {
    const t0 = Date.now();
    const url = new URL(request.url);
    const res = await seed.fetch(request, env, ctx);
    console.log({
      v: 1, ts: new Date(t0).toISOString(), decision_id: crypto.randomUUID(), customer: env.customer_name ?? null, tags: [],
      action: res.status === 403 ? "block" : "pass", would_block: false, rule: null, report_rule: null, reason: null,
      method: request.method, scheme: url.protocol.slice(0, -1), host: url.hostname, port: 443, path: url.pathname,
      credential: null, policy: { name: "seed", sha256: "0".repeat(64) }, status: res.status, error: null, duration_ms: Date.now() - t0,
    });
    return res;
  },
};
