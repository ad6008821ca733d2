// Local stand-in for a Workers for Platforms dispatch namespace binding (miniflare has none):
// `env.DISPATCHER.get(name, args, { outbound })` returns the customer Worker named `name`.
// In workerd each local customer Worker's outbound is wired to the egress-policy Worker with
// its customer parameters fixed in the config, so this checks that the dispatcher asked for
// exactly those parameters (name and tags) instead of passing them on.
export default function (env) {
  return {
    get(name, _args, options) {
      const worker = env[`CUSTOMER_${name}`];
      if (!worker) throw new Error(`Worker not found: ${name}`);
      const asked = options?.outbound?.customer_name;
      if (asked !== name) {
        throw new Error(`dispatcher asked outbound customer_name=${asked} for Worker ${name}; this local namespace wires ${name}`);
      }
      const tags = JSON.stringify(options?.outbound?.customer_tags);
      const wired = JSON.stringify(JSON.parse(env.WIRED_TAGS ?? "{}")[name] ?? []);
      if (tags !== wired) {
        throw new Error(`dispatcher asked outbound customer_tags=${tags} for Worker ${name}; this local namespace wires ${wired}`);
      }
      return worker;
    },
  };
}
