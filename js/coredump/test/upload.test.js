import assert from 'node:assert/strict';
import process from 'node:process';
import { test } from 'node:test';

import { extractCoredump, recordCoredump } from '../index.js';
import {
  BUILD_ID_HEX,
  closedPort,
  errors,
  fakeDump,
  fakeFetcher,
  instantiate,
  instrumentedModule,
  plainModule,
  startCollector,
  thrown,
} from './helpers.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** An instance that just trapped and holds `dump`. */
async function trapped(dump = fakeDump()) {
  const { instance, module } = await instantiate(instrumentedModule({ dump }));
  const error = thrown(() => instance.exports.crash());
  assert.ok(error instanceof WebAssembly.RuntimeError);
  return { instance, module, error, dump };
}

test('endpoint: POSTs multipart {dump, metadata} to {url}/api/v1/dumps with the token and an Idempotency-Key', async () => {
  const collector = await startCollector();
  try {
    const { instance, module, error, dump } = await trapped(fakeDump('endpoint'));
    const { list, onError } = errors();
    const id = await recordCoredump({
      instance,
      module,
      error,
      collector: { url: `${collector.url}//`, token: 'ingest-1' },
      service: 'checkout',
      version: '1.4.2',
      environment: 'production',
      tags: { region: 'eu' },
      context: { release: 'r7', build: { sha: 'abc123' } },
      onError,
    });
    assert.equal(id, 'dump-0');
    assert.deepEqual(list, []);
    assert.equal(collector.requests.length, 1);
    const [request] = collector.requests;
    assert.equal(request.method, 'POST');
    assert.equal(request.path, '/api/v1/dumps');
    assert.equal(request.headers.authorization, 'Bearer ingest-1');
    assert.match(request.headers['idempotency-key'], UUID);
    assert.match(request.headers['content-type'], /^multipart\/form-data; boundary=/);

    const upload = await request.upload();
    assert.deepEqual(upload.dump, dump);
    assert.equal(upload.dumpPart.type, 'application/wasm');
    assert.equal(upload.dumpPart.name, 'core.wasm');
    assert.equal(upload.metadataPart.type, 'application/json');
    assert.deepEqual(upload.metadata, {
      release: 'r7',
      build: { sha: 'abc123' },
      service: 'checkout',
      version: '1.4.2',
      environment: 'production',
      tags: { region: 'eu' },
      modules: [{ index: 0, name: 'module.wasm', build_id: BUILD_ID_HEX }],
      error: { name: 'RuntimeError', message: 'unreachable' },
      trigger: 'manual',
      runtime: `node ${process.version}`,
    });
  } finally {
    await collector.close();
  }
});

test('endpoint without a token sends no Authorization; moduleName names the module hint', async () => {
  const collector = await startCollector();
  try {
    const { instance, module } = await trapped();
    assert.equal(await recordCoredump({ instance, module, moduleName: 'app.wasm', collector: { url: collector.url } }), 'dump-0');
    const [request] = collector.requests;
    assert.equal(request.headers.authorization, undefined);
    const { metadata } = await request.upload();
    assert.deepEqual(metadata.modules, [{ index: 0, name: 'app.wasm', build_id: BUILD_ID_HEX }]);
    assert.equal(metadata.error, undefined, 'no error given, none sent');
  } finally {
    await collector.close();
  }
});

test('Fetcher (service binding): fetch() gets a Request for https://collector.internal/api/v1/dumps, no token', async () => {
  const { instance, dump } = await trapped(fakeDump('bound'));
  const service = fakeFetcher();
  assert.equal(await recordCoredump({ instance, collector: service, service: 'edge' }), 'bound-0');
  assert.equal(service.calls.length, 1);
  const [call] = service.calls;
  assert.ok(call.input instanceof Request, 'called with a Request');
  assert.equal(call.url, 'https://collector.internal/api/v1/dumps');
  assert.equal(call.method, 'POST');
  assert.equal(call.headers.authorization, undefined);
  assert.match(call.headers['idempotency-key'], UUID);
  const upload = await call.upload();
  assert.deepEqual(upload.dump, dump);
  assert.equal(upload.metadata.service, 'edge');
  assert.equal(upload.metadata.modules, undefined, 'no module given, no build id hint');
});

