// `make dev` shows an emergency block without a restart: dev/run.mjs runs as a user would
// start it, `make dev-publish BLOCK=host` signs a bundle with the dev key, and the running
// world publishes it to its local KV; the same request that passed is then refused.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { after, before, test } from "node:test";
import { ROOT } from "./harness.mjs";

const HOST = "dev-emergency.example";
let dev;
let base;
let output = "";

before(async () => {
  // DEV_PORT=0: any free port; run.mjs prints the address it got.
  dev = spawn(process.execPath, ["dev/run.mjs"], { cwd: ROOT, env: { ...process.env, DEV_PORT: "0" }, stdio: ["ignore", "pipe", "pipe"] });
  dev.stdout.on("data", (chunk) => { output += chunk; });
  dev.stderr.on("data", (chunk) => { output += chunk; });
  const deadline = Date.now() + 30_000;
  while (!(base = /Platforms on (http:\/\/\S+)/.exec(output)?.[1])) {
    if (Date.now() > deadline || dev.exitCode !== null) throw new Error(`make dev did not start:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});
after(() => { dev?.kill("SIGTERM"); });

const probe = async () => (await fetch(`${base}/acme/fetch?url=${encodeURIComponent(`https://${HOST}/`)}`)).text();

test("make dev-publish BLOCK=host blocks it in the running make dev, with no restart", async () => {
  assert.match(await probe(), /-> 200 /, "passes before the bundle");
  // Not the suite's EGRESS_POLICY: the default policy plus the block, as a user runs it.
  const env = { ...process.env };
  delete env.EGRESS_POLICY;
  const published = spawnSync("make", ["--no-print-directory", "dev-publish", `BLOCK=${HOST}`], { cwd: ROOT, encoding: "utf8", env });
  assert.equal(published.status, 0, published.stdout + published.stderr);
  const deadline = Date.now() + 15_000;
  let body = "";
  while (!/-> 403 /.test(body)) {
    assert.ok(Date.now() < deadline, `not blocked in time; last answer:\n${body}\nmake dev printed:\n${output}`);
    await new Promise((r) => setTimeout(r, 250));
    body = await probe();
  }
  assert.match(body, /"rule":"emergency-block"/);
  assert.match(output, /published bundle-\d+\.bin/);
  assert.match(output, /"status":"loaded"/);
});
