// The workerd end-to-end suite's world (dev/world.mjs) and its test helpers. One workerd holds
//   - user Workers of several customers, each of whose fetch() goes to the ONE outbound Worker
//     with its customer parameter (as workerd delivers per-caller parameters locally), plus one
//     without any customer, and outbound Workers given the customer in env in the shapes the
//     platform uses;
//   - the outbound Worker under test (build/, built with tests/e2e/policy.toml), whose own
//     fetch()es go to a Node function playing every upstream host ("the internet"): it records
//     what arrived and verifies JWTs;
//   - the Tail Worker, collecting the outbound Workers' console.log output (the decision log),
//     the way production captures it.
// Signing keys are generated here at start (node:crypto) and given to the Worker as secret
// bindings; nothing private is committed.
import { createHash, createSecretKey, generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { appendFileSync, readFileSync } from "node:fs";
import path from "node:path";
import { decodeProtectedHeader, jwtVerify } from "jose";
import { ROOT, startWorld as startWorkerd } from "../../dev/world.mjs";

export { COMPATIBILITY_DATE, ROOT } from "../../dev/world.mjs";
export const POLICY_PATH = path.join(ROOT, "tests/e2e/policy.toml");
/**
 * The policy's revision as the engine computes it (docs/policy.md, "Domain lists"): SHA-256 of
 * the policy file's bytes, then per list in id order NUL, id, NUL, the file's length, NUL, its
 * bytes. Written here independently, so the suite checks the engine's recipe too.
 */
export function policySha256(policyPath) {
  const text = readFileSync(policyPath);
  const hash = createHash("sha256").update(text);
  const lists = [...text.toString("utf8").matchAll(/^\[lists\.([A-Za-z0-9_-]+)\]\s*\nfile = "([^"]+)"/gm)]
    .map(([, id, file]) => [id, file])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [id, file] of lists) {
    const bytes = readFileSync(path.resolve(path.dirname(policyPath), file));
    hash.update(`\0${id}\0${bytes.length}\0`).update(bytes);
  }
  return hash.digest("hex");
}
export const POLICY_SHA256 = policySha256(POLICY_PATH);
export const POLICY_NAME = "e2e";
/** The serial the e2e build embeds (`make e2e` builds with EGRESS_POLICY_SERIAL=300). */
export const EMBEDDED_SERIAL = Number(process.env.EGRESS_POLICY_SERIAL ?? 300);
/** The environment the e2e Worker takes up bundles for. */
export const BUNDLE_ENVIRONMENT = "e2e";
export const ISSUER = "egress.e2e.test";

/** The fields of a decision log line, in order (docs/decision-log.md). */
export const LOG_FIELDS = [
  "v", "ts", "decision_id", "customer", "tags", "action", "would_block", "rule", "report_rule",
  "reason", "method", "scheme", "host", "port", "path", "path_redacted", "credential", "policy", "status",
  "error", "duration_ms", "outcome", "sent", "engine", "isolate", "seq", "chain_alg", "chain",
];
/** Whether a logged line is a decision (not a checkpoint, bundle or settings event). */
export const isDecision = (line) => typeof line?.decision_id === "string";
/** The log schema version the Worker writes. */
export const LOG_SCHEMA_VERSION = 2;

/** Per inject host: how the upstream verifies what arrives (mirrors tests/e2e/policy.toml). */
export const JWT_HOSTS = {
  "hs256.api.test": { alg: "HS256", secret: "E2E_HS256_KEY", kid: "hs-2026", ttl: 300, header: "authorization", prefix: "Bearer " },
  "scoped.api.test": { alg: "HS256", secret: "E2E_HS256_KEY", kid: "hs-2026", ttl: 300, header: "authorization", prefix: "Bearer ", audience: "hs256.api.test" },
  "partner.api.test": { alg: "HS256", secret: "E2E_HS256_KEY", kid: "hs-2026", ttl: 300, header: "authorization", prefix: "Bearer ", audience: "hs256.api.test" },
  "rs256.api.test": { alg: "RS256", secret: "E2E_RS256_KEY", kid: "rs-2026", ttl: 120, header: "authorization", prefix: "Bearer " },
  "es256.api.test": { alg: "ES256", secret: "E2E_ES256_KEY", kid: "es-2026", ttl: 600, header: "x-api-token", prefix: "" },
  "eddsa.api.test": { alg: "EdDSA", secret: "E2E_EDDSA_KEY", kid: undefined, ttl: 300, header: "authorization", prefix: "Bearer " },
};

