// A single file through the API's upload form (a Swift FormPOST) when the API offers one, and
// the PUT when it does not: the form as storage reads it, progress, an expired form, storage's
// refusals, completion. Storage and API are the fakes of tests/js/fakes.mjs.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { uploadFormData } from "../../frontend/http.js";
import { Upload, isExpired, uploadFile } from "../../frontend/uploader.js";
import { fakeApi, fakeStorage, installFakeXhr } from "./fakes.mjs";

const file = new File(["hello world"], "a.txt", { type: "text/plain" });
const fast = { apiBase: "http://api/", token: "t", retryDelay: 1, maxRetryDelay: 5 };
const over = (api, storage, options = fast) => ({ ...options, httpStack: { ...api, ...storage } });
const completions = (api) => api.calls.filter((call) => call.url.endsWith("/complete"));

describe("the upload form", () => {
  it("POSTs the fields in the API's order, then the file as `file` named file_name", async () => {
    const api = fakeApi({ form: true });
    const storage = fakeStorage([{ status: 201 }]);
    const result = await uploadFile(file, over(api, storage));

    assert.equal(storage.puts.length, 1);
    const [post] = storage.puts;
    assert.equal(post.method, "POST", "no PUT: the form replaces it");
    assert.equal(post.url, "http://storage/v1/AUTH_a/c_segments/obj-1/00000");
    assert.ok(post.body instanceof FormData);
    const entries = [...post.body.entries()];
    assert.deepEqual(
      entries.map(([name]) => name),
      ["redirect", "max_file_size", "max_file_count", "expires", "signature", "x_delete_after", "file"],
    );
    const fields = Object.fromEntries(entries.slice(0, -1));
    assert.equal(fields.signature, "sig-1");
    assert.equal(fields.max_file_size, "11");
    const [, sent] = entries.at(-1);
    assert.equal(sent.name, "1", "the part's filename is the form's file_name");
    assert.equal(sent.size, file.size);
    assert.equal(await sent.text(), "hello world");
    assert.deepEqual(post.headers, {}, "a form carries no headers of its own");

    // Completion pins no etag (a form's answer has none) and its answer is the result.
    const [complete] = completions(api);
    assert.equal(complete.url, "http://api/uploads/u-1/complete");
    assert.equal(complete.init.body, undefined);
    assert.deepEqual(result, {
      object_name: "obj-1",
      download_url: "http://storage/v1/AUTH_a/c/obj-1?filename=a.txt&completed",
      etag: "md5-of-the-file",
    });
  });

  it("uses the PUT, with exactly its headers, when the answer has no form, and pins its etag", async () => {
    const api = fakeApi();
    const storage = fakeStorage([{ status: 201, etag: "0123456789abcdef0123456789abcdef" }]);
    const request = api.request;
    // An API with upload sessions but no form (storage without FormPOST, or UPLOAD_BIND_IP).
    api.request = async (url, init) => {
      const response = await request(url, init);
      if (!url.endsWith("/uploads")) return response;
      const body = { ...(await response.json()), upload_id: "u-1" };
      return new Response(JSON.stringify(body), { status: 201 });
    };
    await uploadFile(file, over(api, storage));
    assert.deepEqual(
      storage.puts.map((put) => put.method),
      ["PUT"],
    );
    assert.equal(storage.puts[0].body, file);
    assert.deepEqual(storage.puts[0].headers, { "Content-Type": "text/plain" });
    assert.deepEqual(JSON.parse(completions(api)[0].init.body), {
      parts: [{ number: 1, etag: "0123456789abcdef0123456789abcdef" }],
    });
  });

  it("sends a small file's form with no upload listener and no header: no preflight", async () => {
    const xhrs = installFakeXhr([{ status: 201, delay: 5 }]);
    try {
      const progress = [];
      const api = fakeApi({ form: true });
      await uploadFile(file, { ...fast, httpStack: api, onProgress: (p) => progress.push(p) });
      assert.equal(xhrs.length, 1);
      assert.equal(xhrs[0].method, "POST");
      assert.deepEqual(xhrs[0].headers, {}, "no custom header");
      assert.equal(xhrs[0].xhr.upload.onprogress, undefined, "no upload listener");
      assert.deepEqual(
        progress.map((p) => p.percent),
        [0, 100],
        "the whole file at once",
      );
    } finally {
      xhrs.restore();
    }
  });

  it("reports progress in bytes of the file while a form above smallFileSize goes up", async () => {
    const xhrs = installFakeXhr([{ status: 201, delay: 5 }]);
    try {
      const progress = [];
      const api = fakeApi({ form: true });
      const options = { ...fast, smallFileSize: 10, httpStack: api, onProgress: (p) => progress.push(p) };
      await uploadFile(file, options);
      assert.equal(typeof xhrs[0].xhr.upload.onprogress, "function");
      assert.equal(xhrs.length, 1);
      assert.equal(xhrs[0].method, "POST");
      assert.equal(xhrs[0].url, "http://storage/v1/AUTH_a/c_segments/obj-1/00000");
      assert.ok(xhrs[0].body instanceof FormData);
      // The fake XHR reports half of the whole body (form fields included): half the file.
      const between = progress.filter((p) => p.percent > 0 && p.percent < 100);
      assert.deepEqual(
        between.map((p) => p.loaded),
        [Math.round(file.size / 2)],
      );
      assert.equal(progress.at(-1).percent, 100);
    } finally {
      xhrs.restore();
    }
  });

  it("gets a fresh form when storage refuses one that has expired", async () => {
    // The first form expired long ago (its `expires` field); storage's 401 lacks CORS headers.
    const api = fakeApi({ form: (n) => (n === 1 ? { expires: "1000" } : {}), expiresIn: 900_000 });
    const request = api.request;
    api.request = async (url, init) => {
      const response = await request(url, init);
      if (!url.endsWith("/uploads")) return response;
      const { expires_at: _, ...body } = await response.json(); // only the form tells its expiry
      return new Response(JSON.stringify(body), { status: 201 });
    };
    const storage = fakeStorage(["network", { status: 201 }]);
    const retries = [];
    const result = await uploadFile(file, { ...over(api, storage), onRetry: (d) => retries.push(d) });
    assert.deepEqual(
      storage.puts.map((post) => [post.method, post.url]),
      [
        ["POST", "http://storage/v1/AUTH_a/c_segments/obj-1/00000"],
        ["POST", "http://storage/v1/AUTH_a/c_segments/obj-2/00000"],
      ],
    );
    assert.equal(storage.puts[1].body.get("signature"), "sig-2");
    assert.deepEqual(
      retries.map((d) => [d.reason, d.delay]),
      [["expired", 0]],
    );
    assert.equal(result.object_name, "obj-2");
  });

  it("fails at once, and says why, when storage refuses the form with 400", async () => {
    const api = fakeApi({ form: true });
    const storage = fakeStorage([{ status: 400, text: "FormPost: max_file_size exceeded" }]);
    await assert.rejects(uploadFile(file, over(api, storage)), {
      name: "UploadError",
      kind: "storage",
      status: 400,
      detail: "FormPost: max_file_size exceeded",
      message: "Upload failed: storage refused the upload form (400): FormPost: max_file_size exceeded.",
    });
    assert.equal(storage.puts.length, 1, "no retry");
    assert.equal(completions(api).length, 0);
  });

  it("fails at once when a file over the form's limit gets no answer (a 400 without CORS)", async () => {
    const api = fakeApi({ form: () => ({ max_file_size: "5" }) });
    const storage = fakeStorage(["network", "network", "network"]);
    const upload = new Upload(file, over(api, storage));
    await assert.rejects(upload.start(), {
      kind: "storage",
      message: "Upload failed: the file (11 bytes) is larger than the upload form allows (5 bytes).",
    });
    assert.equal(storage.puts.length, 1, "no retry, no fresh form");
    assert.equal(api.calls.length, 1);
    assert.equal(upload.state, "failed");
  });
});

