import assert from 'node:assert/strict';
import { test } from 'node:test';

import { extractCoredump, withCoredumps } from '../index.js';
import { BUILD_ID_HEX, errors, fakeDump, fakeFetcher, instantiate, instrumentedModule, plainModule } from './helpers.js';

/** A ctx whose waitUntil keeps the promises it was given. */
function fakeCtx() {
  const promises = [];
  return { promises, waitUntil: (p) => promises.push(p), passThroughOnException() {} };
}

async function setup(dump = fakeDump('worker')) {
  const { instance, module } = await instantiate(instrumentedModule({ dump }));
  const service = fakeFetcher();
  return { instance, module, service, dump };
}

test('fetch: rethrows the same trap, records it through ctx.waitUntil with the scrubbed request', async () => {
  const { instance, module, service, dump } = await setup();
  const recordedCalls = [];
  let trap;
  const worker = withCoredumps(
    {
      async fetch() {
        try {
          instance.exports.crash();
        } catch (error) {
          trap = error;
          throw error;
        }
      },
    },
    {
      instance,
      module,
      collector: (env) => ({ service: env.COLLECTOR, token: env.TOKEN }),
      service: 'checkout',
      version: '2.0.0',
      environment: 'staging',
      moduleName: 'app.wasm',
      tags: { colo: 'AMS' },
      onRecorded: (id, error) => recordedCalls.push([id, error]),
    },
  );
  const request = new Request('https://shop.example/cart?id=7&token=tok', {
    headers: { 'User-Agent': 'ua', Cookie: 'c=1', 'CF-Connecting-IP': '198.51.100.1' },
  });
  const ctx = fakeCtx();
  const env = { COLLECTOR: service, TOKEN: 'env-token' };
  await assert.rejects(worker.fetch(request, env, ctx), (error) => error === trap);
  assert.ok(trap instanceof WebAssembly.RuntimeError);
  assert.equal(ctx.promises.length, 1, 'the upload went through waitUntil');
  assert.equal(await ctx.promises[0], 'bound-0');
  assert.deepEqual(recordedCalls, [['bound-0', trap]]);

  const [call] = service.calls;
  assert.equal(call.headers.authorization, 'Bearer env-token');
  const upload = await call.upload();
  assert.deepEqual(upload.dump, dump);
  const { metadata } = upload;
  assert.equal(metadata.trigger, 'fetch');
  assert.equal(metadata.service, 'checkout');
  assert.equal(metadata.version, '2.0.0');
  assert.equal(metadata.environment, 'staging');
  assert.deepEqual(metadata.tags, { colo: 'AMS' });
  assert.deepEqual(metadata.modules, [{ index: 0, name: 'app.wasm', build_id: BUILD_ID_HEX }]);
  assert.deepEqual(metadata.error, { name: 'RuntimeError', message: 'unreachable' });
  assert.deepEqual(metadata.request, {
    method: 'GET',
    url: 'https://shop.example/cart?id=7&token=[scrubbed]',
    headers: { 'cf-connecting-ip': '[scrubbed]', cookie: '[scrubbed]', 'user-agent': 'ua' },
  });
  assert.equal(extractCoredump(instance), null, 'the dump was consumed');
});

/** A synchronous fetch handler whose module traps; `trap` is the error it threw. */
function syncTrappingHandler(instance) {
  const handler = {
    trap: undefined,
    fetch() {
      try {
        instance.exports.crash();
      } catch (error) {
        handler.trap = error;
        throw error;
      }
    },
  };
  return handler;
}

test('fetch without ctx.waitUntil: the upload finishes before the original error is rethrown', async () => {
  const { instance, service } = await setup();
  const handler = syncTrappingHandler(instance);
  const worker = withCoredumps(handler, { instance, collector: service });
  const result = worker.fetch(new Request('https://a.example/'), {}, {});
  assert.ok(result instanceof Promise, 'a synchronous throw becomes a rejection after the upload');
  await assert.rejects(result, (error) => {
    assert.equal(service.calls.length, 1, 'uploaded before the rejection');
    return error === handler.trap;
  });
});

test('waitUntil: false awaits the upload even when ctx.waitUntil exists', async () => {
  const { instance, service } = await setup();
  const worker = withCoredumps({ fetch: async () => instance.exports.crash() }, { instance, collector: service, waitUntil: false });
  const ctx = fakeCtx();
  await assert.rejects(worker.fetch(new Request('https://a.example/'), {}, ctx), WebAssembly.RuntimeError);
  assert.equal(ctx.promises.length, 0);
  assert.equal(service.calls.length, 1);
});

