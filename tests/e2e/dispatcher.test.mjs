// The local Workers for Platforms of `make dev` (dev/platform.mjs) end to end: the deployable
// example dispatcher (deploy/dispatcher/index.js) routes /<customer>/... to that customer's
// Worker, whose fetch()es reach the ONE outbound Worker with the dispatcher's customer.
// Runs with the Worker `make test` built (tests/e2e/policy.toml).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { startDevWorld } from "../../dev/platform.mjs";
import { POLICY_SHA256 } from "./harness.mjs";

let world;
const lines = [];
before(async () => {
  world = await startDevWorld({ port: 0, onLog: (l) => lines.push(l) });
});
after(async () => { await world?.dispose(); });

const get = (p) => world.mf.dispatchFetch(`http://dispatcher.local${p}`, { redirect: "manual" });
const fetchVia = (customer, url) => get(`/${customer}/fetch?url=${encodeURIComponent(url)}`);

async function decisionFor(path) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const found = lines.filter((l) => l.level === "log" && l.message[0]?.path === path).map((l) => l.message[0]);
    if (found.length || Date.now() > deadline) return found;
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("the dispatcher names the routed customer to the outbound Worker", async () => {
  const blocked = await fetchVia("acme", "https://malicious.com/dispatch-block");
  assert.equal(blocked.status, 200, "the customer Worker answers");
  const text = await blocked.text();
  assert.match(text, /-> 403 application\/json/);
  assert.match(text, /"error":"egress_blocked"/);
  const [b] = await decisionFor("/dispatch-block");
  assert.equal(b.customer, "acme");
  assert.deepEqual(b.tags, ["production"]);
  assert.equal(b.action, "block");
  assert.equal(b.policy.sha256, POLICY_SHA256);

  const passed = await fetchVia("globex", "https://public.example.com/dispatch-pass");
  assert.match(await passed.text(), /-> 200 application\/json/);
  const [p] = await decisionFor("/dispatch-pass");
  assert.equal(p.customer, "globex");
  assert.equal(p.rule, "pass-public");
  assert.equal(p.status, 200);
});

test("an unknown customer or a malformed path never reaches a customer Worker", async () => {
  assert.equal((await get("/initech/fetch?url=https%3A%2F%2Fpublic.example.com%2F")).status, 404);
  assert.equal((await get("/")).status, 404);
  assert.equal((await get("/Acme/fetch")).status, 404);
});
