// The policy's meaning under hostile requests, through the Worker in workerd: no path spelling
// slips a block, no token leaves an inject rule's path scope (an ambiguous path is refused and
// nothing is forwarded), and a report-mode rule naming an address does not open it.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { startWorld } from "./harness.mjs";

let world;
before(async () => { world = await startWorld(); });
after(async () => { await world?.dispose(); });

/** Requests carry a unique query marker, so their upstream arrivals can be told apart. */
function marked(url) {
  const marker = randomUUID();
  return { url: `${url}${url.includes("?") ? "&" : "?"}m=${marker}`, arrived: () => world.arrivals.filter((a) => a.url.includes(marker)) };
}

/** The decision line whose decision_id the 403 body names. */
async function lineOf(decisionId) {
  const [line] = await world.waitForLogs((l) => l.decision_id === decisionId, 1);
  assert.ok(line, `a decision line for ${decisionId}`);
  return line;
}

async function refused(res) {
  assert.equal(res.status, 403, await res.clone().text());
  const body = await res.json();
  assert.equal(body.error, "egress_blocked");
  return { body, line: await lineOf(body.decision_id) };
}

test("no path spelling slips a path-scoped block", async () => {
  for (const path of ["/admin/x", "//admin/x", "/x/..%2Fadmin/y", "/x/..%2fadmin/y", "/admin;x/y", "/x/..;/admin/y", "/Admin/x", "/x/%252e%252e/admin", "/admin%00/x",
    // The second review: a decoded `?`, IIS `%u`, overlong UTF-8, fullwidth, trimmed whitespace, a suffix, five rounds.
    "/admin%3Fx", "/%u0061dmin/x", "/admin%C0%AFx", "/%EF%BD%81dmin/x", "/%20admin/x", "/admin.json", "/x/%252525252e%252525252e/admin"]) {
    const { url, arrived } = marked(`https://example.org${path}`);
    const { body, line } = await refused(await world.call("acme", url));
    assert.deepEqual([body.rule, body.reason], ["block-admin-paths", "admin surface"], path);
    assert.equal(line.action, "block");
    assert.equal(arrived().length, 0, `${path}: nothing forwarded`);
  }
  const { url, arrived } = marked("https://example.org/administrator");
  assert.equal((await world.call("acme", url)).status, 200);
  assert.equal(arrived().length, 1);
});

test("a token never leaves its inject rule's path scope: an ambiguous path is refused", async () => {
  const inScope = marked("https://scoped.api.test/v1/users");
  const res = await world.call("acme", inScope.url);
  assert.equal(res.status, 200, await res.clone().text());
  const [arrival] = inScope.arrived();
  assert.ok(arrival.jwt?.ok, `a valid token arrived: ${arrival.jwt?.error}`);
  assert.equal(arrival.jwt.payload.sub, "acme");

  for (const path of ["/v1/..%2F..%2Fadmin", "/v1/..;/admin", "/v1/x/..%5C..%5Cadmin", "/v1/%252e%252e/admin",
    "/v1/..%20/admin", "/v1/%u002e%u002e/admin", "/v1/%EF%BC%8E%EF%BC%8E/admin", "/v1/..%3F"]) {
    const { url, arrived } = marked(`https://scoped.api.test${path}`);
    const { body, line } = await refused(await world.call("acme", url, { headers: { authorization: "Bearer client-supplied" } }));
    assert.deepEqual([body.rule, body.reason], ["inject-scoped", "ambiguous_path"], path);
    assert.deepEqual([line.action, line.credential, line.status, line.outcome], ["block", null, null, "blocked"], path);
    assert.equal(arrived().length, 0, `${path}: nothing forwarded, no token minted for it`);
  }

  // Out of scope on the canonical path: passed, without a token.
  const outside = marked("https://scoped.api.test/v2/x");
  assert.equal((await world.call("acme", outside.url)).status, 200);
  const [passed] = outside.arrived();
  assert.equal(passed.headers.authorization, undefined, "no token outside the scope");
});

test("a report-mode rule naming an address reports, and the ip_literal refusal still decides", async () => {
  for (const host of ["169.254.169.254", "[64:ff9b::a9fe:a9fe]", "[::169.254.169.254]"]) {
    const { url, arrived } = marked(`http://${host}/latest/meta-data`);
    const { body, line } = await refused(await world.call("acme", url));
    assert.deepEqual([body.rule, body.reason], [null, "ip_literal"], host);
    assert.deepEqual([line.would_block, line.report_rule], [true, "report-metadata"], host);
    assert.equal(arrived().length, 0);
  }
});
