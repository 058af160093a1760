// Fakes of the network for the uploader's tests. Most are parts of an HttpStack (see
// frontend/http.js), scripted per test and given as the `httpStack` option; `installFakeXhr`
// and `installFakeFetch` stand in for the browser's own, to test the default stack itself.
// The browser tests cover the real network path.

const NO_ANSWER = { status: 0, etag: "", retryAfter: null, text: "" };

/** Bytes of a request's file: the Blob itself, or a form's part `file`. */
export const fileOf = (body) => (body instanceof FormData ? body.get("file") : body);

/**
 * Scripted storage: each PUT (or form POST) takes the next answer ({status, etag, retryAfter,
 * text, delay}, "network" or "hang"), or asks `answers(request)` when it is a function. Returns
 * the stack's `put` and `post`, and the list of requests as they were sent ({method, url,
 * headers, body, settled}; a POST's body is its FormData, headers are a PUT's).
 */
export function fakeStorage(answers) {
  const puts = [];
  const next = typeof answers === "function" ? answers : () => answers.shift();
  const send =
    (method) =>
    (url, body, { headers = {}, onProgress, signal } = {}) =>
      new Promise((resolve, reject) => {
        const record = { method, url, headers, body, settled: false };
        puts.push(record);
        const answer = next(record) ?? { status: 201, etag: "e" };
        let timer = null;
        const onAbort = () => {
          clearTimeout(timer);
          record.settled = true;
          reject(new DOMException(`The ${method} was aborted.`, "AbortError"));
        };
        if (signal?.aborted) return onAbort();
        signal?.addEventListener("abort", onAbort, { once: true });
        if (answer === "hang") return;
        timer = setTimeout(() => {
          signal?.removeEventListener("abort", onAbort);
          onProgress?.(fileOf(body).size / 2);
          record.settled = true;
          if (answer === "network") return resolve({ ...NO_ANSWER });
          resolve({
            status: answer.status,
            etag: answer.etag ?? "",
            retryAfter: answer.retryAfter ?? null,
            text: answer.text ?? "",
          });
        }, answer.delay ?? 1);
      });
  return { put: send("PUT"), post: send("POST"), puts };
}

/** A JSON answer as the API sends it (problem+json for errors). */
export const json = (status, body, headers = {}) =>
  new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: { "Content-Type": status >= 400 ? "application/problem+json" : "application/json", ...headers },
  });

/**
 * Scripted API of single uploads: POST /uploads answers fresh URLs (or the given failures
 * first: a status, or "network" for no answer); with `form`, also an upload form, whose fields
 * `form(n)` may change for the n-th call. `reachable` is the answer of the no-cors probe.
 * Returns the stack's `request` and `reachable`, and the calls as they were made ({url, init}).
 */
export function fakeApi({ failures = [], expiresIn = 900_000, reachable = true, form = null } = {}) {
  const calls = [];
  const request = async (url, init = {}) => {
    calls.push({ url, init });
    if (url.endsWith("/complete")) {
      const n = calls.filter((call) => call.url.endsWith("/uploads")).length;
      return json(200, {
        object_name: `obj-${n}`,
        etag: "md5-of-the-file",
        download_url: `http://storage/v1/AUTH_a/c/obj-${n}?filename=a.txt&completed`,
      });
    }
    if (init.method === "DELETE") return new Response(null, { status: 204 });
    const failure = failures.shift();
    if (failure === "network") throw new TypeError("Failed to fetch");
    if (failure) return json(failure, { status: failure, detail: `no (${failure})` });
    const n = calls.length;
    const expires = Date.now() + expiresIn;
    const answer = {
      object_name: `obj-${n}`,
      upload_url: `http://storage/v1/AUTH_a/c/obj-${n}?temp_url_sig=s&temp_url_expires=1`,
      upload_method: "PUT",
      upload_headers: { "Content-Type": "text/plain" },
      download_url: `http://storage/v1/AUTH_a/c/obj-${n}?filename=a.txt`,
      expires_at: new Date(expires).toISOString(),
    };
    if (form) {
      answer.upload_id = `u-${n}`;
      answer.upload_form = {
        url: `http://storage/v1/AUTH_a/c_segments/obj-${n}/00000`,
        fields: {
          redirect: "",
          max_file_size: "11",
          max_file_count: "1",
          expires: String(Math.floor(expires / 1000)),
          signature: `sig-${n}`,
          x_delete_after: "86400",
          ...(typeof form === "function" ? form(n) : {}),
        },
        file_name: "1",
      };
    }
    return json(201, answer);
  };
  return { request, reachable: async () => reachable, calls };
}

