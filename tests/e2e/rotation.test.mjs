// A JWT signing key rotated without downtime, as docs/deploy.md step 12 has the operator do it,
// through the real Worker in workerd: the credential names its next key beside the active one
// (tests/e2e/policy.toml, `jwt-rotating`); tokens are still signed with the active key and name
// its `kid`; a next secret that is missing or unusable gets one `settings` line per isolate
// naming the secret, never its value, and no request fails; then the swap (a signed bundle
// whose active key is the former next key) signs with the new `kid`, and the JWKS that
// `egress-policy jwks --key-file OLD --next-key-file NEW` prints verifies tokens of both.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { EMBEDDED_SERIAL, ISSUER, POLICY_PATH, ROOT, startWorld, uniquePath } from "./harness.mjs";
import { CLI, ensureCli, keyPair, makeBundle, publish } from "./bundles.mjs";

const HOST = "rotating.api.test";
const pem = (key) => key.export({ type: "pkcs8", format: "pem" });
const next = generateKeyPairSync("ec", { namedCurve: "P-256" });
const NEXT_PEM = pem(next.privateKey);
const trusted = keyPair("rotation");

let world;
before(async () => {
  ensureCli();
  const bundleKey = (name) => ({ EGRESS_BUNDLE_KEY: `bundle-rotation-${name}` });
  world = await startWorld({
    bundle: { publicKey: trusted.publicKey },
    instances: {
      ready: { bindings: { E2E_ES256_NEXT_KEY: NEXT_PEM, ...bundleKey("ready") } },
      unset: { bindings: bundleKey("unset") },
      garbled: { bindings: { E2E_ES256_NEXT_KEY: pem(generateKeyPairSync("ed25519").privateKey), ...bundleKey("garbled") } },
      swapped: { bindings: { E2E_ES256_NEXT_KEY: NEXT_PEM, ...bundleKey("swapped") } },
    },
  });
});
after(async () => { await world?.dispose(); });

/** A request of `instance` to the rotating API: its status and the token that arrived. */
async function inject(instance) {
  const p = uniquePath(instance);
  const res = await world.call(instance, `https://${HOST}${p}`);
  await res.arrayBuffer();
  const arrival = world.arrivals.find((a) => a.path === p);
  const token = arrival?.headers.authorization?.replace(/^Bearer /, "");
  return { status: res.status, token, path: p };
}

const verifies = (token, key) =>
  jwtVerify(token, key, { issuer: ISSUER, audience: HOST, algorithms: ["ES256"] }).then(() => true, () => false);

/** The `settings` lines instance `name` wrote. */
const settingsLines = async (name) => (await world.logLines(name)).filter((l) => l?.event === "settings");

const reason = (problem) =>
  `E2E_ES256_NEXT_KEY (next_secret of credential jwt-rotating) ${problem}: tokens are still signed with the active key, but the swap to key es-2027 would fail`;

test("with the next key in place, tokens are still signed with the active key and name its kid; no settings line", async () => {
  const { status, token } = await inject("ready");
  assert.equal(status, 200);
  assert.equal(decodeProtectedHeader(token).kid, "es-2026");
  assert.ok(await verifies(token, createPublicKey(world.secrets.E2E_ES256_KEY)));
  assert.equal(await verifies(token, next.publicKey), false, "never signed with the next key");
  assert.deepEqual(await settingsLines("ready"), []);
});

test("a next key missing or unusable: every request still succeeds, and one settings line per isolate names the secret", async () => {
  for (const [instance, problem] of [["unset", "is not set"], ["garbled", "is not a usable ES256 key"]]) {
    for (let i = 0; i < 3; i++) {
      const { status, token } = await inject(instance);
      assert.equal(status, 200, instance);
      assert.equal(decodeProtectedHeader(token).kid, "es-2026");
    }
    const lines = await settingsLines(instance);
    assert.equal(lines.length, 1, `${instance}: ${JSON.stringify(lines)}`);
    assert.deepEqual([lines[0].status, lines[0].reason], ["misconfigured", reason(problem)]);
    assert.equal(lines[0].active.source, "embedded");
    const logged = JSON.stringify(await world.logLines(instance));
    for (const secret of [NEXT_PEM, world.secrets.E2E_ES256_KEY]) {
      for (const line of secret.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----"))) {
        assert.ok(!logged.includes(line), `${instance}: key material in the log`);
      }
    }
  }
});

test("the swap: the former next key signs with its kid, and the published JWKS verifies tokens of both keys", async () => {
  const before = await inject("swapped");
  assert.equal(decodeProtectedHeader(before.token).kid, "es-2026");
  // Step 5: the next key becomes the active one, and the old one leaves the credential.
  const rotating = 'secret = "E2E_ES256_KEY"\nkey_id = "es-2026"\nnext_secret = "E2E_ES256_NEXT_KEY"\nnext_key_id = "es-2027"';
  const swap = (text) => {
    assert.ok(text.includes(rotating), "the e2e policy's rotating credential");
    return text.replace(rotating, 'secret = "E2E_ES256_NEXT_KEY"\nkey_id = "es-2027"');
  };
  const bundle = makeBundle({ key: trusted, serial: EMBEDDED_SERIAL + 1, edit: swap });
  await publish(world.kv, bundle.bytes, bundle.head, "bundle-rotation-swapped");
  let afterSwap;
  for (const deadline = Date.now() + 8000; Date.now() < deadline;) {
    afterSwap = await inject("swapped");
    if (decodeProtectedHeader(afterSwap.token).kid === "es-2027") break;
    await new Promise((r) => setTimeout(r, 150));
  }
  assert.equal(afterSwap.status, 200);
  assert.equal(decodeProtectedHeader(afterSwap.token).kid, "es-2027", "the bundle with the swapped key decides");
  assert.ok(await verifies(afterSwap.token, next.publicKey));
  // Step 3: the JWKS published before the swap, from the two key files.
  const dir = mkdtempSync(path.join(tmpdir(), "egress-rotation-"));
  const oldFile = path.join(dir, "old.pem");
  const newFile = path.join(dir, "new.pem");
  writeFileSync(oldFile, world.secrets.E2E_ES256_KEY);
  writeFileSync(newFile, NEXT_PEM);
  const jwks = JSON.parse(execFileSync(CLI, [
    "jwks", "--policy", POLICY_PATH, "--credential", "jwt-rotating", "--key-file", oldFile, "--next-key-file", newFile,
  ], { cwd: ROOT }).toString());
  assert.deepEqual(jwks.keys.map((k) => k.kid), ["es-2026", "es-2027"]);
  const set = createLocalJWKSet(jwks);
  assert.ok(await verifies(before.token, set), "a token signed before the swap");
  assert.ok(await verifies(afterSwap.token, set), "a token signed after the swap");
  // Step 6: the old key leaves the JWKS (from the swapped policy): only the new key's tokens verify.
  const swappedPolicy = bundle.file.replace(/\.bin$/, ".toml");
  const newOnly = JSON.parse(execFileSync(CLI, [
    "jwks", "--policy", swappedPolicy, "--credential", "jwt-rotating", "--key-file", newFile,
  ], { cwd: ROOT }).toString());
  assert.deepEqual(newOnly.keys.map((k) => k.kid), ["es-2027"]);
  assert.ok(await verifies(afterSwap.token, createLocalJWKSet(newOnly)));
  assert.equal(await verifies(before.token, createLocalJWKSet(newOnly)), false);
  assert.deepEqual(await settingsLines("swapped"), [], "the next key was in place all along");
});