test('CollectorBinding: the service is called with the token as a Bearer header', async () => {
  const { instance } = await trapped();
  const service = fakeFetcher();
  const id = await recordCoredump({ instance, collector: { service, token: 'bound-token' } });
  assert.equal(id, 'bound-0');
  assert.equal(service.calls[0].url, 'https://collector.internal/api/v1/dumps');
  assert.equal(service.calls[0].headers.authorization, 'Bearer bound-token');
});

test('scrubbing: sensitive headers, client-IP headers, query parameters and context fields', async () => {
  const service = fakeFetcher();
  const { instance } = await trapped();
  const request = new Request('https://app.example/pay?card=1&token=abc&x=2&Access_Token=at1&sig=s1#frag', {
    method: 'POST',
    headers: {
      Authorization: 'Bearer s3cr3t',
      Cookie: 'sid=c00kie',
      'X-Api-Key': 'k3y',
      'X-CSRF-Token': 'csrf1',
      'User-Agent': 'test-agent',
      Accept: 'text/html',
      'CF-Connecting-IP': '203.0.113.7',
      'X-Forwarded-For': '203.0.113.8, 10.0.0.1',
      'X-Real-IP': '203.0.113.9',
      'True-Client-IP': '203.0.113.10',
    },
  });
  await recordCoredump({
    instance,
    collector: service,
    request,
    context: {
      password: 'hunter2',
      nested: { apiKey: 'k3y2', ok: 'visible' },
      header_list: [['set-cookie', 'c2'], ['accept', '*/*']],
      pairs: [{ name: 'Proxy-Authorization', value: 'Basic pa55' }],
      callback: { url: '/cb?Session-Id=sess1&page=3' },
    },
  });
  const { metadataPart, metadata } = await service.calls[0].upload();
  const text = await metadataPart.text();
  for (const secret of ['s3cr3t', 'c00kie', 'k3y', 'csrf1', '203.0.113', 'abc', 'at1', 's1#', 'hunter2', 'k3y2', 'c2', 'pa55', 'sess1']) {
    assert.ok(!text.includes(secret), `${secret} leaked: ${text}`);
  }
  assert.equal(metadata.request.method, 'POST');
  assert.equal(metadata.request.url, 'https://app.example/pay?card=1&token=[scrubbed]&x=2&Access_Token=[scrubbed]&sig=[scrubbed]#frag');
  assert.deepEqual(metadata.request.headers, {
    accept: 'text/html',
    authorization: '[scrubbed]',
    'cf-connecting-ip': '[scrubbed]',
    cookie: '[scrubbed]',
    'true-client-ip': '[scrubbed]',
    'user-agent': 'test-agent',
    'x-api-key': '[scrubbed]',
    'x-csrf-token': '[scrubbed]',
    'x-forwarded-for': '[scrubbed]',
    'x-real-ip': '[scrubbed]',
  });
  assert.equal(metadata.password, '[scrubbed]');
  assert.deepEqual(metadata.nested, { apiKey: '[scrubbed]', ok: 'visible' });
  assert.deepEqual(metadata.header_list, [['set-cookie', '[scrubbed]'], ['accept', '*/*']]);
  assert.deepEqual(metadata.pairs, [{ name: 'Proxy-Authorization', value: '[scrubbed]' }]);
  assert.equal(metadata.callback.url, '/cb?Session-Id=[scrubbed]&page=3');
});

test('context that is not plain JSON is sent safely (BigInt, cycles, functions)', async () => {
  const service = fakeFetcher();
  const { instance } = await trapped();
  const cyclic = { big: 12n, fn() {}, when: new Date(0) };
  cyclic.self = cyclic;
  assert.equal(await recordCoredump({ instance, collector: service, context: { cyclic } }), 'bound-0');
  const { metadata } = await service.calls[0].upload();
  assert.deepEqual(metadata.cyclic, { big: '12', when: '1970-01-01T00:00:00.000Z', self: '[circular]' });
});

test('service/version/environment are cut to what the collector accepts (200 bytes, no control characters)', async () => {
  const service = fakeFetcher();
  const { instance } = await trapped();
  await recordCoredump({ instance, collector: service, service: 'a\nb', version: 'é'.repeat(150) });
  const { metadata } = await service.calls[0].upload();
  assert.equal(metadata.service, 'a b');
  assert.equal(metadata.version, 'é'.repeat(100));
});