/** Customers wired in: name -> the parameters the user Worker's outbound binding carries. */
export const CUSTOMERS = {
  acme: { customer_name: "acme", customer_tags: ["production", "eu"] },
  globex: { customer_name: "globex", customer_tags: "staging,beta" },
  // Look-alikes of acme (issue 14): a direction override after the name, a combining
  // grapheme joiner after a tag. Both are refused, never taken for acme.
  "acme-rtl": { customer_name: "acme\u202e", customer_tags: [] },
  "acme-tag-spoof": { customer_name: "acme", customer_tags: ["production\u034f"] },
};

/** Fresh signing keys: `secrets` as the Worker's bindings, `verify` as the upstream's keys. */
export function generateKeys() {
  const pem = (k) => k.export({ type: "pkcs8", format: "pem" });
  const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const ed = generateKeyPairSync("ed25519");
  const hs = randomBytes(32).toString("base64url");
  return {
    // What the Worker gets, by secret name.
    secrets: {
      E2E_HS256_KEY: hs,
      E2E_RS256_KEY: pem(rsa.privateKey),
      E2E_ES256_KEY: pem(ec.privateKey),
      E2E_EDDSA_KEY: pem(ed.privateKey),
    },
    // What the upstream verifies with, by secret name.
    verify: {
      E2E_HS256_KEY: createSecretKey(Buffer.from(hs, "utf8")),
      E2E_RS256_KEY: rsa.publicKey,
      E2E_ES256_KEY: ec.publicKey,
      E2E_EDDSA_KEY: ed.publicKey,
    },
  };
}

/** 1 MiB of deterministic, non-repeating-looking bytes. */
export function bigBody(seed = "e2e") {
  const out = Buffer.alloc(1 << 20);
  let block = createHash("sha256").update(seed).digest();
  for (let i = 0; i < out.length; i += block.length) {
    block.copy(out, i);
    block = createHash("sha256").update(block).digest();
  }
  return out;
}

export const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

const USER_WORKER = `
// A customer's Worker: makes the fetch described by the x-e2e-* headers of its request and
// returns the response as is (status, headers and streamed body).
export default {
  async fetch(request) {
    const encoded = request.headers.get("x-e2e-url");
    if (!encoded) return new Response("x-e2e-url missing", { status: 400 });
    const target = decodeURIComponent(encoded);
    const headers = new Headers();
    for (const [name, value] of request.headers) {
      if (name.startsWith("x-e2e-h-")) headers.append(name.slice(8), value);
    }
    const init = { method: request.method, headers, redirect: request.headers.get("x-e2e-redirect") ?? "follow" };
    if (request.method !== "GET" && request.method !== "HEAD") init.body = request.body;
    const cf = request.headers.get("x-e2e-cf");
    if (cf) init.cf = JSON.parse(cf);
    // x-e2e-no-await: start the fetch and answer at once, never waiting for it.
    if (request.headers.has("x-e2e-no-await")) {
      fetch(target, init).catch(() => {});
      return new Response("not awaited", { status: 202 });
    }
    // x-e2e-abort-after-ms: abort the fetch after that long.
    const abortAfter = request.headers.get("x-e2e-abort-after-ms");
    if (abortAfter) {
      const controller = new AbortController();
      init.signal = controller.signal;
      setTimeout(() => controller.abort(), Number(abortAfter));
    }
    try {
      return await fetch(target, init);
    } catch (e) {
      return new Response("fetch threw: " + e.message, { status: 599 });
    }
  },
};`;

