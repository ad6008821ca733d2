// The policy in force is the one the security team published, on every request, through the
// real Worker in workerd: cold bursts and quiet spells wait for the read; the newest signed
// policy wins, embedded or bundled; refreshes cost a head; timeouts each leave their line;
// KV write access gives no power over the policy; tokens never outlive their credential's
// definition; a fresh isolate decides with the cached bundle during a KV outage.
//
// Faults come through bindings only: the KV namespace binding is a fault-injecting one
// (harness.mjs, `kv.faults`), the upstream is a Node function that can hang. Each test uses
// its own outbound Worker (a fresh isolate) reading its own KV key, so none sees another's
// bundles; the `outage` pair shares one key, as two isolates of one location do.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import path from "node:path";
import { after, before, test } from "node:test";
import { EMBEDDED_SERIAL, ROOT, startWorld } from "./harness.mjs";
import { ensureCli, headOf, keyPair, lastSectionOf, makeBundle, publish, resign } from "./bundles.mjs";

const trusted = keyPair("in-force");
/** A serial relative to the embedded policy's. */
const S = (n) => EMBEDDED_SERIAL + n;
const OLDER_BUILD = path.resolve(ROOT, process.env.E2E_OLDER_DIR ?? "target/e2e/older");
const OLDER_SERIAL = Number(process.env.E2E_OLDER_SERIAL ?? 100);

/** Each instance reads its own key; `bindings` add settings. */
const INSTANCES = {
  burst5: {}, burst300: {}, quiet: {}, precedence: {}, cheap: {}, staging: {}, poison: {}, serials: {},
  corrupt: {}, token: {}, outageA: {}, outageB: {},
  kvhang: { EGRESS_BUNDLE_WAIT_MS: "200", EGRESS_BUNDLE_READ_TIMEOUT_MS: "500" },
  timeout: { EGRESS_UPSTREAM_TIMEOUT_MS: "500" },
  newer: {},
};
const keyOf = (name) => `bundle-${name.replace(/[AB]$/, "")}`;

