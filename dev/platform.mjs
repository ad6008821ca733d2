// The local Workers for Platforms of `make dev` (and of tests/e2e/dispatcher.test.mjs), in ONE
// workerd (dev/world.mjs):
//   dispatcher (deploy/dispatcher/index.js, the deployable example)  /<customer>/...
//     -> DISPATCHER (dev/dispatch-namespace.js, local stand-in for the namespace binding)
//       -> customer Workers acme and globex (dev/user-worker.js)
//            each fetch() -> ONE egress-policy outbound Worker (build/), customer as props
//              -> "the internet": a Node function; api.example.com is a local upstream that
//                 verifies the JWT with the public key and answers with the verified claims;
//                 any other host gets a local echo (no real network is used).
//   Decision log lines reach Node through the Tail Worker.
import { generateKeyPairSync } from "node:crypto";
import path from "node:path";
import { decodeProtectedHeader, jwtVerify } from "jose";
import { ROOT, startWorld } from "./world.mjs";

const DEV_CUSTOMERS = {
  acme: { customer_name: "acme", customer_tags: ["production"] },
  globex: { customer_name: "globex", customer_tags: ["partner"] },
};
const DEV_TAGS = Object.fromEntries(Object.entries(DEV_CUSTOMERS).map(([name, p]) => [name, p.customer_tags]));

/**
 * Starts the world. `onLog({ level, message })` gets every console.log of the outbound Worker
 * (the decision line objects) and, as level "exception", its exceptions. `workerDir` holds
 * index.js + index_bg.wasm; `secrets` are its secret bindings (generated ES256 key for
 * EXAMPLE_API_SIGNING_KEY when not given, with `verifyKeys` for the upstream). `port` 0 picks
 * a free one. `bundlePublicKey`: the outbound Worker takes up policy bundles signed with that
 * key from the local KV namespace `EGRESS_POLICY_KV` (read every 2 s); the result's `kv`
 * publishes to it.
 */
export async function startDevWorld({ workerDir = "build", port = 8787, host = "127.0.0.1", onLog = () => {}, secrets, verifyKeys, bundlePublicKey } = {}) {
  let keys = { secrets, verifyKeys };
  if (!secrets) {
    const ec = generateKeyPairSync("ec", { namedCurve: "P-256" });
    keys = {
      secrets: { EXAMPLE_API_SIGNING_KEY: ec.privateKey.export({ type: "pkcs8", format: "pem" }) },
      verifyKeys: { "api.example.com": { key: ec.publicKey, alg: "ES256", issuer: "egress.platform.example", audience: "api.example.com" } },
    };
  }

  const internet = async (request) => {
    const url = new URL(request.url);
    const verify = keys.verifyKeys?.[url.hostname];
    if (verify) return verifyingUpstream(request, url, verify);
    return Response.json({
      note: `local stand-in for ${url.hostname} (make dev uses no real network)`,
      method: request.method,
      url: request.url,
      authorization: request.headers.get("authorization"),
    });
  };

  return startWorld({
    port,
    host,
    upstream: internet,
    onEvent(e) {
      for (const line of e.logs) onLog(line);
      for (const x of e.exceptions) onLog({ level: "exception", message: [x] });
    },
    workers: [
      {
        name: "dispatcher",
        modules: true,
        scriptPath: path.join(ROOT, "deploy/dispatcher/index.js"),
        bindings: { CUSTOMER_TAGS: JSON.stringify(DEV_TAGS) },
        wrappedBindings: { DISPATCHER: { scriptName: "dispatch-namespace" } },
      },
      {
        name: "dispatch-namespace",
        modules: true,
        scriptPath: path.join(ROOT, "dev/dispatch-namespace.js"),
        bindings: { WIRED_TAGS: JSON.stringify(DEV_TAGS) },
        serviceBindings: Object.fromEntries(Object.keys(DEV_CUSTOMERS).map((c) => [`CUSTOMER_${c}`, `user-${c}`])),
      },
    ],
    // As a dispatch namespace with `outbound = { service, parameters = [...] }` does: every
    // fetch() goes to the outbound Worker with this customer's parameters.
    users: Object.entries(DEV_CUSTOMERS).map(([name, props]) => ({
      name: `user-${name}`,
      scriptPath: path.join(ROOT, "dev/user-worker.js"),
      bindings: { CUSTOMER: name },
      outbound: { name: "egress-policy", props },
    })),
    outbound: [{
      name: "egress-policy",
      from: workerDir,
      // Locally the customer arrives as ctx.props, which the Worker reads only on this opt-in
      // (as deployed, the dispatch namespace's parameters arrive in env instead).
      bindings: {
        ...keys.secrets,
        EGRESS_IDENTITY_FROM_PROPS: "true",
        ...(bundlePublicKey ? { EGRESS_BUNDLE_PUBLIC_KEY: bundlePublicKey, EGRESS_BUNDLE_ENVIRONMENT: "dev", EGRESS_BUNDLE_REFRESH_SECS: "2" } : {}),
      },
      kv: Boolean(bundlePublicKey),
    }],
  });
}

/** The stand-in for api.example.com: verifies the JWT and answers with its verified claims. */
async function verifyingUpstream(request, url, { key, alg, issuer, audience }) {
  const auth = request.headers.get("authorization") ?? "";
  const token = auth.startsWith("Bearer ") ? auth.slice(7) : null;
  if (!token) return Response.json({ upstream: url.hostname, verified: false, error: "no bearer token" }, { status: 401 });
  try {
    const { payload, protectedHeader } = await jwtVerify(token, key, { algorithms: [alg], issuer, audience });
    return Response.json({ upstream: url.hostname, path: url.pathname, verified: true, header: protectedHeader, claims: payload });
  } catch (e) {
    let header = null;
    try { header = decodeProtectedHeader(token); } catch { /* not a JWT */ }
    return Response.json({ upstream: url.hostname, verified: false, header, error: e.message }, { status: 401 });
  }
}
