// The outbound Worker as deployed (worker.mjs over build/), plus one named entrypoint for the
// reliability harness: `Diagnostics.wasmBytes()`, the size of the Worker's Wasm memory in this
// isolate. Reached only through a service binding the harness's router holds, so nothing is
// added to what a deployed Worker answers (wrangler.toml's main is worker.mjs, not this file).
import { wasm } from "./wasm-memory.mjs";
import { WorkerEntrypoint } from "cloudflare:workers";
import entry from "../../worker.mjs";

export default entry;

export class Diagnostics extends WorkerEntrypoint {
  wasmBytes() {
    return { instances: wasm.instances, bytes: wasm.memory?.buffer.byteLength ?? null };
  }
}
