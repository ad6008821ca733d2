// The Worker, `egress-policy explain --json` and `egress-policy replay` decide identically:
// hostile requests (path spellings, IP forms, lower-case methods, each customer) go through the
// outbound Worker in workerd; for each one, the decision line the Tail Worker received must
// equal what `explain --json` says for the same method, customer, tags and URL, and `replay`
// of all the lines must find no mismatch.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { CUSTOMERS, POLICY_PATH, ROOT, isDecision, startWorld } from "./harness.mjs";

const CLI = path.join(ROOT, "target/debug/egress-policy");

let world;
before(async () => {
  if (!existsSync(CLI)) {
    execFileSync("cargo", ["build", "--bin", "egress-policy"], { cwd: ROOT, stdio: "inherit" });
  }
  world = await startWorld();
});
after(async () => { await world?.dispose(); });

/** The customer and tags each user Worker's requests are made for, as the CLI takes them. */
const IDENTITY = {
  acme: { customer: CUSTOMERS.acme.customer_name, tags: CUSTOMERS.acme.customer_tags.join(",") },
  globex: { customer: CUSTOMERS.globex.customer_name, tags: CUSTOMERS.globex.customer_tags },
  initech: { customer: "initech", tags: "" },
};

const REQUESTS = [
  ["acme", "GET", "https://malicious.com/x"],
  ["acme", "get", "https://CDN.Malicious.com./x"],
  ["acme", "post", "https://hs256.api.test/v1/users"],
  ["globex", "GET", "https://internal.example.org/"],
  ["acme", "GET", "https://internal.example.org/"],
  ["globex", "GET", "https://partner.api.test/x"],
  ["acme", "GET", "https://partner.api.test/x"],
  ["acme", "GET", "https://tracker.example.net/"],
  ["initech", "delete", "https://example.org/"],
  ["acme", "GET", "http://169.254.169.254/latest/meta-data"],
  ["acme", "GET", "http://[64:ff9b::a9fe:a9fe]/"],
  ["acme", "GET", "http://0x7f.1/"],
  ["acme", "GET", "http://[::1]/"],
  ["acme", "GET", "https://example.org//admin/x"],
  ["acme", "GET", "https://example.org/x/..%2Fadmin/y"],
  ["acme", "GET", "https://example.org/admin;x/y"],
  ["acme", "GET", "https://example.org/Admin/x"],
  ["acme", "GET", "https://example.org/v1/%2e%2e/admin"],
  ["globex", "GET", "https://example.org/v1/..;/admin"],
  // Issue 14: an inject rule matches https on 443 only.
  ["acme", "GET", "http://hs256.api.test/v1/users"],
  ["acme", "GET", "https://hs256.api.test:8443/v1/users"],
];

function explain(customer, method, url) {
  const { customer: name, tags } = IDENTITY[customer];
  const out = execFileSync(
    CLI,
    ["explain", "--policy", POLICY_PATH, "--customer", name, "--tags", tags, "--method", method, "--json", url],
    { cwd: ROOT, encoding: "utf8" },
  );
  return JSON.parse(out);
}

const DECISION_FIELDS = ["action", "would_block", "rule", "report_rule", "reason", "credential", "method", "scheme", "host", "port", "path", "customer", "tags"];

test("the Worker's decision line equals explain --json, and replay agrees with every line", async () => {
  for (const [customer, method, url] of REQUESTS) {
    const before = (await world.logLines()).filter(isDecision).length;
    await (await world.call(customer, url, { method })).arrayBuffer();
    const all = await world.waitForLogs(isDecision, before + 1);
    assert.equal(all.length, before + 1, `${method} ${url}: one decision line`);
    const line = all[before];
    const explained = explain(customer, method, url);
    for (const field of DECISION_FIELDS) {
      assert.deepEqual(line[field], explained[field], `${customer} ${method} ${url}: ${field}`);
    }
  }

  const dir = mkdtempSync(path.join(tmpdir(), "egress-consistency-"));
  const logs = path.join(dir, "lines.jsonl");
  // Every line the Worker wrote (checkpoints too): the log as an auditor gets it.
  writeFileSync(logs, (await world.logLines()).map((l) => JSON.stringify(l) + "\n").join(""));
  const replay = spawnSync(CLI, ["replay", "--policy", POLICY_PATH, logs], { cwd: ROOT, encoding: "utf8" });
  assert.equal(replay.status, 0, `replay found mismatches:\n${replay.stdout}\n${replay.stderr}`);
});
