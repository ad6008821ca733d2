// Example dispatch Worker for a Workers for Platforms namespace whose outbound Worker is
// egress-policy. Routes https://<dispatcher>/<customer>/<path> to the customer's Worker (the
// script named <customer> in the namespace) and names that customer, and its tags, to the
// outbound Worker: every fetch() the customer's Worker makes then reaches egress-policy with
// env.customer_name = <customer> and env.customer_tags = its tags. Both come from the routing
// decision and the platform's own records, never from anything the caller or the customer's
// Worker can set.
const CUSTOMER = /^[a-z0-9][a-z0-9-]{0,62}$/;

export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, customer, ...rest] = url.pathname.split("/");
    if (!customer || !CUSTOMER.test(customer)) {
      return new Response("usage: /<customer>/<path>\n", { status: 404 });
    }
    let worker;
    try {
      worker = env.DISPATCHER.get(customer, {}, {
        outbound: { customer_name: customer, customer_tags: tagsOf(env, customer) },
      });
    } catch (e) {
      if (String(e?.message).startsWith("Worker not found")) {
        return new Response(`no Worker for customer ${customer}\n`, { status: 404 });
      }
      throw e;
    }
    url.pathname = `/${rest.join("/")}`;
    return worker.fetch(new Request(url, request));
  },
};

// The customer's tags from the platform's records: here the CUSTOMER_TAGS variable, a JSON
// object of customer -> array of tags (wrangler.toml). Always passed, `[]` for a customer
// without tags: a policy that scopes rules by tag refuses every request that comes without
// the parameter (`no_tags`). Passed as stored: a malformed entry is refused by egress-policy
// (`invalid_tags`), never dropped here.
function tagsOf(env, customer) {
  const all = JSON.parse(env.CUSTOMER_TAGS ?? "{}");
  return Object.hasOwn(all, customer) ? all[customer] : [];
}
