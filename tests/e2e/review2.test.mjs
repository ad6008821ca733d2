// The second outside security review (issue 14) through the real Worker in workerd: tokens
// only over https to port 443 by default (item 1), look-alike identities refused (item 3),
// tags that must be delivered and are never dropped (item 4), only allow-listed headers with
// a token (item 7), hostile hosts never in a `{host}` claim (item 8), a random `jti` in every
// token, kept while cached (item 9).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { decodeJwt } from "jose";
import { startWorld, uniquePath } from "./harness.mjs";

let world;
before(async () => { world = await startWorld(); });
after(async () => { await world?.dispose(); });

const arrivalsAt = (p) => world.arrivals.filter((a) => a.path === p);
const lineFor = async (p) => (await world.waitForLogs((l) => l.path === p, 1))[0];

test("item 1: an inject rule without schemes or ports sends no token over http or to another port", async () => {
  for (const base of ["http://hs256.api.test", "https://hs256.api.test:8443"]) {
    const p = uniquePath("transport");
    const res = await world.call("acme", `${base}${p}`);
    assert.equal(res.status, 200, base);
    await res.arrayBuffer();
    const [arrival] = arrivalsAt(p);
    assert.equal(arrival.headers.authorization, undefined, `${base}: no token`);
    const line = await lineFor(p);
    assert.deepEqual([line.action, line.rule, line.credential], ["pass", null, null], base);
  }
  const p = uniquePath("transport-ok");
  assert.equal((await world.call("acme", `https://hs256.api.test${p}`)).status, 200);
  assert.ok(arrivalsAt(p)[0].jwt.ok, "https on 443 still gets its token");
});

test("item 3: a customer or tag that looks like acme's is refused, never taken for acme", async () => {
  for (const [customer, reason] of [["acme-rtl", "invalid_customer"], ["acme-tag-spoof", "invalid_tags"]]) {
    const p = uniquePath("look-alike");
    const res = await world.call(customer, `https://hs256.api.test${p}`);
    assert.equal(res.status, 403, customer);
    assert.equal((await res.json()).reason, reason, customer);
    assert.equal(arrivalsAt(p).length, 0, `${customer}: nothing forwarded`);
    const line = await lineFor(p);
    assert.deepEqual([line.action, line.reason, line.credential], ["block", reason, null], customer);
  }
});

test("item 4: no tags parameter is refused where rules are scoped by tag; flat tags beside a nested context count", async () => {
  const p = uniquePath("no-tags");
  const res = await world.call("hooli", `https://public.example.com${p}`);
  assert.equal(res.status, 403);
  assert.equal((await res.json()).reason, "no_tags");
  assert.equal(arrivalsAt(p).length, 0);
  assert.deepEqual([(await lineFor(p)).customer, (await lineFor(p)).reason], ["hooli", "no_tags"]);

  // An explicit empty tags parameter is "no tags", and fine.
  const q = uniquePath("empty-tags");
  assert.equal((await world.call("initech", `https://public.example.com${q}`)).status, 200);

  // stark: customer in customer_context, tags ["untrusted"] flat beside it.
  const r = uniquePath("mixed-tags");
  const blocked = await world.call("stark", `https://untrusted-only.example.net${r}`);
  assert.equal(blocked.status, 403);
  assert.equal((await blocked.json()).rule, "block-untrusted");
  const line = await lineFor(r);
  assert.deepEqual([line.customer, line.tags], ["stark", ["untrusted"]]);
  const s = uniquePath("trusted");
  assert.equal((await world.call("acme", `https://untrusted-only.example.net${s}`)).status, 200);
});

test("item 7: only allow-listed headers (and the credential's forward_headers) travel with a token", async () => {
  const p = uniquePath("allow-list");
  const headers = {
    "x-original-host": "evil.test",
    "x-host": "evil.test",
    "x-http-host-override": "evil.test",
    "x-original-method": "DELETE",
    "x-envoy-original-path": "/admin",
    cookie: "session=secret",
    "x-custom": "1",
    accept: "application/json",
    "if-none-match": "\"v1\"",
    "x-api-version": "2026-01",
  };
  const res = await world.call("acme", `https://hs256.api.test${p}`, { headers });
  assert.equal(res.status, 200, await res.clone().text());
  const [arrival] = arrivalsAt(p);
  assert.ok(arrival.jwt.ok, arrival.jwt.error);
  for (const name of ["x-original-host", "x-host", "x-http-host-override", "x-original-method", "x-envoy-original-path", "cookie", "x-custom"]) {
    assert.equal(arrival.headers[name], undefined, `${name} must not travel with a token`);
  }
  assert.equal(arrival.headers.accept, "application/json");
  assert.equal(arrival.headers["if-none-match"], "\"v1\"");
  assert.equal(arrival.headers["x-api-version"], "2026-01", "forward_headers");
});

// workerd itself refuses to fetch such a URL ("Fetch API cannot load"), in any spelling that
// parses to one (`%3B`, a fullwidth `；`): the request never reaches the outbound Worker, whose
// own refusal (`invalid_host`) the engine tests cover (crates/engine/tests/review2.rs).
test("item 8: a host with a character no name can have never reaches a {host} claim", async () => {
  for (const host of ["evil.com;.tenants.api.test", "evil.com%3B.tenants.api.test", "a\uff02b.tenants.api.test"]) {
    const lines = (await world.logLines()).length;
    const before = world.arrivals.length;
    const res = await world.call("acme", `https://${host}/x`);
    assert.notEqual(res.status, 200, host);
    await res.arrayBuffer();
    assert.equal(world.arrivals.length, before, `${host}: nothing forwarded`);
    const after = (await world.logLines()).slice(lines);
    assert.ok(after.every((l) => l.action !== "inject"), `${host}: no token minted`);
  }
  const p = uniquePath("tenant");
  assert.equal((await world.call("acme", `https://ok.tenants.api.test${p}`)).status, 200);
  const [arrival] = arrivalsAt(p);
  const claims = decodeJwt(arrival.headers.authorization.slice("Bearer ".length));
  assert.equal(claims.host, "ok.tenants.api.test");
});

test("item 9: every token carries a random jti, the same while cached, different per customer", async () => {
  const jtis = [];
  for (const customer of ["acme", "acme", "globex"]) {
    const p = uniquePath("jti");
    assert.equal((await world.call(customer, `https://hs256.api.test${p}`)).status, 200);
    const [arrival] = arrivalsAt(p);
    assert.ok(arrival.jwt.ok, arrival.jwt.error);
    assert.match(arrival.jwt.payload.jti, /^[A-Za-z0-9_-]{22}$/);
    jtis.push(arrival.jwt.payload.jti);
  }
  assert.equal(jtis[0], jtis[1], "a cached token keeps its jti");
  assert.notEqual(jtis[0], jtis[2], "another customer's token has its own");
});
