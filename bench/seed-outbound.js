// Copied verbatim (below this header) from the runnable copy of the reference outbound Worker
// in Cloudflare's Workers for Platforms documentation ("Outbound Workers" example). Used by
// the benchmarks only (bench/workload.mjs), as the JS peer to measure egress-policy against on
// the same workload.
//
// The reference outbound Worker from Cloudflare's Workers for Platforms documentation, made
// runnable: a peer to measure the Rust Worker against, side by side, on the same workload.
// Block list: the binding BLOCKED (comma-separated domains), matched the documented way
// (substring `includes`, which also blocks look-alikes such as `notmalicious.com`).
// Auth: requests to INJECT_HOST get `Authorization: Bearer <HS256 JWT>` signed with JWT_SECRET
// via WebCrypto; one token is minted per request, as in the documentation's example.
const enc = new TextEncoder();
const b64url = (bytes) =>
  btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

// Exported (the only change to the documented code) so bench/floor-outbound.js mints the same way.
export async function generateJWT(customerName, secret, audience) {
  const now = Math.floor(Date.now() / 1000);
  const header = b64url(enc.encode(JSON.stringify({ alg: "HS256", typ: "JWT" })));
  const payload = b64url(enc.encode(JSON.stringify({ sub: customerName, aud: audience, iat: now, exp: now + 300 })));
  const key = await crypto.subtle.importKey("raw", enc.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  const sig = await crypto.subtle.sign("HMAC", key, enc.encode(`${header}.${payload}`));
  return `${header}.${payload}.${b64url(sig)}`;
}

let blocked = null;
export default {
  async fetch(request, env) {
    const customerName = env.customer_name;
    const url = new URL(request.url);
    blocked ??= (env.BLOCKED || "").split(",").filter(Boolean);

    if (blocked.some((d) => url.hostname.includes(d))) {
      return new Response("Blocked", { status: 403 });
    }
    if (url.hostname === (env.INJECT_HOST || "api.example.com")) {
      const headers = new Headers(request.headers);
      headers.set("Authorization", `Bearer ${await generateJWT(customerName, env.JWT_SECRET || "secret", url.hostname)}`);
      return fetch(new Request(request, { headers }));
    }
    return fetch(request);
  },
};
