// V8's inspector of every Worker in a world's workerd (startReliabilityWorld's `inspectorPort`):
// each isolate's heap, and a full garbage collection in each. What the reliability probes read
// beside workerd's RSS, to tell the Workers' own memory from workerd's and its allocator's.
import WebSocket from "ws";

const mib1 = (bytes) => Math.round(bytes / 104857.6) / 10;

/**
 * Sends `method` to every user Worker's isolate at once and resolves to `[name, result]` per
 * isolate (`result` null when it did not answer within `timeoutMs`). V8 runs some methods as a
 * task of the isolate, which workerd runs when the isolate is next entered: `poke()` (optional)
 * sends a request through all of them, once the methods are sent and then every 250 ms until
 * each isolate answered (a method that reached the inspector after a poke's request left an
 * isolate waits for the next one).
 */
export async function inspectAll(port, method, { poke, timeoutMs = 10_000 } = {}) {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()).filter((t) => t.id.startsWith("core:user:"));
  const sent = await Promise.all(targets.map(async ({ id, webSocketDebuggerUrl: url }) => {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
    const answer = new Promise((resolve) => ws.on("message", (m) => {
      const message = JSON.parse(m);
      if (message.id === 1) resolve(message.result ?? null);
    }));
    ws.send(JSON.stringify({ id: 1, method }));
    return { name: id.slice("core:user:".length), ws, answer };
  }));
  let timer;
  const late = new Promise((resolve) => { timer = setTimeout(() => resolve(null), timeoutMs); });
  const all = Promise.all(sent.map(({ answer }) => Promise.race([answer, late])));
  // The poking stops once every isolate answered (or `timeoutMs` passed); a poke that failed
  // ends it too, and is thrown once the answers are in.
  let answered = false;
  const poking = poke ? (async () => {
    while (!answered) {
      await poke();
      await Promise.race([all, new Promise((resolve) => setTimeout(resolve, 250))]);
    }
  })().then(() => null, (e) => e) : null;
  const result = await all;
  answered = true;
  const pokeFailed = await poking;
  clearTimeout(timer);
  for (const { ws } of sent) ws.terminate();
  if (pokeFailed) throw pokeFailed;
  return sent.map(({ name }, k) => [name, result[k]]);
}

/** Each isolate's V8 heap: `{ name: [total MiB, used MiB] }` (Runtime.getHeapUsage). */
export async function heaps(port, options) {
  const usage = await inspectAll(port, "Runtime.getHeapUsage", { timeoutMs: 5_000, ...options });
  return Object.fromEntries(usage.map(([name, r]) => [name, [mib1(r?.totalSize ?? NaN), mib1(r?.usedSize ?? NaN)]]));
}

/** A full garbage collection in every isolate: `{ answered, isolates }`, how many of how many did it. */
export async function collectGarbage(port, options) {
  const done = await inspectAll(port, "HeapProfiler.collectGarbage", options);
  return { answered: done.filter(([, r]) => r !== null).length, isolates: done.length };
}