/**
 * The API and storage of segmented uploads, sharing what is stored: POST /uploads answers a
 * plan with the first `batch` part URLs; /parts?from=N, status, complete and DELETE behave as
 * the real API does. `fail(put, number)` may script a storage answer for a part's PUT. The
 * returned state is itself a stack (`request`, `reachable`, `put`), with `calls` and `puts`.
 */
export function fakeSegmented({ size, partSize, batch = 2, ttl = 900_000, fail = () => null }) {
  const partCount = Math.max(1, Math.ceil(size / partSize));
  const state = { stored: new Map(), calls: [], deleted: false, partCount, expiresIn: ttl };
  const part = (number) => ({
    number,
    offset: (number - 1) * partSize,
    length: Math.min(partSize, size - (number - 1) * partSize),
    upload_url: `http://storage/v1/AUTH_a/c_segments/obj/${String(number).padStart(6, "0")}?temp_url_sig=s&temp_url_expires=1`,
  });
  const parts = (from) =>
    Array.from({ length: Math.max(0, Math.min(batch, partCount - from + 1)) }, (_, i) => part(from + i));
  const expiresAt = () => new Date(Date.now() + state.expiresIn).toISOString();
  state.reachable = async () => true;
  state.request = async (url, init = {}) => {
    const method = init.method ?? "GET";
    const path = url.replace(/^http:\/\/api/, "");
    state.calls.push(`${method} ${path}`);
    if (method === "POST" && path === "/uploads") {
      return json(201, {
        upload_id: "u1",
        object_name: "obj",
        segmented: true,
        part_size: partSize,
        part_count: partCount,
        parts: parts(1),
        upload_headers: { "X-Delete-After": "86400" },
        download_url: "http://storage/v1/AUTH_a/c/obj?filename=big.bin",
        expires_at: expiresAt(),
      });
    }
    if (state.deleted) return json(404, { detail: "This upload was aborted." });
    const from = path.match(/^\/uploads\/u1\/parts\?from=(\d+)$/);
    if (method === "GET" && from) {
      return json(200, { parts: parts(Number(from[1])), expires_at: expiresAt() });
    }
    const numbers = Array.from({ length: partCount }, (_, i) => i + 1);
    const missing = numbers.filter((n) => !state.stored.has(n));
    if (method === "GET" && path === "/uploads/u1") {
      return json(200, {
        upload_id: "u1",
        object_name: "obj",
        part_count: partCount,
        stored_parts: numbers.filter((n) => state.stored.has(n)),
        missing_parts: missing,
      });
    }
    if (method === "POST" && path === "/uploads/u1/complete") {
      state.completeBody = init.body ? JSON.parse(init.body) : null;
      if (missing.length) return json(409, { detail: "not complete", missing_parts: missing });
      return json(200, {
        upload_id: "u1",
        object_name: "obj",
        size,
        etag: "slo-etag",
        download_url: "http://storage/v1/AUTH_a/c/obj?filename=big.bin&fresh",
      });
    }
    if (method === "DELETE" && path === "/uploads/u1") {
      state.deleted = true;
      state.stored.clear();
      return new Response(null, { status: 204 });
    }
    return json(404, { detail: `no route ${method} ${path}` });
  };
  const storage = fakeStorage((put) => {
    const number = Number(put.url.match(/\/(\d{6})\?/)[1]);
    put.number = number;
    const scripted = fail(put, number);
    if (scripted && !(scripted.status >= 200 && scripted.status < 300)) return scripted;
    const etag = put.headers.ETag ?? String(number).padStart(32, "0");
    state.stored.set(number, etag);
    return scripted ?? { status: 201, etag };
  });
  state.put = storage.put;
  state.puts = storage.puts;
  return state;
}

/**
 * Replaces `globalThis.XMLHttpRequest` with a scripted one (answers as for `fakeStorage`, plus
 * `headers`: the raw response header lines). Returns the requests as sent ({method, url,
 * headers, body, settled}); `restore()` undoes it.
 */
