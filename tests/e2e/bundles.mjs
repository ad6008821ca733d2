// Signed policy bundles for the workerd tests: made by the real `egress-policy bundle`, taken
// apart and re-signed here only to forge what an attacker or a faulty signer could publish.
// The layout is docs/deploy.md's (crates/engine/src/bundle.rs): a 126-byte envelope, the
// artefact (a 62-byte header, then its payload), a 64-byte signature over the envelope and the
// artefact's header; the head is those 188 signed bytes and the signature.
import { execFileSync } from "node:child_process";
import { createHash, createPrivateKey, generateKeyPairSync, sign } from "node:crypto";
import { cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { BUNDLE_ENVIRONMENT, POLICY_PATH, ROOT, policySha256 } from "./harness.mjs";

export const CLI = path.join(ROOT, "target/debug/egress-policy");
export const KEY = "policy-bundle";
const ENVELOPE = 126;
const ARTEFACT_HEADER = 62;
const SIGNED = ENVELOPE + ARTEFACT_HEADER;

const dir = mkdtempSync(path.join(tmpdir(), "egress-bundle-"));
// A policy reads list files inside its own directory only: the e2e policy's go along.
cpSync(path.join(path.dirname(POLICY_PATH), "lists"), path.join(dir, "lists"), { recursive: true });

/** Builds the CLI when the suite runs without `cargo test` before it. */
export function ensureCli() {
  if (!existsSync(CLI)) execFileSync("cargo", ["build", "--bin", "egress-policy"], { cwd: ROOT, stdio: "inherit" });
}

/** An Ed25519 key pair: the PEM file `bundle` signs with, and the Worker's public key text. */
export function keyPair(name) {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  const pem = path.join(dir, `${name}.pem`);
  writeFileSync(pem, privateKey.export({ type: "pkcs8", format: "pem" }));
  const raw = publicKey.export({ type: "spki", format: "der" }).subarray(-32);
  return { pem, publicKey: raw.toString("base64url") };
}

let made = 0;

/**
 * The e2e policy with `edit` applied to its text (and an emergency block of `block`), bundled by
 * the CLI for `environment`, signed with `key`, with `serial`, or (`after`: a bundle's file) a
 * serial the CLI chooses above that bundle's; `files` (path -> text) are written beside the
 * policy first (list files it names). Returns its bytes, head, revision and file.
 */
export function makeBundle({ block, serial, after, key, environment = BUNDLE_ENVIRONMENT, edit = (t) => t, files = {} }) {
  const name = `e2e-bundle-${serial}`;
  const file = `${name}-${++made}`;
  for (const [relative, text] of Object.entries(files)) writeFileSync(path.join(dir, relative), text);
  const text = edit(readFileSync(POLICY_PATH, "utf8"))
    .replace('name = "e2e"', `name = "${name}"`) +
    (block ? `\n[[rules]]\nid = "emergency-${serial}"\naction = "block"\nhosts = ["${block}"]\nreason = "emergency"\n` : "");
  const policy = path.join(dir, `${file}.toml`);
  writeFileSync(policy, text);
  const out = path.join(dir, `${file}.bin`);
  const order = after ? ["--after", after] : ["--serial", String(serial)];
  execFileSync(CLI, ["bundle", policy, "--key-file", key.pem, "--environment", environment, ...order, "-o", out], { cwd: ROOT });
  return { bytes: readFileSync(out), head: readFileSync(`${out}.head`), sha256: policySha256(policy), name, file: out };
}

/** The head of a bundle's bytes, as `bundle` writes it beside the bundle. */
export const headOf = (bytes) => Buffer.concat([bytes.subarray(0, SIGNED), bytes.subarray(bytes.length - 64)]);

/** Publishes a bundle as docs/deploy.md says, under `key`: the bundle, then its head. */
export async function publish(kv, bytes, head = headOf(bytes), key = KEY) {
  await kv.put(key, bytes);
  await kv.put(`${key}:head`, head);
}

/**
 * What a signer with the key (or a bug in one) could publish: `damage` changes the artefact's
 * payload, then the artefact's checksum is recomputed and the bundle signed again.
 */
export function resign(bytes, key, damage) {
  const out = Buffer.from(bytes);
  const payload = out.subarray(SIGNED, out.length - 64);
  damage(payload);
  createHash("sha256").update(payload).digest().copy(out, ENVELOPE + ARTEFACT_HEADER - 32);
  const signature = sign(null, out.subarray(0, SIGNED), createPrivateKey(readFileSync(key.pem)));
  signature.copy(out, out.length - 64);
  return out;
}

/** The same bundle with another serial (the artefact header's, offset 14), signed again. */
export function reserial(bytes, key, serial) {
  const out = Buffer.from(bytes);
  out.writeBigUInt64LE(BigInt(serial), ENVELOPE + 14);
  sign(null, out.subarray(0, SIGNED), createPrivateKey(readFileSync(key.pem))).copy(out, out.length - 64);
  return out;
}

/** Where the last domain list's compiled automaton lies in an artefact payload. */
export function lastSectionOf(payload) {
  let at = 0;
  let last = null;
  while (at < payload.length) {
    const len = Number(payload.readBigUInt64LE(at));
    last = { start: at + 8, end: at + 8 + len };
    at += 8 + len;
  }
  return last;
}
