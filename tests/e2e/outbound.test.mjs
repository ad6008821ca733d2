// The outbound Worker in workerd, end to end: block, inject (each algorithm), pass, redirects,
// fail-closed paths, Host handling, and the decision log (docs/deploy.md, docs/decision-log.md).
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  CUSTOMERS, EMBEDDED_SERIAL, ISSUER, JWT_HOSTS, LOG_FIELDS, LOG_SCHEMA_VERSION, isDecision, POLICY_NAME, POLICY_SHA256, bigBody, hold, sha256, startWorld, uniquePath,
} from "./harness.mjs";

let world;
before(async () => { world = await startWorld(); });
after(async () => { await world?.dispose(); });

const arrivalsAt = (p) => world.arrivals.filter((a) => a.path === p);
const tagsOf = (customer) => {
  const t = CUSTOMERS[customer].customer_tags;
  return Array.isArray(t) ? t : t.split(",");
};

/** A promise that rejects after `ms` with a message saying what did not arrive in time. */
function within(ms, what) {
  const p = new Promise((_, reject) => {
    // unref: a pending timer must not keep the test process alive once the test is done.
    setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms).unref();
  });
  p.catch(() => {});
  return p;
}

/** The single decision line of the request whose path is `p` (waits for it; asserts exactly one). */
async function logFor(p) {
  const lines = await world.waitForLogs((l) => l.path === p, 1);
  // Give a duplicate line time to show up before asserting there is none.
  await new Promise((r) => setTimeout(r, 100));
  const all = (await world.logLines()).filter((l) => l && l.path === p);
  assert.equal(all.length, 1, `exactly one decision line for ${p}, got ${JSON.stringify(all)}`);
  assert.ok(lines.length >= 1);
  return all[0];
}

