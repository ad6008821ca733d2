// Many distinct customers in rotation on one inject rule (HS256, tests/e2e/policy.toml's
// inject-hs256), through one isolate of the Worker in workerd: every token the upstream gets
// verifies and names its customer in `sub`, every request has exactly one decision line, and
// the isolate's token cache never holds more than its bound (crates/outbound/src/token_cache.rs,
// DEFAULT_CAPACITY).
//
// The cache's size is observed from outside, with no hook in the Worker: a cached token is
// handed out again byte for byte (the same `jti`), a minted one has a fresh `jti`. After a first
// round over N customers, a second round in reverse order meets first the customers served
// last. The cache evicts the entry due for refresh soonest (the oldest `iat` second; among one
// second's, any), and no entry goes stale during the run (shorter than the 240 s a token of
// this credential is reused), so the cache only grows, up to its bound: the second round's hits
// are at most its size at the end of the first round, and at least that size less the tokens
// of one `iat` second. An unbounded cache gives N hits.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { FULL, drive, record } from "./measure.mjs";
import { tokenLog } from "./tokens.mjs";
import { HOSTS, startReliabilityWorld } from "./world.mjs";

const CUSTOMERS = FULL ? 10_000 : 1_000;
/** DEFAULT_CAPACITY of crates/outbound/src/token_cache.rs. */
const CACHE_BOUND = 4096;
const IN_FLIGHT = 16;
/** Seconds a token of the credential (ttl 300) is handed out: a shorter run sees no stale entry. */
const REUSE_SECS = 240;

const tokens = tokenLog();
let world;
before(async () => {
  world = await startReliabilityWorld({ customers: CUSTOMERS, inspect: tokens.inspect });
});
after(() => world?.dispose());

/** One request per customer of `order`, IN_FLIGHT at once; path /ROUND/CUSTOMER. */
async function round(label, order) {
  const results = await drive(order.length, IN_FLIGHT, async (i) => {
    const res = await world.request(`https://${HOSTS.inject}/${label}/${order[i]}`, { customer: order[i] });
    await res.arrayBuffer();
    return { status: res.status };
  });
  assert.deepEqual(results.filter((r) => r.status !== 200), [], `${label}: every request answered 200`);
}

test(`${CUSTOMERS} customers in rotation: every sub right, one line each, the token cache within ${CACHE_BOUND}`, async () => {
  const t0 = Date.now();
  const indexes = Array.from({ length: CUSTOMERS }, (_, i) => i);
  await round("first", indexes);
  await round("second", [...indexes].reverse());
  const seconds = (Date.now() - t0) / 1000;
  assert.ok(seconds < REUSE_SECS, `the run took ${seconds} s: entries may have gone stale, the bound is not observed`);

  const jtis = new Set();
  const perSecond = new Map();
  let hits = 0;
  for (const i of indexes) {
    const one = await tokens.verify(`/first/${i}`, world.keys.verify);
    const two = await tokens.verify(`/second/${i}`, world.keys.verify);
    assert.equal(one.sub, `c${i}`, "first round: sub names the customer");
    assert.equal(two.sub, `c${i}`, "second round: sub names the customer");
    assert.ok(!jtis.has(one.jti), "each first-round token is minted for its customer alone");
    jtis.add(one.jti);
    perSecond.set(one.iat, (perSecond.get(one.iat) ?? 0) + 1);
    if (two.jti === one.jti) hits++;
  }
  const held = Math.min(CUSTOMERS, CACHE_BOUND);
  const mostInOneSecond = Math.max(...perSecond.values());
  record("customers in rotation", { customers: CUSTOMERS, requests: 2 * CUSTOMERS, seconds, second_round_hits: hits, bound: CACHE_BOUND, most_minted_in_one_second: mostInOneSecond });
  assert.ok(hits <= held, `${hits} cached tokens handed out again: the cache held more than ${held}`);
  assert.ok(hits >= (CUSTOMERS <= CACHE_BOUND ? held : held - mostInOneSecond), `${hits} hits: the cache held fewer tokens than it may`);

  await world.waitForDecisions(2 * CUSTOMERS, 60_000);
  const count = new Map();
  for (const l of world.log.lines) count.set(l.path, (count.get(l.path) ?? 0) + 1);
  for (const i of indexes) {
    for (const label of ["first", "second"]) assert.equal(count.get(`/${label}/${i}`), 1, `/${label}/${i}: one decision line`);
  }
  assert.ok(world.log.lines.every((l) => l.customer === `c${l.path.split("/")[2]}`), "each line names its customer");
});
