// What minting a token costs in CPU, per algorithm, measured in workerd: workerd's CPU time
// (every thread's, from /proc/PID/task/*/schedstat, in nanoseconds) around each request or
// batch, divided by the count. So each figure is a whole request through workerd (the user
// Worker, this Worker, the upstream's wrapper, the Tail Worker): an upper bound of this
// Worker's own CPU, which the Free plan holds to 10 ms per request.
//   first: the first token of an algorithm in a warm isolate (the key parsed, then signed);
//   miss:  a token for a new customer (the key cached, signed);
//   hit:   a cached token handed out again;
//   pass:  a request passed without a token (the baseline).
// PS256 is not in the e2e policy: a signed bundle adds it (its own RSA key, E2E_PS256_KEY).
import assert from "node:assert/strict";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { after, before, test } from "node:test";
import { jwtVerify } from "jose";
import { EMBEDDED_SERIAL, ISSUER, startWorld } from "../e2e/harness.mjs";
import { ensureCli, keyPair, makeBundle, publish } from "../e2e/bundles.mjs";
import { cpuNs, withPid } from "./cred-measure.mjs";

const BATCH = Number(process.env.RELIABILITY_MINT_BATCH ?? 200);
const BUDGET_MS = 10;
const RELAY = "tests/reliability/relay-worker.mjs";
const HOSTS = { RS256: "rs256.api.test", PS256: "ps256.api.test", ES256: "es256.api.test", EdDSA: "eddsa.api.test", HS256: "hs256.api.test" };
const PS256_KEY = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey.export({ type: "pkcs8", format: "pem" });
const PS256_RULE = `
[[rules]]
id = "inject-ps256"
action = "inject"
hosts = ["ps256.api.test"]
credential = "jwt-ps256"

[credentials.jwt-ps256]
kind = "jwt"
algorithm = "PS256"
secret = "E2E_PS256_KEY"
issuer = "egress.e2e.test"
audience = "ps256.api.test"
ttl = 120
`;

let world;
let pid;
before(async () => {
  ensureCli();
  const key = keyPair("mint");
  const { bytes } = makeBundle({ serial: EMBEDDED_SERIAL + 1, key, edit: (t) => t + PS256_RULE });
  // No refresh during the run: its reads would count in every figure.
  ({ world, pid } = await withPid(() => startWorld({
    bundle: { publicKey: key.publicKey, refreshSecs: 3600 },
    instances: { mint: { workerDir: RELAY, bindings: { E2E_PS256_KEY: PS256_KEY } } },
  })));
  // Published before the isolate's first request, whose read takes it up.
  await publish(world.kv, bytes);
});
after(async () => { await world?.dispose(); });

/** One request as `customer`; returns its status. */
async function request(host, customer, path) {
  const res = await world.call("mint", `https://${host}${path}`, { headers: { "x-relay-customer": customer } });
  await res.arrayBuffer();
  return res.status;
}

/** workerd's CPU per request (ms) over `customers`, sequentially, each asserted to get `status`. */
async function cpuPerRequest(host, customers, label) {
  const before = cpuNs(pid);
  for (const c of customers) assert.equal(await request(host, c, `/${label}/${c}`), 200, `${host} ${label} ${c}`);
  return (cpuNs(pid) - before) / 1e6 / customers.length;
}

test(`CPU per mint per algorithm (batches of ${BATCH}): a cache miss under ${BUDGET_MS} ms`, async () => {
  const warm = Array.from({ length: 20 }, (_, i) => `warm-${i}`);
  await cpuPerRequest("public.example.com", warm, "warm");
  const figures = {};
  for (const [alg, host] of Object.entries(HOSTS)) {
    const customers = Array.from({ length: BATCH }, (_, i) => `${alg.toLowerCase()}-${i}`);
    const first = await cpuPerRequest(host, [`${alg.toLowerCase()}-first`], "first");
    const miss = await cpuPerRequest(host, customers, "miss");
    const hit = await cpuPerRequest(host, customers, "hit");
    const pass = await cpuPerRequest("public.example.com", customers, `pass-${alg}`);
    figures[alg] = { first, miss, hit, pass, mint: miss - hit };
  }
  const ms = (x) => x.toFixed(3);
  console.log(`# workerd CPU ms per request (first: one request; others: mean of ${BATCH})`);
  for (const [alg, f] of Object.entries(figures)) {
    console.log(`#   ${alg.padEnd(6)} first ${ms(f.first)}  miss ${ms(f.miss)}  hit ${ms(f.hit)}  pass ${ms(f.pass)}  mint (miss - hit) ${ms(f.mint)}`);
  }

  // Every token verified: the harness's upstream checks all but PS256's, checked here.
  const ps = world.arrivals.filter((a) => a.host === "ps256.api.test");
  assert.equal(ps.length, 2 * BATCH + 1);
  for (const a of ps) {
    const token = a.headers.authorization.replace(/^Bearer /, "");
    const { payload } = await jwtVerify(token, createPublicKey(PS256_KEY), { algorithms: ["PS256"], issuer: ISSUER, audience: "ps256.api.test" });
    assert.equal(payload.sub, a.path.split("/")[2]);
  }
  for (const a of world.arrivals.filter((x) => x.host !== "ps256.api.test" && x.host !== "public.example.com")) {
    assert.ok(a.jwt?.ok, `${a.host}${a.path}: ${a.jwt?.error}`);
  }
  for (const [alg, f] of Object.entries(figures)) {
    assert.ok(f.miss < BUDGET_MS, `${alg}: a cache miss costs ${ms(f.miss)} ms of CPU`);
    assert.ok(f.first < BUDGET_MS, `${alg}: the first mint (key parse) costs ${ms(f.first)} ms of CPU`);
  }
});