function assertLogShape(line) {
  assert.deepEqual(Object.keys(line), LOG_FIELDS, "decision log fields, in contract order");
  assert.equal(line.v, LOG_SCHEMA_VERSION);
  assert.match(line.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.ok(Math.abs(Date.parse(line.ts) - Date.now()) < 60_000, "ts is now-ish");
  assert.equal(typeof line.decision_id, "string");
  assert.ok(line.decision_id.length >= 8);
  assert.deepEqual(line.policy, { name: POLICY_NAME, sha256: POLICY_SHA256, source: "embedded", serial: EMBEDDED_SERIAL });
  assert.equal(typeof line.duration_ms, "number");
  assert.ok(Number.isInteger(line.duration_ms) && line.duration_ms >= 0);
  assert.ok(Array.isArray(line.tags));
}

async function assertBlocked(res, { rule, reason }) {
  assert.equal(res.status, 403);
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  const text = await res.text();
  const body = JSON.parse(text);
  assert.deepEqual(Object.keys(body), ["error", "rule", "reason", "decision_id"], `403 body shape: ${text}`);
  assert.equal(body.error, "egress_blocked");
  assert.equal(body.rule, rule);
  assert.equal(body.reason, reason);
  assert.equal(typeof body.decision_id, "string");
  return body;
}

describe("block", () => {
  test("a block rule answers 403 with the contract's body, forwards nothing, logs one line", async () => {
    const p = uniquePath("block");
    const res = await world.call("acme", `https://malicious.com${p}?token=qs-secret-1`, { headers: { authorization: "Bearer user-own" } });
    const body = await assertBlocked(res, { rule: "block-malware", reason: "known malware distribution" });
    assert.equal(arrivalsAt(p).length, 0, "nothing forwarded");
    const line = await logFor(p);
    assertLogShape(line);
    assert.equal(line.decision_id, body.decision_id, "the 403's decision_id is the log line's");
    assert.deepEqual(
      { customer: line.customer, tags: line.tags, action: line.action, would_block: line.would_block, rule: line.rule, report_rule: line.report_rule, reason: line.reason, method: line.method, scheme: line.scheme, host: line.host, port: line.port, credential: line.credential, status: line.status, error: line.error },
      { customer: "acme", tags: tagsOf("acme"), action: "block", would_block: false, rule: "block-malware", report_rule: null, reason: "known malware distribution", method: "GET", scheme: "https", host: "malicious.com", port: 443, credential: null, status: null, error: null },
    );
    assert.ok(!JSON.stringify(line).includes("qs-secret-1"), "no query string in the log");
    assert.equal("query" in line, false);
  });

  test("subdomains, case, trailing dot and look-alike forms of a blocked host are blocked", async () => {
    for (const host of ["deep.sub.malicious.com", "MALICIOUS.com.", "ｍalicious.com", "malicious。com"]) {
      const p = uniquePath("canon");
      const res = await world.call("globex", `https://${host}${p}`);
      await assertBlocked(res, { rule: "block-malware", reason: "known malware distribution" });
      assert.equal(arrivalsAt(p).length, 0, `nothing forwarded for ${host}`);
    }
  });

  test("a look-alike suffix is not the blocked host", async () => {
    const p = uniquePath("suffix");
    const res = await world.call("acme", `https://malicious.com.evil.org${p}`);
    assert.equal(res.status, 200);
    assert.equal(arrivalsAt(p).length, 1);
  });

  test("a block rule without a reason has reason null in the body and the log", async () => {
    const p = uniquePath("noreason");
    const res = await world.call("acme", `http://quiet-block.example.net${p}`);
    const body = await assertBlocked(res, { rule: "block-no-reason", reason: null });
    const line = await logFor(p);
    assert.equal(line.reason, null);
    assert.equal(line.scheme, "http");
    assert.equal(line.port, 80);
    assert.equal(line.decision_id, body.decision_id);
  });

  test("an IP-literal host no rule names is refused with ip_literal", async () => {
    const p = uniquePath("ip");
    const res = await world.call("acme", `http://169.254.169.254${p}`);
    await assertBlocked(res, { rule: null, reason: "ip_literal" });
    assert.equal(arrivalsAt(p).length, 0);
    const line = await logFor(p);
    assert.equal(line.host, "169.254.169.254");
    assert.equal(line.rule, null);
  });

  test("a customer-scoped block rule applies to that customer only", async () => {
    const pg = uniquePath("scoped");
    await assertBlocked(await world.call("globex", `https://internal.example.org${pg}`), { rule: "globex-no-internal", reason: "globex may not reach the internal API" });
    assert.equal(arrivalsAt(pg).length, 0);
    const pa = uniquePath("scoped");
    const res = await world.call("acme", `https://internal.example.org${pa}`);
    assert.equal(res.status, 200);
    assert.equal(arrivalsAt(pa).length, 1);
    assert.equal((await logFor(pa)).action, "pass");
    assert.equal((await logFor(pg)).customer, "globex");
  });

  test("a report-mode block rule passes the request and logs the would-block", async () => {
    const p = uniquePath("report");
    const res = await world.call("acme", `https://tracker.example.net${p}`);
    assert.equal(res.status, 200);
    assert.equal(arrivalsAt(p).length, 1);
    const line = await logFor(p);
    assertLogShape(line);
    assert.equal(line.action, "pass");
    assert.equal(line.would_block, true);
    assert.equal(line.report_rule, "report-tracker");
    assert.equal(line.reason, "tracker under review");
    assert.equal(line.status, 200);
  });

  test("no customer parameter -> 403 no_customer, nothing forwarded", async () => {
    const p = uniquePath("nocustomer");
    const res = await world.call(null, `https://public.example.com${p}`);
    await assertBlocked(res, { rule: null, reason: "no_customer" });
    assert.equal(arrivalsAt(p).length, 0);
    const line = await logFor(p);
    assertLogShape(line);
    assert.equal(line.customer, null);
    assert.equal(line.action, "block");
    assert.equal(line.reason, "no_customer");
  });
});

describe("inject", () => {
  for (const [host, spec] of Object.entries(JWT_HOSTS).filter(([h]) => h !== "partner.api.test" && h !== "scoped.api.test")) {
    test(`${spec.alg}: the upstream verifies the minted token (signature, iss, aud, iat, exp, kid, sub, claims)`, async () => {
      for (const customer of ["acme", "globex"]) {
        const p = uniquePath(`inject-${spec.alg}`);
        const res = await world.call(customer, `https://${host}${p}?q=qs-secret-2`, { headers: { accept: "application/json" } });
        assert.equal(res.status, 200, await res.clone().text());
        const [arrival] = arrivalsAt(p);
        assert.ok(arrival, "forwarded");
        const jwt = arrival.jwt;
        assert.equal(jwt.ok, true, `token verifies: ${jwt.error}`);
        assert.equal(jwt.protectedHeader.alg, spec.alg);
        assert.equal(jwt.protectedHeader.typ, "JWT");
        assert.equal(jwt.protectedHeader.kid, spec.kid);
        const now = Math.floor(Date.now() / 1000);
        assert.equal(jwt.payload.iss, ISSUER);
        assert.equal(jwt.payload.aud, host);
        assert.ok(Math.abs(jwt.payload.iat - now) < 120, "iat is now-ish (a cached token is at most a little older)");
        assert.equal(jwt.payload.exp - jwt.payload.iat, spec.ttl, "exp = iat + ttl");
        if (spec.alg === "ES256") {
          assert.equal(jwt.payload.sub, `customer:${customer}`);
          assert.equal(jwt.payload.scope, "read write");
          assert.equal(arrival.headers.authorization, undefined, "a custom credential header: no Authorization");
        } else {
          assert.equal(jwt.payload.sub, customer);
        }
        if (spec.alg === "HS256") {
          assert.equal(jwt.payload.tenant_tags, tagsOf(customer).join(","));
          assert.equal(jwt.payload.host, host);
          assert.equal(jwt.payload.rule, "inject-hs256");
        }
        assert.equal(arrival.headers.accept, "application/json", "other headers kept");
        const line = await logFor(p);
        assertLogShape(line);
        assert.equal(line.action, "inject");
        assert.equal(line.rule, `inject-${spec.alg.toLowerCase()}`);
        assert.equal(line.credential, `jwt-${spec.alg.toLowerCase()}`);
        assert.equal(line.status, 200);
        assert.equal(line.customer, customer);
        const text = JSON.stringify(line);
        assert.ok(!text.includes(jwt.token) && !text.includes(jwt.token.split(".")[2]), "never the token in the log");
        assert.ok(!text.includes("qs-secret-2"));
      }
    });
  }

  test("a spoofed Authorization and credential header (any case) from the user Worker never arrive", async () => {
    const cases = [
      // The credential header is Authorization: a user's own value is replaced.
      { host: "hs256.api.test", headers: { AuThOrIzAtIoN: "Bearer spoofed-authorization", "x-request-id": "kept" } },
      // The credential header is X-Api-Token: both it and Authorization are stripped.
      { host: "es256.api.test", headers: { AUTHORIZATION: "Bearer spoofed-authorization", "x-API-token": "spoofed-token", "x-request-id": "kept" } },
    ];
    for (const { host, headers } of cases) {
      const p = uniquePath("spoof");
      const res = await world.call("acme", `https://${host}${p}`, { headers });
      assert.equal(res.status, 200);
      const [arrival] = arrivalsAt(p);
      const seen = JSON.stringify(arrival.headers);
      assert.ok(!seen.includes("spoofed"), `no spoofed value arrives at ${host}: ${seen}`);
      assert.equal(arrival.jwt.ok, true, arrival.jwt.error);
      assert.equal(arrival.headers["x-request-id"], "kept");
      if (host === "es256.api.test") assert.equal(arrival.headers.authorization, undefined);
    }
  });

  test("a customer-scoped inject rule injects for that customer only", async () => {
    const pa = uniquePath("partner");
    assert.equal((await world.call("acme", `https://partner.api.test${pa}`)).status, 200);
    const [a] = arrivalsAt(pa);
    assert.equal(a.jwt.ok, true, a.jwt.error);
    assert.equal(a.jwt.payload.sub, "acme");
    assert.equal(a.jwt.payload.rule, "inject-partner-acme");
    const pg = uniquePath("partner");
    assert.equal((await world.call("globex", `https://partner.api.test${pg}`, { headers: { authorization: "Bearer globex-own" } })).status, 200);
    const [g] = arrivalsAt(pg);
    assert.equal(g.headers.authorization, "Bearer globex-own", "globex's own request passes unchanged");
    const line = await logFor(pg);
    assert.equal(line.action, "pass");
    assert.equal(line.credential, null);
  });

  test("the customer from env.customer_name (as deployed) is used when no props are given", async () => {
    const p = uniquePath("env-customer");
    assert.equal((await world.call("initech", `https://hs256.api.test${p}`)).status, 200);
    const [a] = arrivalsAt(p);
    assert.equal(a.jwt.ok, true, a.jwt.error);
    assert.equal(a.jwt.payload.sub, "initech");
    assert.equal((await logFor(p)).customer, "initech");
  });

  test("a missing key secret -> 502 egress_credential_unavailable, not forwarded, logged", async () => {
    const p = uniquePath("nokey");
    const res = await world.call("acme", `https://nokey.api.test${p}`);
    assert.equal(res.status, 502);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
    const body = await res.json();
    assert.equal(body.error, "egress_credential_unavailable");
    assert.equal(arrivalsAt(p).length, 0, "not forwarded");
    const line = await logFor(p);
    assertLogShape(line);
    assert.equal(line.status, null);
    assert.equal(line.error, "credential_unavailable");
    assert.equal(line.rule, "inject-missing-key");
    assert.equal(line.credential, "jwt-missing-key");
    if (body.decision_id !== undefined) assert.equal(body.decision_id, line.decision_id);
    assert.ok(!JSON.stringify(body).includes("E2E_"), "the 502 names no secret");
  });
});

describe("pass", () => {
  test("headers and a 1 MiB body arrive byte for byte; a 1 MiB response streams back", async () => {
    const p = uniquePath("pass");
    const body = bigBody("request");
    const headers = { "content-type": "application/octet-stream", authorization: "Bearer the-users-own", "x-custom": "a, b;c=\"d\"", "x-empty-ish": " spaced " };
    const res = await world.call("acme", `https://public.example.com${p}?page=2`, { method: "PUT", headers, body });
    assert.equal(res.status, 200);
    const [arrival] = arrivalsAt(p);
    assert.equal(arrival.method, "PUT");
    assert.equal(arrival.bodyLength, body.length);
    assert.equal(arrival.bodySha256, sha256(body));
    assert.equal(arrival.url, `https://public.example.com${p}?page=2`, "URL unchanged, query included");
    for (const [k, v] of Object.entries(headers)) assert.equal(arrival.headers[k], v.trim(), `header ${k}`);
    assert.equal(res.headers.get("x-upstream"), "public.example.com", "upstream response headers returned as is");
    assert.equal(res.headers.get("set-cookie"), "upstream=1; Path=/");

    const big = await world.call("globex", "https://public.example.com/big");
    assert.equal(big.status, 200);
    assert.equal(big.headers.get("x-upstream"), "big");
    assert.equal(sha256(Buffer.from(await big.arrayBuffer())), sha256(bigBody("response")));
    const line = await logFor(p);
    assertLogShape(line);
    assert.equal(line.action, "pass");
    assert.equal(line.rule, "pass-public");
    assert.equal(line.method, "PUT");
    assert.equal(line.status, 200);
    assert.ok(!JSON.stringify(line).includes("page=2"));
    assert.ok(!JSON.stringify(line).includes("the-users-own"), "never a header value");
  });

  test("the response streams: its first chunk reaches the caller while the upstream holds the rest", async () => {
    const p = uniquePath("hold");
    const probe = hold(p);
    const before = within(10_000, "the first chunk, before the upstream sends the rest");
    const res = await Promise.race([world.call("acme", `https://public.example.com${p}`), before]);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-upstream"), "hold");
    const reader = res.body.getReader();
    const first = await Promise.race([reader.read(), before]);
    assert.equal(new TextDecoder().decode(first.value), "first chunk\n");
    probe.release();
    let rest = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    assert.equal(rest, "second chunk\n");
    const line = await logFor(p);
    assert.equal(line.action, "pass");
    assert.equal(line.status, 200);
  });

  test("the request body streams: the upstream gets its first chunk before the caller sends the rest", async () => {
    const p = uniquePath("upload");
    const probe = hold(p);
    const enc = new TextEncoder();
    const body = new ReadableStream({
      async start(controller) {
        controller.enqueue(enc.encode("first part;"));
        // The rest only once the upstream has the first part: a hop that buffered the body
        // would wait for the end and never forward it.
        await probe.firstChunk;
        controller.enqueue(enc.encode("second part"));
        controller.close();
      },
    });
    const call = world.call("acme", `https://public.example.com${p}`, { method: "POST", body, headers: { "content-type": "text/plain" } });
    await Promise.race([probe.firstChunk, within(10_000, "the upstream's first chunk of the request body")]);
    const res = await call;
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { received: "first part;second part" });
    const line = await logFor(p);
    assert.equal(line.action, "pass");
    assert.equal(line.method, "POST");
  });

  test("no rule matched: the default action (pass), rule null", async () => {
    const p = uniquePath("default");
    assert.equal((await world.call("globex", `https://unlisted.example${p}`)).status, 200);
    const line = await logFor(p);
    assert.equal(line.action, "pass");
    assert.equal(line.rule, null);
    assert.deepEqual(line.tags, ["staging", "beta"]);
  });

  test("a Host header that disagrees with the URL is dropped", async () => {
    const p = uniquePath("host");
    const res = await world.call("acme", `https://public.example.com${p}`, { headers: { host: "malicious.com" } });
    assert.equal(res.status, 200);
    const [arrival] = arrivalsAt(p);
    assert.ok(arrival.wireHost === null || arrival.wireHost === "public.example.com", `Host left the outbound Worker as ${arrival.wireHost}`);
    assert.equal(arrival.headers.host, "public.example.com");
    assert.equal((await logFor(p)).host, "public.example.com", "decided on the URL");
  });

  test("an upstream failure is logged with status null", async () => {
    const p = uniquePath("down");
    const res = await world.call("acme", `https://down.example.com${p}`);
    assert.notEqual(res.status, 200);
    const line = await logFor(p);
    assertLogShape(line);
    assert.equal(line.action, "pass");
    assert.equal(line.status, null);
    assert.equal(line.error, "upstream_unreachable");
  });
});

