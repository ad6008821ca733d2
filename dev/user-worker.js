// A sample customer Worker for `make dev`: GET /fetch?url=<url> makes that fetch() (which the
// platform sends through the egress-policy outbound Worker) and reports what came back.
// It also sends its own Authorization header, to show that an injected credential replaces it.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const target = url.searchParams.get("url");
    if (url.pathname !== "/fetch" || !target) {
      return new Response(`${env.CUSTOMER}'s Worker: GET /fetch?url=<url>\n`, { status: 404 });
    }
    const res = await fetch(target, { headers: { authorization: `Bearer ${env.CUSTOMER}-made-this-up` } });
    const body = await res.text();
    return new Response(`${env.CUSTOMER}'s Worker fetched ${target}\n-> ${res.status} ${res.headers.get("content-type") ?? ""}\n${body}\n`, {
      headers: { "content-type": "text/plain; charset=utf-8" },
    });
  },
};
