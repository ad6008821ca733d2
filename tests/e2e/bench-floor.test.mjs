// bench/floor-outbound.js, the contract's floor that `make bench-worker` measures this Worker
// against, must keep the contract it stands for: otherwise the comparison flatters one side.
// Its lines, tailed from workerd and read by the real CLI, are schema 2 decisions with every
// field this Worker's lines have (the checked-in capture's), whose chain verifies, one per
// request, each answered as the mix says.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { INJECT_HOST, caller, peer, requestMix } from "../../bench/workload.mjs";
import { startWorld } from "../../dev/world.mjs";
import { ROOT } from "./harness.mjs";

const CLI = path.join(ROOT, "target/debug/egress-policy");
/** The fields of a decision line this Worker wrote in workerd (docs/decision-log.md). */
const DECISION_FIELDS = Object.keys(
  readFileSync(path.join(ROOT, "crates/cli/tests/fixtures/logs/chained-e2e.jsonl"), "utf8")
    .split("\n").filter(Boolean).map((l) => JSON.parse(l)).find((l) => l.decision_id),
).sort();

test("the benchmarks' contract floor writes schema 2 decision lines whose chain audit verifies", async () => {
  if (!existsSync(CLI)) execFileSync("cargo", ["build", "--bin", "egress-policy"], { cwd: ROOT, stdio: "inherit" });
  const floor = peer("floor", 10);
  const outbound = { ...floor.outbound, tail: true };
  const mix = requestMix(10);
  const lines = [];
  const world = await startWorld({
    outbound: [outbound],
    users: [caller("user", floor, mix.urls)],
    onEvent: (event) => lines.push(...(event.logs ?? []).map((log) => log.message[0])),
  });
  try {
    const user = await world.worker("user");
    const counts = await (await user.fetch("http://bench.local/")).json();
    assert.deepEqual(counts, { 200: mix.urls.length - mix.blocks, 403: mix.blocks });
    for (const deadline = Date.now() + 5000; lines.length < mix.urls.length && Date.now() < deadline;) {
      await new Promise((r) => setTimeout(r, 25));
    }
  } finally {
    await world.dispose();
  }
  assert.equal(lines.length, mix.urls.length, "one line per request");
  for (const line of lines) {
    assert.deepEqual(Object.keys(line).sort(), DECISION_FIELDS);
    assert.equal(new Date(line.ts).toISOString(), line.ts);
  }
  const count = (outcome) => lines.filter((l) => l.outcome === outcome).length;
  const injects = mix.urls.filter((u) => new URL(u).hostname === INJECT_HOST).length;
  assert.deepEqual(
    [count("blocked"), count("injected"), count("forwarded")],
    [mix.blocks, injects, mix.urls.length - mix.blocks - injects],
  );
  const file = path.join(mkdtempSync(path.join(tmpdir(), "egress-floor-")), "floor.jsonl");
  writeFileSync(file, lines.map((line) => `${JSON.stringify(line)}\n`).join(""));
  const run = spawnSync(CLI, ["audit", "--json", file], { cwd: ROOT, encoding: "utf8" });
  const summary = JSON.parse(run.stdout);
  assert.equal(run.status, 0, run.stdout + run.stderr);
  assert.equal(summary.decisions, mix.urls.length);
  assert.equal(summary.integrity.status, "verified");
  assert.equal(summary.integrity.verified, mix.urls.length);
});
