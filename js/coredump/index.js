// @wasm-postmortem/coredump: fetch the core dump that a module instrumented by
// `coredump-rewrite` writes when it traps, and send it to a collector.
//
// Plain ESM with no dependencies; it only uses what node >= 18, browsers and
// Cloudflare Workers (workerd) all provide: the WebAssembly JS API, fetch,
// Request, FormData, Blob, AbortController and crypto.
//
// The ABI is crates/coredump-rewrite/ABI.md in the wasm-postmortem repository.

const DUMPS_PATH = '/api/v1/dumps';
/** Host used for requests through a service binding (which ignores it). */
const BINDING_ORIGIN = 'https://collector.internal';
/** "WCD1" read as a little-endian u32: the start-function trailer's magic. */
const TRAILER_MAGIC = 0x31444357;
/** `\0asm` then version 1. */
const WASM_HEADER = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
const DEFAULT_TIMEOUT_MS = 10000;
const DEFAULT_RETRIES = 2;
const DEFAULT_MODULE_NAME = 'module.wasm';
/** Longest wait honoured from a `Retry-After` header. */
const MAX_RETRY_AFTER_MS = 5000;

/** What a scrubbed value is replaced with (the collector's own text). */
const SCRUBBED = '[scrubbed]';

// Names (of headers, fields, query parameters) whose values are never sent,
// normalised to lower-case ASCII alphanumerics. The same list as the
// collector's `SENSITIVE` (crates/coredump-collector/src/ingest.rs), which
// scrubs again on arrival.
const SENSITIVE = new Set([
  'authorization',
  'proxyauthorization',
  'cookie',
  'cookies',
  'setcookie',
  'xapikey',
  'apikey',
  'xauthtoken',
  'xaccesstoken',
  'xcsrftoken',
  'xxsrftoken',
  'csrftoken',
  'xamzsecuritytoken',
  'xgoogapikey',
  'token',
  'accesstoken',
  'refreshtoken',
  'idtoken',
  'password',
  'passwd',
  'secret',
  'clientsecret',
  'privatekey',
  'session',
  'sessionid',
  'signature',
  'sig',
]);

// Request headers that carry the client's IP address (normalised like
// SENSITIVE). Their values are scrubbed too.
const CLIENT_IP_HEADERS = new Set([
  'cfconnectingip',
  'cfconnectingipv6',
  'xforwardedfor',
  'xrealip',
  'trueclientip',
  'xclientip',
  'forwarded',
]);

/** Errors recordCoredump or a wrapper has already recorded. */
const recorded = new WeakSet();
/** Modules already reported as not instrumented (reported once each). */
const reportedUninstrumented = new WeakSet();

// ---- reading the dump ----------------------------------------------------

/** A non-negative safe integer from an i32 (a Number) or i64 (a BigInt) result, else -1. */
function toIndex(value) {
  if (typeof value === 'bigint') {
    const unsigned = BigInt.asUintN(64, value);
    return unsigned <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(unsigned) : -1;
  }
  if (typeof value === 'number' && Number.isInteger(value)) {
    // An i32 result arrives signed: addresses of 2 GiB and more are negative.
    return value >>> 0;
  }
  return -1;
}

function bufferOf(memory) {
  try {
    const buffer = memory && memory.buffer;
    if (buffer instanceof ArrayBuffer) return buffer;
    if (typeof SharedArrayBuffer === 'function' && buffer instanceof SharedArrayBuffer) return buffer;
  } catch {
    // A detached or unusual memory: no dump.
  }
  return null;
}

/** Whether `len` bytes at `ptr` fit in `limit` and start with a Wasm header. */
function isDumpAt(buffer, ptr, len, limit) {
  if (ptr < 0 || len < WASM_HEADER.length || ptr + len > limit) return false;
  const head = new Uint8Array(buffer, ptr, WASM_HEADER.length);
  return WASM_HEADER.every((byte, i) => head[i] === byte);
}