test('a synchronous trap with ctx.waitUntil is rethrown synchronously', async () => {
  const { instance, service } = await setup();
  const handler = syncTrappingHandler(instance);
  const worker = withCoredumps(handler, { instance, collector: service });
  const ctx = fakeCtx();
  assert.throws(() => worker.fetch(new Request('https://a.example/'), {}, ctx), (error) => error === handler.trap);
  assert.equal(await ctx.promises[0], 'bound-0');
});

test('scheduled: records with trigger "scheduled" and the cron and scheduledTime', async () => {
  const { instance, service } = await setup();
  const worker = withCoredumps({ scheduled: async () => instance.exports.crash() }, { instance, collector: service });
  const ctx = fakeCtx();
  const controller = { cron: '*/5 * * * *', scheduledTime: 1700000000000, noRetry() {} };
  await assert.rejects(worker.scheduled(controller, {}, ctx), WebAssembly.RuntimeError);
  assert.equal(await ctx.promises[0], 'bound-0');
  const { metadata } = await service.calls[0].upload();
  assert.equal(metadata.trigger, 'scheduled');
  assert.deepEqual(metadata.scheduled, { cron: '*/5 * * * *', scheduledTime: 1700000000000 });
  assert.equal(metadata.request, undefined);
});

test('queue: records with trigger "queue", the queue name and the message count', async () => {
  const { instance, service } = await setup();
  const worker = withCoredumps({ queue: async () => instance.exports.crash() }, { instance, collector: service });
  const ctx = fakeCtx();
  const batch = { queue: 'orders', messages: [{ id: 'a' }, { id: 'b' }, { id: 'c' }] };
  await assert.rejects(worker.queue(batch, {}, ctx), WebAssembly.RuntimeError);
  assert.equal(await ctx.promises[0], 'bound-0');
  const { metadata } = await service.calls[0].upload();
  assert.equal(metadata.trigger, 'queue');
  assert.deepEqual(metadata.queue, { name: 'orders', messages: 3 });
});

test('errors that are not traps are rethrown untouched and not recorded', async () => {
  const { instance, service } = await setup();
  const recordedCalls = [];
  const failure = new TypeError('not a trap');
  const rangeError = new RangeError('a plain RangeError');
  const worker = withCoredumps(
    {
      async fetch(request) {
        throw request.url.endsWith('/range') ? rangeError : failure;
      },
      scheduled() {
        throw 'a string';
      },
    },
    { instance, collector: service, onRecorded: (...args) => recordedCalls.push(args) },
  );
  const ctx = fakeCtx();
  await assert.rejects(worker.fetch(new Request('https://a.example/'), {}, ctx), (e) => e === failure);
  await assert.rejects(worker.fetch(new Request('https://a.example/range'), {}, ctx), (e) => e === rangeError);
  assert.throws(() => worker.scheduled({ cron: '* * * * *' }, {}, ctx), (e) => e === 'a string');
  assert.equal(ctx.promises.length, 0);
  assert.equal(service.calls.length, 0);
  assert.deepEqual(recordedCalls, []);
});

test('stack exhaustion (RangeError) is recorded when the instance wrote a dump, not otherwise', async () => {
  const { instance, service } = await setup();
  const worker = withCoredumps({ fetch: async () => instance.exports.overflow() }, { instance, collector: service });
  const ctx = fakeCtx();
  await assert.rejects(worker.fetch(new Request('https://a.example/'), {}, ctx), RangeError);
  assert.equal(await ctx.promises[0], 'bound-0');
  assert.equal((await service.calls[0].upload()).metadata.error.name, 'RangeError');

  const plain = await instantiate(plainModule());
  const plainService = fakeFetcher();
  const plainWorker = withCoredumps({ fetch: async () => plain.instance.exports.overflow() }, {
    instance: plain.instance,
    collector: plainService,
  });
  const ctx2 = fakeCtx();
  await assert.rejects(plainWorker.fetch(new Request('https://a.example/'), {}, ctx2), RangeError);
  assert.equal(ctx2.promises.length, 0);
  assert.equal(plainService.calls.length, 0);
});

