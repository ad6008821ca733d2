// Signed policy bundles through Workers KV, in workerd with miniflare's real KV: bundles made
// by `egress-policy bundle`, published with a KV put, taken up by the running Worker after a
// refresh (1 s here) with no restart; tampered, wrongly signed and older bundles refused while
// the last good policy keeps deciding; each event logged once; every decision line names its
// revision and source.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { EMBEDDED_SERIAL, POLICY_SHA256, startWorld } from "./harness.mjs";
import { ensureCli, keyPair, makeBundle, publish as publishTo } from "./bundles.mjs";

const trusted = keyPair("trusted");
const other = keyPair("other");
/** Serials above the embedded policy's (300): a bundle must be newer to decide. */
const S = (n) => EMBEDDED_SERIAL + n;
const bundle = ({ block, serial, key = trusted }) => makeBundle({ block, serial, key });

let world;
before(async () => {
  ensureCli();
  world = await startWorld({ bundle: { publicKey: trusted.publicKey, refreshSecs: 1 } });
});
after(async () => { await world?.dispose(); });

/** Publishes `bytes` as `wrangler kv key put --path` would, the bundle then its head. */
const publish = (bytes) => publishTo(world.kv, bytes);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const events = async () => (await world.logLines()).filter((l) => l?.event === "policy_bundle");

/** Requests `host` until `pred(line)` holds for its decision line (refreshes run in the background). */
async function until(host, pred, what) {
  const deadline = Date.now() + 8000;
  for (;;) {
    const p = `/probe/${randomUUID()}`;
    const res = await world.call("acme", `https://${host}${p}`);
    await res.arrayBuffer();
    const [line] = await world.waitForLogs((l) => l.path === p, 1);
    if (line && pred(line)) return { res, line };
    if (Date.now() > deadline) assert.fail(`${what}: last line ${JSON.stringify(line)}`);
    await sleep(200);
  }
}

test("without a bundle the embedded policy decides, and the line says so", async () => {
  const { res, line } = await until("emergency.example.com", () => true, "a line");
  assert.equal(res.status, 200);
  assert.deepEqual(line.policy, { name: "e2e", sha256: POLICY_SHA256, source: "embedded", serial: EMBEDDED_SERIAL });
  const [absent] = await events();
  assert.equal(absent?.status, "absent", JSON.stringify(absent));
});

test("a published bundle is enforced after a refresh, with no restart, and named in every line", async () => {
  const { bytes, sha256, name } = bundle({ block: "emergency.example.com", serial: S(10) });
  await publish(bytes);
  const { res, line } = await until("emergency.example.com", (l) => l.action === "block", "the emergency block");
  assert.equal(res.status, 403);
  assert.equal(line.rule, `emergency-${S(10)}`);
  assert.deepEqual(line.policy, { name, sha256, source: "bundle", serial: S(10) });
  // The rest of the policy still decides as before.
  const pass = await until("public.example.com", () => true, "a pass");
  assert.equal(pass.res.status, 200);
  assert.equal(pass.line.policy.serial, S(10));
  // An outbound Worker without the KV binding keeps its embedded policy.
  const p = `/probe/${randomUUID()}`;
  assert.equal((await world.call("initech", `https://emergency.example.com${p}`)).status, 200);
  const [unbound] = await world.waitForLogs((l) => l.path === p, 1);
  assert.deepEqual(unbound.policy, { name: "e2e", sha256: POLICY_SHA256, source: "embedded", serial: EMBEDDED_SERIAL });
  const loaded = (await events()).filter((e) => e.status === "loaded");
  assert.equal(loaded.length, 1, "taken up once, logged once");
  assert.deepEqual([loaded[0].serial, loaded[0].active.source, loaded[0].policy.sha256], [S(10), "bundle", sha256]);
});

test("tampered, wrongly signed and older bundles are refused; the last good policy keeps deciding", async () => {
  const good = bundle({ block: "emergency.example.com", serial: S(10) });
  const tampered = Buffer.from(bundle({ block: null, serial: S(11) }).bytes);
  tampered[tampered.length - 100] ^= 0x01;
  const cases = [
    ["bad_signature", tampered],
    ["wrong_key", bundle({ block: null, serial: S(12), key: other }).bytes],
    ["older_serial", bundle({ block: null, serial: S(9) }).bytes],
    ["not_a_bundle", Buffer.from("EGRESSPOL\0 not a bundle at all, but long enough to have a head: ".repeat(5))],
  ];
  for (const [reason, bytes] of cases) {
    await publish(bytes);
    const deadline = Date.now() + 8000;
    let refused = [];
    while (refused.length === 0 && Date.now() < deadline) {
      await (await world.call("acme", `https://public.example.com/${randomUUID()}`)).arrayBuffer();
      refused = (await events()).filter((e) => e.status === "refused" && e.reason === reason);
      if (refused.length === 0) await sleep(200);
    }
    assert.equal(refused.length, 1, `${reason}: refused and logged once`);
    assert.equal(refused[0].active.serial, S(10), `${reason}: the last good bundle stays active`);
    // Still enforced, and the refused bundle read again at the next refreshes is not logged again.
    await sleep(1200);
    const { res, line } = await until("emergency.example.com", () => true, "a line");
    assert.equal(res.status, 403, `${reason}: the emergency block holds`);
    assert.deepEqual([line.rule, line.policy.serial, line.policy.sha256], [`emergency-${S(10)}`, S(10), good.sha256]);
    assert.equal((await events()).filter((e) => e.reason === reason).length, 1, `${reason}: logged once`);
  }
});

test("no line of the bundle suite carries key material", async () => {
  const text = JSON.stringify(await world.logLines());
  for (const key of [trusted, other]) {
    const pem = readFileSync(key.pem, "utf8").split("\n").filter((l) => l && !l.startsWith("-----")).join("");
    assert.ok(!text.includes(pem), "no private key in the logs");
  }
});

test("a KV binding without a usable public key takes up nothing: the embedded policy decides, and it says why once", async () => {
  const misconfigured = await startWorld({ bundle: { publicKey: "not-an-ed25519-key", refreshSecs: 1 } });
  try {
    await publishTo(misconfigured.kv, bundle({ block: "emergency.example.com", serial: S(20) }).bytes);
    for (let i = 0; i < 3; i++) {
      const p = `/probe/${randomUUID()}`;
      const res = await misconfigured.call("acme", `https://emergency.example.com${p}`);
      assert.equal(res.status, 200, "the bundle is not taken up");
      await res.arrayBuffer();
      const [line] = await misconfigured.waitForLogs((l) => l.path === p, 1);
      assert.deepEqual(line.policy, { name: "e2e", sha256: POLICY_SHA256, source: "embedded", serial: EMBEDDED_SERIAL });
      await sleep(600);
    }
    const events = (await misconfigured.logLines()).filter((l) => l?.event === "policy_bundle");
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.equal(events[0].status, "misconfigured");
    assert.match(events[0].ts, /^\d{4}-\d{2}-\d{2}T/);
    assert.match(events[0].reason, /EGRESS_BUNDLE_PUBLIC_KEY/);
    assert.ok(!JSON.stringify(events).includes("not-an-ed25519-key"), "the setting's value is never logged");
  } finally {
    await misconfigured.dispose();
  }
});
