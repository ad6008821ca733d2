// Upstream faults. A body that breaks after 64 KiB: the caller's read of it fails (an error,
// not a hang), the request has one decision line, and the next 100 requests succeed. Requests
// whose upstream never answers (200 at once; 20 in make test's subset): each is answered 504
// at the upstream timeout with its one line, while healthy requests beside them keep their p50
// within 20% of the same requests without them (windows with and without hung requests
// alternate in the one run, so the shared machine's load falls on both alike).
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { FULL, drive, quantile, record, summary } from "./measure.mjs";
import { CHUNK } from "./upstream.mjs";
import { HOSTS, startReliabilityWorld } from "./world.mjs";

// Long enough for all hung requests to arrive on a loaded machine before the window with them.
const TIMEOUT_MS = FULL ? 15_000 : 6000;
const HUNG = FULL ? 200 : 20;
const CYCLES = FULL ? 8 : 4;
const WINDOW_MS = 2500;
const HEALTHY_IN_FLIGHT = 4;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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
  // Healthy requests run all along (HEALTHY_IN_FLIGHT at a time); cycles alternate a quiet
  // window and a window while HUNG requests are held at the upstream. A healthy request counts
  // for the window it started and ended in (none that straddles a change, none while the hung
  // ones arrive or are answered), so both samples come from the same minutes of the same run.
  const samples = { without: [], with: [] };
  let phase = "settling";
  let epoch = 0;
  const setPhase = (p) => { phase = p; epoch++; };
  let stop = false;
  const lanes = Array.from({ length: HEALTHY_IN_FLIGHT }, async () => {
    while (!stop) {
      const [p, e, t0] = [phase, epoch, performance.now()];
      const { status } = await ok(`/healthy/${randomUUID()}`);
      assert.equal(status, 200, "healthy requests succeed");
      if (p !== "settling" && e === epoch) samples[p].push(performance.now() - t0);
    }
  });
  const cycles = [];
  const run = randomUUID();
  try {
    for (let cycle = 0; cycle < CYCLES; cycle++) {
      setPhase("without");
      await sleep(WINDOW_MS);
      setPhase("settling");
      const heldBefore = world.upstream.hanging;
      const prefix = `/hang/${run}-${cycle}-`;
      const t0 = performance.now();
      const hung = Array.from({ length: HUNG }, (_, i) => world.request(`https://${HOSTS.pass}${prefix}${i}`)
        .then(async (res) => ({ status: res.status, body: await res.text(), ms: performance.now() - t0 })));
      while (world.upstream.hanging < heldBefore + HUNG && performance.now() - t0 < TIMEOUT_MS - WINDOW_MS - 1000) await sleep(10);
      assert.equal(world.upstream.hanging - heldBefore, HUNG, `all ${HUNG} hung requests reached the upstream`);
      const arrivedMs = performance.now() - t0;
      setPhase("with");
      await sleep(Math.min(WINDOW_MS, TIMEOUT_MS - arrivedMs - 500));
      setPhase("settling");
      const answers = await Promise.all(hung);
      const lines = await world.linesUnder(prefix, HUNG);
      world.upstream.release();
      cycles.push({ arrivedMs: Math.round(arrivedMs), answeredMs: [Math.round(Math.min(...answers.map((a) => a.ms))), Math.round(Math.max(...answers.map((a) => a.ms)))], lines: lines.length });
      assert.deepEqual([...new Set(answers.map((a) => a.status))], [504], "every hung request is answered 504");
      // Each is timed from its arrival, which for the last one was `arrivedMs` after the first left.
      const slowest = Math.max(...answers.map((a) => a.ms));
      assert.ok(slowest < arrivedMs + TIMEOUT_MS + 5000, `each answered within the timeout plus 5 s of arriving (slowest ${Math.round(slowest)} ms, all arrived by ${Math.round(arrivedMs)} ms)`);
      assert.equal(lines.length, HUNG, `one line per hung request (${lines.length})`);
      assert.ok(lines.every((l) => l.error === "upstream_timeout" && l.status === null), "each logged as the timeout");
      await sleep(200);
    }
  } finally {
    stop = true;
    await Promise.all(lanes);
  }
  const a = summary(samples.without);
  const b = summary(samples.with);
  const ratio = quantile(samples.with, 0.5) / quantile(samples.without, 0.5);
  record("hung-upstreams", { hung: HUNG, cycles: CYCLES, timeoutMs: TIMEOUT_MS, healthyInFlight: HEALTHY_IN_FLIGHT, healthyWithout: a, healthyWith: b, p50Ratio: +ratio.toFixed(3), cycleFigures: cycles });
  assert.ok(b.n >= 50 && a.n >= 50, `enough healthy requests in each window (${a.n} without, ${b.n} with)`);
  assert.ok(ratio <= 1.2, `healthy p50 with hung requests is ${ratio.toFixed(2)}x the p50 without (bound 1.2x)`);
});
