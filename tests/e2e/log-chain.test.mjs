// The decision log as evidence (docs/decision-log.md, "What the chain proves"): every line an
// isolate writes is sealed into that isolate's chain (isolate, seq, chain), keyed with
// EGRESS_LOG_KEY; a checkpoint line opens the chain and recurs every EGRESS_LOG_CHECKPOINT_SECS;
// each line also writes one Analytics Engine data point naming its isolate and seq, outside
// the log channel; `sent` says whether the request left for the upstream. The chain is
// recomputed here from the lines as tailed, independently of the engine's code.
import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { LOG_FIELDS, LOG_SCHEMA_VERSION, ROOT, startWorld, uniquePath } from "./harness.mjs";

const LOG_KEY = randomBytes(32).toString("base64url");
const WORKER_VERSION = "7c4a2f1e-0b1d-4f59-9d7e-2a61c3e0b7aa";
/** The workspace version: the engine names it in every line. */
const ENGINE_VERSION = /^\[workspace\.package\][^[]*?^version = "([^"]+)"/ms.exec(readFileSync(path.join(ROOT, "Cargo.toml"), "utf8"))?.[1];

let world;
before(async () => {
  world = await startWorld({
    instances: {
      keyed: {
        metrics: true,
        bindings: {
          EGRESS_LOG_KEY: LOG_KEY,
          EGRESS_LOG_CHECKPOINT_SECS: "1",
          CF_VERSION_METADATA: { id: WORKER_VERSION, tag: "", timestamp: "2026-12-06T00:00:00.000Z" },
        },
      },
      unkeyed: { metrics: true },
      "short-key": { bindings: { EGRESS_LOG_KEY: "too-short-a-key" } },
    },
  });
});
after(async () => { await world?.dispose(); });