/**
 * Where the instance's last dump is: `{buffer, ptr, len}`, or null. Reads the
 * memory's buffer now, after the trap: writing the dump grows memory, which
 * replaces the ArrayBuffer.
 */
function locateInInstance(instance) {
  try {
    const exports = exportsOf(instance);
    if (!exports) return null;
    const lenFn = exports.__coredump_len;
    const ptrFn = exports.__coredump_ptr;
    if (typeof lenFn !== 'function' || typeof ptrFn !== 'function') return null;
    const len = toIndex(lenFn());
    if (len <= 0) return null;
    const ptr = toIndex(ptrFn());
    const buffer = bufferOf(exports.__coredump_memory);
    if (!buffer || !isDumpAt(buffer, ptr, len, buffer.byteLength)) return null;
    return { buffer, ptr, len };
  } catch {
    return null;
  }
}

/**
 * The exports of an instance, or the object itself when it is an exports
 * object already (what wasm-bindgen's glue holds as `wasm`).
 */
function exportsOf(instance) {
  if (!instance || (typeof instance !== 'object' && typeof instance !== 'function')) return null;
  const exports = instance.exports;
  return exports && typeof exports === 'object' ? exports : instance;
}

/** Where the dump named by a start-function trailer is, or null. */
function locateInMemory(memory) {
  try {
    const buffer = bufferOf(memory);
    if (!buffer || buffer.byteLength < 16) return null;
    const trailer = new DataView(buffer, buffer.byteLength - 16, 16);
    if (trailer.getUint32(12, true) !== TRAILER_MAGIC) return null;
    const ptr = toIndex(trailer.getBigUint64(0, true));
    const len = trailer.getUint32(8, true);
    if (!isDumpAt(buffer, ptr, len, buffer.byteLength - 16)) return null;
    return { buffer, ptr, len };
  } catch {
    return null;
  }
}

function copyOut(location) {
  return location ? new Uint8Array(location.buffer, location.ptr, location.len).slice() : null;
}

/**
 * Marks a dump as sent by zeroing its first 4 bytes. The dump lies in the
 * region the module grew memory by when the trap began, beyond the memory the
 * dump describes, so the program's own state is untouched; the next trap
 * writes a fresh dump with a fresh header.
 */
function consume(location) {
  try {
    new Uint8Array(location.buffer, location.ptr, 4).fill(0);
  } catch {
    // Nothing else to do: the dump may be sent again.
  }
}

/**
 * The dump the instance wrote at its last trap, as a copy, or null (not
 * instrumented, no dump, out of bounds, not a Wasm module, or consumed).
 * `module` is accepted for symmetry with recordCoredump and changes nothing.
 */
export function extractCoredump(instance, module) {
  void module;
  return copyOut(locateInInstance(instance));
}

/**
 * For a trap in the start function, when instantiation failed and there is
 * no instance: the dump named by the trailer in the last 16 bytes of a memory
 * the host provided as an import (`u64` address, `u32` length, `"WCD1"`), or
 * null.
 */
export function extractCoredumpFromMemory(memory, module) {
  void module;
  return copyOut(locateInMemory(memory));
}

/** Reads an unsigned LEB128 u32: `[value, bytes read]`, or null. */
function readVarU32(bytes, offset) {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (offset + i >= bytes.length) return null;
    const byte = bytes[offset + i];
    value += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) return value <= 0xffffffff ? [value, i + 1] : null;
  }
  return null;
}

/**
 * The module's build id in lower-case hex: the id bytes of its `build_id`
 * custom section (a varuint32 length then the bytes; a payload that is not
 * exactly that is taken as the id bytes themselves, as the collector does),
 * or null.
 */
export function moduleBuildId(module) {
  try {
    const sections = WebAssembly.Module.customSections(module, 'build_id');
    if (!sections.length) return null;
    let bytes = new Uint8Array(sections[0]);
    if (!bytes.length) return null;
    const prefix = readVarU32(bytes, 0);
    if (prefix && prefix[0] > 0 && prefix[0] === bytes.length - prefix[1]) {
      bytes = bytes.subarray(prefix[1]);
    }
    let hex = '';
    for (const byte of bytes) hex += byte.toString(16).padStart(2, '0');
    return hex;
  } catch {
    return null;
  }
}

