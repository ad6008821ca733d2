// `egress-policy audit` verifies the decision log the Worker wrote (docs/decision-log.md,
// "Verifying the log"): the lines of one keyed isolate, tailed from workerd, written to a file
// and audited by the real CLI binary. Untouched, shuffled or redelivered: exit 0; a line
// deleted, edited, contradicted, the key wrong or missing, an invocation without its line:
// non-zero, with the finding named.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, test } from "node:test";
import { ROOT, isDecision, startWorld, uniquePath } from "./harness.mjs";

const CLI = path.join(ROOT, "target/debug/egress-policy");
const LOG_KEY = randomBytes(32).toString("base64url");
const dir = mkdtempSync(path.join(tmpdir(), "egress-audit-verify-"));
const keyFile = path.join(dir, "log.key");

let world;
let lines;
before(async () => {
  if (!existsSync(CLI)) execFileSync("cargo", ["build", "--bin", "egress-policy"], { cwd: ROOT, stdio: "inherit" });
  writeFileSync(keyFile, `${LOG_KEY}\n`);
  world = await startWorld({ instances: { audited: { bindings: { EGRESS_LOG_KEY: LOG_KEY } } } });
  for (const url of ["https://malicious.com", "https://public.example.com", "https://hs256.api.test", "https://public.example.com"]) {
    await (await world.call("audited", url + uniquePath("audit-verify"))).arrayBuffer();
  }
  for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 25))) {
    lines = await world.logLines("audited");
    if (lines.filter(isDecision).length === 4) break;
  }
});
after(async () => { await world?.dispose(); });

/** `egress-policy audit --json [--log-key-file KEY]` on `log` (lines, or raw text): its status and integrity. */
function audit(log, { key = keyFile } = {}) {
  const file = path.join(dir, `${randomBytes(6).toString("hex")}.jsonl`);
  writeFileSync(file, typeof log === "string" ? log : log.map((l) => JSON.stringify(l) + "\n").join(""));
  const args = ["audit", "--json", ...(key ? ["--log-key-file", key] : []), file];
  const run = spawnSync(CLI, args, { cwd: ROOT, encoding: "utf8" });
  const summary = run.stdout ? JSON.parse(run.stdout) : {};
  return { status: run.status, integrity: summary.integrity, decisions: summary.decisions, stderr: run.stderr };
}

const kinds = (integrity) => integrity.findings.by_kind;

test("the log as tailed verifies with the key: exit 0", () => {
  assert.equal(lines.filter(isDecision).length, 4);
  const { status, integrity, decisions } = audit(lines);
  assert.equal(status, 0, JSON.stringify(integrity));
  assert.equal(integrity.status, "verified");
  assert.equal(integrity.verified, lines.length);
  assert.equal(decisions, 4);
});

test("out of order and redelivered: exit 0, each line counted once", () => {
  const shuffled = [...lines].reverse().concat(lines.slice(0, 3));
  const { status, integrity, decisions } = audit(shuffled);
  assert.equal(status, 0, JSON.stringify(integrity));
  assert.equal(integrity.redeliveries, 3);
  assert.equal(decisions, 4);
});

test("each tampering exits 4 and is named", () => {
  const at = lines.findIndex((l) => isDecision(l) && l.host === "public.example.com");
  const without = (i) => lines.filter((_, j) => j !== i);
  const edited = lines.map((l, j) => (j === at ? { ...l, customer: "someone-else" } : l));
  const forged = [...lines, { ...lines[at], action: "block" }];
  const dead = lines.map((l) => JSON.stringify(l)).join("\n") + '\n{"Outcome":"exceededCpu","ScriptName":"outbound","Logs":[]}\n';
  for (const [what, log, kind] of [
    ["a deleted line", without(at), "gap"],
    ["a deleted tail before the last line", without(lines.length - 2), "gap"],
    ["an edited line", edited, "chain_break"],
    ["a second line under a decision_id", forged, "conflict"],
    ["an invocation without its line", dead, "dead_invocation"],
  ]) {
    const { status, integrity } = audit(log);
    assert.equal(status, 4, what);
    assert.ok(kinds(integrity)[kind] >= 1, `${what}: ${JSON.stringify(integrity.findings)}`);
  }
  const wrongKey = path.join(dir, "wrong.key");
  writeFileSync(wrongKey, randomBytes(32).toString("base64url"));
  const wrong = audit(lines, { key: wrongKey });
  assert.equal(wrong.status, 4, "a wrong key");
  assert.equal(kinds(wrong.integrity).chain_break, lines.length);
});

test("without the key nothing verifies: exit 5; an empty log: exit 5", () => {
  const { status, integrity } = audit(lines, { key: null });
  assert.equal(status, 5);
  assert.equal(integrity.unverifiable.no_key, lines.length);
  assert.equal(audit("").status, 5);
});
