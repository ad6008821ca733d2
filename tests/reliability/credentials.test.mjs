// Credential faults through the Worker in workerd: an RS256 key that is empty, malformed, of
// the wrong kind (an EC key), 1 MiB of random text, or encrypted (PKCS#8 encrypted PEM) fails
// closed (502, nothing forwarded) with exactly one decision line, and no fragment of the
// secret appears in the response (body, headers), any tailed log line or exception, or
// anything workerd prints; 1,000 requests with a malformed key (200 in make test's subset)
// add under 2 ms at p99 to passed requests (the best of up to three runs: a p99 on a shared
// machine is mostly its other work), and under 0.5 ms of workerd CPU to blocked requests
// (also answered locally), measured in the same run.
import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes, randomUUID } from "node:crypto";
import { test } from "node:test";
import { FULL, cpuNs, leakedFragment, quantile, record, summary } from "./measure.mjs";
import { HOSTS, startReliabilityWorld } from "./world.mjs";

const RSA_HOST = HOSTS.inject120; // rs256.api.test: credential jwt-rs256, secret E2E_RS256_KEY
const LATENCY_REQUESTS = FULL ? 1000 : 200;
const ADDED_P99_MS = 2;
/** The CPU a malformed key may add to a request answered locally anyway. */
const ADDED_CPU_MS = 0.5;

const pkcs8 = (pair, options = {}) => pair.privateKey.export({ type: "pkcs8", format: "pem", ...options });

/** A real RSA key whose DER is broken half-way (still PEM, still base64). */
function malformedRsa() {
  const lines = pkcs8(generateKeyPairSync("rsa", { modulusLength: 2048 })).split("\n");
  const mid = Math.floor(lines.length / 2);
  lines[mid] = [...lines[mid]].reverse().join("");
  return lines.join("\n");
}

const BAD_KEYS = {
  empty: "",
  malformed: malformedRsa(),
  "wrong-kind (EC)": pkcs8(generateKeyPairSync("ec", { namedCurve: "P-256" })),
  "1 MiB random": randomBytes(786_432).toString("base64"),
  "encrypted PKCS#8": pkcs8(generateKeyPairSync("rsa", { modulusLength: 2048 }), { cipher: "aes-256-cbc", passphrase: randomUUID() }),
};

/** The secret-bearing text of a key: a PEM's base64 body (its armour lines are public). */
const secretText = (key) => key.split("\n").filter((l) => !l.startsWith("-----")).join("");

/** A world whose RS256 secret is `key`, keeping every text a secret could leak into. */
async function worldWith(key) {
  const seen = [];
  const world = await startReliabilityWorld({
    bindings: { E2E_RS256_KEY: key },
    onOutput: (stream, text) => seen.push(text),
    onTail: (event) => seen.push(JSON.stringify(event)),
  });
  return { world, seen };
}

for (const [name, key] of Object.entries(BAD_KEYS)) {
  test(`a ${name} RS256 key: 502, one decision line, no fragment of the key anywhere`, async () => {
    const { world, seen } = await worldWith(key);
    try {
      const path = `/bad-key/${randomUUID()}`;
      const res = await world.request(`https://${RSA_HOST}${path}`);
      const body = await res.text();
      assert.equal(res.status, 502, body);
      assert.equal(JSON.parse(body).error, "egress_credential_unavailable");
      await world.waitForDecisions(1);
      await new Promise((r) => setTimeout(r, 300)); // a second line would be tailed by now
      const lines = world.log.lines.filter((l) => l.path === path);
      assert.equal(lines.length, 1, `exactly one decision line: ${JSON.stringify(lines)}`);
      assert.deepEqual([lines[0].action, lines[0].credential, lines[0].error, lines[0].outcome, lines[0].sent],
        ["inject", "jwt-rs256", "credential_unavailable", "failed", false]);
      assert.equal(world.upstream.arrived["bad-key"], undefined, "nothing forwarded");
      assert.deepEqual(world.log.exceptions, []);
      const texts = [body, JSON.stringify([...res.headers]), ...seen];
      assert.equal(leakedFragment(secretText(key), texts), null, "a fragment of the key leaked");
    } finally {
      await world.dispose();
    }
  });
}

test(`${LATENCY_REQUESTS} requests with a malformed RSA key: p99 added latency under ${ADDED_P99_MS} ms, CPU added under ${ADDED_CPU_MS} ms`, async () => {
  const { world } = await worldWith(BAD_KEYS.malformed);
  try {
    const kinds = { bad: [RSA_HOST, 502], pass: [HOSTS.pass, 200], block: [HOSTS.block, 403] };
    /** One request of `kind`: its latency and workerd's CPU meanwhile (ms). */
    const once = async (kind) => {
      const [host, want] = kinds[kind];
      const cpu0 = cpuNs(world.pid);
      const t0 = performance.now();
      const res = await world.request(`https://${host}/latency/${randomUUID()}`);
      await res.arrayBuffer();
      const ms = performance.now() - t0;
      assert.equal(res.status, want, kind);
      return { ms, cpu: (cpuNs(world.pid) - cpu0) / 1e6 };
    };
    for (let i = 0; i < 50; i++) for (const kind of Object.keys(kinds)) await once(kind); // warm-up
    const r = (x) => Math.round(x * 1000) / 1000;
    const attempts = [];
    // The kinds interleaved request by request, so the shared machine's noise falls on each alike.
    // A p99 is the machine's noise when other work shares it: up to three runs, one must hold.
    for (let attempt = 0; attempt < 3; attempt++) {
      const runs = { bad: [], pass: [], block: [] };
      for (let i = 0; i < LATENCY_REQUESTS; i++) for (const kind of Object.keys(kinds)) runs[kind].push(await once(kind));
      const p99 = (kind) => quantile(runs[kind].map((x) => x.ms), 0.99);
      const cpuMs = (kind) => runs[kind].reduce((sum, x) => sum + x.cpu, 0) / LATENCY_REQUESTS;
      const figures = Object.fromEntries(Object.keys(kinds).map((k) => [k, { ...summary(runs[k].map((x) => x.ms)), cpuMs: r(cpuMs(k)) }]));
      figures.addedP99OverPass = r(p99("bad") - p99("pass"));
      figures.addedCpuOverBlock = r(cpuMs("bad") - cpuMs("block"));
      record("malformed RSA key: latency and workerd CPU per request (ms)", { attempt, ...figures });
      attempts.push(figures);
      // The work a malformed key adds, read from workerd's CPU time (which other work on the
      // machine leaves be), against a block: also answered locally, without a key.
      assert.ok(figures.addedCpuOverBlock < ADDED_CPU_MS, `CPU over a block: ${JSON.stringify(figures)}`);
      if (figures.addedP99OverPass < ADDED_P99_MS) break;
    }
    assert.ok(attempts.some((f) => f.addedP99OverPass < ADDED_P99_MS), `p99 over the pass baseline: ${JSON.stringify(attempts)}`);
  } finally {
    await world.dispose();
  }
});
