import assert from 'node:assert/strict';
import { test } from 'node:test';

import { extractCoredump, extractCoredumpFromMemory, moduleBuildId, recordCoredump } from '../index.js';
import {
  BUILD_ID_HEX,
  assemble,
  buildIdSection,
  fakeDump,
  fakeFetcher,
  instantiate,
  instrumentedModule,
  plainModule,
  startTrapModule,
  thrown,
} from './helpers.js';

test('extractCoredump returns a copy of the dump after a trap', async () => {
  const dump = fakeDump('first');
  const { instance } = await instantiate(instrumentedModule({ dump }));
  assert.ok(thrown(() => instance.exports.crash()) instanceof WebAssembly.RuntimeError);
  const got = extractCoredump(instance);
  assert.deepEqual(got, dump);
  // A copy: neither shares memory with the instance nor is changed by it.
  assert.notEqual(got.buffer, instance.exports.__coredump_memory.buffer);
  got[0] = 0xff;
  assert.deepEqual(extractCoredump(instance), dump);
});

test('extractCoredump returns null before any trap (length 0)', async () => {
  const { instance, module } = await instantiate(instrumentedModule());
  assert.equal(extractCoredump(instance), null);
  assert.equal(extractCoredump(instance, module), null);
});

test('extractCoredump returns null for an uninstrumented instance, with or without its module', async () => {
  const { instance, module } = await instantiate(plainModule());
  assert.ok(thrown(() => instance.exports.crash()) instanceof WebAssembly.RuntimeError);
  assert.equal(extractCoredump(instance), null);
  assert.equal(extractCoredump(instance, module), null);
  assert.equal(extractCoredump({ exports: {} }), null);
  assert.equal(extractCoredump(null), null);
});

test('extractCoredump and recordCoredump take an exports object as well as an instance', async () => {
  const dump = fakeDump('exports');
  const { instance } = await instantiate(instrumentedModule({ dump }));
  thrown(() => instance.exports.crash());
  assert.deepEqual(extractCoredump(instance.exports), dump);
  const fetcher = fakeFetcher();
  const id = await recordCoredump({ instance: instance.exports, collector: fetcher });
  assert.ok(id, 'recorded from the exports object');
  assert.equal(fetcher.calls.length, 1);
  assert.equal(extractCoredump(instance), null, 'consumed through the exports object');
});

test('extractCoredump reads the buffer after the trap grew memory', async () => {
  const dump = fakeDump('grown');
  const { instance } = await instantiate(instrumentedModule({ dump, grow: true }));
  const before = instance.exports.__coredump_memory.buffer;
  thrown(() => instance.exports.crash());
  assert.equal(before.byteLength, 0, 'growing detached the old buffer');
  assert.equal(instance.exports.__coredump_memory.buffer.byteLength, 2 * 65536);
  assert.deepEqual(extractCoredump(instance), dump);
});

test('extractCoredump returns null when pointer and length are out of bounds', async () => {
  // Length runs past the end of the one-page memory.
  const { instance } = await instantiate(instrumentedModule({ ptr: 1024, len: 65536 }));
  thrown(() => instance.exports.crash());
  assert.equal(instance.exports.__coredump_len(), 65536);
  assert.equal(extractCoredump(instance), null);
  // A negative i32 (an address of 2 GiB or more) read unsigned is also out of bounds here.
  const memory = new WebAssembly.Memory({ initial: 1 });
  const fake = { exports: { __coredump_ptr: () => -16, __coredump_len: () => 16, __coredump_memory: memory } };
  assert.equal(extractCoredump(fake), null);
});

test('extractCoredump returns null when the bytes are not a Wasm module (bad magic or version)', async () => {
  const badMagic = fakeDump('x');
  badMagic[1] = 0x62; // "\0bsm"
  const a = await instantiate(instrumentedModule({ dump: badMagic }));
  thrown(() => a.instance.exports.crash());
  assert.equal(a.instance.exports.__coredump_len(), badMagic.length);
  assert.equal(extractCoredump(a.instance), null);

  const badVersion = fakeDump('x');
  badVersion[4] = 2;
  const b = await instantiate(instrumentedModule({ dump: badVersion }));
  thrown(() => b.instance.exports.crash());
  assert.equal(extractCoredump(b.instance), null);
});

test('extractCoredump reads an i32 address of 2 GiB or more as unsigned', () => {
  // An i32 export returns such an address as a negative Number. The pages of
  // this 2 GiB + 64 KiB memory are only committed where written.
  const memory = new WebAssembly.Memory({ initial: 32768 + 1 });
  const dump = fakeDump('high');
  const address = 2 ** 31 + 16;
  new Uint8Array(memory.buffer).set(dump, address);
  const fake = { exports: { __coredump_ptr: () => address | 0, __coredump_len: () => dump.length, __coredump_memory: memory } };
  assert.ok(fake.exports.__coredump_ptr() < 0);
  assert.deepEqual(extractCoredump(fake), dump);
});