test('retries a 503 then succeeds on 201, with the same Idempotency-Key on both attempts', async () => {
  const collector = await startCollector((request, n) =>
    n === 0 ? { status: 503, body: { error: 'busy' } } : { status: 201, body: { id: 'after-retry' } },
  );
  try {
    const { instance } = await trapped();
    const { list, onError } = errors();
    const started = Date.now();
    assert.equal(await recordCoredump({ instance, collector: { url: collector.url, token: 't' }, onError }), 'after-retry');
    assert.ok(Date.now() - started >= 190, 'waited before retrying');
    assert.deepEqual(list, []);
    assert.equal(collector.requests.length, 2);
    const [a, b] = collector.requests;
    assert.match(a.headers['idempotency-key'], UUID);
    assert.equal(a.headers['idempotency-key'], b.headers['idempotency-key']);
    assert.deepEqual((await a.upload()).dump, (await b.upload()).dump, 'the same body again');
  } finally {
    await collector.close();
  }
});

test('retries a 429 too', async () => {
  const collector = await startCollector((request, n) =>
    n === 0 ? { status: 429, body: { error: 'rate limit exceeded for this token' } } : { status: 200, body: { id: 'ok' } },
  );
  try {
    const { instance } = await trapped();
    assert.equal(await recordCoredump({ instance, collector: { url: collector.url } }), 'ok');
    assert.equal(collector.requests.length, 2);
  } finally {
    await collector.close();
  }
});

test('gives up after retries: resolves null and onError gets the status and the collector message', async () => {
  const collector = await startCollector(() => ({ status: 503, body: { error: 'storage unavailable' } }));
  try {
    const { instance } = await trapped();
    const { list, onError } = errors();
    assert.equal(await recordCoredump({ instance, collector: { url: collector.url }, retries: 1, onError }), null);
    assert.equal(collector.requests.length, 2);
    assert.equal(list.length, 1);
    assert.ok(list[0] instanceof Error);
    assert.equal(list[0].status, 503);
    assert.match(list[0].message, /503/);
    assert.match(list[0].message, /storage unavailable/);
  } finally {
    await collector.close();
  }
});

test('a 4xx other than 429 is not retried', async () => {
  const collector = await startCollector(() => ({ status: 403, body: { error: 'this token is not valid for this endpoint' } }));
  try {
    const { instance } = await trapped();
    const { list, onError } = errors();
    assert.equal(await recordCoredump({ instance, collector: { url: collector.url, token: 'wrong' }, onError }), null);
    assert.equal(collector.requests.length, 1);
    assert.equal(list.length, 1);
    assert.match(list[0].message, /403: this token is not valid for this endpoint/);
  } finally {
    await collector.close();
  }
});

test('a 2xx reply without a dump id is a failure', async () => {
  const collector = await startCollector(() => ({ status: 200, body: '<html>proxy</html>' }));
  try {
    const { instance } = await trapped();
    const { list, onError } = errors();
    assert.equal(await recordCoredump({ instance, collector: { url: collector.url }, onError }), null);
    assert.equal(list.length, 1);
    assert.match(list[0].message, /without a dump id/);
  } finally {
    await collector.close();
  }
});

test('collector not listening: resolves null and reports the network error', async () => {
  const port = await closedPort();
  const { instance } = await trapped();
  const { list, onError } = errors();
  assert.equal(await recordCoredump({ instance, collector: { url: `http://127.0.0.1:${port}` }, retries: 0, onError }), null);
  assert.equal(list.length, 1);
  assert.match(list[0].message, /cannot reach the collector/);
});

test('network errors are retried', async () => {
  let calls = 0;
  const flaky = {
    async fetch() {
      calls += 1;
      if (calls === 1) throw new TypeError('fetch failed');
      return new Response('{"id":"second"}', { status: 201 });
    },
  };
  const { instance } = await trapped();
  assert.equal(await recordCoredump({ instance, collector: flaky }), 'second');
  assert.equal(calls, 2);
});

test('collector hanging: resolves null after the per-attempt timeout', async () => {
  const collector = await startCollector(() => 'hang');
  try {
    const { instance } = await trapped();
    const { list, onError } = errors();
    const started = Date.now();
    assert.equal(await recordCoredump({ instance, collector: { url: collector.url }, timeoutMs: 150, retries: 1, onError }), null);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 2 * 150 + 200 - 20, `two attempts and a backoff (${elapsed} ms)`);
    assert.ok(elapsed < 3000, `gave up in time (${elapsed} ms)`);
    assert.equal(collector.requests.length, 2);
    assert.equal(list.length, 1);
    assert.match(list[0].message, /no reply within 150 ms/);
  } finally {
    await collector.close();
  }
});

