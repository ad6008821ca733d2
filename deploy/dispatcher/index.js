// Example dispatch Worker for a Workers for Platforms namespace whose outbound Worker is
// egress-policy. Routes https://<dispatcher>/<customer>/<path> to the customer's Worker (the
// script named <customer> in the namespace) and names that customer to the outbound Worker:
// every fetch() the customer's Worker makes then reaches egress-policy with
// env.customer_name = <customer>. The customer comes from the routing decision, never from
// anything the caller or the customer's Worker can set.
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
      worker = env.DISPATCHER.get(customer, {}, { outbound: { customer_name: customer } });
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