test('extractCoredump accepts BigInt pointer and length (memory64)', () => {
  // node 20 runs no memory64 modules without flags: an instance-shaped object
  // whose functions return BigInt, as i64 exports do.
  const memory = new WebAssembly.Memory({ initial: 1 });
  const dump = fakeDump('sixty-four');
  new Uint8Array(memory.buffer).set(dump, 4096);
  const fake = {
    exports: { __coredump_ptr: () => 4096n, __coredump_len: () => BigInt(dump.length), __coredump_memory: memory },
  };
  assert.deepEqual(extractCoredump(fake), dump);
  // An i64 beyond 2^53 (or negative) is out of bounds, not a wrapped number.
  fake.exports.__coredump_ptr = () => 2n ** 60n;
  assert.equal(extractCoredump(fake), null);
  fake.exports.__coredump_ptr = () => -1n;
  assert.equal(extractCoredump(fake), null);
});

test('extractCoredumpFromMemory reads a start-function trap from the trailer', async () => {
  const dump = fakeDump('start-trap');
  const bytes = startTrapModule({ dump, ptr: 2048, pages: 2 });
  const memory = new WebAssembly.Memory({ initial: 2 });
  const module = await WebAssembly.compile(bytes);
  await assert.rejects(WebAssembly.instantiate(module, { env: { memory } }), WebAssembly.RuntimeError);
  assert.deepEqual(extractCoredumpFromMemory(memory), dump);
  assert.deepEqual(extractCoredumpFromMemory(memory, module), dump);
  const tail = new DataView(memory.buffer, memory.buffer.byteLength - 16);
  assert.equal(tail.getUint32(12, true), 0x31444357);
});

test('extractCoredumpFromMemory returns null without a valid trailer', async () => {
  assert.equal(extractCoredumpFromMemory(new WebAssembly.Memory({ initial: 1 })), null, 'all zero');
  const run = async (options) => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const module = await WebAssembly.compile(startTrapModule(options));
    await assert.rejects(WebAssembly.instantiate(module, { env: { memory } }));
    return extractCoredumpFromMemory(memory);
  };
  assert.ok(await run({}), 'the valid case has a dump');
  assert.equal(await run({ magic: 0x32444357 }), null, 'wrong magic "WCD2"');
  assert.equal(await run({ trailerLen: 65536 }), null, 'length past the trailer');
  assert.equal(await run({ ptr: 65536 - 40, trailerLen: 40 }), null, 'dump overlapping the trailer');
  const bad = fakeDump('x');
  bad[0] = 1;
  assert.equal(await run({ dump: bad }), null, 'not a Wasm module');
});

test('moduleBuildId returns the id bytes in lower-case hex, without the length prefix', async () => {
  const { module } = await instantiate(instrumentedModule());
  assert.equal(moduleBuildId(module), BUILD_ID_HEX);
  const plain = await WebAssembly.compile(plainModule());
  assert.equal(moduleBuildId(plain), null);
  // A payload that is not "length, then that many bytes" is the id itself.
  const raw = await WebAssembly.compile(
    assemble({ functions: [], custom: [{ name: 'build_id', payload: [0xab, 0xcd, 0xef] }] }),
  );
  assert.equal(moduleBuildId(raw), 'abcdef');
  const short = await WebAssembly.compile(assemble({ functions: [], custom: [buildIdSection([0x0a, 0xff])] }));
  assert.equal(moduleBuildId(short), '0aff');
  assert.equal(moduleBuildId({}), null);
});

test('a recorded dump is consumed: extract returns null until the next trap writes a fresh one', async () => {
  const dump = fakeDump('once');
  const { instance } = await instantiate(instrumentedModule({ dump }));
  const service = fakeFetcher();
  thrown(() => instance.exports.crash());
  const memory = new Uint8Array(instance.exports.__coredump_memory.buffer);
  const before = memory.slice();

  assert.equal(await recordCoredump({ instance, collector: service }), 'bound-0');
  assert.equal(extractCoredump(instance), null);
  // The dump's first 4 bytes ("\0asm") are zero now, and nothing else changed.
  const after = new Uint8Array(instance.exports.__coredump_memory.buffer);
  assert.deepEqual([...after.subarray(1024, 1028)], [0, 0, 0, 0]);
  before.fill(0, 1024, 1028);
  assert.deepEqual(after, before);
  // Nothing to send a second time.
  assert.equal(await recordCoredump({ instance, collector: service }), null);
  assert.equal(service.calls.length, 1);

  thrown(() => instance.exports.crash());
  assert.deepEqual(extractCoredump(instance), dump);
  assert.equal(await recordCoredump({ instance, collector: service }), 'bound-1');
  assert.deepEqual((await service.calls[1].upload()).dump, dump);
});

test('a start-function dump recorded through `memory` is consumed too', async () => {
  const dump = fakeDump('start-once');
  const memory = new WebAssembly.Memory({ initial: 1 });
  const module = await WebAssembly.compile(startTrapModule({ dump }));
  await assert.rejects(WebAssembly.instantiate(module, { env: { memory } }));
  const service = fakeFetcher();
  assert.equal(await recordCoredump({ memory, collector: service }), 'bound-0');
  assert.deepEqual((await service.calls[0].upload()).dump, dump);
  assert.equal(extractCoredumpFromMemory(memory), null);
  assert.equal(await recordCoredump({ memory, collector: service }), null);
  assert.equal(service.calls.length, 1);
});
