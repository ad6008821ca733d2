// A test-only entry module for the outbound Worker (tests/reliability): the deployed entry
// (worker.mjs, the same build and Wasm) behind two things workerd cannot give a test otherwise:
//   - many customers through one isolate: a request carrying `x-relay-customer` is handed to
//     the Worker with `ctx.props` naming that customer (locally the customer arrives as props,
//     fixed per binding; a dispatch namespace gives each customer its own parameters), the
//     header removed first;
//   - the Worker's Wasm memory: a fetch of `https://relay.probe/wasm-memory` is answered here
//     with the size of the Wasm instance's memory (captured by ./wasm-capture.mjs, which runs
//     before the Worker's module instantiates its Wasm).
// Nothing of this is in the Worker: it runs exactly as deployed behind this wrapper.
import { memories } from "./wasm-capture.mjs";
import worker from "../../worker.mjs";

export default {
  fetch(request, env, ctx) {
    const url = new URL(request.url);
    if (url.hostname === "relay.probe") {
      return Response.json({ wasmMemoryBytes: memories.map((m) => m.buffer.byteLength) });
    }
    const customer = request.headers.get("x-relay-customer");
    if (customer === null) return worker.fetch(request, env, ctx);
    const headers = new Headers(request.headers);
    headers.delete("x-relay-customer");
    const props = { customer_name: customer, customer_tags: [] };
    const relayed = {
      props,
      waitUntil: (promise) => ctx.waitUntil(promise),
      passThroughOnException: () => ctx.passThroughOnException(),
    };
    return worker.fetch(new Request(request, { headers }), env, relayed);
  },
};
