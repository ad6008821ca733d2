// Two customers' requests, many at once, through ONE outbound Worker (one isolate, one token
// cache): each upstream request carries a token minted for the customer that made it, never
// the other's, and each request has exactly one decision line naming that customer.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startWorld } from "./harness.mjs";

let world;
before(async () => { world = await startWorld(); });
after(async () => { await world?.dispose(); });

const ROUNDS = 4;
const PER_CUSTOMER = 40; // per round, all in flight together

test("concurrent requests of two customers never get each other's tokens", async () => {
  const expected = new Map(); // path -> customer
  for (let round = 0; round < ROUNDS; round++) {
    const calls = [];
    for (let i = 0; i < PER_CUSTOMER; i++) {
      for (const customer of ["acme", "globex"]) {
        // Interleave hosts so cached and freshly minted tokens of both credentials mix.
        const host = i % 2 === 0 ? "hs256.api.test" : "rs256.api.test";
        const p = `/tenancy/${round}/${customer}/${i}`;
        expected.set(p, { customer, host });
        calls.push(world.call(customer, `https://${host}${p}`, { headers: { "x-request-id": customer } }).then(async (res) => {
          assert.equal(res.status, 200, `${p}: ${await res.clone().text()}`);
          const body = await res.json();
          assert.equal(body.sub, customer, `${p}: the upstream saw the token of ${body.sub}`);
        }));
      }
    }
    await Promise.all(calls);
  }

  const arrivals = world.arrivals.filter((a) => a.path.startsWith("/tenancy/"));
  assert.equal(arrivals.length, expected.size, "every request forwarded once");
  const tokensBy = { acme: new Set(), globex: new Set() };
  for (const a of arrivals) {
    const { customer, host } = expected.get(a.path);
    assert.equal(a.host, host);
    assert.equal(a.headers["x-request-id"], customer);
    assert.equal(a.jwt.ok, true, `${a.path}: ${a.jwt.error}`);
    assert.equal(a.jwt.payload.sub, customer, `${a.path} carried a token for ${a.jwt.payload.sub}`);
    tokensBy[customer].add(a.jwt.token);
  }
  for (const t of tokensBy.acme) assert.ok(!tokensBy.globex.has(t), "no token shared across customers");

  const lines = await world.waitForLogs((l) => l.path?.startsWith("/tenancy/"), expected.size, 15_000);
  await new Promise((r) => setTimeout(r, 200));
  const all = (await world.logLines()).filter((l) => l.path?.startsWith("/tenancy/"));
  assert.ok(lines.length >= expected.size);
  assert.equal(all.length, expected.size, "one decision line per request");
  const seen = new Set();
  for (const l of all) {
    assert.ok(!seen.has(l.path), `duplicate line for ${l.path}`);
    seen.add(l.path);
    assert.equal(l.customer, expected.get(l.path).customer);
    assert.equal(l.action, "inject");
    assert.equal(l.status, 200);
  }
  assert.equal(new Set(all.map((l) => l.decision_id)).size, all.length, "decision ids are unique");
});