/**
 * Starts the workerd world. Returns helpers:
 * - `call(customer, url, { method, headers, body, redirect, cf, abortAfterMs, noAwait })`: the
 *   user Worker of `customer` fetches `url` (with `cf` options; aborting after `abortAfterMs`;
 *   or answering 202 at once without awaiting the fetch when `noAwait`); resolves to its
 *   Response. `customer` is a key of `CUSTOMERS` (props), `null` (no customer), `initech`
 *   (env.customer_name, no tags), `hooli` (env.customer_name, no tags parameter), `stark`
 *   (env.customer_context with flat env.customer_tags), `umbrella` (env.customer_context),
 *   `unclean` (" acme" in env) or `props-ignored` (props to an outbound Worker that has not
 *   opted in to them);
 * - `arrivals`: what the upstream received (array, in arrival order);
 * - `events()`: the tail events of the outbound Worker so far;
 * - `waitForLogs(pred, n)`: waits until `n` decision lines satisfying `pred` were tailed;
 * - `secrets`: the generated key material (to prove none of it is ever logged);
 * - `kv`: with `bundle: { publicKey, environment, refreshSecs, waitMs, readTimeoutMs,
 *   minSerial }`, the outbound Worker "outbound" (and every instance) takes up signed policy
 *   bundles from this KV namespace (`EGRESS_POLICY_KV`), a fault-injecting binding:
 *   `kv.put(key, bytes)` / `kv.delete(key)` set the values Node holds and serves, `kv.faults`
 *   (`{ delayMs, hang, reject }`, or per key in `kv.faults.keys[key]`) says what the next
 *   reads do, `kv.reads` lists every read as `{ key, bytes }`;
 * - `instances`: `{ NAME: { bindings, workerDir, metrics } }` starts more outbound Workers
 *   (`outbound-NAME`), each a fresh isolate until its first request (same KV, same cache: one
 *   location), called as customer `NAME` (with acme's parameters); `bindings` add to or
 *   override its settings, `workerDir` runs another build, `metrics` binds EGRESS_METRICS;
 * - `points()`: the data points written to EGRESS_METRICS (dev/world.mjs);
 * - upstream paths `/hang/...` never answer until the world is disposed;
 * - `onOutput(stream, text)`: sees workerd's stdout and stderr (dev/world.mjs).
 */
