// The reliability harness's world: one workerd (dev/world.mjs, the one Miniflare factory)
// holding
//   - the outbound Worker under test (build/, as `make e2e` builds it with tests/e2e/policy.toml),
//     run through tests/reliability/entry.mjs: the deployed entry plus a Diagnostics entrypoint
//     that reports the Wasm memory's size;
//   - a router Worker receiving Node's requests at its own socket: it hands each to the
//     outbound Worker through a service binding per customer, whose props name the customer
//     (as workerd delivers a dispatch namespace's outbound parameters locally);
//   - the fault-injecting upstream (upstream.mjs), an HTTP server behind dev/world.mjs's
//     internet Worker (or, `instant`, dev/world.mjs's upstream answering inside workerd);
//   - the log lines, read one of two ways: the Tail Worker, handing every tailed event (lines,
//     exceptions) to Node as it is tailed (it keeps none); or (`lines: "stdout"`, the load,
//     churn and soak checks) workerd's stdout, where every console.log is printed anyway, with
//     no Tail Worker: the Tail Worker and its posts to Node cost that workerd 80-95 MiB after
//     a burst of 1,000 requests, and grow it by more per burst (bench/RESULTS.md), memory the
//     checks would otherwise count against the Worker.
// Requests go from Node over HTTP straight to the router's own socket (not through miniflare's
// entry Worker, one more isolate on every request's way: `direct`), with the global fetch, a
// connection each (any number in flight).
import { bundleBindings, generateKeys, isDecision } from "../e2e/harness.mjs";
import { startWorld } from "../../dev/world.mjs";
import { startUpstream } from "./upstream.mjs";
import { memory, resetPeak, workerdPids } from "./measure.mjs";

/** Hosts of tests/e2e/policy.toml by what its policy does with them. */
export const HOSTS = { pass: "public.example.com", block: "malicious.com", inject: "hs256.api.test", inject120: "rs256.api.test" };

const ROUTER = `
// Node's requests: x-target is the URL to fetch, x-customer the number of the customer whose
// outbound binding (C0, C1, ...) fetches it. With x-consume, the router is the caller that reads
// the body (workerd's HTTP server ends a response whose body failed as if it were complete, so
// Node could not tell): it answers { status, bytes, error } of what it read.
// GET /__wasm reports the outbound Worker's Wasm memory.
async function consume(response) {
  let bytes = 0;
  try {
    for await (const chunk of response.body ?? []) bytes += chunk.byteLength;
    return { status: response.status, bytes, error: null };
  } catch (e) {
    return { status: response.status, bytes, error: String(e.message ?? e) };
  }
}
export default {
  async fetch(request, env) {
    if (new URL(request.url).pathname === "/__wasm") return Response.json(await env.DIAG.wasmBytes());
    const target = request.headers.get("x-target");
    const outbound = env["C" + (request.headers.get("x-customer") ?? "0")];
    if (!target || !outbound) return new Response("x-target missing or x-customer unknown", { status: 400 });
    const init = { method: request.method, redirect: "manual" };
    if (request.method !== "GET" && request.method !== "HEAD") init.body = request.body;
    try {
      const response = await outbound.fetch(target, init);
      return request.headers.has("x-consume") ? Response.json(await consume(response)) : response;
    } catch (e) {
      return new Response("fetch threw: " + e.message, { status: 599 });
    }
  },
};`;

