// Test helpers: a byte-level WebAssembly module builder, the tiny modules
// the tests instantiate (shaped like coredump-rewrite's output), a fake
// collector on node:http and fake Fetchers.
//
// node --test runs every .js file under test/, this one too: run that way it
// checks the helpers themselves (see the end of the file).

import assert from 'node:assert/strict';
import { realpathSync } from 'node:fs';
import { createServer } from 'node:http';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

// ---- encoding ----------------------------------------------------------------

/** Unsigned LEB128. */
export function u32(value) {
  const out = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

/** Signed LEB128 of a Number (i32) or BigInt (i64). */
export function sleb(value) {
  let v = BigInt(value);
  const out = [];
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    const done = (v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return out;
  }
}

export function utf8(text) {
  return [...new TextEncoder().encode(text)];
}

export function vec(items) {
  return [...u32(items.length), ...items.flat()];
}

export function name(text) {
  const bytes = utf8(text);
  return [...u32(bytes.length), ...bytes];
}

function section(id, payload) {
  return [id, ...u32(payload.length), ...payload];
}

export const I32 = 0x7f;
export const I64 = 0x7e;

/** Instruction encodings used by the test modules. */
export const op = {
  unreachable: [0x00],
  drop: [0x1a],
  call: (index) => [0x10, ...u32(index)],
  globalGet: (index) => [0x23, ...u32(index)],
  globalSet: (index) => [0x24, ...u32(index)],
  i32Const: (value) => [0x41, ...sleb(value | 0)],
  i64Const: (value) => [0x42, ...sleb(BigInt.asIntN(64, BigInt(value)))],
  i32Store: [0x36, 0x02, 0x00],
  i64Store: [0x37, 0x03, 0x00],
  i32Store8: [0x3a, 0x00, 0x00],
  memoryGrow: [0x40, 0x00],
};

/** Stores `bytes` at `address`, one i32.store8 each. */
export function storeBytes(address, bytes) {
  return [...bytes].flatMap((byte, i) => [...op.i32Const(address + i), ...op.i32Const(byte), ...op.i32Store8]);
}

/**
 * Assembles a module.
 *
 *   functions: [{ export?, params?, results?, body }]   body without the final `end`
 *   memory:    { initial, maximum?, export?, import?: [module, field] }
 *   globals:   [{ type, mutable, init }]                init: a constant instruction
 *   data:      [{ offset, bytes }]
 *   custom:    [{ name, payload }]                      appended after the known sections
 *   start:     a function index
 */
export function assemble({ functions = [], memory, globals = [], data = [], custom = [], start } = {}) {
  const types = [];
  const typeOf = (f) => {
    const key = JSON.stringify([f.params || [], f.results || []]);
    let index = types.findIndex((t) => t.key === key);
    if (index < 0) {
      index = types.length;
      types.push({ key, bytes: [0x60, ...vec((f.params || []).map((t) => [t])), ...vec((f.results || []).map((t) => [t]))] });
    }
    return index;
  };
  const funcTypes = functions.map(typeOf);
  const limits = (m) => (m.maximum === undefined ? [0x00, ...u32(m.initial)] : [0x01, ...u32(m.initial), ...u32(m.maximum)]);

  const out = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  out.push(...section(1, vec(types.map((t) => t.bytes))));
  if (memory && memory.import) {
    out.push(...section(2, vec([[...name(memory.import[0]), ...name(memory.import[1]), 0x02, ...limits(memory)]])));
  }
  out.push(...section(3, vec(funcTypes.map((t) => u32(t)))));
  if (memory && !memory.import) out.push(...section(5, vec([limits(memory)])));
  if (globals.length) {
    out.push(...section(6, vec(globals.map((g) => [g.type, g.mutable ? 1 : 0, ...g.init, 0x0b]))));
  }
  const exports = [];
  functions.forEach((f, i) => {
    if (f.export) exports.push([...name(f.export), 0x00, ...u32(i)]);
  });
  if (memory && memory.export) exports.push([...name(memory.export), 0x02, 0x00]);
  out.push(...section(7, vec(exports)));
  if (start !== undefined) out.push(...section(8, u32(start)));
  out.push(
    ...section(
      10,
      vec(
        functions.map((f) => {
          const body = [0x00 /* no locals */, ...f.body, 0x0b];
          return [...u32(body.length), ...body];
        }),
      ),
    ),
  );
  if (data.length) {
    out.push(...section(11, vec(data.map((d) => [0x00, ...op.i32Const(d.offset), 0x0b, ...vec([...d.bytes].map((b) => [b]))]))));
  }
  for (const c of custom) out.push(...section(0, [...name(c.name), ...c.payload]));
  return new Uint8Array(out);
}

// ---- the test modules --------------------------------------------------------

/** A fake dump: a Wasm header, then a custom section `core` tagged with `tag`. */
export function fakeDump(tag = 'dump') {
  const payload = [...name('core'), ...utf8(tag)];
  return new Uint8Array([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x00, ...u32(payload.length), ...payload]);
}

/** A `build_id` section payload: varuint32 length, then the id bytes. */
export function buildIdSection(idBytes) {
  return { name: 'build_id', payload: [...u32(idBytes.length), ...idBytes] };
}

export const BUILD_ID = [0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b];
export const BUILD_ID_HEX = 'deadbeef000102030405060708090a0b';

/**
 * A module shaped like coredump-rewrite's output: exports `__coredump_memory`,
 * `__coredump_ptr` (a constant) and `__coredump_len` (0 until a trap), a data
 * segment holding `dump` at `ptr`, and a `build_id` section.
 *
 * - `crash()` writes the dump (every byte, so also a fresh header), sets the
 *   length and executes `unreachable`. With `grow`, it first grows memory by
 *   a page, as the real landing pad does, and writes the dump there.
 * - `overflow()` writes the dump, then recurses until V8 throws RangeError.
 * - `add(a, b)` returns a + b (no trap).
 * - `len` overrides the length the module reports (for bounds tests).
 */
export function instrumentedModule({ dump = fakeDump(), ptr = 1024, pages = 1, grow = false, len, buildId = BUILD_ID } = {}) {
  const at = grow ? pages * 65536 + 256 : ptr;
  const reported = len === undefined ? dump.length : len;
  const writeDump = [
    ...(grow ? [...op.i32Const(1), ...op.memoryGrow, ...op.drop] : []),
    ...storeBytes(at, dump),
    ...op.i32Const(reported),
    ...op.globalSet(0),
  ];
  const functions = [
    { export: '__coredump_ptr', results: [I32], body: op.i32Const(at) },
    { export: '__coredump_len', results: [I32], body: op.globalGet(0) },
    { export: 'crash', body: [...writeDump, ...op.unreachable] },
    { export: 'overflow', body: [...writeDump, ...op.call(4)] },
    { body: op.call(4) }, // 4: recurses forever
    { export: 'add', params: [I32, I32], results: [I32], body: [0x20, 0x00, 0x20, 0x01, 0x6a] },
  ];
  return assemble({
    functions,
    memory: { initial: pages, maximum: pages + 4, export: '__coredump_memory' },
    globals: [{ type: I32, mutable: true, init: op.i32Const(0) }],
    data: grow ? [] : [{ offset: ptr, bytes: dump }],
    custom: buildId ? [buildIdSection(buildId)] : [],
  });
}

/** A module with no coredump ABI: `crash()` traps, `overflow()` exhausts the stack. */
export function plainModule() {
  return assemble({
    functions: [
      { export: 'crash', body: op.unreachable },
      { export: 'overflow', body: op.call(1) },
    ],
    memory: { initial: 1, export: 'memory' },
  });
}

/**
 * A module whose start function writes `dump` at `ptr` and the trailer in the
 * last 16 bytes of the imported `env.memory` (`pages` pages), then traps.
 * `magic` and `trailerLen` override the trailer's fields.
 */
export function startTrapModule({ dump = fakeDump('start'), ptr = 2048, pages = 1, magic = 0x31444357, trailerLen } = {}) {
  const trailer = pages * 65536 - 16;
  const body = [
    ...storeBytes(ptr, dump),
    ...op.i32Const(trailer), ...op.i64Const(ptr), ...op.i64Store,
    ...op.i32Const(trailer + 8), ...op.i32Const(trailerLen === undefined ? dump.length : trailerLen), ...op.i32Store,
    ...op.i32Const(trailer + 12), ...op.i32Const(magic), ...op.i32Store,
    ...op.unreachable,
  ];
  return assemble({
    functions: [{ body }],
    memory: { initial: pages, import: ['env', 'memory'] },
    start: 0,
  });
}

/** Compiles and instantiates `bytes` with the real WebAssembly API. */
export async function instantiate(bytes, imports = {}) {
  const module = await WebAssembly.compile(bytes);
  const instance = await WebAssembly.instantiate(module, imports);
  return { module, instance };
}

/** Runs `fn`, which must throw, and returns what it threw. */
export function thrown(fn) {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new assert.AssertionError({ message: 'expected a throw' });
}

// ---- a fake collector --------------------------------------------------------

/** Parses a captured multipart body with the Fetch API's own parser. */
async function parseForm(headers, body) {
  const request = new Request('http://collector.test/', {
    method: 'POST',
    headers: { 'content-type': headers['content-type'] || headers.get?.('content-type') || '' },
    body,
  });
  return request.formData();
}

/** Reads a captured upload: its metadata JSON and dump bytes. */
export async function readUpload(headers, body) {
  const form = await parseForm(headers, body);
  const dumpPart = form.get('dump');
  const metadataPart = form.get('metadata');
  return {
    form,
    dumpPart,
    metadataPart,
    dump: dumpPart ? new Uint8Array(await dumpPart.arrayBuffer()) : null,
    metadata: metadataPart ? JSON.parse(await metadataPart.text()) : null,
  };
}

/**
 * A collector on 127.0.0.1 that records every request. `respond(request, n)`
 * (n counts from 0) returns `{status, body, headers}` or `'hang'` (never
 * answer); the default answers 201 with a dump id `dump-<n>`.
 */
export async function startCollector(respond = defaultReply) {
  const requests = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', async () => {
      const captured = { method: req.method, path: req.url, headers: req.headers, body: Buffer.concat(chunks) };
      captured.upload = () => readUpload(captured.headers, captured.body);
      const n = requests.push(captured) - 1;
      const reply = await respond(captured, n);
      if (reply === 'hang') return;
      const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
      res.writeHead(reply.status, { 'content-type': 'application/json', ...(reply.headers || {}) });
      res.end(text);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export function defaultReply(request, n) {
  return {
    status: 201,
    body: { id: `dump-${n}`, group_id: 'group-1', new_group: n === 0, symbolication: 'pending', url: `/api/v1/dumps/dump-${n}` },
  };
}

/** A port nothing listens on (a server was bound to it, then closed). */
export async function closedPort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * A fake Fetcher (a service binding): records each call's Request and
 * answers with `respond(request, n)` → Response, default 201 `{id: "bound-<n>"}`.
 */
export function fakeFetcher(respond) {
  const calls = [];
  return {
    calls,
    async fetch(input, init) {
      const request = input instanceof Request ? input : new Request(input, init);
      const body = Buffer.from(await request.arrayBuffer());
      const headers = Object.fromEntries(request.headers);
      const captured = { input, request, url: request.url, method: request.method, headers, body };
      captured.upload = () => readUpload(headers, body);
      const n = calls.push(captured) - 1;
      if (respond) return respond(captured, n);
      return new Response(JSON.stringify({ id: `bound-${n}`, url: `/api/v1/dumps/bound-${n}` }), { status: 201 });
    },
  };
}

/** Collects onError calls. */
export function errors() {
  const list = [];
  const onError = (error) => list.push(error);
  return { list, onError };
}

// ---- checking the helpers themselves (only when run as a test file) ----------

function runAsTestFile() {
  try {
    return Boolean(process.argv[1]) && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (runAsTestFile()) {
  const { test } = await import('node:test');

  test('helpers: LEB128 encodings match known vectors', () => {
    assert.deepEqual(u32(0), [0x00]);
    assert.deepEqual(u32(127), [0x7f]);
    assert.deepEqual(u32(128), [0x80, 0x01]);
    assert.deepEqual(u32(624485), [0xe5, 0x8e, 0x26]);
    assert.deepEqual(u32(0xffffffff), [0xff, 0xff, 0xff, 0xff, 0x0f]);
    assert.deepEqual(sleb(-1), [0x7f]);
    assert.deepEqual(sleb(63), [0x3f]);
    assert.deepEqual(sleb(64), [0xc0, 0x00]);
    assert.deepEqual(sleb(-128), [0x80, 0x7f]);
    assert.deepEqual(sleb(-123456), [0xc0, 0xbb, 0x78]);
  });

  test('helpers: every test module validates and behaves as described', async () => {
    for (const bytes of [instrumentedModule(), instrumentedModule({ grow: true }), plainModule(), startTrapModule()]) {
      assert.ok(WebAssembly.validate(bytes));
    }
    const { module, instance } = await instantiate(instrumentedModule());
    assert.equal(instance.exports.add(2, 3), 5);
    assert.equal(instance.exports.__coredump_len(), 0);
    assert.ok(thrown(() => instance.exports.crash()) instanceof WebAssembly.RuntimeError);
    assert.equal(instance.exports.__coredump_len(), fakeDump().length);
    assert.ok(thrown(() => instance.exports.overflow()) instanceof RangeError);
    const [section] = WebAssembly.Module.customSections(module, 'build_id');
    assert.deepEqual([...new Uint8Array(section)], [16, ...BUILD_ID]);
    assert.ok(WebAssembly.validate(fakeDump('x')));
  });

  test('helpers: the fake collector captures and parses a multipart upload', async () => {
    const collector = await startCollector();
    try {
      const form = new FormData();
      form.append('dump', new Blob([fakeDump('posted')], { type: 'application/wasm' }), 'core.wasm');
      form.append('metadata', new Blob(['{"service":"s"}'], { type: 'application/json' }));
      const response = await fetch(`${collector.url}/api/v1/dumps`, { method: 'POST', body: form });
      assert.equal(response.status, 201);
      assert.equal((await response.json()).id, 'dump-0');
      const upload = await collector.requests[0].upload();
      assert.deepEqual(upload.dump, fakeDump('posted'));
      assert.deepEqual(upload.metadata, { service: 's' });
      assert.equal(collector.requests[0].path, '/api/v1/dumps');
    } finally {
      await collector.close();
    }
  });
}
