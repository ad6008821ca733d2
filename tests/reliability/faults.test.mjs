// Upstream faults. A body that breaks after 64 KiB: the caller's read of it fails (an error,
// not a hang), the request has one decision line, and the next 100 requests succeed. Requests
// whose upstream never answers (200 at once; 20 in make test's subset): each is answered 504
// at the upstream timeout with its one line, while healthy requests beside them keep their p50
// within 20% of the same requests without them (interleaved rounds of the one run, so the
// shared machine's load falls on both alike).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { FULL, drive, quantile, record, summary } from "./measure.mjs";
import { CHUNK } from "./upstream.mjs";
import { HOSTS, startReliabilityWorld } from "./world.mjs";

const TIMEOUT_MS = 6000;
const HUNG = FULL ? 200 : 20;
const ROUNDS = FULL ? 6 : 2;
const HEALTHY_PER_PHASE = FULL ? 300 : 150;
const HEALTHY_IN_FLIGHT = 4;

let world;
before(async () => {
  world = await startReliabilityWorld({ bindings: { EGRESS_UPSTREAM_TIMEOUT_MS: String(TIMEOUT_MS) } });
  await drive(200, 20, () => ok(`/warm/${randomUUID()}`));
});
after(() => world?.dispose());

async function ok(path) {
  const res = await world.request(`https://${HOSTS.pass}${path}`);
  await res.arrayBuffer();
  return { status: res.status };
}

test("a body broken after 64 KiB: a stream error for the caller, not a hang; one line; the next 100 succeed", async () => {
  const path = `/break/${CHUNK}/${randomUUID()}`;
  // The caller is a Worker (the router) reading the body: what a customer's Worker would see.
  const t0 = performance.now();
  const read = await Promise.race([
    world.request(`https://${HOSTS.pass}${path}`, { consume: true }).then((r) => r.json()),
    new Promise((r) => setTimeout(() => r(null), 15_000)),
  ]);
  const outcome = read === null ? "hang" : read.error === null ? "ended" : `error: ${read.error}`;
  const received = read?.bytes;
  const seconds = (performance.now() - t0) / 1000;
  await world.linesUnder(path, 1);
  await new Promise((r) => setTimeout(r, 500)); // a second line, were there one, would be in by now
  const lines = await world.linesUnder(path, 1);
  const next = await drive(100, 1, () => ok(`/after-break/${randomUUID()}`));
  record("broken-body", {
    outcome, received, seconds: +seconds.toFixed(2), lines: lines.length,
    statusLogged: lines[0]?.status, nextOk: next.filter((r) => r.status === 200).length,
  });
  assert.equal(read?.status, 200, "the status line had left before the body broke");
  assert.match(outcome, /^error: /, `the caller's read must fail, it ${outcome === "hang" ? "hung" : "ended cleanly: a silently truncated body"}`);
  assert.ok(received <= CHUNK, `at most the ${CHUNK} bytes sent arrive (got ${received})`);
  assert.equal(lines.length, 1, "exactly one decision line");
  assert.equal(next.filter((r) => r.status === 200).length, 100, "the next 100 requests succeed");
});

test(`${HUNG} hung upstream requests time out (504, one line each) while healthy requests keep their p50`, async () => {
  const without = [];
  const withHung = [];
  const phases = [];
  let hungDone = 0;
  const run = randomUUID();
  for (let round = 0; round < ROUNDS; round++) {
    // ABBA order: with, then without, alternating which comes first.
    const order = round % 2 === 0 ? ["without", "with"] : ["with", "without"];
    for (const phase of order) {
      if (phase === "without") {
        const r = await drive(HEALTHY_PER_PHASE, HEALTHY_IN_FLIGHT, () => ok(`/healthy/${randomUUID()}`));
        assert.ok(r.every((x) => x.status === 200), "healthy requests succeed");
        without.push(...r.map((x) => x.ms));
        continue;
      }
      const heldBefore = world.upstream.hanging;
      const prefix = `/hang/${run}-${round}-`;
      const t0 = performance.now();
      const hung = Array.from({ length: HUNG }, (_, i) => world.request(`https://${HOSTS.pass}${prefix}${i}`)
        .then(async (res) => ({ status: res.status, body: await res.text(), ms: performance.now() - t0 })));
      // Measure only once every hung request is held open at the upstream.
      const deadline = Date.now() + TIMEOUT_MS / 2;
      while (world.upstream.hanging < heldBefore + HUNG && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.equal(world.upstream.hanging - heldBefore, HUNG, `all ${HUNG} hung requests reached the upstream`);
      const r = await drive(HEALTHY_PER_PHASE, HEALTHY_IN_FLIGHT, () => ok(`/healthy/${randomUUID()}`));
      const healthyEnd = performance.now() - t0;
      assert.ok(r.every((x) => x.status === 200), "healthy requests succeed beside hung ones");
      withHung.push(...r.map((x) => x.ms));
      const answers = await Promise.all(hung);
      phases.push({ healthyEndMs: Math.round(healthyEnd), firstTimeoutMs: Math.round(Math.min(...answers.map((a) => a.ms))) });
      assert.ok(healthyEnd < TIMEOUT_MS, "the healthy requests ran while every hung one was still held");
      assert.deepEqual([...new Set(answers.map((a) => a.status))], [504], "every hung request is answered 504");
      assert.ok(answers.every((a) => a.ms < TIMEOUT_MS + 5000), "each within the timeout plus 5 s");
      const lines = await world.linesUnder(prefix, HUNG);
      assert.equal(lines.length, HUNG, `one line per hung request (${lines.length})`);
      assert.ok(lines.every((l) => l.error === "upstream_timeout" && l.status === null), "each logged as the timeout");
      hungDone += HUNG;
      world.upstream.release();
    }
  }
  const a = summary(without);
  const b = summary(withHung);
  const ratio = quantile(withHung, 0.5) / quantile(without, 0.5);
  record("hung-upstreams", { hung: HUNG, rounds: ROUNDS, timeoutMs: TIMEOUT_MS, hungAnswered: hungDone, healthyWithout: a, healthyWith: b, p50Ratio: +ratio.toFixed(3), phases });
  assert.ok(ratio <= 1.2, `healthy p50 with hung requests is ${ratio.toFixed(2)}x the p50 without (bound 1.2x)`);
});
