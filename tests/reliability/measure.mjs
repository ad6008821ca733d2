// What the reliability checks measure: workerd's memory (VmRSS, VmHWM from /proc) and CPU time,
// latency percentiles, leaked fragments of a secret, and the drivers that send requests (N with
// K in flight; or at a steady rate).
import { execFileSync } from "node:child_process";
import { appendFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "../../dev/world.mjs";

export const MiB = 1024 * 1024;

/** Live workerd processes that are children of this process (miniflare starts workerd itself). */
export function workerdPids() {
  let out = "";
  try {
    out = execFileSync("pgrep", ["-P", String(process.pid), "workerd"]).toString();
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
  return out.trim().split("\n").filter((p) => {
    try { return p && readFileSync(`/proc/${p}/stat`, "utf8").split(") ")[1][0] !== "Z"; } catch { return false; }
  });
}

/** `{ rss, hwm }` of a process, bytes: its resident set now and its peak since the last reset. */
export function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1]) * 1024;
  return { rss: kib("VmRSS"), hwm: kib("VmHWM") };
}

/** Resets a process's VmHWM to its VmRSS now (clear_refs 5), so a later VmHWM is this phase's peak. */
export function resetPeak(pid) {
  writeFileSync(`/proc/${pid}/clear_refs`, "5");
}

/**
 * Samples VmRSS every `everyMs` until `stop()`, which returns `{ max, samples: [{ t, rss }] }`
 * (`t` ms since the start): the curve beside VmHWM's single peak.
 */
export function sampleRss(pid, everyMs = 100) {
  const t0 = performance.now();
  const samples = [];
  const take = () => samples.push({ t: performance.now() - t0, rss: memory(pid).rss });
  take();
  const timer = setInterval(take, everyMs);
  return {
    samples,
    stop() {
      clearInterval(timer);
      take();
      return { max: Math.max(...samples.map((s) => s.rss)), samples };
    },
  };
}

/**
 * CPU time of every thread of a process so far, in nanoseconds: schedstat's, whose resolution
 * is the nanosecond (stat's utime and stime count 10 ms ticks).
 */
export function cpuNs(pid) {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // a thread that ended meanwhile
    }
  }
  return total;
}

/**
 * The first `width`-character piece of `secret` found in any of `texts`, or null. The texts'
 * pieces are hashed (they are small), then the secret is slid over them: linear in both.
 */
export function leakedFragment(secret, texts, width = 12) {
  const pieces = new Set();
  for (const text of texts) for (let i = 0; i + width <= text.length; i++) pieces.add(text.slice(i, i + width));
  for (let i = 0; i + width <= secret.length; i++) {
    if (pieces.has(secret.slice(i, i + width))) return secret.slice(i, i + width);
  }
  return null;
}

/** The `q` quantile (0..1) of numbers, nearest rank. */
export function quantile(values, q) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** `{ n, p50, p90, p99, max }` of latencies in ms, rounded to 0.01 ms (any count: the soak's
 * 180,000 overflow the stack as spread arguments). */
export function summary(ms) {
  const r = (x) => Math.round(x * 100) / 100;
  return { n: ms.length, p50: r(quantile(ms, 0.5)), p90: r(quantile(ms, 0.9)), p99: r(quantile(ms, 0.99)), max: r(ms.reduce((a, b) => Math.max(a, b), -Infinity)) };
}

/** Least-squares slope of `y` over `x`. */
export function slope(points) {
  const n = points.length;
  const mx = points.reduce((s, p) => s + p.x, 0) / n;
  const my = points.reduce((s, p) => s + p.y, 0) / n;
  const sxy = points.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const sxx = points.reduce((s, p) => s + (p.x - mx) ** 2, 0);
  return sxx === 0 ? 0 : sxy / sxx;
}

/**
 * Runs `one(i)` for i in 0..n with at most `inFlight` at once; resolves to every result, each
 * `{ ...what one returned, ms }`, or `{ error, ms }` when it threw.
 */
export async function drive(n, inFlight, one) {
  const results = new Array(n);
  let next = 0;
  async function lane() {
    while (next < n) {
      const i = next++;
      const t0 = performance.now();
      try {
        results[i] = { ...(await one(i)), ms: performance.now() - t0 };
      } catch (e) {
        results[i] = { error: String(e?.cause?.message ?? e?.message ?? e), ms: performance.now() - t0 };
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, lane));
  return results;
}

/**
 * Starts `one(i)` at `perSecond` for `seconds` (not waiting for earlier ones: an open loop, as
 * real callers are), but never more than `maxInFlight` at once: past that a start waits, and
 * counts as late, so an overloaded machine shows as a rate below the target rather than as an
 * ever-growing queue; it stops starting after `seconds` either way, or once `signal` aborts.
 * `tick(elapsedMs)` runs about once a second. Resolves when all have ended
 * to `{ results, late, seconds }` (each result `{ ...what one returned, ms }` or `{ error, ms }`).
 */
export async function pace(perSecond, seconds, one, tick = () => {}, maxInFlight = 256, signal = undefined) {
  const t0 = performance.now();
  const running = new Set();
  const results = [];
  let lastTick = 0;
  let late = 0;
  const total = Math.round(perSecond * seconds);
  // Ends on time whatever was sent: a machine that cannot keep the rate sends fewer.
  for (let i = 0; i < total && performance.now() - t0 < seconds * 1000 && !signal?.aborted; i++) {
    const due = t0 + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    if (running.size >= maxInFlight) {
      late++;
      while (running.size >= maxInFlight) await Promise.race(running);
    }
    const started = performance.now();
    const call = Promise.resolve().then(() => one(i)).then(
      (r) => results.push({ ...r, ms: performance.now() - started }),
      (e) => results.push({ error: String(e?.cause?.message ?? e?.message ?? e), ms: performance.now() - started }),
    ).finally(() => running.delete(call));
    running.add(call);
    if (started - lastTick >= 1000) {
      lastTick = started;
      await tick(started - t0);
    }
  }
  await Promise.all([...running]);
  return { results, late, seconds: (performance.now() - t0) / 1000 };
}

/** Whether this is the whole run (`make reliability`: RELIABILITY=full) or `make test`'s subset. */
export const FULL = process.env.RELIABILITY === "full";

/**
 * Prints a check's figures and appends them, as one JSON line with the time and the run's
 * scale, to target/reliability/results.jsonl (bench/RESULTS.md quotes them).
 */
export function record(check, figures) {
  const line = { check, scale: FULL ? "full" : "subset", at: new Date().toISOString(), ...figures };
  console.log(`# ${check}: ${JSON.stringify(figures)}`);
  const dir = path.join(ROOT, "target/reliability");
  mkdirSync(dir, { recursive: true });
  appendFileSync(path.join(dir, "results.jsonl"), JSON.stringify(line) + "\n");
}

/** Bytes as MiB with one decimal. */
export const mib = (bytes) => Math.round((bytes / MiB) * 10) / 10;