test('a Fetcher that ignores the abort signal still times out', async () => {
  let signal;
  const stuck = {
    fetch(request) {
      signal = request.signal;
      return new Promise(() => {});
    },
  };
  const { instance } = await trapped();
  const { list, onError } = errors();
  assert.equal(await recordCoredump({ instance, collector: stuck, timeoutMs: 50, retries: 0, onError }), null);
  assert.equal(list.length, 1);
  assert.match(list[0].message, /no reply within 50 ms/);
  assert.equal(signal.aborted, true, 'the request was aborted');
});

test('an onError that throws is contained', async () => {
  const { instance } = await trapped();
  const service = { fetch: async () => new Response('{"error":"nope"}', { status: 500 }) };
  let called = 0;
  const result = recordCoredump({
    instance,
    collector: service,
    retries: 0,
    onError() {
      called += 1;
      throw new Error('handler exploded');
    },
  });
  assert.ok(result instanceof Promise);
  assert.equal(await result, null);
  assert.equal(called, 1);
});

test('the default onError warns on the console with a "coredump:" prefix', async (t) => {
  const warn = t.mock.method(console, 'warn', () => {});
  const { instance } = await trapped();
  const service = { fetch: async () => new Response('{"error":"broken"}', { status: 500 }) };
  assert.equal(await recordCoredump({ instance, collector: service, retries: 0 }), null);
  assert.equal(warn.mock.callCount(), 1);
  assert.match(String(warn.mock.calls[0].arguments[0]), /^coredump: .*500: broken/);
});

test('no dump: resolves null without a request or an error report', async () => {
  const service = fakeFetcher();
  const { list, onError } = errors();
  const { instance } = await instantiate(instrumentedModule());
  assert.equal(await recordCoredump({ instance, collector: service, onError }), null);
  const plain = await instantiate(plainModule());
  thrown(() => plain.instance.exports.crash());
  assert.equal(await recordCoredump({ instance: plain.instance, collector: service, onError }), null);
  assert.equal(service.calls.length, 0);
  assert.deepEqual(list, []);
});

test('an uninstrumented module is reported once through onError', async () => {
  const service = fakeFetcher();
  const { list, onError } = errors();
  const { instance, module } = await instantiate(plainModule());
  thrown(() => instance.exports.crash());
  assert.equal(await recordCoredump({ instance, module, collector: service, onError }), null);
  assert.equal(await recordCoredump({ instance, module, collector: service, onError }), null);
  assert.equal(list.length, 1);
  assert.match(list[0].message, /coredump-rewrite/);
  assert.equal(service.calls.length, 0);
});

test('bad options never throw or reject', async () => {
  const { list, onError } = errors();
  assert.equal(await recordCoredump(undefined), null);
  const { instance } = await trapped();
  assert.equal(await recordCoredump({ instance, collector: null, onError }), null);
  assert.equal(list.length, 1);
  assert.match(list[0].message, /collector/);
  const hostile = { get url() { throw new Error('getter'); } };
  const again = await trapped();
  assert.equal(await recordCoredump({ instance: again.instance, collector: hostile, onError }), null);
  assert.equal(list.length, 2);
});

test('an unusable collector is reported without consuming the dump', async () => {
  const { instance, dump } = await trapped();
  const { list, onError } = errors();
  assert.equal(await recordCoredump({ instance, collector: { url: 'not a url' }, onError }), null);
  assert.equal(await recordCoredump({ instance, collector: {}, onError }), null);
  assert.equal(list.length, 2);
  assert.match(list[0].message, /not an absolute URL/);
  assert.deepEqual(extractCoredump(instance), dump, 'still there for a usable collector');
  const service = fakeFetcher();
  assert.equal(await recordCoredump({ instance, collector: service }), 'bound-0');
  assert.equal(extractCoredump(instance), null);
});

test('a failed upload still consumes the dump (it is not sent twice)', async () => {
  const { instance } = await trapped();
  const failing = { fetch: async () => new Response('{"error":"bad"}', { status: 400 }) };
  assert.equal(await recordCoredump({ instance, collector: failing, onError() {} }), null);
  assert.equal(extractCoredump(instance), null);
});