export function installFakeXhr(answers) {
  const puts = [];
  const next = typeof answers === "function" ? answers : () => answers.shift();
  class FakeXHR {
    upload = {};
    headers = {};
    responseHeaders = "";
    status = 0;
    responseText = "";
    open(method, url) {
      this.method = method;
      this.url = url;
    }
    setRequestHeader(name, value) {
      this.headers[name] = value;
    }
    getAllResponseHeaders() {
      return this.responseHeaders;
    }
    abort() {
      clearTimeout(this.timer);
      this.put.settled = true;
      this.onabort?.();
    }
    send(body) {
      this.put = { method: this.method, url: this.url, headers: this.headers, body, settled: false, xhr: this };
      puts.push(this.put);
      const answer = next(this.put) ?? { status: 201, etag: "e" };
      if (answer === "hang") return;
      // A form's body is its file and some 200 bytes of fields and boundaries.
      const total = body instanceof FormData ? fileOf(body).size + 200 : body.size;
      this.timer = setTimeout(() => {
        this.upload.onprogress?.({ loaded: total / 2, total, lengthComputable: true });
        this.put.settled = true;
        if (answer === "network") return this.onerror();
        this.status = answer.status;
        this.responseText = answer.text ?? "";
        this.responseHeaders = answer.headers ?? (answer.etag ? `etag: "${answer.etag}"\r\n` : "");
        this.onload();
      }, answer.delay ?? 1);
    }
  }
  const before = Object.getOwnPropertyDescriptor(globalThis, "XMLHttpRequest");
  globalThis.XMLHttpRequest = FakeXHR;
  puts.restore = () => {
    if (before) Object.defineProperty(globalThis, "XMLHttpRequest", before);
    else delete globalThis.XMLHttpRequest;
  };
  return puts;
}

/** Replaces `globalThis.fetch` with `handler(url, init)`; returns a function that restores it. */
export function installFakeFetch(handler) {
  const before = globalThis.fetch;
  globalThis.fetch = handler;
  return () => {
    globalThis.fetch = before;
  };
}

/** A Storage (the localStorage interface) in memory. */
export class MemoryStorage {
  #items = new Map();
  get length() {
    return this.#items.size;
  }
  key(index) {
    return [...this.#items.keys()][index] ?? null;
  }
  getItem(key) {
    return this.#items.has(key) ? this.#items.get(key) : null;
  }
  setItem(key, value) {
    this.#items.set(key, String(value));
  }
  removeItem(key) {
    this.#items.delete(key);
  }
}

/**
 * Scripted API of batches, as the real one answers: POST /uploads with `files` (a single
 * upload's answer per file, with an upload form), POST /uploads/complete with `upload_ids`,
 * POST /uploads/<id>/complete and DELETE /uploads/<id>. `problem(id)` may answer a problem
 * for one id of a batch completion; `signStatus` fails every batch signing with it. Returns
 * the stack's `request` and `reachable`, the calls as made ({method, path, body}), and the
 * ids completed and deleted.
 */
export function fakeBatchApi({ problem = () => null, signStatus = 0 } = {}) {
  const calls = [];
  const state = { calls, completed: new Set(), deleted: new Set(), signed: 0 };
  const single = (n, { filename, size }) => ({
    upload_id: `u-${n}`,
    object_name: `obj-${n}`,
    upload_url: `http://storage/v1/AUTH_a/c_segments/obj-${n}/00001?temp_url_sig=s&temp_url_expires=1`,
    upload_method: "PUT",
    upload_headers: { "Content-Type": "text/plain" },
    upload_form: {
      url: `http://storage/v1/AUTH_a/c_segments/obj-${n}/00000`,
      fields: { redirect: "", max_file_size: String(size), max_file_count: "1", expires: "9999999999",
        signature: `sig-${n}` },
      file_name: "1",
    },
    download_url: `http://storage/v1/AUTH_a/c/obj-${n}?filename=${filename}`,
    expires_at: new Date(Date.now() + 900_000).toISOString(),
  });
  const done = (id) => {
    state.completed.add(id);
    const n = id.slice(2);
    return { upload_id: id, object_name: `obj-${n}`, etag: `md5-${n}`, download_url: `http://storage/c/obj-${n}` };
  };
  state.reachable = async () => true;
  state.request = async (url, init = {}) => {
    const method = init.method ?? "GET";
    const path = url.replace(/^http:\/\/api/, "");
    const body = init.body ? JSON.parse(init.body) : null;
    calls.push({ method, path, body });
    if (method === "POST" && path === "/uploads") {
      if (body.files) {
        if (signStatus) return json(signStatus, { status: signStatus, detail: "no batches here" });
        return json(201, { files: body.files.map((file) => single(++state.signed, file)) });
      }
      return json(201, single(++state.signed, body));
    }
    if (method === "POST" && path === "/uploads/complete") {
      const files = body.upload_ids.map((id) => {
        const refused = problem(id);
        return refused ? { upload_id: id, problem: refused } : done(id);
      });
      return json(200, { files });
    }
    const one = path.match(/^\/uploads\/(u-\d+)\/complete$/);
    if (method === "POST" && one) return json(200, done(one[1]));
    const deleted = path.match(/^\/uploads\/(u-\d+)$/);
    if (method === "DELETE" && deleted) {
      state.deleted.add(deleted[1]);
      return new Response(null, { status: 204 });
    }
    return json(404, { detail: `no route ${method} ${path}` });
  };
  return state;
}
