// The one local workerd (miniflare) of this repository. `make dev` (dev/platform.mjs), the
// end-to-end suite (tests/e2e/harness.mjs) and the benchmarks (bench/) describe the Workers they
// need; `startWorld` composes them with the shared pieces below and is the only place that
// starts a workerd:
//   - outbound Workers: this Worker from a build directory, run through the committed entry
//     module exactly as deployed (wrangler.toml's `main`), or another implementation as a JS
//     module file (the benchmarks' JS peers);
//   - user Workers, each of whose fetch()es goes to an outbound Worker with its customer
//     parameters as props (as workerd delivers a dispatch namespace's parameters locally);
//   - "the internet": a Node function behind a Worker that records what left the outbound
//     Worker on the wire, or, without one, a Worker answering at once (the benchmarks);
//   - a Tail Worker handing every outbound Worker's log lines and exceptions to Node;
//   - EGRESS_POLICY_KV as miniflare's KV namespace, or as a fault-injecting binding whose
//     values Node holds (outside the workerd whose memory tests/reliability measures);
//   - EGRESS_METRICS as a recording Analytics Engine dataset: every data point written.
// Every Worker runs the deployed compatibility date, read from wrangler.toml.
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** A top-level `key = "value"` of wrangler.toml: what is deployed is what runs here. */
function deployed(key) {
  const toml = readFileSync(path.join(ROOT, "wrangler.toml"), "utf8");
  const value = new RegExp(`^${key} = "([^"]+)"$`, "m").exec(toml)?.[1];
  if (!value) throw new Error(`wrangler.toml has no \`${key} = "..."\` line`);
  return value;
}

export const COMPATIBILITY_DATE = deployed("compatibility_date");
/** The committed entry module; it imports the build as `./build/index.js`. */
export const ENTRY = path.join(ROOT, deployed("main"));
const INTERNET = "internet";
const TAIL = "tail";
const KV_FAULTS = "kv-faults";
const KV_NAMESPACE = "egress-policy-bundles";
const METRICS = "metrics";

const INTERNET_WORKER = `
// The network as an outbound Worker sees it: a connection failure for down.example.com (the
// caller's fetch() rejects, as with a refused connection); everything else goes on to the Node
// function playing the upstream hosts, with the Host header and the cf options as they left.
export default {
  async fetch(request) {
    const url = new URL(request.url);
    if (url.hostname === "down.example.com") throw new Error("connection refused (simulated)");
    const headers = new Headers(request.headers);
    headers.set("x-wire-host", request.headers.get("host") ?? "");
    headers.set("x-wire-cf", JSON.stringify(request.cf ?? null));
    return fetch(new Request(request, { headers, redirect: "manual" }));
  },
};`;

const INSTANT_INTERNET_WORKER = `
// Every upstream host answering at once, inside workerd: what remains is the callers' own cost.
// A path with /hold/MS/ in it is answered after MS milliseconds (tests/reliability/load.test.mjs
// holds a whole burst in flight at once with it).
export default {
  async fetch(request) {
    const hold = request.url.includes("/hold/") ? Number(request.url.split("/hold/")[1].split("/")[0]) : 0;
    if (hold > 0) await scheduler.wait(hold);
    return new Response("upstream ok", { headers: { "content-type": "text/plain" } });
  },
};`;

const TAIL_WORKER = `
// Keeps each tailed event: the Worker whose fetch() it was, the host of the request (never the rest of its URL,
// which may carry a query), its outcome, log lines and exceptions; GET returns them all
// (readable as soon as tailed, so a test reading the log after a request sees every line
// tailed before it). With SINK bound, hands each event to Node at once instead and keeps
// none (make dev prints them as they happen; a world that runs for long, as make dev or the
// soak of tests/reliability, must not grow a list inside workerd).
const events = [];
// Node's side can be slow to accept under load (the reliability checks): a failed post is tried
// again, so no event is lost on the way; its id lets Node take each post once.
async function post(sink, body) {
  for (let attempt = 1; ; attempt++) {
    try {
      const res = await sink.fetch("http://sink.local/", { method: "POST", body });
      if (res.ok) return;
      if (attempt >= 5) throw new Error("sink answered " + res.status);
    } catch (e) {
      if (attempt >= 5) throw e;
    }
    await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
  }
}
export default {
  async tail(batch, env) {
    const out = batch.map((e) => ({
      // The calling Worker (workerd names it in cf-worker as NAME.example.com locally), as
      // the tailed event names no script here.
      caller: e.event?.request?.headers?.["cf-worker"]?.split(".")[0] ?? null,
      host: e.event?.request?.url ? new URL(e.event.request.url).hostname : null,
      outcome: e.outcome,
      logs: e.logs.map((l) => ({ level: l.level, message: l.message })),
      exceptions: e.exceptions.map((x) => x.name + ": " + x.message),
    }));
    if (!env.SINK) events.push(...out);
    else if (out.length) await post(env.SINK, JSON.stringify({ id: crypto.randomUUID(), events: out }));
  },
  fetch() {
    return Response.json(events);
  },
};`;

