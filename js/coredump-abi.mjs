// Reference snippet: fetch the core dump that a module instrumented by
// `coredump-rewrite` wrote when it trapped. Works in node, browsers and
// Cloudflare Workers (plain WebAssembly JS API, no dependencies).
//
//   try {
//     instance.exports.run();
//   } catch (err) {
//     if (err instanceof WebAssembly.RuntimeError || err instanceof RangeError) {
//       const dump = coreDumpFromInstance(instance); // Uint8Array or null
//       if (dump) await uploadCoreDump(collectorUrl, dump, { token }); // a complete spec core dump
//     }
//     throw err;
//   }
//
// ABI (see crates/coredump-rewrite/ABI.md): the instance exports
//   __coredump_ptr() -> address of the last dump in __coredump_memory (0: none)
//   __coredump_len() -> its length in bytes (0: none)
//   __coredump_memory  the memory holding it (memory 0)
// For 64-bit memories both functions return BigInt. Read the memory's buffer
// after the trap: writing the dump may have grown (and so replaced) it.

/** The last dump as a copy, or null when the instance wrote none. */
export function coreDumpFromInstance(instance) {
  const e = instance.exports;
  if (typeof e.__coredump_len !== 'function') return null;
  const len = Number(e.__coredump_len());
  if (!len) return null;
  const ptr = Number(e.__coredump_ptr());
  return new Uint8Array(e.__coredump_memory.buffer, ptr, len).slice();
}

/**
 * For a trap in the start function, when instantiation fails and there is no
 * instance: read the dump from a memory the host passed in as an import. After
 * a dump, the last 16 bytes of memory are: u64 address, u32 length, "WCD1".
 */
export function coreDumpFromMemory(memory) {
  const buf = memory.buffer;
  if (buf.byteLength < 16) return null;
  const view = new DataView(buf, buf.byteLength - 16, 16);
  if (view.getUint32(12, true) !== 0x31444357 /* "WCD1" */) return null;
  const ptr = Number(view.getBigUint64(0, true));
  const len = view.getUint32(8, true);
  if (!len || ptr + len > buf.byteLength - 16) return null;
  return new Uint8Array(buf, ptr, len).slice();
}

/**
 * Sends a dump to the collector (`POST {collectorUrl}/api/v1/dumps`, multipart
 * with a `dump` part and a `metadata` JSON part) and resolves to its reply:
 * `{id, group_id, new_group, symbolication, url}`. `idempotencyKey` makes a
 * retry of the same upload safe. Throws on a non-2xx answer, with the
 * collector's message.
 */
export async function uploadCoreDump(collectorUrl, dump, options = {}) {
  const { token, metadata, idempotencyKey } = options;
  const form = new FormData();
  form.append('dump', new Blob([dump], { type: 'application/wasm' }), 'core.wasm');
  if (metadata) {
    form.append('metadata', new Blob([JSON.stringify(metadata)], { type: 'application/json' }));
  }
  const headers = {};
  if (token) headers['Authorization'] = `Bearer ${token}`;
  if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey;
  const url = collectorUrl.replace(/\/+$/, '') + '/api/v1/dumps';
  const response = await fetch(url, { method: 'POST', body: form, headers });
  const text = await response.text();
  if (!response.ok) {
    throw new Error(`collector answered ${response.status}: ${text}`);
  }
  return JSON.parse(text);
}
