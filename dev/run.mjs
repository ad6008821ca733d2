// `make dev`: the local Workers for Platforms (dev/platform.mjs) with the Worker from build/
// (policy/policy.toml, or the EGRESS_POLICY it was built with), printing what to curl and
// every decision log line as it happens. Ctrl-C stops it.
//
// Emergency blocks without a restart: the outbound Worker takes up signed policy bundles from
// the local KV namespace. `make dev-publish BLOCK=host` (another terminal) signs a bundle of the
// default policy plus a block of that host (or of EGRESS_POLICY=some.toml) with the dev key (target/dev/bundle-signing.pem, made here on first run) and drops
// it in target/dev/outbox/; this process publishes every bundle dropped there to the KV.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, watch, writeFileSync } from "node:fs";
import path from "node:path";
import { startDevWorld } from "./platform.mjs";
import { ROOT } from "./world.mjs";

const DEV_DIR = path.join(ROOT, "target/dev");
const KEY_FILE = path.join(DEV_DIR, "bundle-signing.pem");
const OUTBOX = path.join(DEV_DIR, "outbox");

/** The dev signing key (made once), and its public key as the Worker is configured with it. */
function devKey() {
  mkdirSync(OUTBOX, { recursive: true });
  if (!existsSync(KEY_FILE)) {
    const { privateKey } = generateKeyPairSync("ed25519");
    writeFileSync(KEY_FILE, privateKey.export({ type: "pkcs8", format: "pem" }), { mode: 0o600 });
  }
  const publicKey = createPublicKey(createPrivateKey(readFileSync(KEY_FILE)));
  return publicKey.export({ type: "spki", format: "der" }).subarray(-32).toString("base64url");
}

const port = Number(process.env.DEV_PORT ?? 8787);
const world = await startDevWorld({
  port,
  bundlePublicKey: devKey(),
  onLog(line) {
    const [first, ...rest] = line.message;
    const text = typeof first === "object" && rest.length === 0 ? JSON.stringify(first) : line.message.map(String).join(" ");
    const label = line.level !== "log" ? line.level : first?.event === "policy_bundle" ? "bundle" : "decision";
    process.stdout.write(`${label}: ${text}\n`);
  },
});
const base = world.url.href.replace(/\/$/, "");
const q = (u) => encodeURIComponent(u);
console.log(`
egress-policy local Workers for Platforms on ${base}
  dispatcher /<customer>/... -> customer Workers acme (tags: production), globex (tags: partner)
  -> every fetch() through the egress-policy outbound Worker (build/) -> local upstreams

Try:
  blocked   curl -s '${base}/acme/fetch?url=${q("https://malicious.com/payload")}'
  injected  curl -s '${base}/acme/fetch?url=${q("https://api.example.com/v1/users")}'
            (api.example.com here verifies the ES256 JWT with the public key and echoes its claims;
             the Worker's own Authorization header is replaced)
  passed    curl -s '${base}/globex/fetch?url=${q("https://example.org/hello?x=1")}'
  also      curl -s '${base}/globex/fetch?url=${q("http://169.254.169.254/latest/meta-data")}'

Emergency block, no restart: this passes now,
            curl -s '${base}/acme/fetch?url=${q("https://evil.example.net/")}'
  then in another terminal
            make dev-publish BLOCK=evil.example.net
  and within about 2 s the same request is refused by rule emergency-block (a signed bundle
  taken up from the local KV; the decision lines then name policy.source "bundle").

Decision log lines follow (JSON, as Workers Logs / Logpush would get them). Ctrl-C to stop.
`);

/** Publishes every bundle dropped in the outbox to the local KV (the bundle, then its head, as
 * docs/deploy.md does with wrangler), then moves both aside. */
async function publishOutbox() {
  for (const name of readdirSync(OUTBOX).filter((n) => n.endsWith(".bin")).sort()) {
    const file = path.join(OUTBOX, name);
    const head = file.replace(/\.bin$/, ".head");
    const bytes = readFileSync(file);
    await world.kv.put("policy-bundle", bytes);
    await world.kv.put("policy-bundle:head", readFileSync(head));
    renameSync(file, `${file}.published`);
    renameSync(head, `${head}.published`);
    console.log(`published ${name} (${bytes.length} bytes) to the local KV: the Worker takes it up within 2 s`);
  }
}
await publishOutbox();
let publishing = Promise.resolve();
watch(OUTBOX, () => { publishing = publishing.then(publishOutbox).catch((e) => console.error(`publish failed: ${e.message}`)); });

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await world.dispose();
    process.exit(0);
  });
}