// The KV binding as the Worker calls it (`env.EGRESS_POLICY_KV.get(key, "arrayBuffer")`, or
// with `{ type }`), over RPC to this entrypoint; each read is one request to Node (STORE),
// which holds the values, decides the fault (answer after a delay, hang, or 503: reject) and
// records the read. The values live in Node, not in miniflare's KV store: that store runs
// inside the same workerd and keeps memory for every large put (tests/reliability measures
// that workerd's memory).
const KV_FAULTS_WORKER = `
import { WorkerEntrypoint } from "cloudflare:workers";
export class FaultyKV extends WorkerEntrypoint {
  async get(key, options) {
    const res = await this.env.STORE.fetch("http://store/?key=" + encodeURIComponent(key));
    if (res.status === 503) throw new Error("KV unavailable (injected fault)");
    if (res.status === 404) return null;
    const type = (typeof options === "string" ? options : options?.type) ?? "text";
    if (type === "stream") return res.body;
    if (type === "arrayBuffer") return res.arrayBuffer();
    return type === "json" ? res.json() : res.text();
  }
}
export default { fetch() { return new Response("kv-faults"); } };`;

// An Analytics Engine dataset that keeps what is written: \`writeDataPoint(point)\` over RPC
// (the Worker calls it as it calls the real binding, without awaiting it), GET returns every
// point in the order written, each with the name of the Worker that wrote it.
const METRICS_WORKER = `
import { WorkerEntrypoint } from "cloudflare:workers";
const points = [];
export class Dataset extends WorkerEntrypoint {
  writeDataPoint(point) {
    points.push({ writer: this.ctx.props?.writer ?? null, ...point });
  }
}
export default { fetch() { return Response.json(points); } };`;

/** Imports of a JS outbound Worker: `.js` files are ES modules, `.wasm` compiled Wasm. */
const JS_MODULE_RULES = [{ type: "ESModule", include: ["**/*.js"] }, { type: "CompiledWasm", include: ["**/*.wasm"] }];

/**
 * The module options of an outbound Worker from `from` (relative to the repository): a JS
 * module file (its relative imports come along), or a Worker build directory holding index.js
 * and index_bg.wasm, run through the committed entry, which imports them as ./build/.
 * `wrap`: module files (relative to the repository) put before the entry, the first of them the
 * main module, which re-exports the entry's default (tests/reliability's instrumented entry).
 */
export function workerModules(from, wrap = []) {
  const source = path.resolve(ROOT, from);
  if (/\.m?js$/.test(source)) return { modules: true, modulesRules: JS_MODULE_RULES, scriptPath: source };
  return {
    modulesRoot: ROOT,
    modules: [
      ...wrap.map((file) => ({ type: "ESModule", path: path.resolve(ROOT, file) })),
      { type: "ESModule", path: ENTRY },
      { type: "ESModule", path: path.join(ROOT, "build/index.js"), contents: readFileSync(path.join(source, "index.js")) },
      { type: "CompiledWasm", path: path.join(ROOT, "build/index_bg.wasm"), contents: readFileSync(path.join(source, "index_bg.wasm")) },
    ],
  };
}

