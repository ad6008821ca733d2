// The tokens that reach the upstream, for the reliability checks that mint (mint-cost,
// customers): each request's token verified as it arrives (a long run may outlive a token),
// as the e2e harness's upstream verifies (tests/e2e/harness.mjs `verifyArrival`, JWT_HOSTS).
import { JWT_HOSTS, verifyArrival } from "../e2e/harness.mjs";

/**
 * `inspect` for startReliabilityWorld (set `keys`, the verifying keys by secret name, before the
 * first request); `paths()` the paths that carried a token; `verify(path)` resolves to the
 * verified payload of the token that came with `path` (or throws). `extraHosts` adds hosts to
 * JWT_HOSTS.
 */
export function tokenLog(extraHosts = {}) {
  const hosts = { ...JWT_HOSTS, ...extraHosts };
  const byPath = new Map();
  const log = {
    keys: null,
    inspect(req) {
      const url = new URL(req.url, `http://${req.headers.host}`);
      const spec = hosts[url.hostname];
      if (spec) byPath.set(url.pathname, verifyArrival({ headers: req.headers }, url.hostname, spec, log.keys));
    },
    paths: () => byPath.keys(),
    async verify(path) {
      const verified = byPath.get(path);
      if (!verified) throw new Error(`${path}: no token reached the upstream`);
      const result = await verified;
      if (!result.ok) throw new Error(`${path}: ${result.error}`);
      return result.payload;
    },
  };
  return log;
}
