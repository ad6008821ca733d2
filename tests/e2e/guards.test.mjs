// What the Worker guards on its own, through workerd: who a request is for (flat and nested
// parameters, props only on opt-in, unclean names refused), what an injected request carries
// (no override headers, no caller credential in any spelling, no cf options, not cached), and
// a decision line that survives a caller who aborts its fetch or never awaits it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { hold, startWorld, uniquePath } from "./harness.mjs";

let world;
before(async () => { world = await startWorld(); });
after(async () => { await world?.dispose(); });

const arrivalsAt = (p) => world.arrivals.filter((a) => a.path === p);

/** The one decision line for path `p` (waits for it; fails on none or several). */
async function lineFor(p, timeoutMs = 5000) {
  const lines = await world.waitForLogs((l) => l.path === p, 1, timeoutMs);
  assert.equal(lines.length, 1, `one decision line for ${p}, got ${lines.length}`);
  return lines[0];
}

describe("who the request is for", () => {
  test("the seed's nested customer_context shape names the customer and its tags", async () => {
    const p = uniquePath("context");
    const res = await world.call("umbrella", `https://hs256.api.test${p}`);
    assert.equal(res.status, 200, await res.clone().text());
    const [arrival] = arrivalsAt(p);
    assert.ok(arrival.jwt.ok, arrival.jwt.error);
    assert.equal(arrival.jwt.payload.sub, "umbrella");
    const line = await lineFor(p);
    assert.deepEqual([line.customer, line.tags, line.action], ["umbrella", ["production"], "inject"]);
  });

  test("props name no one unless the deployment opts in: 403 no_customer, nothing forwarded", async () => {
    const p = uniquePath("props-ignored");
    const res = await world.call("props-ignored", `https://hs256.api.test${p}`);
    assert.equal(res.status, 403);
    const body = await res.json();
    assert.deepEqual([body.error, body.reason], ["egress_blocked", "no_customer"]);
    assert.equal(arrivalsAt(p).length, 0);
    const line = await lineFor(p);
    assert.deepEqual([line.customer, line.action, line.reason], [null, "block", "no_customer"]);
  });

  test("a customer parameter that is not a clean name is refused (invalid_customer), not repaired", async () => {
    const p = uniquePath("unclean");
    const res = await world.call("unclean", `https://hs256.api.test${p}`);
    assert.equal(res.status, 403);
    assert.equal((await res.json()).reason, "invalid_customer");
    assert.equal(arrivalsAt(p).length, 0);
    const line = await lineFor(p);
    assert.deepEqual([line.action, line.reason, line.credential], ["block", "invalid_customer", null]);
  });
});

describe("an injected request carries the token and nothing that redirects it", () => {
  const OVERRIDES = {
    "x-http-method-override": "DELETE",
    "x_http_method": "DELETE",
    "x-method-override": "PUT",
    "x-original-url": "/admin",
    "x-rewrite-url": "/admin",
    "x-forwarded-host": "evil.test",
    "x_forwarded_prefix": "/admin",
    "x-forwarded-for": "10.0.0.1",
    "forwarded": "host=evil.test",
  };

  test("override headers and underscore spellings of the credential header are stripped", async () => {
    const p = uniquePath("overrides");
    // es256.api.test's credential goes in x-api-token.
    const headers = { ...OVERRIDES, x_api_token: "client-spoof", "x-API_token": "client-spoof-2", authorization: "Bearer client", accept: "text/plain" };
    const res = await world.call("acme", `https://es256.api.test${p}`, { headers });
    assert.equal(res.status, 200, await res.clone().text());
    const [arrival] = arrivalsAt(p);
    assert.ok(arrival.jwt.ok, arrival.jwt.error);
    for (const name of [...Object.keys(OVERRIDES), "x_api_token", "x-api_token", "authorization"]) {
      assert.equal(arrival.headers[name], undefined, `${name} must not reach the upstream`);
    }
    assert.equal(arrival.headers.accept, "text/plain");
    assert.equal(arrival.method, "GET");
    assert.equal(arrival.path, p);
  });

  test("a pass forwards the caller's headers as they are", async () => {
    const p = uniquePath("overrides-pass");
    const res = await world.call("acme", `https://public.example.com${p}`, { headers: OVERRIDES });
    assert.equal(res.status, 200);
    const [arrival] = arrivalsAt(p);
    for (const [name, value] of Object.entries(OVERRIDES)) assert.equal(arrival.headers[name], value, name);
  });

  const CALLER_CF = { cacheTtl: 300, cacheEverything: true, cacheKey: "shared-key", resolveOverride: "origin.evil.test" };

  test("on inject the caller's cf options do not travel and the request is not cached", async () => {
    const p = uniquePath("cf-inject");
    const res = await world.call("acme", `https://hs256.api.test${p}`, { cf: CALLER_CF });
    assert.equal(res.status, 200, await res.clone().text());
    const [arrival] = arrivalsAt(p);
    assert.ok(arrival.jwt.ok, arrival.jwt.error);
    const cf = arrival.wireCf ?? {};
    for (const key of Object.keys(CALLER_CF)) {
      if (key !== "cacheTtl") assert.equal(cf[key], undefined, `cf.${key} must not travel: ${JSON.stringify(cf)}`);
    }
    assert.notEqual(cf.cacheTtl, 300, JSON.stringify(cf));
    assert.equal(cf.cacheControl, "no-store", `not cached: ${JSON.stringify(cf)}`);
  });

  test("on pass the caller's cf options travel (control: the probe sees them)", async () => {
    const p = uniquePath("cf-pass");
    const res = await world.call("acme", `https://public.example.com${p}`, { cf: CALLER_CF });
    assert.equal(res.status, 200);
    const [arrival] = arrivalsAt(p);
    assert.equal(arrival.wireCf?.cacheKey, "shared-key", JSON.stringify(arrival.wireCf));
  });
});

describe("the decision line survives the caller", () => {
  test("a fetch the caller aborts is still logged, once", async () => {
    const p = uniquePath("slow");
    const probe = hold(p);
    const res = await world.call("acme", `https://hs256.api.test${p}`, { abortAfterMs: 200 });
    assert.equal(res.status, 599, "the caller's fetch was aborted");
    assert.match(await res.text(), /abort/i);
    probe.release();
    const line = await lineFor(p, 10000);
    assert.deepEqual([line.customer, line.action, line.rule], ["acme", "inject", "inject-hs256"]);
    // Logged as it ended: the upstream's status, or the failure if the runtime cancelled it.
    assert.ok(line.status === 200 || line.error === "upstream_unreachable", JSON.stringify(line));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await world.logLines()).filter((l) => l?.path === p).length, 1, "exactly one line");
  });

  test("a fetch the caller never awaits is still logged, once", async () => {
    const p = uniquePath("slow");
    const probe = hold(p);
    const res = await world.call("acme", `https://public.example.com${p}`, { noAwait: true });
    assert.equal(res.status, 202);
    await res.arrayBuffer();
    await new Promise((r) => setTimeout(r, 200));
    probe.release();
    const line = await lineFor(p, 10000);
    assert.deepEqual([line.customer, line.action], ["acme", "pass"]);
    assert.ok(line.status === 200 || line.error === "upstream_unreachable", JSON.stringify(line));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await world.logLines()).filter((l) => l?.path === p).length, 1, "exactly one line");
  });
});