/**
 * Starts the world. `customers`: how many (c0, c1, ..., each tagged "production"); `from`: a JS
 * outbound Worker to run instead of build/ (a baseline); `instant`: no upstream server, every
 * host answers 200 at once inside workerd (dev/world.mjs's default), so a load test measures
 * workerd and the Worker rather than this Node process playing the upstream too;
 * `bindings`: more settings of the outbound Worker (e.g. EGRESS_UPSTREAM_TIMEOUT_MS); `bundle`:
 * as tests/e2e/harness.mjs's (then EGRESS_POLICY_KV is bound: its values held by Node, `kv`);
 * `inspect(request)`: sees every request reaching the upstream first (upstream.mjs);
 * `onOutput(stream, text)`: sees workerd's stdout and stderr (dev/world.mjs); `onTail(event)`:
 * sees every tailed event (every line, exceptions) after `log` counted it; `lines`: "tail" or
 * "stdout" (no Tail Worker: the lines read from workerd's stdout, `inspectedObjects`; then `log`
 * has no events, outcomes nor exceptions); `direct`: false sends requests through miniflare's
 * entry Worker; `inspectorPort`: V8's inspector of every Worker on that port (load-memory.mjs
 * collects garbage through it).
 * Returns:
 * - `request(target, { customer, method, body, signal, consume })`: a fetch of `target` by that
 *   customer, resolving to the Response the caller gets; with `consume`, the router reads the
 *   body inside workerd and the Response is JSON `{ status, bytes, error }` of that read;
 * - `log`: what was tailed so far: `events` (tail events: one per invocation of the outbound
 *   Worker) and their `outcomes` (counts), `decisions` (count), `ids` (Set of decision ids), `lines`
 *   (every decision line, unless `keepLines` is false; each also goes to `onDecision(line)`),
 *   `checkpoints`, `other` (event lines), `exceptions`;
 *   `waitForDecisions(n, timeoutMs)` resolves when n decisions were tailed (or the time is up),
 *   `linesUnder(prefix, n, timeoutMs)` to the kept lines whose path starts with `prefix` once
 *   there are n (or the time is up);
 * - `pid`, `memory()` (workerd's `{ rss, hwm }`), `resetPeak()`, `wasm()` (`{ instances, bytes }`);
 * - `upstream` (upstream.mjs; null when `instant`), `keys` (tests/e2e/harness.mjs `generateKeys`:
 *   the secrets bound and the keys verifying their tokens), `kv`, `dispose()`.
 */
