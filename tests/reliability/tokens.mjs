// The tokens that reached the upstream, for the reliability checks that mint (mint-cost,
// customers): each request's credential header kept by path, verified afterwards as the e2e
// harness's upstream verifies (tests/e2e/harness.mjs `verifyArrival`, JWT_HOSTS).
import { JWT_HOSTS, verifyArrival } from "../e2e/harness.mjs";

/**
 * `inspect` for startReliabilityWorld; `paths()` every path seen; `verify(path, keys, extra)` resolves to the verified
 * payload of the token that went with `path` (or throws); `extra` adds hosts to JWT_HOSTS.
 */
export function tokenLog() {
  const byPath = new Map();
  return {
    inspect(req) {
      const url = new URL(req.url, `http://${req.headers.host}`);
      byPath.set(url.pathname, { host: url.hostname, headers: req.headers });
    },
    paths: () => byPath.keys(),
    async verify(path, keys, extra = {}) {
      const arrival = byPath.get(path);
      if (!arrival) throw new Error(`${path}: nothing reached the upstream`);
      const spec = { ...JWT_HOSTS, ...extra }[arrival.host];
      const result = await verifyArrival(arrival, arrival.host, spec, keys);
      if (!result.ok) throw new Error(`${path}: ${result.error}`);
      return result.payload;
    },
  };
}