let world;
before(async () => {
  ensureCli();
  assert.ok(existsSync(path.join(OLDER_BUILD, "index_bg.wasm")), `an older build in ${OLDER_BUILD} (make e2e builds it)`);
  const instances = Object.fromEntries(Object.entries(INSTANCES).map(([name, bindings]) => [
    name, { bindings: { EGRESS_BUNDLE_KEY: keyOf(name), ...bindings } },
  ]));
  instances.older = { workerDir: OLDER_BUILD, bindings: { EGRESS_BUNDLE_KEY: keyOf("newer") } };
  world = await startWorld({ bundle: { publicKey: trusted.publicKey, refreshSecs: 1 }, instances });
});
after(async () => { await world?.dispose(); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const bundle = (options) => makeBundle({ key: trusted, ...options });
const put = (name, bytes, head) => publish(world.kv, bytes, head, keyOf(name));
/** Makes every read of `name`'s bundle and head do `plan` (`{ delayMs, hang, reject }`). */
const fault = (name, plan) => {
  for (const key of [keyOf(name), `${keyOf(name)}:head`]) world.kv.faults.keys[key] = plan;
};

/** One request of `instance` to `host`; its status and its decision line. */
async function request(instance, host, { pathPrefix = "/probe/", ...options } = {}) {
  const p = `${pathPrefix}${randomUUID()}`;
  const res = await world.call(instance, `https://${host}${p}`, options);
  const body = await res.text();
  const [line] = await world.waitForLogs((l) => l.path === p, 1);
  return { status: res.status, body, line, path: p };
}

/** The bundle events logged while serving requests to `host` (each test has hosts of its own). */
async function events(host) {
  const out = [];
  for (const e of await world.events()) {
    if (e.host !== host) continue;
    for (const l of e.logs) if (l.message[0]?.event === "policy_bundle") out.push(l.message[0]);
  }
  return out;
}

async function until(what, probe, pred, ms = 8000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await probe();
    if (pred(got)) return got;
    if (Date.now() > deadline) assert.fail(`${what}: last ${JSON.stringify(got)}`);
    await sleep(150);
  }
}

test("a fresh isolate's burst waits for the first read: 100 of 100 decided by the bundle", async () => {
  for (const [instance, delayMs] of [["burst5", 5], ["burst300", 300]]) {
    fault(instance, { delayMs });
    await put(instance, bundle({ block: "burst.example.com", serial: S(1) }).bytes);
    const results = await Promise.all(Array.from({ length: 100 }, () => request(instance, "burst.example.com")));
    const blocked = results.filter((r) => r.status === 403 && r.line.policy.source === "bundle");
    assert.equal(blocked.length, 100, `${instance}: ${results.filter((r) => r.status !== 403).length} passed`);
    assert.equal(new Set(results.map((r) => r.line.decision_id)).size, 100);
  }
});

test("after a quiet spell longer than the refresh interval, the next request waits for a fresh read", async () => {
  await put("quiet", bundle({ serial: S(1) }).bytes);
  const first = await request("quiet", "quiet.example.com");
  assert.deepEqual([first.status, first.line.policy.serial], [200, S(1)]);
  await put("quiet", bundle({ block: "quiet.example.com", serial: S(2) }).bytes);
  await sleep(1300);
  const next = await request("quiet", "quiet.example.com");
  assert.deepEqual([next.status, next.line.rule, next.line.policy.serial], [403, `emergency-${S(2)}`, S(2)]);
});

test("the newest signed policy wins: an older bundle never replaces the deployed one, a newer one does", async () => {
  // A bundle older than the embedded policy (a replay of an old one into KV): refused, on a
  // fresh isolate too.
  await put("precedence", bundle({ block: "precedence.example.com", serial: S(-100) }).bytes);
  const replayed = await request("precedence", "precedence.example.com");
  assert.equal(replayed.status, 200);
  assert.deepEqual(replayed.line.policy.source, "embedded");
  assert.equal(replayed.line.policy.serial, EMBEDDED_SERIAL);
  const [refused] = await events("precedence.example.com");
  assert.deepEqual([refused.status, refused.reason, refused.serial], ["refused", "older_serial", S(-100)]);
  // A newer bundle decides.
  await put("precedence", bundle({ block: "precedence.example.com", serial: S(100) }).bytes);
  const newer = await until("the newer bundle", () => request("precedence", "precedence.example.com"), (r) => r.status === 403);
  assert.deepEqual([newer.line.policy.source, newer.line.policy.serial], ["bundle", S(100)]);
});

test("a Worker rollback to an older build: a newer bundle still decides; the newer build's own policy beats that bundle", async () => {
  // The older build embeds serial 100; the bundle in KV is 200; the current build embeds 300.
  await put("newer", bundle({ block: "rollback.example.com", serial: S(-100) }).bytes);
  const older = await request("older", "rollback.example.com");
  assert.deepEqual([older.status, older.line.policy.source, older.line.policy.serial], [403, "bundle", S(-100)]);
  const current = await request("newer", "rollback.example.com");
  assert.deepEqual([current.status, current.line.policy.source, current.line.policy.serial], [200, "embedded", EMBEDDED_SERIAL]);
  // Rolling the policy back too: publish the policy wanted as a newer bundle.
  await put("newer", bundle({ serial: S(-50) }).bytes);
  const back = await until("the rolled-back policy", () => request("older", "rollback.example.com"), (r) => r.status === 200);
  assert.deepEqual([back.line.policy.source, back.line.policy.serial], ["bundle", S(-50)]);
  assert.ok(OLDER_SERIAL < S(-100));
});

test("bundles made at once from the bundle in force never collide in the Worker: the later serial decides", async () => {
  const inForce = bundle({ serial: S(1) });
  await put("serials", inForce.bytes);
  assert.equal((await request("serials", "serials.example.com")).line.policy.serial, S(1));
  // Two signers, the same moment, the same predecessor, the same policy text.
  const one = bundle({ after: inForce.file, block: "serials.example.com" });
  const two = bundle({ after: inForce.file, block: "serials.example.com" });
  const serialOf = (b) => Number(b.head.readBigUInt64LE(126 + 14));
  assert.notEqual(serialOf(one), serialOf(two));
  assert.ok(serialOf(one) > S(1) && serialOf(two) > S(1));
  const [low, high] = [one, two].sort((a, b) => serialOf(a) - serialOf(b));
  await put("serials", high.bytes);
  await until("the later bundle", () => request("serials", "serials.example.com"), (r) => r.line.policy.serial === serialOf(high));
  await put("serials", low.bytes);
  await sleep(1300);
  const still = await request("serials", "serials.example.com");
  assert.deepEqual([still.status, still.line.policy.serial], [403, serialOf(high)]);
  const reasons = (await events("serials.example.com")).map((e) => e.reason);
  assert.ok(reasons.includes("older_serial") && !reasons.includes("same_serial"), JSON.stringify(reasons));
});

test("a refresh that finds the bundle in use reads its head only: a few hundred bytes", async () => {
  const made = bundle({ block: "cheap.example.com", serial: S(1) });
  await put("cheap", made.bytes);
  assert.equal((await request("cheap", "cheap.example.com")).status, 403);
  const key = keyOf("cheap");
  const before = world.kv.reads.length;
  for (let i = 0; i < 4; i++) {
    await sleep(700);
    assert.equal((await request("cheap", "cheap.example.com")).status, 403);
  }
  await sleep(200);
  const refreshes = world.kv.reads.slice(before).filter((r) => r.key.startsWith(key));
  assert.ok(refreshes.length >= 3, JSON.stringify(refreshes));
  for (const read of refreshes) {
    assert.equal(read.key, `${key}:head`, "only the head is read");
    assert.ok(read.bytes <= 300, `${read.bytes} bytes`);
  }
  assert.ok(made.bytes.length > 4000, "the bundle itself is far larger");
});

test("an upstream that does not answer in time gets 504 and exactly one line, also when the caller has aborted", async () => {
  const timedOut = await request("timeout", "public.example.com", { pathPrefix: "/hang/" });
  assert.equal(timedOut.status, 504);
  assert.deepEqual(JSON.parse(timedOut.body), { error: "egress_upstream_timeout", decision_id: timedOut.line.decision_id });
  assert.deepEqual(
    [timedOut.line.outcome, timedOut.line.error, timedOut.line.status, timedOut.line.action],
    ["failed", "upstream_timeout", null, "pass"],
  );
  assert.ok(timedOut.line.duration_ms >= 500, String(timedOut.line.duration_ms));
  // The caller gives up after 100 ms: the line is still written, when the timeout passes.
  const p = `/hang/${randomUUID()}`;
  const res = await world.call("timeout", `https://public.example.com${p}`, { abortAfterMs: 100 });
  assert.equal(res.status, 599, "the user Worker saw its own abort");
  await res.arrayBuffer();
  const lines = await world.waitForLogs((l) => l.path === p, 1, 5000);
  assert.equal(lines.length, 1);
  assert.equal(lines[0].error, "upstream_timeout");
  await sleep(300);
  assert.equal((await world.waitForLogs((l) => l.path === p, 2, 100)).length, 1, "exactly one line");
});

test("a KV read that hangs counts as failed after its timeout, and the next read comes on schedule", async () => {
  await put("kvhang", bundle({ block: "kvhang.example.com", serial: S(1) }).bytes);
  fault("kvhang", { hang: true });
  const started = Date.now();
  const first = await request("kvhang", "kvhang.example.com");
  assert.equal(first.status, 200, "decided by the embedded policy after the wait bound");
  assert.ok(Date.now() - started < 2000);
  const timedOut = await until("the timeout event", () => events("kvhang.example.com"), (e) => e.some((x) => x.status === "unreachable"));
  assert.equal(timedOut.find((x) => x.status === "unreachable").reason, "timeout");
  fault("kvhang", {});
  const taken = await until("the next read", () => request("kvhang", "kvhang.example.com"), (r) => r.status === 403);
  assert.equal(taken.line.policy.serial, S(1));
});

test("a bundle signed for another environment is refused", async () => {
  await put("staging", bundle({ block: "staging.example.com", serial: S(1), environment: "staging" }).bytes);
  const res = await request("staging", "staging.example.com");
  assert.deepEqual([res.status, res.line.policy.source], [200, "embedded"]);
  const [refused] = await events("staging.example.com");
  assert.deepEqual([refused.status, refused.reason], ["refused", "wrong_environment"]);
});

test("a tampered copy raced into KV never keeps the genuine bundle out", async () => {
  const genuine = bundle({ block: "poison.example.com", serial: S(5) });
  const copy = Buffer.from(genuine.bytes);
  copy[copy.length - 200] ^= 0x01;
  await put("poison", copy, genuine.head);
  const poisoned = await request("poison", "poison.example.com");
  assert.deepEqual([poisoned.status, poisoned.line.policy.source], [200, "embedded"]);
  const refused = (await events("poison.example.com")).filter((e) => e.status === "refused");
  assert.deepEqual(refused.map((e) => e.reason), ["bad_signature"]);
  await put("poison", genuine.bytes);
  const taken = await until("the genuine bundle", () => request("poison", "poison.example.com"), (r) => r.status === 403);
  assert.equal(taken.line.policy.serial, S(5));
});

test("a corrupted and re-signed automaton is refused when loaded, never met by a lookup", async () => {
  const made = bundle({ block: "corrupt.example.com", serial: S(5) });
  const damaged = resign(made.bytes, trusted, (payload) => {
    const section = lastSectionOf(payload);
    payload[Math.floor((section.start + section.end) / 2)] ^= 0x10;
  });
  await put("corrupt", damaged, headOf(damaged));
  const res = await request("corrupt", "corrupt.example.com");
  assert.deepEqual([res.status, res.line.policy.source], [200, "embedded"]);
  const [refused] = await events("corrupt.example.com");
  assert.deepEqual([refused.status, refused.reason, refused.serial], ["refused", "invalid_policy", S(5)]);
});

test("a token is never reused once a bundle redefines its credential", async () => {
  const injected = async () => {
    const { line, path: p } = await request("token", "hs256.api.test");
    const { token } = world.arrivals.find((a) => a.path === p).jwt;
    return { line, token, payload: JSON.parse(Buffer.from(token.split(".")[1], "base64url")) };
  };
  const first = await injected();
  assert.equal(first.payload.aud, "hs256.api.test");
  assert.equal((await injected()).token, first.token, "reused while the definition holds");
  await put("token", bundle({ serial: S(5), edit: (t) => t.replace('audience = "hs256.api.test"', 'audience = "billing-v2.api.test"') }).bytes);
  const after = await until("the new definition", injected, (r) => r.line.policy.serial === S(5));
  assert.equal(after.payload.aud, "billing-v2.api.test", "a token of the old definition was injected");
});

test("during a KV outage a fresh isolate decides with the bundle its location verified before", async () => {
  await put("outageA", bundle({ block: "outage.example.com", serial: S(7) }).bytes);
  assert.equal((await request("outageA", "outage.example.com")).status, 403);
  // The first isolate keeps the bundle in the location's cache after taking it up.
  await sleep(500);
  fault("outageB", { reject: true });
  const fresh = await request("outageB", "outage.example.com");
  assert.deepEqual([fresh.status, fresh.line.policy.source, fresh.line.policy.serial], [403, "bundle", S(7)]);
  const seen = await events("outage.example.com");
  const fromCache = seen.filter((e) => e.status === "loaded" && e.from === "cache");
  assert.deepEqual(fromCache.map((e) => e.serial), [S(7)]);
  assert.ok(seen.some((e) => e.status === "unreachable" && e.reason === "failed"), JSON.stringify(seen));
});
