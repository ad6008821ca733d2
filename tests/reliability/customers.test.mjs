// Many distinct customers in rotation on one inject rule (ES256, tests/e2e/policy.toml's
// inject-es256, whose 600 s tokens are reused for 540 s), through one isolate of the Worker in workerd: every token the upstream gets
// verifies and names its customer in `sub`, every request has exactly one decision line, and
// the isolate's token cache never holds more than its bound (crates/outbound/src/token_cache.rs,
// DEFAULT_CAPACITY).
//
// The cache's size is observed from outside, with no hook in the Worker: a cached token is
// handed out again byte for byte (the same `jti`), a minted one has a fresh `jti`. After a first
// round over N customers, a second round in reverse order meets first the customers served
// last. The cache evicts the entry due for refresh soonest (the oldest `iat` second; among one
// second's, any), so the second round's hits are at most its size at the end of the first
// round, and at least that size less the tokens of one `iat` second. An unbounded cache hands
// out again every token still within its 540 s of reuse when asked for (on a slow machine not
// all are): the check needs more such tokens than the bound, and says so when there are not.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { FULL, drive, record } from "./measure.mjs";
import { tokenLog } from "./tokens.mjs";
import { startReliabilityWorld } from "./world.mjs";

const CUSTOMERS = FULL ? 10_000 : 1_000;
/** DEFAULT_CAPACITY of crates/outbound/src/token_cache.rs. */
const CACHE_BOUND = 4096;
const IN_FLIGHT = 16;
const HOST = "es256.api.test";
/** Seconds a token of the credential (ttl 600) is handed out after its `iat`. */
const REUSE_SECS = 540;

const tokens = tokenLog();
let world;
before(async () => {
  world = await startReliabilityWorld({ customers: CUSTOMERS, inspect: tokens.inspect });
  tokens.keys = world.keys.verify;
});
after(() => world?.dispose());

/** One request per customer of `order`, IN_FLIGHT at once; path /ROUND/CUSTOMER. Returns when
 *  each customer's request was sent (Unix seconds). */
async function round(label, order) {
  const sentAt = new Map();
  const results = await drive(order.length, IN_FLIGHT, async (i) => {
    sentAt.set(order[i], Date.now() / 1000);
    const res = await world.request(`https://${HOST}/${label}/${order[i]}`, { customer: order[i] });
    await res.arrayBuffer();
    return { status: res.status };
  });
  assert.deepEqual(results.filter((r) => r.status !== 200), [], `${label}: every request answered 200`);
  return sentAt;
}

test(`${CUSTOMERS} customers in rotation: every sub right, one line each, the token cache within ${CACHE_BOUND}`, async () => {
  const t0 = Date.now();
  const indexes = Array.from({ length: CUSTOMERS }, (_, i) => i);
  await round("first", indexes);
  const askedAgain = await round("second", [...indexes].reverse());
  const seconds = (Date.now() - t0) / 1000;

  const jtis = new Set();
  const perSecond = new Map();
  let hits = 0;
  let reusable = 0; // asked for again within its reuse (a second's margin): an unbounded cache's hits
  for (const i of indexes) {
    const one = await tokens.verify(`/first/${i}`);
    const two = await tokens.verify(`/second/${i}`);
    assert.equal(one.sub, `customer:c${i}`, "first round: sub names the customer");
    assert.equal(two.sub, `customer:c${i}`, "second round: sub names the customer");
    assert.ok(!jtis.has(one.jti), "each first-round token is minted for its customer alone");
    jtis.add(one.jti);
    perSecond.set(one.iat, (perSecond.get(one.iat) ?? 0) + 1);
    if (two.jti === one.jti) hits++;
    if (askedAgain.get(i) < one.iat + REUSE_SECS - 1) reusable++;
  }
  const held = Math.min(CUSTOMERS, CACHE_BOUND);
  const mostInOneSecond = Math.max(...perSecond.values());
  record("customers in rotation", { customers: CUSTOMERS, requests: 2 * CUSTOMERS, seconds: Math.round(seconds), secondRoundHits: hits, reusable, bound: CACHE_BOUND, mostMintedInOneSecond: mostInOneSecond });
  if (CUSTOMERS <= CACHE_BOUND) {
    assert.equal(hits, reusable, "below the bound, every token still reusable is handed out again");
  } else {
    assert.ok(reusable > held + mostInOneSecond, `only ${reusable} tokens were asked for again within their reuse (the machine was too slow): the bound cannot be observed`);
    assert.ok(hits <= held, `${hits} cached tokens handed out again: the cache held more than ${held}`);
    assert.ok(hits >= held - mostInOneSecond, `${hits} hits: the cache held fewer than ${held - mostInOneSecond} tokens`);
  }

  await world.waitForDecisions(2 * CUSTOMERS, 60_000);
  const count = new Map();
  for (const l of world.log.lines) count.set(l.path, (count.get(l.path) ?? 0) + 1);
  for (const i of indexes) {
    for (const label of ["first", "second"]) assert.equal(count.get(`/${label}/${i}`), 1, `/${label}/${i}: one decision line`);
  }
  assert.ok(world.log.lines.every((l) => l.customer === `c${l.path.split("/")[2]}`), "each line names its customer");
});