export async function startWorld({ upstream, bundle, instances = {}, onOutput } = {}) {
  const keys = generateKeys();
  const arrivals = [];
  const hung = [];
  const never = () => new Promise((resolve) => hung.push(resolve));
  const internet = async (request) => {
    const url = new URL(request.url);
    if (url.pathname.startsWith("/hang/")) {
      arrivals.push({ url: request.url, host: url.hostname, path: url.pathname, headers: {} });
      await never();
      return new Response("released at the end of the test", { status: 503 });
    }
    if (url.pathname.startsWith("/hold/")) return heldResponse(url, arrivals);
    if (url.pathname.startsWith("/slow/")) await held.get(url.pathname)?.released;
    if (url.pathname.startsWith("/upload/")) return heldUpload(request, url, arrivals);
    const body = Buffer.from(await request.arrayBuffer());
    const headers = {};
    for (const [k, v] of request.headers) if (!k.startsWith("x-wire-")) headers[k] = v;
    const wireHost = request.headers.get("x-wire-host") || null;
    const wireCf = JSON.parse(request.headers.get("x-wire-cf") ?? "null");
    const arrival = { url: request.url, host: url.hostname, method: request.method, path: url.pathname, headers, wireHost, wireCf, bodySha256: sha256(body), bodyLength: body.length };
    arrivals.push(arrival);
    const jwtHost = JWT_HOSTS[url.hostname];
    if (jwtHost) arrival.jwt = await verifyArrival(arrival, url.hostname, jwtHost, keys.verify);
    if (upstream) {
      const answer = await upstream(request, arrival, url);
      if (answer) return answer;
    }
    return defaultUpstream(url, arrival);
  };

  // The Rust build (E2E_WORKER_DIR, else build/), or E2E_OUTBOUND_SCRIPT (another implementation).
  const from = process.env.E2E_OUTBOUND_SCRIPT ?? process.env.E2E_WORKER_DIR ?? "build";
  const kv = Boolean(bundle);
  // Locally the customer arrives as ctx.props: read only because these Workers opt in.
  const outboundBindings = { ...keys.secrets, EGRESS_IDENTITY_FROM_PROPS: "true", ...(bundle ? bundleBindings(bundle) : {}) };
  const user = (name, outbound) => ({ name: `user-${name}`, script: USER_WORKER, outbound });
  const world = await startWorkerd({
    upstream: internet,
    onOutput,
    kv: bundle ? "faulty" : undefined,
    users: [
      ...Object.entries(CUSTOMERS).map(([name, props]) => user(name, { name: "outbound", props })),
      user("nobody", "outbound"),
      // As deployed: the dispatch namespace's outbound parameters arrive as env.customer_name
      // and env.customer_tags ("" here: explicitly no tags).
      user("initech", "outbound-env"),
      // No tags parameter at all: refused `no_tags` (the policy scopes a rule by tag).
      user("hooli", "outbound-no-tags"),
      // The customer nested in customer_context, the tags flat beside it: the tags count.
      user("stark", "outbound-mixed"),
      // The platform's documented example nests it: outbound: { customer_context: { ... } }.
      user("umbrella", "outbound-context"),
      // A customer parameter that is present but not a clean name: refused, not repaired.
      user("unclean", "outbound-unclean"),
      // props naming a customer, to an outbound Worker that has not opted in to props.
      user("props-ignored", { name: "outbound-env-only", props: CUSTOMERS.acme }),
      ...Object.keys(instances).map((name) => user(name, { name: `outbound-${name}`, props: CUSTOMERS.acme })),
    ],
    outbound: [
      { name: "outbound", from, bindings: outboundBindings, kv },
      ...Object.entries(instances).map(([name, { bindings = {}, workerDir, metrics } = {}]) => (
        { name: `outbound-${name}`, from: workerDir ?? from, bindings: { ...outboundBindings, ...bindings }, kv, metrics }
      )),
      { name: "outbound-env", from, bindings: { ...keys.secrets, customer_name: "initech", customer_tags: "" } },
      { name: "outbound-no-tags", from, bindings: { ...keys.secrets, customer_name: "hooli" } },
      { name: "outbound-mixed", from, bindings: { ...keys.secrets, customer_context: { customer_name: "stark" }, customer_tags: ["untrusted"] } },
      { name: "outbound-context", from, bindings: { ...keys.secrets, customer_context: { customer_name: "umbrella", customer_tags: ["production"], url: "https://umbrella.example/" } } },
      { name: "outbound-unclean", from, bindings: { ...keys.secrets, customer_name: " acme" } },
      { name: "outbound-env-only", from, bindings: { ...keys.secrets } },
    ],
  });
  const users = {};
  for (const name of [...Object.keys(CUSTOMERS), "initech", "hooli", "stark", "umbrella", "unclean", "props-ignored", ...Object.keys(instances)]) {
    users[name] = await world.worker(`user-${name}`);
  }
  users.null = await world.worker("user-nobody");

  async function call(customer, url, { method = "GET", headers = {}, body, redirect, cf, abortAfterMs, noAwait } = {}) {
    const h = { "x-e2e-url": encodeURIComponent(url) };
    for (const [k, v] of Object.entries(headers)) h[`x-e2e-h-${k}`] = v;
    if (redirect) h["x-e2e-redirect"] = redirect;
    if (cf) h["x-e2e-cf"] = JSON.stringify(cf);
    if (abortAfterMs !== undefined) h["x-e2e-abort-after-ms"] = String(abortAfterMs);
    if (noAwait) h["x-e2e-no-await"] = "1";
    // manual: Node must not follow what the user Worker returns.
    const init = { method, headers: h, redirect: "manual" };
    if (body !== undefined) init.body = body;
    // A stream body is sent as it is produced (fetch requires saying so).
    if (body instanceof ReadableStream) init.duplex = "half";
    return users[customer].fetch("http://user.test/", init);
  }

  const events = () => world.events();

  /**
   * Every line the Worker logged (the single argument of each console.log: decisions, checkpoints,
   * events), in the order tailed; only those of fetch()es by the user Worker of `customer` when
   * given (for an instance: the lines of its outbound Worker alone).
   */
  async function logLines(customer) {
    const lines = [];
    for (const e of await events()) {
      if (customer === undefined || e.caller === `user-${customer}`) for (const l of e.logs) lines.push(l.message[0]);
    }
    return lines;
  }

  async function waitForLogs(pred, n, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const matching = (await logLines()).filter((l) => l && typeof l === "object" && pred(l));
      if (matching.length >= n || Date.now() > deadline) return matching;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async function dispose() {
    if (process.env.CAPTURE_LOGS) {
      const lines = (await logLines()).map((l) => JSON.stringify(l) + "\n").join("");
      appendFileSync(process.env.CAPTURE_LOGS, lines);
    }
    for (const release of hung.splice(0)) release();
    await world.dispose();
  }

  return { mf: world.mf, call, arrivals, events, logLines, waitForLogs, dispose, secrets: keys.secrets, kv: bundle ? world.kv : null, points: world.points };
}

/** The outbound Worker's bundle settings (src/settings.rs). */
export function bundleBindings({ publicKey, environment = BUNDLE_ENVIRONMENT, refreshSecs = 1, waitMs, readTimeoutMs, minSerial }) {
  const out = { EGRESS_BUNDLE_PUBLIC_KEY: publicKey, EGRESS_BUNDLE_ENVIRONMENT: environment, EGRESS_BUNDLE_REFRESH_SECS: String(refreshSecs) };
  if (waitMs !== undefined) out.EGRESS_BUNDLE_WAIT_MS = String(waitMs);
  if (readTimeoutMs !== undefined) out.EGRESS_BUNDLE_READ_TIMEOUT_MS = String(readTimeoutMs);
  if (minSerial !== undefined) out.EGRESS_BUNDLE_MIN_SERIAL = String(minSerial);
  return out;
}

/** Verifies the token an arrival carries as `spec` (a JWT_HOSTS entry) says, with `verifyKeys`. */
export async function verifyArrival(arrival, host, spec, verifyKeys) {
  const raw = arrival.headers[spec.header];
  const result = { header: spec.header, raw: raw ?? null };
  if (raw === undefined) return { ...result, ok: false, error: "no credential header" };
  if (!raw.startsWith(spec.prefix)) return { ...result, ok: false, error: "wrong prefix" };
  const token = raw.slice(spec.prefix.length);
  try {
    const { payload, protectedHeader } = await jwtVerify(token, verifyKeys[spec.secret], {
      algorithms: [spec.alg],
      issuer: ISSUER,
      audience: spec.audience ?? host,
      typ: "JWT",
      requiredClaims: ["iss", "aud", "iat", "exp", "sub"],
    });
    return { ...result, ok: true, token, payload, protectedHeader };
  } catch (e) {
    let protectedHeader = null;
    try { protectedHeader = decodeProtectedHeader(token); } catch { /* not a JWT at all */ }
    return { ...result, ok: false, token, protectedHeader, error: `${e.code ?? ""} ${e.message}` };
  }
}

function defaultUpstream(url, arrival) {
  if (url.pathname === "/redirect") {
    return new Response(null, { status: 302, headers: { location: url.searchParams.get("to") } });
  }
  if (url.pathname === "/big") {
    return new Response(bigBody("response"), { headers: { "content-type": "application/octet-stream", "x-upstream": "big" } });
  }
  return Response.json(
    { host: url.hostname, path: url.pathname, method: arrival.method, bodySha256: arrival.bodySha256, sub: arrival.jwt?.payload?.sub ?? null },
    { headers: { "x-upstream": url.hostname, "set-cookie": "upstream=1; Path=/" } },
  );
}

/**
 * Streaming probes, keyed by a request's path. A test calls `hold(path)` first and gets:
 * - `release()`: lets `/hold/...`'s response send its second chunk and end. Until then the
 *   upstream has sent only its first chunk, so a caller that sees that chunk while the body is
 *   still open proves that nothing on the way buffers the response;
 *   it also lets `/slow/...` answer at all (until then its upstream sends nothing, not even
 *   the status line);
 * - `firstChunk`: resolves when `/upload/...`'s upstream has received the first chunk of the
 *   request body, the rest of which the test sends only afterwards (so a buffering hop would
 *   hold the upload back forever).
 */
const held = new Map();
export function hold(p) {
  let release, gotFirst;
  const probe = {
    released: new Promise((r) => { release = r; }),
    firstChunk: new Promise((r) => { gotFirst = r; }),
    gotFirst,
  };
  probe.release = release;
  held.set(p, probe);
  return probe;
}

function heldResponse(url, arrivals) {
  const probe = held.get(url.pathname);
  arrivals.push({ url: url.href, host: url.hostname, path: url.pathname, headers: {} });
  const enc = new TextEncoder();
  const body = new ReadableStream({
    async start(controller) {
      controller.enqueue(enc.encode("first chunk\n"));
      await probe?.released;
      controller.enqueue(enc.encode("second chunk\n"));
      controller.close();
    },
  });
  return new Response(body, { headers: { "content-type": "text/plain", "x-upstream": "hold" } });
}

async function heldUpload(request, url, arrivals) {
  const probe = held.get(url.pathname);
  const chunks = [];
  const reader = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (chunks.length === 0) probe?.gotFirst();
    chunks.push(Buffer.from(value));
  }
  const body = Buffer.concat(chunks);
  arrivals.push({ url: url.href, host: url.hostname, path: url.pathname, headers: {}, bodyLength: body.length, bodySha256: sha256(body) });
  return Response.json({ received: body.toString("utf8") });
}

/** A fresh unique path, so each test finds its own log lines. */
export const uniquePath = (label) => `/${label}/${randomUUID()}`;