describe("redirects", () => {
  test("with redirect: manual, a 302 comes back to the user Worker unfollowed", async () => {
    const p = uniquePath("manual");
    const res = await world.call("acme", `https://public.example.com/redirect?to=${encodeURIComponent(`https://public.example.com${p}`)}`, { redirect: "manual" });
    assert.equal(res.status, 302);
    assert.equal(res.headers.get("location"), `https://public.example.com${p}`);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(arrivalsAt(p).length, 0, "the outbound Worker did not follow it");
  });

  test("followed by the user Worker, a redirect to a blocked host is blocked at the next hop", async () => {
    const p = uniquePath("to-blocked");
    const res = await world.call("acme", `https://hs256.api.test/redirect?to=${encodeURIComponent(`https://malicious.com${p}`)}`);
    await assertBlocked(res, { rule: "block-malware", reason: "known malware distribution" });
    assert.equal(arrivalsAt(p).length, 0);
    const line = await logFor(p);
    assert.equal(line.action, "block");
  });

  test("the injected token never reaches the redirect target", async () => {
    const p = uniquePath("to-public");
    const res = await world.call("globex", `https://rs256.api.test/redirect?to=${encodeURIComponent(`https://public.example.com${p}`)}`);
    assert.equal(res.status, 200);
    const [arrival] = arrivalsAt(p);
    assert.ok(arrival, "the redirect was followed through the policy");
    assert.equal(arrival.headers.authorization, undefined, `no token at the redirect target: ${arrival.headers.authorization}`);
    const tokens = world.arrivals.filter((a) => a.jwt?.token).map((a) => a.jwt.token);
    assert.ok(!tokens.some((t) => JSON.stringify(arrival.headers).includes(t)));
    assert.equal((await logFor(p)).action, "pass");
  });
});

describe("decision log", () => {
  test("every tailed event has exactly one decision line, and none carries a secret, token or query", async () => {
    // Runs last in this file: checks every line all the tests above produced.
    const events = await world.events();
    assert.ok(events.length >= 20, `tailed events: ${events.length}`);
    for (const e of events) {
      for (const l of e.logs) {
        assert.equal(l.level, "log");
        assert.equal(l.message.length, 1, "console.log with a single argument");
        assert.equal(typeof l.message[0], "object", "a structured object, not a string");
      }
      const lines = e.logs.map((l) => l.message[0]);
      const decisions = lines.filter(isDecision);
      assert.equal(decisions.length, 1, `one decision line per request: ${JSON.stringify(e.logs)}`);
      assertLogShape(decisions[0]);
      // Besides it, only the isolate's checkpoints (its first line, then one a minute).
      assert.deepEqual(lines.filter((l) => !isDecision(l)).map((l) => l.event).filter((k) => k !== "checkpoint"), []);
      assert.deepEqual(e.exceptions, []);
    }
    const all = JSON.stringify(events);
    for (const [name, value] of Object.entries(world.secrets)) {
      const probe = value.includes("BEGIN") ? value.split("\n")[1] : value;
      assert.ok(!all.includes(probe), `secret ${name} never logged`);
    }
    for (const a of world.arrivals) {
      if (a.jwt?.token) assert.ok(!all.includes(a.jwt.token.split(".")[2]), "no token signature in logs");
    }
    for (const s of ["qs-secret", "spoofed", "the-users-own", "globex-own", "page=2"]) assert.ok(!all.includes(s), `never ${s}`);
  });
});
