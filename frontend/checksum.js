/**
 * checksum.js — the MD5 of a Blob (a part of a File), read as a stream so only one small chunk
 * is in memory at a time. Swift compares it with the `ETag` request header and refuses a part
 * whose bytes differ (422): a free end-to-end integrity check.
 *
 * The hashing is hash-wasm's MD5 (WebAssembly, about twice as fast as plain JavaScript),
 * vendored under ./vendor/hash-wasm/ (see the README there). Compiling WebAssembly needs
 * `'wasm-unsafe-eval'` in a page's Content-Security-Policy script-src; where it is refused
 * (or WebAssembly is missing) `md5Available()` resolves false and uploads go without checksums.
 */

const VENDORED = new URL("./vendor/hash-wasm/md5.umd.min.js", import.meta.url).href;

let loading = null;

/** hash-wasm's createMD5, loaded once on first use. */
function loadCreateMD5() {
  loading ??= import(VENDORED).then((module) => {
    // A UMD file: CommonJS exports under Node, a `hashwasm` global in a browser.
    const create = module.createMD5 ?? module.default?.createMD5 ?? globalThis.hashwasm?.createMD5;
    if (typeof create !== "function") throw new Error("hash-wasm's createMD5 is missing");
    return create;
  });
  return loading;
}

/** Whether MD5 can be computed here (WebAssembly present and allowed by the page's CSP). */
export async function md5Available() {
  try {
    const hasher = await (await loadCreateMD5())();
    hasher.init();
    return true;
  } catch {
    return false;
  }
}

// Bytes read per step. A "bring your own buffer" reader reuses one buffer for a whole part;
// a default reader hands out a new chunk each time, and these pile up as garbage (outside the
// JS heap) faster than the collector frees them: 16 MiB parts left ~85 MiB of ArrayBuffers.
const CHUNK = 1024 * 1024;
let spare = null; // one buffer kept between parts (and uploads)

/**
 * Hex MD5 of `blob`, streamed chunk by chunk (`Blob.stream()`): never the whole part in memory.
 * Rejects with the signal's reason if `signal` aborts.
 */
export async function md5Blob(blob, { signal } = {}) {
  const hasher = await (await loadCreateMD5())();
  hasher.init();
  const stream = blob.stream();
  let reader;
  let buffer = null;
  try {
    reader = stream.getReader({ mode: "byob" });
    buffer = spare ?? new ArrayBuffer(CHUNK);
    spare = null;
  } catch {
    reader = stream.getReader(); // a runtime whose Blob streams are not byte streams
  }
  try {
    for (;;) {
      if (signal?.aborted) throw signal.reason;
      const { done, value } = buffer ? await reader.read(new Uint8Array(buffer)) : await reader.read();
      if (buffer && value) buffer = value.buffer; // the same memory, handed back
      if (done) break;
      hasher.update(value);
    }
  } catch (error) {
    await reader.cancel().catch(() => {});
    throw error;
  }
  if (buffer) spare = buffer;
  return hasher.digest("hex");
}