/** Every line the outbound Worker of instance `name` wrote, once `until(lines)` holds. */
async function linesOf(name, until) {
  const deadline = Date.now() + 5000;
  for (;;) {
    const lines = await world.logLines(name);
    if (until(lines) || Date.now() > deadline) return lines;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A JSON value as the chain hashes it: object keys sorted at every level, no white space. */
function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value && typeof value === "object") {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * Recomputes the chain of one isolate's lines, in seq order: null when every line's chain is
 * right, else the seq of the first line whose chain is not.
 */
function firstBreak(lines, key) {
  let previous = Buffer.alloc(32);
  for (const line of lines) {
    const { chain, ...rest } = line;
    const mac = key === null ? createHash("sha256") : createHmac("sha256", key);
    const value = mac.update(previous).update(canonical(rest)).digest();
    if (value.toString("hex") !== chain) return line.seq;
    previous = value;
  }
  return null;
}

/** The lines by isolate, each isolate's in the order tailed. */
function byIsolate(lines) {
  const out = new Map();
  for (const line of lines) out.set(line.isolate, [...(out.get(line.isolate) ?? []), line]);
  return out;
}

describe("the chain", () => {
  test("an isolate's lines: a checkpoint first, seq from 1 without gaps, each chain value recomputed with EGRESS_LOG_KEY", async () => {
    const paths = [uniquePath("chain-block"), uniquePath("chain-pass"), uniquePath("chain-inject")];
    await (await world.call("keyed", `https://malicious.com${paths[0]}`)).arrayBuffer();
    await (await world.call("keyed", `https://public.example.com${paths[1]}`)).arrayBuffer();
    await (await world.call("keyed", `https://hs256.api.test${paths[2]}`)).arrayBuffer();
    const lines = await linesOf("keyed", (ls) => paths.every((p) => ls.some((l) => l.path === p)));
    const isolates = byIsolate(lines);
    assert.equal(isolates.size, 1, "one isolate");
    const chain = [...isolates.values()][0];

    assert.deepEqual(chain.map((l) => l.seq), chain.map((_, i) => i + 1), "seq counts from 1 without gaps");
    assert.equal(chain[0].event, "checkpoint", "the isolate's first line is a checkpoint");
    for (const line of chain) {
      assert.equal(line.v, LOG_SCHEMA_VERSION);
      assert.match(line.isolate, /^[0-9a-f]{16}$/);
      assert.equal(line.worker, WORKER_VERSION, "the Worker version from CF_VERSION_METADATA");
      assert.equal(line.engine, ENGINE_VERSION);
      assert.equal(line.chain_alg, "hmac-sha256");
      assert.match(line.chain, /^[0-9a-f]{64}$/);
    }
    const decisions = chain.filter((l) => "decision_id" in l);
    assert.deepEqual(decisions.map((l) => l.path), paths, "the decisions in the order made");
    assert.deepEqual(Object.keys(decisions[0]).filter((k) => k !== "worker"), LOG_FIELDS, "a v2 decision line's fields, in contract order");

    assert.equal(firstBreak(chain, LOG_KEY), null, "every chain value is HMAC-SHA256(key, previous || canonical line)");
    // The check can fail: another key, a deleted line, an edited line.
    assert.equal(firstBreak(chain, randomBytes(32).toString("base64url")), 1, "another key verifies nothing");
    assert.equal(firstBreak(chain, null), 1, "the keyed chain is not a plain hash");
    assert.equal(firstBreak(chain.filter((l) => l.seq !== 2), LOG_KEY), 3, "a deleted line breaks the chain at the next");
    const edited = chain.map((l) => (l.path === paths[0] ? { ...l, action: "pass" } : l));
    assert.equal(firstBreak(edited, LOG_KEY), decisions[0].seq, "an edited line breaks the chain at itself");
  });

  test("a checkpoint line recurs after EGRESS_LOG_CHECKPOINT_SECS, in the same chain", async () => {
    const first = uniquePath("checkpoint-before");
    await (await world.call("keyed", `https://public.example.com${first}`)).arrayBuffer();
    await new Promise((r) => setTimeout(r, 1200));
    const second = uniquePath("checkpoint-after");
    await (await world.call("keyed", `https://public.example.com${second}`)).arrayBuffer();
    const lines = await linesOf("keyed", (ls) => ls.some((l) => l.path === second));
    const chain = [...byIsolate(lines).values()][0];
    const at = (p) => chain.findIndex((l) => l.path === p);
    const between = chain.slice(at(first) + 1, at(second));
    assert.deepEqual(between.map((l) => l.event), ["checkpoint"], "one checkpoint between two decisions over a second apart");
    assert.equal(firstBreak(chain, LOG_KEY), null);
  });

  test("without EGRESS_LOG_KEY the chain is a plain SHA-256 chain, of this isolate alone", async () => {
    const p = uniquePath("unkeyed");
    await (await world.call("unkeyed", `https://public.example.com${p}`)).arrayBuffer();
    const lines = await linesOf("unkeyed", (ls) => ls.some((l) => l.path === p));
    assert.equal(byIsolate(lines).size, 1);
    assert.deepEqual(lines.map((l) => l.seq), lines.map((_, i) => i + 1));
    assert.ok(lines.every((l) => l.chain_alg === "sha256" && !("worker" in l)));
    assert.equal(firstBreak(lines, null), null);
    const keyed = await world.logLines("keyed");
    assert.notEqual(lines[0].isolate, keyed[0].isolate, "another Worker, another isolate, another chain");
  });

  test("a key shorter than 32 bytes is not used, and a misconfigured line says so without its value", async () => {
    const p = uniquePath("short-key");
    const res = await world.call("short-key", `https://public.example.com${p}`);
    assert.equal(res.status, 200, "the request is decided as usual");
    await res.arrayBuffer();
    const lines = await linesOf("short-key", (ls) => ls.some((l) => l.path === p));
    const problem = lines.find((l) => l.status === "misconfigured");
    assert.ok(problem, `a misconfigured line: ${JSON.stringify(lines)}`);
    assert.equal(problem.event, "settings");
    assert.match(problem.reason, /EGRESS_LOG_KEY is shorter than 32 bytes/);
    assert.ok(lines.every((l) => l.chain_alg === "sha256"));
    assert.equal(firstBreak(lines, null), null);
    assert.ok(!JSON.stringify(lines).includes("too-short-a-key"), "the key's value is never logged");
  });
});

describe("Analytics Engine data points", () => {
  test("one data point per line, naming the line's isolate and seq (the anchor audit holds the log to)", async () => {
    const p = uniquePath("points");
    await (await world.call("keyed", `https://malicious.com${p}`)).arrayBuffer();
    const lines = await linesOf("keyed", (ls) => ls.some((l) => l.path === p));
    const line = lines.find((l) => l.path === p);
    let points = [];
    for (const deadline = Date.now() + 5000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 25))) {
      points = (await world.points()).filter((pt) => pt.writer === "outbound-keyed");
      if (points.length >= lines.length) break;
    }
    assert.equal(points.length, lines.length, "as many data points as lines");
    const point = points.find((pt) => pt.blobs[12] === line.decision_id);
    assert.ok(point, "the decision's data point carries its decision_id");
    assert.deepEqual(point.indexes, ["acme"]);
    assert.deepEqual(point.blobs.slice(0, 4), ["decision", "block", "blocked", "block-malware"]);
    assert.equal(point.blobs[8], "malicious.com");
    assert.equal(point.blobs[11], line.isolate);
    assert.equal(point.doubles[1], line.seq);
    assert.equal(point.doubles[5], 0, "not sent");
    const checkpoint = lines.find((l) => l.event === "checkpoint");
    const anchor = points.find((pt) => pt.blobs[0] === "checkpoint" && pt.doubles[1] === checkpoint.seq);
    assert.ok(anchor, "the checkpoint's data point");
    assert.equal(anchor.blobs[12], checkpoint.chain, "it carries the checkpoint's chain value");
    assert.ok(!JSON.stringify(points).includes(LOG_KEY));
  });
});

describe("sent", () => {
  const cases = [
    ["a block", "https://malicious.com", false, "blocked"],
    ["a pass that got an answer", "https://public.example.com", true, "forwarded"],
    ["an inject whose key is missing (refused before sending)", "https://nokey.api.test", false, "failed"],
    ["a pass to an unreachable upstream (it may have left)", "https://down.example.com", true, "failed"],
  ];
  for (const [what, origin, sent, outcome] of cases) {
    test(`${what}: sent is ${sent}`, async () => {
      const p = uniquePath("sent");
      await (await world.call("acme", `${origin}${p}`)).arrayBuffer();
      const [line] = await world.waitForLogs((l) => l.path === p, 1);
      assert.equal(line.sent, sent);
      assert.equal(line.outcome, outcome);
    });
  }
});

describe("bounded lines", () => {
  test("a 12 KiB path is logged as its first 2048 bytes, marked redacted", async () => {
    const long = `/long/${"a".repeat(12 * 1024)}`;
    await (await world.call("acme", `https://public.example.com${long}`)).arrayBuffer();
    const [line] = await world.waitForLogs((l) => typeof l.path === "string" && l.path.startsWith("/long/"), 1);
    assert.equal(line.path, long.slice(0, 2048));
    assert.equal(line.path_redacted, true);
    assert.ok(JSON.stringify(line).length < 12_000);
  });
});