describe("uploadFormData", () => {
  it("puts the fields first, in order, and the Blob last, without reading it", () => {
    const blob = new Blob(["abc"]);
    const form = uploadFormData({ b: "2", a: "1", redirect: "" }, "1", blob);
    assert.deepEqual([...form.keys()], ["b", "a", "redirect", "file"]);
    assert.equal(form.get("redirect"), "");
    assert.equal(form.get("file").name, "1");
    assert.equal(form.get("file").size, 3);
  });
});

describe("isExpired with a form", () => {
  const form = { url: "http://s/f", fields: { expires: "2000000000" }, file_name: "1" };
  it("reads the form's `expires` when the API gave no expires_at", () => {
    assert.equal(isExpired({ upload_form: form }, 1_999_999_999_000), false);
    assert.equal(isExpired({ upload_form: form }, 2_000_000_000_000), true);
  });
  it("still prefers the API's expires_at", () => {
    const urls = { upload_form: form, expires_at: "2030-01-01T00:00:00Z" };
    // In 2031 the form (until 2033) would still do; the API's word is that it expired.
    assert.equal(isExpired(urls, Date.parse("2031-01-01T00:00:00Z")), true);
    assert.equal(isExpired(urls, Date.parse("2029-12-31T23:59:59Z")), false);
  });
});