test('returned values pass through unchanged, sync and async; other properties pass through', async () => {
  const { instance, service } = await setup();
  const response = new Response('hello');
  const tail = () => 'tail';
  const handler = {
    label: 'worker',
    helper() {
      return instance.exports.add(40, 2);
    },
    fetch(request) {
      return request.url.endsWith('/sync') ? response : Promise.resolve(this.helper());
    },
    async scheduled() {
      return undefined;
    },
    queue: () => 'queued',
    tail,
  };
  const worker = withCoredumps(handler, { instance, collector: service });
  assert.equal(worker.fetch(new Request('https://a.example/sync'), {}, fakeCtx()), response);
  assert.equal(await worker.fetch(new Request('https://a.example/async'), {}, fakeCtx()), 42);
  assert.equal(await worker.scheduled({}, {}, fakeCtx()), undefined);
  assert.equal(worker.queue({ messages: [] }, {}, fakeCtx()), 'queued');
  assert.equal(worker.label, 'worker');
  assert.equal(worker.tail, tail);
  assert.equal(worker.helper, handler.helper);
  assert.notEqual(worker.fetch, handler.fetch);
  assert.equal(handler.fetch.name, 'fetch', 'the handler itself is not modified');
  assert.deepEqual(Object.keys(worker), Object.keys(handler));
  assert.equal(service.calls.length, 0);
});

test('nested wrappers record a trap once', async () => {
  const { instance, service } = await setup();
  const inner = withCoredumps({ fetch: async () => instance.exports.crash() }, { instance, collector: service });
  const outer = withCoredumps(inner, { instance, collector: service });
  const ctx = fakeCtx();
  await assert.rejects(outer.fetch(new Request('https://a.example/'), {}, ctx), WebAssembly.RuntimeError);
  assert.equal(ctx.promises.length, 1);
  await Promise.all(ctx.promises);
  assert.equal(service.calls.length, 1);
});

test('a lazily created instance (a function) and a failing collector still rethrow the original error', async () => {
  const { instance } = await setup();
  let current = null;
  const { list, onError } = errors();
  const recordedCalls = [];
  const broken = { fetch: async () => new Response('{"error":"down"}', { status: 400 }) };
  const worker = withCoredumps(
    {
      async fetch() {
        current = instance;
        instance.exports.crash();
      },
    },
    { instance: () => current, collector: broken, onError, onRecorded: (id) => recordedCalls.push(id) },
  );
  const ctx = fakeCtx();
  await assert.rejects(worker.fetch(new Request('https://a.example/'), {}, ctx), WebAssembly.RuntimeError);
  assert.equal(await ctx.promises[0], null);
  assert.equal(list.length, 1);
  assert.match(list[0].message, /400: down/);
  assert.deepEqual(recordedCalls, [null]);
});

test('throwing callbacks (collector factory, instance getter, onRecorded, onError, waitUntil) never replace the original error', async () => {
  const { instance } = await setup();
  let trap;
  const handler = {
    async fetch() {
      try {
        instance.exports.crash();
      } catch (error) {
        trap = error;
        throw error;
      }
    },
  };
  const explode = () => {
    throw new Error('callback exploded');
  };
  const a = withCoredumps(handler, { instance, collector: explode, onError: explode, onRecorded: explode });
  const ctx = fakeCtx();
  await assert.rejects(a.fetch(new Request('https://a.example/'), {}, ctx), (e) => e === trap);
  assert.equal(await ctx.promises[0], null);

  const b = withCoredumps(handler, { instance: explode, collector: fakeFetcher() });
  await assert.rejects(b.fetch(new Request('https://a.example/'), {}, fakeCtx()), (e) => e === trap);

  const service = fakeFetcher();
  const c = withCoredumps(handler, { instance, collector: service });
  await assert.rejects(c.fetch(new Request('https://a.example/'), {}, { waitUntil: explode }), (e) => e === trap);
  assert.equal(service.calls.length, 1, 'awaited instead when waitUntil throws');
});

test('class instances with private fields and frozen handlers can be wrapped', async () => {
  const { instance, service } = await setup();
  class Handler {
    #answer = 41;
    fetch() {
      return this.#answer + 1;
    }
    scheduled() {
      instance.exports.crash();
    }
  }
  const worker = withCoredumps(new Handler(), { instance, collector: service });
  assert.equal(worker.fetch(new Request('https://a.example/'), {}, fakeCtx()), 42);
  assert.ok(worker instanceof Handler);
  const ctx = fakeCtx();
  assert.throws(() => worker.scheduled({ cron: '0 * * * *' }, {}, ctx), WebAssembly.RuntimeError);
  assert.equal(await ctx.promises[0], 'bound-0');

  const frozen = withCoredumps(Object.freeze({ fetch: () => 'frozen', other: 1 }), { instance, collector: service });
  assert.equal(frozen.fetch(new Request('https://a.example/'), {}, fakeCtx()), 'frozen');
  assert.equal(frozen.other, 1);
});
