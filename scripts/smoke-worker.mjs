// Smoke test of the built outbound Worker (build/) in workerd via miniflare, against the
// default policy (policy/policy.toml): block, inject (ES256 JWT verified with jose, spoofed
// Authorization replaced, token cached), pass (1 MiB body), redirect returned not followed,
// followed redirect to a blocked host blocked, missing customer, upstream unreachable,
// missing signing key, and exactly one structured decision log line per request (Tail Worker).
//
//   scripts/build-worker.sh && node scripts/smoke-worker.mjs
//
// The full end-to-end suite is tests/e2e/; this is the quick check of the Rust build alone.
import { Miniflare } from "miniflare";
import { generateKeyPairSync } from "node:crypto";
import { jwtVerify, importSPKI } from "jose";
import assert from "node:assert/strict";

const root = process.argv[2] ?? new URL("..", import.meta.url).pathname;
const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const pem = privateKey.export({ type: "pkcs8", format: "pem" });
const spki = publicKey.export({ type: "spki", format: "pem" });

const arrived = [];
const userScript = `export default { async fetch(req) {
  const q = new URL(req.url).searchParams;
  const init = { method: q.get("method") ?? "GET", redirect: q.get("redirect") ?? "follow",
    headers: { authorization: "Bearer spoofed-by-user", "x-test": "1" } };
  if (init.method === "POST") init.body = "x".repeat(1 << 20);
  const r = await fetch(q.get("url"), init);
  return Response.json({ status: r.status, location: r.headers.get("location"), body: await r.text() });
} }`;
const mf = new Miniflare({
  workers: [
    { name: "acme", modules: true, script: userScript, compatibilityDate: "2025-09-01",
      outboundService: { name: "outbound", props: { customer_name: "acme", customer_tags: ["prod", "eu"] } } },
    { name: "anon", modules: true, script: userScript, compatibilityDate: "2025-09-01",
      outboundService: "outbound" },
    { name: "outbound", modulesRoot: root, compatibilityDate: "2025-09-01",
      modules: [{ type: "ESModule", path: `${root}/build/index.js` },
                { type: "CompiledWasm", path: `${root}/build/index_bg.wasm` }],
      bindings: { EXAMPLE_API_SIGNING_KEY: pem },
      tails: ["tail"],
      outboundService: "internet" },
    // Plays "the internet": a thrown exception here is a failed upstream fetch for the caller;
    // everything else goes on to the Node recorder below.
    { name: "internet", modules: true, compatibilityDate: "2025-09-01",
      script: `export default { fetch(req) {
        if (new URL(req.url).hostname === "down.example.org") throw new Error("connection refused");
        return fetch(req);
      } }`,
      outboundService: async (req) => {
        const body = req.body ? Buffer.from(await req.arrayBuffer()) : Buffer.alloc(0);
        arrived.push({ url: req.url, method: req.method, headers: Object.fromEntries(req.headers), bodyLength: body.length });
        const u = new URL(req.url);
        if (u.pathname === "/redirect") return new Response(null, { status: 302, headers: { location: "https://malicious.com/next" } });
        return new Response(`upstream saw ${req.method} ${u.pathname}`, { status: 200 });
      } },
    { name: "nokey", modules: true, script: userScript, compatibilityDate: "2025-09-01",
      outboundService: { name: "outbound-nokey", props: { customer_name: "globex" } } },
    { name: "outbound-nokey", modulesRoot: root, compatibilityDate: "2025-09-01",
      modules: [{ type: "ESModule", path: `${root}/build/index.js` },
                { type: "CompiledWasm", path: `${root}/build/index_bg.wasm` }],
      bindings: { customer_name: "from-env" }, tails: ["tail"],
      outboundService: () => { throw new Error("must not be reached"); } },
    { name: "tail", modules: true, script: `let logs = [];
      export default { tail(events) { for (const e of events) for (const l of e.logs) logs.push(l.message); },
                       fetch() { const out = logs; logs = []; return Response.json(out); } }` },
  ],
});
await mf.ready;
const call = async (worker, params) => {
  const w = await mf.getWorker(worker);
  const r = await w.fetch("http://user/?" + new URLSearchParams(params));
  return r.json();
};
const logs = async () => {
  await new Promise((r) => setTimeout(r, 200));
  return (await (await mf.getWorker("tail")).fetch("http://tail/")).json();
};