/**
 * Starts one workerd and resolves when it is ready.
 * - `outbound`: `[{ name, from = "build", wrap, bindings, kv, metrics, tail = true }]`, outbound
 *   Workers (`from` and `wrap` as in workerModules). Their fetch()es go to the internet; their log lines
 *   to the Tail Worker unless `tail` is false (then only to workerd's stdout, as the
 *   benchmarks want); `kv`: EGRESS_POLICY_KV is bound, to the world's one namespace;
 *   `metrics`: EGRESS_METRICS is bound, to the recording dataset.
 * - `users`: `[{ name, script | scriptPath, bindings, outbound }]`, user Workers; `outbound`
 *   is `{ name, props }` (that outbound Worker with those customer parameters), an outbound
 *   Worker's name (no parameters), or absent: straight to the internet.
 * - `workers`: more Workers as miniflare options (the dev dispatcher, a benchmark's wrapper);
 *   the first of them gets the requests to `url` and to `mf.dispatchFetch`.
 * - `upstream(request)`: the Node function answering every host; or `upstream` a
 *   `host:port` string: an HTTP server there answers every host (workerd speaks HTTP/1.1 to it
 *   itself, so a server that cuts its connection is seen as such, which miniflare's Node
 *   functions cannot show: they end a response whose body failed as if it were complete);
 *   without it, every host answers 200 at once inside workerd.
 * - `kv`: "faulty" makes EGRESS_POLICY_KV the fault-injecting binding, its values held by Node
 *   (else miniflare's KV namespace, whose store is inside this workerd).
 * - `onEvent(event)`: called with each tailed event as it is tailed (`make dev` prints them);
 *   the Tail Worker then keeps none, so `events()` resolves to nothing.
 * - `port`, `host`, `inspectorPort`: for miniflare (port 0 or absent: any free port).
 * stdout of workerd (every console.log) is dropped unless WORLD_VERBOSE is set; stderr (runtime
 * errors, panics) is passed through. `onOutput(stream, text)` (stream "stdout" or "stderr")
 * sees all of both as well (the reliability tests look for leaked secrets in them).
 * Returns `{ mf, url, worker(name), events(), points(), kv, dispose }`; `events()` resolves to
 * every event tailed so far; `points()` to every data point written to EGRESS_METRICS so far
 * (`{ writer, indexes, blobs, doubles }`, `writer` the outbound Worker's name); `kv` (when any outbound Worker
 * binds it) has `put(key, bytes)` and `delete(key)`, and when faulty `faults` (`{ delayMs,
 * hang, reject }`, or per key in `faults.keys[key]`: what the next reads do) and `reads` (every
 * read as `{ key, bytes }`).
 */
