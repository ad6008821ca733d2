// The deployment files bundle: `wrangler deploy --dry-run` of the outbound Worker
// (wrangler.toml, whose [build] command is `make build`) and of the example dispatch Worker
// (deploy/dispatcher/wrangler.toml), without a Cloudflare account.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, test } from "node:test";
import { promisify } from "node:util";
import { COMPATIBILITY_DATE, ROOT } from "./harness.mjs";

const run = promisify(execFile);
const WRANGLER = path.join(ROOT, "node_modules/.bin/wrangler");
const out = mkdtempSync(path.join(tmpdir(), "egress-dry-run-"));
after(() => rmSync(out, { recursive: true, force: true }));

function wrangler(args, env = {}) {
  return run(WRANGLER, args, {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", ...env },
    maxBuffer: 16 << 20,
    timeout: 15 * 60 * 1000,
  });
}

// `make build` inside wrangler is a no-op when build/ is up to date for the policy and serial
// it was built with (make test builds it with tests/e2e/policy.toml, serial 300): keep them.
function builtPolicy() {
  const stamp = path.join(ROOT, "target/egress-policy.built-with");
  if (!existsSync(stamp)) return {};
  const [policy, serial] = readFileSync(stamp, "utf8").trim().split(" ");
  return { EGRESS_POLICY: policy, ...(serial ? { EGRESS_POLICY_SERIAL: serial } : {}) };
}

test("wrangler.toml: observability, logpush, build command, secrets named", () => {
  const toml = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  assert.match(toml, /^name = "egress-policy"$/m);
  // The committed entry module, importing the build (build/index.js + build/index_bg.wasm).
  assert.match(toml, /^main = "worker\.mjs"$/m);
  assert.match(readFileSync(path.join(ROOT, "worker.mjs"), "utf8"), /^import \w+ from "\.\/build\/index\.js";$/m);
  assert.match(toml, new RegExp(`^compatibility_date = "${COMPATIBILITY_DATE}"$`, "m"), "the e2e suite runs the deployed compatibility date");
  assert.match(toml, /^logpush = true$/m);
  assert.match(toml, /^\[observability\]\nenabled = true$/m);
  assert.match(toml, /^\[build\]\ncommand = "make build"$/m);
  const policy = readFileSync(path.join(ROOT, "policy/policy.toml"), "utf8");
  const secrets = [...policy.matchAll(/^secret = "([A-Za-z0-9_]+)"/gm)].map((m) => m[1]);
  for (const s of secrets) assert.ok(toml.includes(`wrangler secret put ${s}`), `wrangler.toml names secret ${s}`);
});

test("wrangler deploy --dry-run bundles the outbound Worker (worker.mjs, build/index.js and its Wasm)", async () => {
  const dist = path.join(out, "outbound");
  const { stdout, stderr } = await wrangler(["deploy", "--dry-run", "--outdir", dist], builtPolicy());
  const text = stdout + stderr;
  assert.match(text, /--dry-run: exiting now/);
  const files = readdirSync(dist);
  // Named after the entry module (worker.mjs), which imports build/index.js.
  assert.ok(files.includes("worker.js"), `bundle: ${files}`);
  assert.match(readFileSync(path.join(dist, "worker.js"), "utf8"), /update worker\.mjs/, "the committed entry module is bundled");
  const wasm = files.filter((f) => f.endsWith(".wasm"));
  assert.equal(wasm.length, 1, `one Wasm module in the bundle: ${files}`);
  assert.deepEqual(readFileSync(path.join(dist, wasm[0])), readFileSync(path.join(ROOT, "build/index_bg.wasm")), "the built Wasm, verbatim");
  const size = /Total Upload: ([\d.]+ KiB) \/ gzip: ([\d.]+ KiB)/.exec(text);
  assert.ok(size, text);
  console.log(`outbound Worker bundle: ${size[1]} (gzip ${size[2]})`);
});

test("wrangler deploy --dry-run bundles the example dispatcher with its namespace and outbound", async () => {
  const dist = path.join(out, "dispatcher");
  const { stdout, stderr } = await wrangler(["deploy", "--dry-run", "--outdir", dist, "--config", "deploy/dispatcher/wrangler.toml"]);
  const text = stdout + stderr;
  assert.match(text, /--dry-run: exiting now/);
  assert.match(text, /env\.DISPATCHER \(customers \(outbound -> egress-policy\)\)\s+Dispatch Namespace/);
  assert.ok(readdirSync(dist).includes("index.js"));
  const toml = readFileSync(path.join(ROOT, "deploy/dispatcher/wrangler.toml"), "utf8");
  assert.match(toml, /^outbound = \{ service = "egress-policy", parameters = \["customer_name", "customer_tags"\] \}$/m);
  const js = readFileSync(path.join(ROOT, "deploy/dispatcher/index.js"), "utf8");
  // Tags are always passed (issue 14, item 4): a tag-scoped policy refuses requests without them.
  assert.match(js, /outbound: \{ customer_name: customer, customer_tags: tagsOf\(env, customer\) \}/);
});
