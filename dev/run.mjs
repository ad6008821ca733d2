// `make dev`: the local Workers for Platforms (dev/world.mjs) with the Worker from build/
// (policy/policy.toml, or the EGRESS_POLICY it was built with), printing what to curl and
// every decision log line as it happens. Ctrl-C stops it.
import { startDevWorld } from "./world.mjs";

const port = Number(process.env.DEV_PORT ?? 8787);
const world = await startDevWorld({
  port,
  onLog(line) {
    const [first, ...rest] = line.message;
    const text = typeof first === "object" && rest.length === 0 ? JSON.stringify(first) : line.message.map(String).join(" ");
    process.stdout.write(`${line.level === "log" ? "decision" : line.level}: ${text}\n`);
  },
});
const base = world.url.href.replace(/\/$/, "");
const q = (u) => encodeURIComponent(u);
console.log(`
egress-policy local Workers for Platforms on ${base}
  dispatcher /<customer>/... -> customer Workers acme (tags: production), globex (tags: partner)
  -> every fetch() through the egress-policy outbound Worker (build/) -> local upstreams

Try:
  blocked   curl -s '${base}/acme/fetch?url=${q("https://malicious.com/payload")}'
  injected  curl -s '${base}/acme/fetch?url=${q("https://api.example.com/v1/users")}'
            (api.example.com here verifies the ES256 JWT with the public key and echoes its claims;
             the Worker's own Authorization header is replaced)
  passed    curl -s '${base}/globex/fetch?url=${q("https://example.org/hello?x=1")}'
  also      curl -s '${base}/globex/fetch?url=${q("http://169.254.169.254/latest/meta-data")}'

Decision log lines follow (JSON, as Workers Logs / Logpush would get them). Ctrl-C to stop.
`);

let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    await world.dispose();
    process.exit(0);
  });
}
