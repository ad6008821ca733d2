// A threat feed in its own file (tests/e2e/lists/e2e-feed.txt, hosts format, subdomains),
// compiled into the Worker: listed names and their subdomains are blocked by the rule naming
// the list; look-alikes and the feed's noise lines are not.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { POLICY_SHA256, startWorld, uniquePath } from "./harness.mjs";

let world;
before(async () => { world = await startWorld(); });
after(async () => { await world?.dispose(); });

test("listed domains and their subdomains are blocked by the list's rule; others pass", async () => {
  for (const host of ["feed-listed.example", "a.b.feed-listed.example", "second-listed.example", "FEED-LISTED.example."]) {
    const p = uniquePath("feed");
    const res = await world.call("acme", `https://${host}${p}`);
    assert.equal(res.status, 403, host);
    const body = await res.json();
    assert.deepEqual([body.rule, body.reason], ["block-feed", "threat feed"], host);
    const [line] = await world.waitForLogs((l) => l.path === p, 1);
    assert.equal(line.policy.sha256, POLICY_SHA256, "the revision covers the list file");
    assert.equal(world.arrivals.filter((a) => a.path === p).length, 0, `${host}: nothing forwarded`);
  }
  for (const host of ["notfeed-listed.example", "feed-listed.example.net", "not-a-block.example", "localhost.example"]) {
    const p = uniquePath("feed-pass");
    const res = await world.call("acme", `https://${host}${p}`);
    assert.equal(res.status, 200, host);
    await res.arrayBuffer();
  }
});