try {
  // block
  let r = await call("acme", { url: "https://sub.malicious.com/x?token=abc" });
  assert.equal(r.status, 403);
  const blocked = JSON.parse(r.body);
  assert.equal(blocked.error, "egress_blocked");
  assert.equal(blocked.rule, "block-malware");
  assert.equal(blocked.reason, "known malware distribution");
  assert.equal(arrived.length, 0, "blocked request never forwarded");
  let lines = await logs();

  assert.equal(lines.length, 1);
  assert.equal(typeof lines[0], "object");
  const [line] = lines[0];
  assert.equal(line.decision_id, blocked.decision_id);
  assert.equal(line.customer, "acme");
  assert.deepEqual(line.tags, ["prod", "eu"]);
  assert.equal(line.action, "block");
  assert.equal(line.status, null);
  assert.equal(line.query, undefined);
  assert.ok(!JSON.stringify(line).includes("token=abc"));

  // inject
  r = await call("acme", { url: "https://api.example.com/v1/users?q=1" });
  assert.equal(r.status, 200, JSON.stringify(r));
  let up = arrived.pop();
  assert.equal(up.headers["x-test"], "1");
  const auth = up.headers["authorization"];
  assert.ok(auth.startsWith("Bearer ") && !auth.includes("spoofed"), auth);
  const { payload, protectedHeader } = await jwtVerify(auth.slice(7), await importSPKI(spki, "ES256"),
    { issuer: "egress.platform.example", audience: "api.example.com" });
  assert.equal(payload.sub, "acme");
  assert.equal(payload.tenant, "tenant:acme");
  assert.equal(payload.tags, "prod,eu");
  assert.equal(payload.exp - payload.iat, 300);
  assert.equal(protectedHeader.kid, "2026-11");
  assert.equal(protectedHeader.typ, "JWT");
  lines = await logs();

  assert.equal(lines.length, 1);
  assert.equal(lines[0][0].action, "inject");
  assert.equal(lines[0][0].status, 200);
  assert.equal(lines[0][0].credential, "example-api-jwt");
  assert.ok(!JSON.stringify(lines).includes(auth.slice(7)));
  // cached: same token again
  await call("acme", { url: "https://api.example.com/v1/users" });
  assert.equal(arrived.pop().headers["authorization"], auth);
  await logs();

  // pass with a 1 MiB body
  r = await call("acme", { url: "https://example.org/data", method: "POST" });
  assert.equal(r.status, 200);
  up = arrived.pop();
  assert.equal(up.bodyLength, 1 << 20);
  assert.equal(up.headers["authorization"], "Bearer spoofed-by-user");
  lines = await logs();
  assert.equal(lines.length, 1);
  assert.equal(lines[0][0].action, "pass");

  // redirect returned, not followed; and a followed redirect to a blocked host is blocked
  r = await call("acme", { url: "https://example.org/redirect", redirect: "manual" });
  assert.equal(r.status, 302);
  assert.equal(r.location, "https://malicious.com/next");
  arrived.length = 0;
  r = await call("acme", { url: "https://example.org/redirect" });
  assert.equal(r.status, 403, JSON.stringify(r));
  assert.equal(arrived.length, 1);
  lines = await logs();
  assert.equal(lines.length, 3, JSON.stringify(lines));

  // no customer -> blocked
  r = await call("anon", { url: "https://example.org/" });
  assert.equal(r.status, 403);
  assert.equal(JSON.parse(r.body).reason, "no_customer");
  lines = await logs();
  assert.equal(lines[0][0].customer, null);

  // upstream unreachable (the Node upstream throws): 502, logged with the error
  r = await call("acme", { url: "https://down.example.org/" });
  assert.equal(r.status, 502, JSON.stringify(r));
  assert.equal(JSON.parse(r.body).error, "egress_upstream_unreachable");
  lines = await logs();
  assert.equal(lines.length, 1);
  assert.equal(lines[0][0].error, "upstream_unreachable");
  assert.equal(lines[0][0].status, null);

  // missing signing key: 502, never forwarded; env customer_name wins over props
  r = await call("nokey", { url: "https://api.example.com/v1/x" });
  assert.equal(r.status, 502, JSON.stringify(r));
  assert.deepEqual(JSON.parse(r.body), { error: "egress_credential_unavailable", credential: "example-api-jwt", decision_id: JSON.parse(r.body).decision_id });
  assert.ok(!r.body.includes("EXAMPLE_API_SIGNING_KEY"));
  lines = await logs();
  assert.equal(lines.length, 1);
  assert.equal(lines[0][0].customer, "from-env");
  assert.equal(lines[0][0].error, "credential_unavailable");

  console.log("smoke: all checks passed");
} finally {
  await mf.dispose();
}
