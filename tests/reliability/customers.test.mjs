// Many distinct customers in rotation on one inject rule (HS256), through one isolate of the
// Worker in workerd: every token the upstream receives verifies and names its customer in
// `sub`, every request has exactly one decision line, and the per-isolate token cache never
// holds more than its bound (crates/outbound/src/token_cache.rs, DEFAULT_CAPACITY).
//
// The cache's size is observed from outside: a cached token is handed out again byte for
// byte (same `jti`), a minted one has a fresh `jti`. After a first round over N customers, a
// second round in reverse order meets first the customers served last. The cache evicts the
// entry due for refresh soonest (the oldest `iat` second; among one second's, any), and no
// entry goes stale during the run (it is shorter than the credential's 240 s of reuse), so
// the cache only grows, up to its bound, and the second round's hits are at most its size at
// the end of the first round, and at least that size less the entries of its oldest second.
// An unbounded cache would give N hits.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { isDecision, startWorld } from "../e2e/harness.mjs";

const CUSTOMERS = Number(process.env.RELIABILITY_CUSTOMERS ?? 10_000);
/** DEFAULT_CAPACITY of crates/outbound/src/token_cache.rs. */
const CACHE_BOUND = 4096;
/** Requests in flight at once. */
const CONCURRENCY = 8;
/** Seconds a token of the credential (ttl 300) is reused: a run shorter than this sees no stale entry. */
const REUSE_SECS = 240;
const RELAY = "tests/reliability/relay-worker.mjs";

let world;
before(async () => { world = await startWorld({ instances: { many: { workerDir: RELAY } } }); });
after(async () => { await world?.dispose(); });

const name = (i) => `customer-${String(i).padStart(5, "0")}`;

/** Requests `order` (customer indexes) with CONCURRENCY in flight; returns each one's path. */
async function round(label, order) {
  const paths = new Map();
  let next = 0;
  const worker = async () => {
    while (next < order.length) {
      const i = order[next++];
      const path = `/${label}/${name(i)}`;
      const res = await world.call("many", `https://hs256.api.test${path}`, { headers: { "x-relay-customer": name(i) } });
      await res.arrayBuffer();
      assert.equal(res.status, 200, `${path}: ${res.status}`);
      paths.set(i, path);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return paths;
}

test(`${CUSTOMERS} customers in rotation: every sub right, one line each, the token cache within ${CACHE_BOUND}`, { timeout: 600_000 }, async () => {
  const started = Date.now();
  const indexes = Array.from({ length: CUSTOMERS }, (_, i) => i);
  const first = await round("first", indexes);
  const second = await round("second", [...indexes].reverse());
  const seconds = (Date.now() - started) / 1000;
  assert.ok(seconds < REUSE_SECS, `the run took ${seconds} s: entries may have gone stale, the bound is not observed`);

  const byPath = new Map(world.arrivals.map((a) => [a.path, a]));
  const token = (path) => {
    const arrival = byPath.get(path);
    assert.ok(arrival?.jwt?.ok, `${path}: a valid token arrived (${arrival?.jwt?.error})`);
    return arrival.jwt.payload;
  };
  const jtis = new Set();
  const perSecond = new Map();
  let hits = 0;
  for (const i of indexes) {
    const one = token(first.get(i));
    const two = token(second.get(i));
    assert.equal(one.sub, name(i), "first round: sub names the customer");
    assert.equal(two.sub, name(i), "second round: sub names the customer");
    assert.ok(!jtis.has(one.jti), "a first-round token is minted for its customer alone");
    jtis.add(one.jti);
    perSecond.set(one.iat, (perSecond.get(one.iat) ?? 0) + 1);
    if (two.jti === one.jti) hits++;
  }
  const held = Math.min(CUSTOMERS, CACHE_BOUND);
  const oldestSecond = Math.max(...perSecond.values());
  console.log(`# ${CUSTOMERS} customers, ${2 * CUSTOMERS} requests in ${seconds.toFixed(1)} s: second-round hits ${hits} (bound ${CACHE_BOUND}, most tokens minted in one second ${oldestSecond})`);
  assert.ok(hits <= held, `${hits} cached tokens handed out again: the cache held more than ${held}`);
  assert.ok(hits >= held - oldestSecond, `${hits} hits: the cache held fewer than ${held - oldestSecond} tokens`);

  const lines = (await world.logLines("many")).filter(isDecision);
  const count = new Map();
  for (const l of lines) count.set(l.path, (count.get(l.path) ?? 0) + 1);
  for (const paths of [first, second]) {
    for (const [i, path] of paths) assert.equal(count.get(path), 1, `${name(i)} ${path}: one decision line`);
  }
  assert.ok(lines.every((l) => l.customer === l.path.split("/")[2]), "each line names its customer");
});