export async function startReliabilityWorld({ customers = 1, bindings = {}, bundle, keepLines = true, onDecision = () => {}, from, instant = false, inspect, onOutput, onTail = () => {}, lines = "tail", inspectorPort, direct = true } = {}) {
  const keys = generateKeys();
  const upstream = instant ? null : await startUpstream({ inspect });
  const log = { events: 0, outcomes: {}, decisions: 0, ids: new Set(), lines: [], checkpoints: 0, other: 0, exceptions: [] };
  // `from`: another outbound Worker as a JS module (bench/floor-outbound.js: what workerd and
  // the harness cost without this Worker); it has no Wasm memory to report.
  const serviceBindings = from ? {} : { DIAG: { name: "outbound", entrypoint: "Diagnostics" } };
  for (let i = 0; i < customers; i++) {
    serviceBindings[`C${i}`] = { name: "outbound", props: { customer_name: `c${i}`, customer_tags: ["production"] } };
  }
  function count(line) {
    if (isDecision(line)) {
      log.decisions++;
      log.ids.add(line.decision_id);
      if (keepLines) log.lines.push(line);
      onDecision(line);
    } else if (line?.event === "checkpoint") log.checkpoints++;
    else log.other++;
  }
  const fromStdout = inspectedObjects(count);
  const before = new Set(workerdPids());
  const world = await startWorld({
    workers: [{ name: "router", modules: true, script: ROUTER, serviceBindings, ...(direct ? { unsafeDirectSockets: [{ host: "127.0.0.1" }] } : {}) }],
    outbound: [{
      name: "outbound",
      ...(from ? { from } : { wrap: ["tests/reliability/entry.mjs", "tests/reliability/wasm-memory.mjs"] }),
      bindings: { ...keys.secrets, EGRESS_IDENTITY_FROM_PROPS: "true", ...(bundle ? bundleBindings(bundle) : {}), ...bindings },
      kv: Boolean(bundle),
      tail: lines === "tail",
    }],
    upstream: upstream?.address,
    // The bundle's values held by Node (dev/world.mjs's fault-injecting binding, no fault
    // planned): miniflare's KV store would run inside the workerd measured here and keep memory
    // for every large put (30 puts of a 12.8 MB bundle: +498 MiB without any request).
    kv: bundle ? "faulty" : undefined,
    onOutput: lines === "stdout" ? (stream, text) => {
      if (stream === "stdout") fromStdout(text);
      onOutput?.(stream, text);
    } : onOutput,
    inspectorPort,
    onEvent(event) {
      log.events++;
      log.outcomes[event.outcome] = (log.outcomes[event.outcome] ?? 0) + 1;
      for (const { message } of event.logs) count(message[0]);
      log.exceptions.push(...event.exceptions);
      onTail(event);
    },
  });
  const url = direct ? String(await world.mf.unsafeGetDirectURL("router")) : world.url;
  const pid = workerdPids().find((p) => !before.has(p));
  if (!pid) throw new Error("the world's workerd process was not found among this process's children");

  function request(target, { customer = 0, method = "GET", body, signal, consume } = {}) {
    // A connection per request: a pooled one that workerd closes as it is reused fails the
    // request before it reaches any Worker (ECONNRESET), a fault of the harness, not of the Worker.
    const headers = { "x-target": target, "x-customer": String(customer), connection: "close", ...(consume ? { "x-consume": "1" } : {}) };
    const init = { method, headers, signal };
    if (body !== undefined) {
      init.body = body;
      if (body instanceof ReadableStream) init.duplex = "half";
    }
    return fetch(url, init);
  }

  async function waitForDecisions(n, timeoutMs = 30_000) {
    const deadline = Date.now() + timeoutMs;
    while (log.decisions < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return log.decisions;
  }

  /** The kept decision lines whose path starts with `prefix`, once there are `n` (or time is up). */
  async function linesUnder(prefix, n, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = log.lines.filter((l) => l.path.startsWith(prefix));
      if (lines.length >= n || Date.now() > deadline) return lines;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  return {
    url,
    request,
    log,
    waitForDecisions,
    linesUnder,
    pid,
    memory: () => memory(pid),
    resetPeak: () => resetPeak(pid),
    wasm: async () => (from ? { instances: 0, bytes: null } : (await fetch(new URL("/__wasm", url))).json()),
    upstream,
    keys,
    kv: world.kv,
    async dispose() {
      upstream?.release();
      await world.dispose();
      await upstream?.close();
    },
  };
}

/**
 * Reads the objects a Worker console.logs from workerd's stdout, where each is printed as Node's
 * util.inspect prints it: `{` alone on a line, a `  key: value,` line per field (a nested
 * object's fields indented further), `}` alone. Keeps what the checks read: the fields whose
 * value is a string, number, boolean or null, at any depth (`decision_id`, `path`,
 * `policy.serial`); an array's text as it stands. Returns the function to feed stdout's text to;
 * `onObject(object)` gets each object once it is complete.
 */
export function inspectedObjects(onObject) {
  let pending = "";
  const scalar = (text) => {
    const quoted = /^(['"`])(.*)\1$/.exec(text);
    if (quoted) return quoted[2].replace(/\\(.)/g, (_, c) => ({ n: "\n", t: "\t" })[c] ?? c);
    if (text === "null" || text === "true" || text === "false") return JSON.parse(text);
    return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
  };
  return (text) => {
    pending += text;
    for (let end = pending.indexOf("\n}\n"); end !== -1; end = pending.indexOf("\n}\n")) {
      const record = pending.slice(0, end);
      pending = pending.slice(end + 3);
      const open = record.lastIndexOf("{\n", record.search(/\n {2}\w/) + 1);
      if (open === -1 || (open > 0 && record[open - 1] !== "\n")) continue;
      const object = {};
      const into = [object];
      for (const row of record.slice(open + 2).split("\n")) {
        const field = /^((?: {2})+)(\w+): (.*?),?$/.exec(row);
        const depth = field ? field[1].length / 2 : 0;
        if (!field || !into[depth - 1]) continue;
        const [, , key, value] = field;
        if (value === "{") into[depth] = into[depth - 1][key] = {};
        else into[depth - 1][key] = scalar(value);
      }
      onObject(object);
    }
  };
}
