// Large bodies through a pass rule, in both directions: the bytes arrive whole (equal SHA-256 at
// both ends) and workerd's peak resident memory stays within 32 MiB above idle, i.e. nothing on
// the way (the outbound Worker included) holds a body. Whole run: a 256 MiB response and a
// 128 MiB upload; make test's subset: 32 MiB each.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { FULL, MiB, mib, record } from "./measure.mjs";
import { digest, generated } from "./upstream.mjs";
import { HOSTS, startReliabilityWorld } from "./world.mjs";

const RESPONSE_BYTES = (FULL ? 256 : 32) * MiB;
const UPLOAD_BYTES = (FULL ? 128 : 32) * MiB;
const PEAK_BOUND = 32 * MiB;

let world;
before(async () => {
  world = await startReliabilityWorld();
  // Warm: every path the measured requests take has run once (JIT, buffers, the Wasm instance).
  for (let i = 0; i < 3; i++) {
    await digest((await world.request(`https://${HOSTS.pass}/bytes/${MiB}/warm-${i}`)).body);
    await (await world.request(`https://${HOSTS.pass}/upload/warm-${i}`, { method: "POST", body: generated(MiB) })).json();
  }
});
after(() => world?.dispose());

/** Idle resident memory (after a pause), with VmHWM reset to it; then `run`; then the peak. */
async function peakOf(run) {
  await new Promise((r) => setTimeout(r, 1000));
  const wasmBefore = await world.wasm();
  world.resetPeak();
  const idle = world.memory().rss;
  const t0 = performance.now();
  const out = await run();
  const seconds = (performance.now() - t0) / 1000;
  const peak = world.memory().hwm;
  const wasmAfter = await world.wasm();
  return { out, idle, peak, seconds, wasmBefore: wasmBefore.bytes, wasmAfter: wasmAfter.bytes };
}

async function oneDecision(path) {
  await world.linesUnder(path, 1);
  await new Promise((r) => setTimeout(r, 500)); // a second line, were there one, would be in by now
  return world.linesUnder(path, 1);
}

test(`a ${mib(RESPONSE_BYTES)} MiB response passes whole, workerd's peak within 32 MiB of idle`, async () => {
  const id = randomUUID();
  const path = `/bytes/${RESPONSE_BYTES}/${id}`;
  const m = await peakOf(async () => {
    const res = await world.request(`https://${HOSTS.pass}${path}`);
    assert.equal(res.status, 200);
    return digest(res.body);
  });
  const growth = m.peak - m.idle;
  record("large-response", {
    bytes: RESPONSE_BYTES, seconds: +m.seconds.toFixed(1), idleMiB: mib(m.idle), peakMiB: mib(m.peak),
    growthMiB: mib(growth), boundMiB: mib(PEAK_BOUND), wasmMiB: [mib(m.wasmBefore), mib(m.wasmAfter)],
  });
  assert.equal(m.out.bytes, RESPONSE_BYTES);
  assert.equal(m.out.sha256, world.upstream.sent.get(id), "the caller's SHA-256 is the upstream's");
  assert.ok(growth < PEAK_BOUND, `workerd's peak grew ${mib(growth)} MiB above idle (bound ${mib(PEAK_BOUND)} MiB)`);
  const lines = await oneDecision(path);
  assert.equal(lines.length, 1);
  assert.equal(lines[0].status, 200);
});

test(`a ${mib(UPLOAD_BYTES)} MiB upload passes whole, workerd's peak within 32 MiB of idle`, async () => {
  const id = randomUUID();
  const path = `/upload/${id}`;
  let sentSha;
  const m = await peakOf(async () => {
    const body = generated(UPLOAD_BYTES, { done: (hex) => { sentSha = hex; } });
    const res = await world.request(`https://${HOSTS.pass}${path}`, { method: "POST", body });
    assert.equal(res.status, 200);
    return res.json();
  });
  const growth = m.peak - m.idle;
  record("large-upload", {
    bytes: UPLOAD_BYTES, seconds: +m.seconds.toFixed(1), idleMiB: mib(m.idle), peakMiB: mib(m.peak),
    growthMiB: mib(growth), boundMiB: mib(PEAK_BOUND), wasmMiB: [mib(m.wasmBefore), mib(m.wasmAfter)],
  });
  assert.equal(m.out.bytes, UPLOAD_BYTES);
  assert.equal(m.out.sha256, sentSha, "the upstream's SHA-256 is the caller's");
  assert.ok(growth < PEAK_BOUND, `workerd's peak grew ${mib(growth)} MiB above idle (bound ${mib(PEAK_BOUND)} MiB)`);
  const lines = await oneDecision(path);
  assert.equal(lines.length, 1);
  assert.equal(lines[0].status, 200);
});
