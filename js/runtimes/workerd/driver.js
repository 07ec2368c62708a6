// The test's entry point into workerd: forwards to one of the app Workers
// (`endpoint` or `binding`) and dispatches real scheduled and queue events
// to it through its service binding (compatibility flag
// service_binding_extra_handlers, workerd --experimental).
//   GET /fetch/VARIANT?mode=M      a request that runs mode M
//   GET /scheduled/VARIANT         a cron event (the app runs SCHEDULED_MODE)
//   GET /queue/VARIANT?mode=M      a batch of one message {mode: M}
// Answers with the app's response, or the event's outcome as JSON.
export default {
  async fetch(request, env) {
    const url = new URL(request.url);
    const [, kind, variant] = url.pathname.split('/');
    const app = { endpoint: env.APP_ENDPOINT, binding: env.APP_BINDING }[variant];
    if (!app) return new Response(`no app variant ${variant}`, { status: 404 });
    const mode = url.searchParams.get('mode') ?? '';
    switch (kind) {
      case 'fetch':
        return app.fetch(`https://app.example/run?mode=${encodeURIComponent(mode)}`, {
          headers: {
            Authorization: 'Bearer user-secret',
            Cookie: 'session=abc',
            'CF-Connecting-IP': '203.0.113.7',
            'X-Request-Id': 'req-42',
          },
        });
      case 'scheduled':
        return Response.json(await app.scheduled({ cron: '*/5 * * * *', scheduledTime: Date.now() }));
      case 'queue':
        return Response.json(
          await app.queue('jobs', [{ id: 'm1', timestamp: new Date(), body: { mode }, attempts: 1 }]),
        );
      default:
        return new Response(`unknown ${kind}`, { status: 404 });
    }
  },
};
