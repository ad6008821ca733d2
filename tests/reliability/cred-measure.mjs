// Measuring workerd from outside (tests/reliability): its process, CPU time, memory; whether
// any fragment of a secret appears in some text. Percentiles: bench/workload.mjs `quantile`.
import { readFileSync, readdirSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

/** The pids of workerd processes that are children of this Node process. */
export function workerdPids() {
  const out = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const ppid = Number(stat.slice(close + 2).split(" ")[1]);
      if (ppid === process.pid && comm.startsWith("workerd")) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Starts a world with `start()` and returns it with the pid of the workerd it started. */
export async function withPid(start) {
  const before = new Set(workerdPids());
  const world = await start();
  const fresh = workerdPids().filter((p) => !before.has(p));
  if (fresh.length !== 1) throw new Error(`expected one new workerd, found ${fresh.length}`);
  return { world, pid: fresh[0] };
}

/** CPU time of every thread of `pid`, in nanoseconds (schedstat: ns resolution, unlike stat's ticks). */
export function cpuNs(pid) {
  let total = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      total += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // a thread that ended meanwhile: its time is no longer counted anywhere
    }
  }
  return total;
}

/** VmRSS and VmHWM of `pid`, in bytes. */
export function memory(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb("VmRSS"), hwm: kb("VmHWM") };
}

/**
 * The first `width`-character piece of `secret` found in any of `texts`, or null. The pieces
 * of the texts are hashed (they are small), then the secret is slid over: linear in both.
 */
export function leakedFragment(secret, texts, width = 12) {
  if (secret.length < width) return null;
  const pieces = new Set();
  for (const text of texts) for (let i = 0; i + width <= text.length; i++) pieces.add(text.slice(i, i + width));
  for (let i = 0; i + width <= secret.length; i++) {
    const piece = secret.slice(i, i + width);
    if (pieces.has(piece)) return piece;
  }
  return null;
}

/** Calls `fn()` every `periodMs` until `stop()` is called; returns what it collected. */
export function sampler(fn, periodMs) {
  const samples = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      samples.push(fn());
      await sleep(periodMs);
    }
  })();
  return {
    samples,
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}