export async function startWorld({ outbound = [], users = [], workers = [], upstream, kv, onEvent, onOutput, port, host, inspectorPort } = {}) {
  const hung = [];
  const tailed = outbound.some((o) => o.tail !== false);
  const measured = outbound.some((o) => o.metrics);
  const faulty = kv === "faulty" ? faultyKv(() => new Promise((resolve) => hung.push(resolve))) : null;
  const kvBinding = faulty
    ? { serviceBindings: { EGRESS_POLICY_KV: { name: KV_FAULTS, entrypoint: "FaultyKV" } } }
    : { kvNamespaces: { EGRESS_POLICY_KV: KV_NAMESPACE } };
  // The first Worker gets the requests to `url` and mf.dispatchFetch: a given one, if any.
  const listed = [
    ...workers,
    ...outbound.map(({ name, from = "build", wrap, bindings = {}, kv: bound, metrics, tail = true }) => ({
      name,
      ...workerModules(from, wrap),
      bindings,
      ...(bound ? kvBinding : {}),
      ...(metrics ? { serviceBindings: { ...(bound ? kvBinding.serviceBindings : {}), EGRESS_METRICS: { name: METRICS, entrypoint: "Dataset", props: { writer: name } } } } : {}),
      outboundService: INTERNET,
      ...(tail ? { tails: [TAIL] } : {}),
    })),
    ...users.map(({ name, script, scriptPath, bindings, outbound: to }) => ({
      name, modules: true, ...(script ? { script } : { scriptPath }), bindings, outboundService: to ?? INTERNET,
    })),
    upstream
      ? { name: INTERNET, modules: true, script: INTERNET_WORKER, outboundService: typeof upstream === "string" ? { external: { address: upstream, http: {} } } : upstream }
      : { name: INTERNET, modules: true, script: INSTANT_INTERNET_WORKER },
    ...(tailed ? [{ name: TAIL, modules: true, script: TAIL_WORKER, ...(onEvent ? { serviceBindings: { SINK: sink(onEvent) } } : {}) }] : []),
    ...(measured ? [{ name: METRICS, modules: true, script: METRICS_WORKER }] : []),
    ...(faulty ? [{ name: KV_FAULTS, modules: true, script: KV_FAULTS_WORKER, serviceBindings: { STORE: faulty.store } }] : []),
  ];
  // A Worker behind a wrapped binding (the dev dispatch namespace) is a module of its caller's,
  // which miniflare requires to have no compatibility date of its own.
  const wrapped = new Set(listed.flatMap((w) => Object.values(w.wrappedBindings ?? {}).map((b) => b.scriptName)));
  const all = listed.map((w) => (wrapped.has(w.name) ? w : { compatibilityDate: COMPATIBILITY_DATE, ...w }));

  const mf = new Miniflare({
    ...(port === undefined ? {} : { port }),
    ...(host === undefined ? {} : { host }),
    ...(inspectorPort === undefined ? {} : { inspectorPort }),
    // Written on, not piped: a pipe would add listeners to process.stderr for every world
    // (a benchmark starts hundreds).
    handleRuntimeStdio(stdout, stderr) {
      if (process.env.WORLD_VERBOSE) stdout.on("data", (d) => process.stdout.write(d)); else stdout.resume();
      stderr.on("data", (d) => process.stderr.write(d));
      if (onOutput) {
        stdout.on("data", (d) => onOutput("stdout", String(d)));
        stderr.on("data", (d) => onOutput("stderr", String(d)));
      }
    },
    workers: all,
  });
  let url;
  try {
    url = await mf.ready;
  } catch (e) {
    // A workerd that failed to start must not keep this process alive.
    await mf.dispose().catch(() => {});
    throw e;
  }

  // Miniflare's Node-side proxies resolve a property or a method's first call with a blocking
  // round trip to workerd (Atomics.wait). Should one happen under load, Node cannot drain
  // workerd's stdout meanwhile, workerd blocks writing its console output, and both wait
  // forever. So every proxy used later is resolved here, before any traffic: its `fetch`
  // looked up once (cached after), KV's put and delete called once (async ever after).
  const warmed = async (proxy) => {
    const worker = await proxy;
    void worker.fetch;
    return worker;
  };

  let store = null;
  const kvOwner = outbound.find((o) => o.kv)?.name;
  if (kvOwner && !faulty) {
    store = await mf.getKVNamespace("EGRESS_POLICY_KV", kvOwner);
    await store.put("world-warm-up", new ArrayBuffer(0));
    await store.delete("world-warm-up");
  }
  const kvHandle = faulty ?? (store && {
    put: (key, bytes) => store.put(key, Uint8Array.from(bytes).buffer),
    delete: (key) => store.delete(key),
  });

  const tail = tailed ? await warmed(mf.getWorker(TAIL)) : null;
  const events = async () => (tail ? (await tail.fetch("http://tail.local/")).json() : []);
  const dataset = measured ? await warmed(mf.getWorker(METRICS)) : null;
  const points = async () => (dataset ? (await dataset.fetch("http://metrics.local/")).json() : []);

  return {
    mf,
    url,
    worker: (name) => warmed(mf.getWorker(name)),
    events,
    points,
    kv: kvHandle,
    async dispose() {
      for (const release of hung.splice(0)) release();
      await mf.dispose();
    },
  };
}

/** The Node side of the Tail Worker's SINK: each event it posts, to `onEvent`, once. */
function sink(onEvent) {
  const taken = new Set();
  return async (request) => {
    const { id, events } = await request.json();
    if (!taken.has(id)) {
      taken.add(id);
      for (const e of events) onEvent(e);
    }
    return new Response(null, { status: 204 });
  };
}

/**
 * The Node side of the fault-injecting KV binding: the values (`put`, `delete`), the plan each
 * read follows (`faults`), the reads answered (`reads`), and `store`, the function answering them.
 */
function faultyKv(never) {
  const values = new Map();
  const faults = { delayMs: 0, hang: false, reject: false, keys: {} };
  const reads = [];
  const store = async (request) => {
    const key = new URL(request.url).searchParams.get("key");
    const plan = { ...faults, ...(faults.keys[key] ?? {}) };
    if (plan.delayMs) await new Promise((r) => setTimeout(r, plan.delayMs));
    if (plan.hang) await never();
    if (plan.reject) return new Response(null, { status: 503 });
    const value = values.get(key);
    reads.push({ key, bytes: value?.byteLength ?? 0 });
    return value === undefined ? new Response(null, { status: 404 }) : new Response(value);
  };
  return {
    faults,
    reads,
    store,
    put: async (key, bytes) => void values.set(key, Uint8Array.from(bytes)),
    delete: async (key) => void values.delete(key),
  };
}
