// Captures schema 2 decision logs from the Worker in workerd (build/, built with
// tests/e2e/policy.toml: `make e2e` or `make build EGRESS_POLICY=tests/e2e/policy.toml
// EGRESS_POLICY_SERIAL=300`) for the CLI's verification tests
// (crates/cli/tests/fixtures/logs/chained-*.jsonl):
//   node tests/e2e/capture-chained-log.mjs KEYED.jsonl PLAIN.jsonl KEYFILE
// KEYED: one isolate keyed with the (test) key in KEYFILE, checkpoints every second;
// PLAIN: one isolate without a key (a plain SHA-256 chain).
import { readFileSync, writeFileSync } from "node:fs";
import { startWorld, uniquePath } from "./harness.mjs";

const [keyed, plain, keyFile] = process.argv.slice(2);
const key = readFileSync(keyFile, "utf8").trim();
const REQUESTS = [
  "https://malicious.com/block", "https://public.example.com/pass", "https://hs256.api.test/inject",
  "https://tracker.example.net/report", "https://nokey.api.test/unavailable", "https://public.example.com/again",
];

const world = await startWorld({
  instances: {
    keyed: { bindings: { EGRESS_LOG_KEY: key, EGRESS_LOG_CHECKPOINT_SECS: "1" } },
    plain: {},
  },
});
try {
  for (const [name, file] of [["keyed", keyed], ["plain", plain]]) {
    for (const [i, url] of REQUESTS.entries()) {
      await (await world.call(name, url + uniquePath("capture"))).arrayBuffer();
      // A pause past EGRESS_LOG_CHECKPOINT_SECS: the next line is preceded by a checkpoint.
      if (name === "keyed" && i % 2 === 1) await new Promise((r) => setTimeout(r, 1100));
    }
    let lines = [];
    for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) {
      lines = await world.logLines(name);
      if (lines.filter((l) => "decision_id" in l).length === REQUESTS.length) break;
    }
    writeFileSync(file, lines.map((l) => JSON.stringify(l) + "\n").join(""));
  }
} finally {
  await world.dispose();
}
