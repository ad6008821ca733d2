// Credential faults through the Worker in workerd: a key that is empty, malformed, of the
// wrong kind, 1 MiB of random text, or encrypted fails closed (502, nothing forwarded) with
// exactly one decision line, and no fragment of the secret appears in the response, the log
// or anything workerd prints; a malformed key costs no more latency than a request that
// works (1,000 requests, p99 against baselines measured in the same run).
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { isDecision, startWorld } from "../e2e/harness.mjs";
import { quantile } from "../../bench/workload.mjs";
import { leakedFragment } from "./cred-measure.mjs";

const rsaPem = () => generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" });

/** A real RSA key whose DER is broken half-way (still PEM, still base64). */
function malformedRsa() {
  const lines = rsaPem().split("\n");
  const mid = Math.floor(lines.length / 2);
  lines[mid] = lines[mid].split("").reverse().join("");
  return lines.join("\n");
}

/** The bad keys, each bound as E2E_RS256_KEY of its own outbound Worker (the RS256 rule). */
const BAD_KEYS = {
  empty: "",
  malformed: malformedRsa(),
  "wrong-kind": generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" }),
  random: randomBytes(786_432).toString("base64"), // 1 MiB of text
  encrypted: generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey
    .export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: randomUUID() }),
};
const instance = (name) => `bad-${name}`;
const LATENCY_REQUESTS = Number(process.env.RELIABILITY_LATENCY_REQUESTS ?? 1000);

let world;
const output = [];
before(async () => {
  const instances = Object.fromEntries(Object.entries(BAD_KEYS).map(([name, key]) => [instance(name), { bindings: { E2E_RS256_KEY: key } }]));
  world = await startWorld({ instances, onOutput: (stream, text) => output.push(text) });
});
after(async () => { await world?.dispose(); });

/** The secret-bearing text of a key: a PEM's base64 body (its armour lines are public). */
const secretText = (key) => key.split("\n").filter((l) => !l.startsWith("-----")).join("");

for (const [name, key] of Object.entries(BAD_KEYS)) {
  test(`a ${name} RS256 key: 502, one decision line, no fragment of it anywhere`, async () => {
    const path = `/bad-key/${randomUUID()}`;
    const res = await world.call(instance(name), `https://rs256.api.test${path}`);
    const body = await res.text();
    assert.equal(res.status, 502, body);
    assert.equal(JSON.parse(body).error, "egress_credential_unavailable");
    const lines = (await world.waitForLogs((l) => l.path === path, 1)).filter(isDecision);
    // Settle: a second line would arrive within this.
    await new Promise((r) => setTimeout(r, 200));
    const all = (await world.logLines()).filter((l) => isDecision(l) && l.path === path);
    assert.equal(all.length, 1, `exactly one decision line: ${JSON.stringify(all)}`);
    assert.deepEqual([lines[0].action, lines[0].error, lines[0].sent, lines[0].outcome, lines[0].credential],
      ["inject", "credential_unavailable", false, "failed", "jwt-rs256"]);
    assert.equal(world.arrivals.filter((a) => a.path === path).length, 0, "nothing forwarded");
    const texts = [body, JSON.stringify([...res.headers]), JSON.stringify(await world.events()), ...output];
    assert.equal(leakedFragment(secretText(key), texts), null, "a fragment of the key leaked");
  });
}

test(`${LATENCY_REQUESTS} requests with a malformed RSA key: p99 added latency under 2 ms`, async () => {
  const who = instance("malformed");
  const kinds = {
    bad: () => `https://rs256.api.test/latency/${randomUUID()}`,
    pass: () => `https://public.example.com/latency/${randomUUID()}`,
    block: () => `https://malicious.com/latency/${randomUUID()}`,
  };
  const expected = { bad: 502, pass: 200, block: 403 };
  const times = { bad: [], pass: [], block: [] };
  // Warm-up, then the kinds interleaved so the shared machine's noise falls on all alike.
  for (const kind of Object.keys(kinds)) await (await world.call(who, kinds[kind]())).arrayBuffer();
  for (let i = 0; i < LATENCY_REQUESTS; i++) {
    for (const kind of Object.keys(kinds)) {
      const started = performance.now();
      const res = await world.call(who, kinds[kind]());
      await res.arrayBuffer();
      times[kind].push(performance.now() - started);
      assert.equal(res.status, expected[kind], kind);
    }
  }
  const p = (kind, q) => quantile(times[kind], q / 100);
  const report = Object.fromEntries(Object.keys(kinds).map((k) => [k, { p50: +p(k, 50).toFixed(3), p99: +p(k, 99).toFixed(3) }]));
  console.log(`# latency ms (${LATENCY_REQUESTS} each): ${JSON.stringify(report)}`);
  assert.ok(p("bad", 99) - p("pass", 99) < 2, `p99 over the pass baseline: ${JSON.stringify(report)}`);
  assert.ok(p("bad", 99) - p("block", 99) < 2, `p99 over the block baseline (a local answer too): ${JSON.stringify(report)}`);
});