function isInstrumented(module) {
  try {
    return WebAssembly.Module.exports(module).some((e) => e.name === '__coredump_len');
  } catch {
    return true; // Not a module we can inspect: do not complain.
  }
}

// ---- scrubbing -------------------------------------------------------------

function normalise(name) {
  return String(name).toLowerCase().replace(/[^a-z0-9]/g, '');
}

function isSensitive(name) {
  return SENSITIVE.has(normalise(name));
}

function decodeName(name) {
  try {
    return decodeURIComponent(name.replace(/\+/g, ' '));
  } catch {
    return name;
  }
}

/** Replaces the values of sensitive query parameters in a URL or query string. */
function scrubQuery(url) {
  let head = null;
  let query;
  let fragment = null;
  const question = url.indexOf('?');
  if (question >= 0) {
    head = url.slice(0, question);
    query = url.slice(question + 1);
    const hash = query.indexOf('#');
    if (hash >= 0) {
      fragment = query.slice(hash + 1);
      query = query.slice(0, hash);
    }
  } else if (url.includes('=') && !url.includes('/')) {
    query = url;
  } else {
    return url;
  }
  const pairs = query.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    if (eq < 0) return pair;
    const name = pair.slice(0, eq);
    return isSensitive(name) || isSensitive(decodeName(name)) ? `${name}=${SCRUBBED}` : pair;
  });
  return (head === null ? '' : `${head}?`) + pairs.join('&') + (fragment === null ? '' : `#${fragment}`);
}

const URL_KEYS = new Set(['url', 'query_string', 'query']);

/**
 * Scrubs a JSON value in place, as the collector does: fields with a sensitive
 * name, `[name, value]` pairs and `{name, value}` entries, and sensitive query
 * parameters in `url`, `query` and `query_string` strings.
 */
function scrub(value) {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item = value[i];
      if (Array.isArray(item) && item.length === 2 && typeof item[0] === 'string' && isSensitive(item[0])) {
        item[1] = SCRUBBED;
      } else {
        scrub(item);
      }
    }
  } else if (value && typeof value === 'object') {
    if (typeof value.name === 'string' && isSensitive(value.name) && 'value' in value) {
      value.value = SCRUBBED;
    }
    for (const key of Object.keys(value)) {
      if (isSensitive(key)) {
        value[key] = SCRUBBED;
      } else if (URL_KEYS.has(key.toLowerCase()) && typeof value[key] === 'string') {
        value[key] = scrubQuery(value[key]);
      } else {
        scrub(value[key]);
      }
    }
  }
  return value;
}

/**
 * A JSON-safe copy of any value: BigInts as strings, Errors as {name,
 * message}, cycles cut, functions and symbols left out, bounded depth.
 */
