// Gives build/index.js (worker-build's bundle) a plain module default export:
// `{ fetch(request, env, ctx) }` calling the Rust export, instead of worker-build's
// `new Proxy(class extends WorkerEntrypoint)`.
//
// Why: with the class, workerd constructs a WorkerEntrypoint per request and the Proxy
// wraps it in a second Proxy whose `get` trap runs on every property access; profiled
// (V8 CPU profile via miniflare's inspector) that was the largest single cost of this
// Worker's JS glue. This Worker keeps no per-instance state, and the Wasm glue itself still
// checks for a reset instance on every call, so the plain object loses nothing.
//
// Usage: node scripts/plain-entry.mjs build/index.js (idempotent; fails loudly when the
// bundle's shape is not the one this was written for, so a worker-build change is noticed).
import { readFileSync, writeFileSync } from "node:fs";

const file = process.argv[2];
if (!file) {
  console.error("usage: node scripts/plain-entry.mjs build/index.js");
  process.exit(2);
}
const text = readFileSync(file, "utf8");
const MARK = "__egress_entry";
if (text.includes(MARK)) process.exit(0);

const tail = /export\s*\{([^}]*)\}\s*;?\s*$/.exec(text);
const fail = (why) => {
  console.error(`plain-entry: ${file}: ${why}; worker-build's output changed, update scripts/plain-entry.mjs`);
  process.exit(1);
};
if (!tail) fail("no final export list");
const items = tail[1].split(",").map((s) => s.trim()).filter(Boolean);
const defaults = items.filter((s) => /\sas\s+default$/.test(s));
if (defaults.length !== 1) fail("no single `X as default` export");
const entry = defaults[0].split(/\s+as\s+/)[0];
// worker-build's handler: Entrypoint.prototype.fetch = function (arg) { exports.fetch(arg, this.env, this.ctx) }.
if (!/\.prototype\.fetch\s*=\s*function/.test(text)) fail("no Entrypoint.prototype.fetch handler");
const rest = items.filter((s) => s !== defaults[0]);
const out =
  text.slice(0, tail.index) +
  `var ${MARK}={fetch(request,env,ctx){return ${entry}.prototype.fetch.call({env,ctx},request)}};\n` +
  `export{${[...rest, `${MARK} as default`].join(",")}};\n`;
writeFileSync(file, out);