function toJson(value, seen = new Set(), depth = 0) {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      return Number.isFinite(value) ? value : String(value);
    case 'bigint':
      return value.toString();
    case 'object':
      break;
    default:
      return undefined;
  }
  if (value === null) return null;
  if (seen.has(value) || depth > 20) return '[circular]';
  seen.add(value);
  try {
    if (value instanceof Error) return { name: String(value.name), message: String(value.message) };
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
    if (Array.isArray(value)) {
      return value.map((item) => {
        const json = toJson(item, seen, depth + 1);
        return json === undefined ? null : json;
      });
    }
    const out = {};
    for (const key of Object.keys(value)) {
      const json = toJson(value[key], seen, depth + 1);
      if (json !== undefined) out[key] = json;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

/** `{method, url, headers}` of a Fetch-API request, scrubbed. */
function describeRequest(request) {
  const headers = {};
  const add = (name, value) => {
    const key = String(name);
    const norm = normalise(key);
    headers[key] = SENSITIVE.has(norm) || CLIENT_IP_HEADERS.has(norm) ? SCRUBBED : String(value);
  };
  const source = request.headers;
  if (source && typeof source.forEach === 'function' && !Array.isArray(source)) {
    source.forEach((value, name) => add(name, value));
  } else if (source && typeof source === 'object') {
    for (const [name, value] of Array.isArray(source) ? source : Object.entries(source)) add(name, value);
  }
  const out = { headers };
  if (typeof request.method === 'string') out.method = request.method;
  if (request.url !== undefined) out.url = scrubQuery(String(request.url));
  return out;
}

// ---- metadata ----------------------------------------------------------------

function runtimeName() {
  try {
    const nav = globalThis.navigator;
    if (nav && typeof nav.userAgent === 'string' && nav.userAgent) return nav.userAgent;
    const proc = globalThis.process;
    if (proc && typeof proc.version === 'string') return `node ${proc.version}`;
  } catch {
    // No runtime name.
  }
  return undefined;
}

function describeError(error) {
  if (error === undefined) return undefined;
  if (error && typeof error === 'object') {
    let name;
    let message;
    try {
      name = error.name === undefined ? undefined : String(error.name);
      message = error.message === undefined ? undefined : String(error.message);
    } catch {
      // A hostile getter: fall through with what we have.
    }
    return { name: name ?? 'Error', message: (message ?? '').slice(0, 4000) };
  }
  return { name: typeof error, message: String(error).slice(0, 4000) };
}

/** `text` cut to at most `max` bytes of UTF-8, on a character boundary. */
function limitBytes(text, max) {
  let bytes = 0;
  let end = 0;
  for (const ch of text) {
    const cp = ch.codePointAt(0);
    bytes += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
    if (bytes > max) break;
    end += ch.length;
  }
  return text.slice(0, end);
}

function buildMetadata(options, trigger, buildId) {
  const metadata = {};
  const context = options.context && typeof options.context === 'object' ? toJson(options.context) : null;
  if (context && typeof context === 'object' && !Array.isArray(context)) Object.assign(metadata, context);
  for (const key of ['service', 'version', 'environment']) {
    // The collector refuses more than 200 characters or control characters.
    if (options[key] !== undefined && options[key] !== null) {
      metadata[key] = limitBytes(String(options[key]).replace(/[\u0000-\u001f\u007f-\u009f]/g, ' '), 200);
    }
  }
  if (options.tags && typeof options.tags === 'object') {
    const tags = {};
    for (const [key, value] of Object.entries(options.tags)) tags[key] = String(value);
    metadata.tags = tags;
  }
  if (options.request && typeof options.request === 'object') {
    metadata.request = describeRequest(options.request);
  }
  if (buildId) {
    metadata.modules = [{ index: 0, name: String(options.moduleName || DEFAULT_MODULE_NAME), build_id: buildId }];
  }
  const error = describeError(options.error);
  if (error) metadata.error = error;
  metadata.trigger = trigger;
  const runtime = runtimeName();
  if (runtime) metadata.runtime = runtime;
  return scrub(metadata);
}

// ---- upload ------------------------------------------------------------------

function randomKey() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') {
    try {
      return c.randomUUID();
    } catch {
      // Not in a secure context: build one below.
    }
  }
  const bytes = new Uint8Array(16);
  if (c && typeof c.getRandomValues === 'function') c.getRandomValues(bytes);
  else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/**
 * How to reach the collector: `{send(init) -> Promise<Response>, token}`.
 * A Fetcher is recognised by its `fetch` method before anything else is read
 * from it: on a Workers RPC binding any other property is an RPC stub.
 */
function target(collector) {
  if (!collector || (typeof collector !== 'object' && typeof collector !== 'function')) {
    throw new Error('no collector: pass {url, token}, a service binding, or {service, token}');
  }
  if (typeof collector.fetch === 'function') {
    return { send: (init) => collector.fetch(new Request(BINDING_ORIGIN + DUMPS_PATH, init)), token: null };
  }
  const token = typeof collector.token === 'string' && collector.token ? collector.token : null;
  const service = collector.service;
  if (service && typeof service.fetch === 'function') {
    return { send: (init) => service.fetch(new Request(BINDING_ORIGIN + DUMPS_PATH, init)), token };
  }
  const url = collector.url;
  if (typeof url === 'string' || url instanceof URL) {
    const endpoint = String(url).replace(/\/+$/, '') + DUMPS_PATH;
    try {
      new URL(endpoint);
    } catch {
      throw new Error(`the collector url ${JSON.stringify(String(url))} is not an absolute URL`);
    }
    return { send: (init) => fetch(endpoint, init), token };
  }
  throw new Error('the collector is neither {url}, a Fetcher, nor {service}');
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Wait before retry number `retry` (0-based): 200 ms, 800 ms, 3.2 s, then 5 s. */
function backoff(retry, response) {
  let ms = Math.min(200 * 4 ** retry, 5000);
  const header = response && response.headers.get('retry-after');
  if (header && /^\d+$/.test(header.trim())) {
    ms = Math.max(ms, Math.min(Number(header.trim()) * 1000, MAX_RETRY_AFTER_MS));
  }
  return ms;
}

/** The collector's message from an error reply (`{"error": "…"}`), else its text, bounded. */
function replyMessage(text) {
  try {
    const json = JSON.parse(text);
    if (json && typeof json.error === 'string') return json.error;
  } catch {
    // Not JSON.
  }
  const trimmed = text.trim();
  return trimmed.length > 500 ? `${trimmed.slice(0, 500)}…` : trimmed || '(empty reply)';
}

/** One attempt: `{status, text, response}`, or throws (network error, timeout). */
async function attempt(send, init, timeoutMs) {
  const controller = typeof AbortController === 'function' ? new AbortController() : null;
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => {
      reject(new Error(`no reply within ${timeoutMs} ms`));
      try {
        if (controller) controller.abort();
      } catch {
        // The attempt is over either way.
      }
    }, timeoutMs);
  });
  try {
    const exchange = (async () => {
      const response = await send({ ...init, signal: controller ? controller.signal : undefined });
      const text = await response.text();
      return { status: response.status, text, response };
    })();
    // If the timeout wins, the exchange still settles later: keep that quiet.
    exchange.catch(() => {});
    return await Promise.race([exchange, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Uploads and resolves to the dump id; throws an Error describing the failure. */
async function upload(destination, dump, metadata, options) {
  const { send, token } = destination;
  const timeoutMs =
    Number.isFinite(options.timeoutMs) && options.timeoutMs > 0 ? options.timeoutMs : DEFAULT_TIMEOUT_MS;
  const retries = Number.isInteger(options.retries) && options.retries >= 0 ? options.retries : DEFAULT_RETRIES;
  const form = new FormData();
  form.append('dump', new Blob([dump], { type: 'application/wasm' }), 'core.wasm');
  form.append('metadata', new Blob([JSON.stringify(metadata)], { type: 'application/json' }), 'metadata.json');
  // Encoded once, as bytes with a known length: every attempt sends the same
  // body, and a small body is written whole before a collector that refuses
  // the token early closes the connection (so its 4xx is read, not EPIPE).
  const encoded = new Response(form);
  const contentType = encoded.headers.get('content-type');
  const body = new Uint8Array(await encoded.arrayBuffer());
  // One key for every attempt, so a retry of an upload that did arrive is
  // answered with the first reply instead of a second dump.
  const headers = { 'Content-Type': contentType, 'Idempotency-Key': randomKey() };
  if (token) headers.Authorization = `Bearer ${token}`;

  for (let i = 0; ; i++) {
    let reply = null;
    let failure;
    try {
      reply = await attempt(send, { method: 'POST', headers, body }, timeoutMs);
    } catch (error) {
      const reason = error && error.message ? error.message : String(error);
      // Browsers report a CORS refusal as a plain network error.
      const hint = inBrowserPage() ? " (from a page on another origin, the collector must allow it with --cors-origin)" : '';
      failure = new Error(`cannot reach the collector: ${reason}${hint}`);
      failure.cause = error;
    }
    if (reply) {
      if (reply.status >= 200 && reply.status < 300) {
        let id;
        try {
          id = JSON.parse(reply.text).id;
        } catch {
          // Reported below.
        }
        if (typeof id === 'string' && id) return id;
        throw new Error(`the collector answered ${reply.status} without a dump id: ${replyMessage(reply.text)}`);
      }
      failure = new Error(`the collector answered ${reply.status}: ${replyMessage(reply.text)}`);
      failure.status = reply.status;
      if (reply.status !== 429 && reply.status < 500) throw failure;
    }
    if (i >= retries) {
      if (retries > 0) failure.message += ` (gave up after ${retries + 1} attempts)`;
      throw failure;
    }
    await sleep(backoff(i, reply && reply.response));
  }
}

/** Whether this runs in a browser page (where cross-origin uploads need CORS). */
function inBrowserPage() {
  return typeof document === 'object' && document !== null && typeof location === 'object' && location !== null;
}

function report(onError, error) {
  try {
    if (typeof onError === 'function') onError(error);
    else console.warn(`coredump: ${error.message}`);
  } catch {
    // A failing error handler must not reach the application.
  }
}

function asError(value) {
  if (value instanceof Error) return value;
  return new Error(String(value));
}

/** The shared body of recordCoredump and the wrapper: never rejects. */
async function record(options, trigger) {
  let onError;
  try {
    onError = options && options.onError;
    if (!options || typeof options !== 'object') throw new Error('recordCoredump needs an options object');
    const error = options.error;
    if (error && (typeof error === 'object' || typeof error === 'function')) recorded.add(error);
    const module = options.module;
    if (module && !isInstrumented(module)) {
      if (!reportedUninstrumented.has(module)) {
        reportedUninstrumented.add(module);
        report(onError, new Error('the module has no __coredump_len export: instrument it with coredump-rewrite'));
      }
      return null;
    }
    // A collector that cannot be used fails before the dump is consumed.
    const destination = target(options.collector);
    // Read and consume the dump before anything awaits, so nothing else can
    // write or take it in between.
    const location =
      (options.instance ? locateInInstance(options.instance) : null) ||
      (options.memory ? locateInMemory(options.memory) : null);
    if (!location) return null;
    const dump = copyOut(location);
    consume(location);
    const buildId = module ? moduleBuildId(module) : null;
    let metadata;
    try {
      metadata = buildMetadata(options, trigger, buildId);
    } catch (error) {
      // The dump matters more than its context: send it with what is certain.
      metadata = { trigger, metadata_error: String(asError(error).message) };
    }
    return await upload(destination, dump, metadata, options);
  } catch (error) {
    report(onError, asError(error));
    return null;
  }
}

/**
 * Sends the dump the instance (or, for start-function traps, `memory`) holds
 * to the collector and marks it consumed. Resolves to the collector's dump id,
 * or null when there was no dump or the upload failed (onError is told why).
 * Never rejects and never throws.
 */
export function recordCoredump(options) {
  try {
    return record(options, 'manual').catch(() => null);
  } catch {
    return Promise.resolve(null);
  }
}

// ---- the Workers wrapper -----------------------------------------------------

function resolveInstance(instance) {
  try {
    const value = typeof instance === 'function' ? instance() : instance;
    return value && typeof value === 'object' && typeof value.then !== 'function' ? value : null;
  } catch {
    return null;
  }
}

function resolveCollector(collector, env) {
  if (typeof collector === 'function' && typeof collector.fetch !== 'function') return collector(env);
  return collector;
}

/** Whether `error` is a trap to record, given the instance. */
function isTrap(error, instance) {
  try {
    if (!error || (typeof error !== 'object' && typeof error !== 'function')) return false;
    if (recorded.has(error)) return false;
    if (error instanceof WebAssembly.RuntimeError) return true;
    // V8 reports stack exhaustion as a RangeError; it is a trap when the
    // module wrote a dump for it (`--call-depth-limit`).
    return error instanceof RangeError && instance !== null && locateInInstance(instance) !== null;
  } catch {
    return false;
  }
}

const TRIGGERS = {
  fetch(args) {
    const request = args[0];
    return { request: request && typeof request === 'object' ? request : undefined, context: undefined };
  },
  scheduled(args) {
    const controller = args[0] || {};
    return {
      request: undefined,
      context: { scheduled: { cron: controller.cron, scheduledTime: controller.scheduledTime } },
    };
  },
  queue(args) {
    const batch = args[0] || {};
    const messages = Array.isArray(batch.messages) ? batch.messages.length : undefined;
    return { request: undefined, context: { queue: { name: batch.queue, messages } } };
  },
};

/**
 * Records the trap `error` of handler method `trigger` (called with `args`),
 * when it is one, then settles as the original call did: throws (`sync`) or
 * rejects with the same error. Without ctx.waitUntil the upload is awaited
 * first, so the result is a rejected promise even for a synchronous throw.
 */
function settleFailure(opts, trigger, error, args, sync) {
  let recording = null;
  let ctx = null;
  try {
    const instance = resolveInstance(opts.instance);
    if (isTrap(error, instance)) {
      recorded.add(error);
      const env = args[1];
      ctx = args[2];
      const { request, context } = TRIGGERS[trigger](args);
      // Runs synchronously up to the upload: the dump is read and consumed
      // before this function returns.
      recording = (async () => {
        let id = null;
        try {
          id = await record(
            {
              instance: instance || undefined,
              module: opts.module,
              collector: resolveCollector(opts.collector, env),
              request,
              error,
              service: opts.service,
              version: opts.version,
              environment: opts.environment,
              moduleName: opts.moduleName,
              tags: opts.tags,
              context,
              onError: opts.onError,
            },
            trigger,
          );
        } catch (e) {
          report(opts.onError, asError(e));
        }
        try {
          if (typeof opts.onRecorded === 'function') opts.onRecorded(id, error);
        } catch {
          // Contained like onError.
        }
        return id;
      })();
    }
  } catch {
    recording = null;
  }
  if (recording) {
    let handed = false;
    try {
      if (opts.waitUntil !== false && ctx && typeof ctx.waitUntil === 'function') {
        ctx.waitUntil(recording);
        handed = true;
      }
    } catch {
      handed = false;
    }
    if (!handed) {
      return recording.then(() => {
        throw error;
      });
    }
  }
  if (sync) throw error;
  return Promise.reject(error);
}

/**
 * Wraps a Workers module handler object. Each of fetch, scheduled and queue
 * that is present records the dump of a trap and rethrows the same error.
 * The result is a new object with the handler's prototype and own properties
 * (in the same order); the handler itself is not modified.
 */
export function withCoredumps(handler, options) {
  if (!handler || (typeof handler !== 'object' && typeof handler !== 'function')) {
    throw new TypeError('withCoredumps: the handler must be an object like {fetch, scheduled, queue}');
  }
  const opts = options || {};
  const wrapped = Object.create(Object.getPrototypeOf(handler));
  const descriptors = Object.getOwnPropertyDescriptors(handler);

  for (const trigger of Object.keys(TRIGGERS)) {
    const original = handler[trigger];
    if (typeof original !== 'function') continue;
    const replacement = function (...args) {
      let result;
      try {
        // A handler with private fields needs itself as `this`, not the copy.
        result = original.apply(this === wrapped || this == null ? handler : this, args);
      } catch (error) {
        return settleFailure(opts, trigger, error, args, true);
      }
      if (result && typeof result.then === 'function') {
        return Promise.resolve(result).then(undefined, (error) => settleFailure(opts, trigger, error, args, false));
      }
      return result;
    };
    const own = descriptors[trigger];
    // Assigning to an existing key keeps its place in the order; a method
    // inherited from a class prototype becomes a non-enumerable own one.
    descriptors[trigger] = {
      value: replacement,
      writable: true,
      enumerable: own ? own.enumerable : false,
      configurable: true,
    };
  }
  Object.defineProperties(wrapped, descriptors);
  return wrapped;
}
