// The API client (frontend/api.js) over a fake HTTP stack: the calls it makes, the errors it
// makes of failures, its retries; and that requestUpload and Upload sign through one code path.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import { ApiClient, Upload, UploadError, callApi, requestUpload } from "../../frontend/uploader.js";
import { fakeApi, fakeStorage, json } from "./fakes.mjs";

/** A stack whose API answers `answer(url, init)` and records the calls. */
function scripted(answer) {
  const calls = [];
  return {
    calls,
    reachable: async () => true,
    request: async (url, init) => {
      calls.push({
        url,
        method: init.method,
        body: init.body === undefined ? undefined : JSON.parse(init.body),
      });
      return answer(url, init);
    },
  };
}

const fast = { retryDelay: 1, maxRetryDelay: 5 };

describe("requestUpload", () => {
  it("POSTs the file's name, size and type once, and returns the API's answer", async () => {
    const api = fakeApi({ failures: [503] });
    await assert.rejects(
      requestUpload("http://api/", "t", { filename: "a.txt", size: 3 }, undefined, { httpStack: api }),
      {
        kind: "api",
        status: 503,
      },
    );
    assert.equal(api.calls.length, 1, "no retries");
    const answer = await requestUpload(
      "http://api",
      "t",
      { filename: "a.txt", contentType: "text/plain", size: 3 },
      undefined,
      { httpStack: api },
    );
    assert.equal(answer.object_name, "obj-2");
    assert.equal(api.calls[1].init.method, "POST");
    assert.deepEqual(JSON.parse(api.calls[1].init.body), {
      filename: "a.txt",
      size: 3,
      content_type: "text/plain",
    });
  });

  it("asks exactly what an Upload of the same file asks", async () => {
    const file = new File(["abc"], "a b.txt", { type: "text/plain" });
    const direct = fakeApi();
    await requestUpload(
      "http://api",
      "t",
      { filename: file.name, contentType: file.type, size: file.size },
      undefined,
      {
        httpStack: direct,
      },
    );
    const viaUpload = fakeApi();
    await new Upload(file, {
      apiBase: "http://api",
      token: "t",
      httpStack: { ...viaUpload, ...fakeStorage([]) },
    }).start();
    const first = (calls) => ({ ...calls[0].init, signal: undefined });
    assert.deepEqual(first(viaUpload.calls), first(direct.calls));
  });
});

describe("callApi", () => {
  it("sends the bearer token, JSON and no cookies, and leaves the cache mode alone", async () => {
    const seen = [];
    const httpStack = {
      request: async (url, init) => {
        seen.push({ url, init });
        return json(200, { ok: 1 });
      },
    };
    assert.deepEqual(
      await callApi("http://api//", "t", { method: "POST", path: "/x", body: { a: 1 }, httpStack }),
      {
        ok: 1,
      },
    );
    assert.equal(seen[0].url, "http://api/x");
    assert.deepEqual(seen[0].init.headers, { Authorization: "Bearer t", "Content-Type": "application/json" });
    assert.equal(seen[0].init.body, '{"a":1}');
    assert.equal(seen[0].init.credentials, "omit");
    // `cache: "no-store"` makes Chromium preflight every call: the API's own
    // `Cache-Control: no-store` keeps its answers out of caches, and its preflights are cached.
    assert.equal("cache" in seen[0].init, false);
  });

  it("makes an UploadError with every property of the API's problem answer", async () => {
    const httpStack = scripted(() =>
      json(409, { detail: "not complete", missing_parts: [2] }, { "Retry-After": "7" }),
    );
    const error = await callApi("http://api", "t", { path: "/x", httpStack }).catch((e) => e);
    assert.ok(error instanceof UploadError);
    assert.equal(error.kind, "api");
    assert.equal(error.message, "The API answered 409: not complete");
    assert.equal(error.status, 409);
    assert.equal(error.detail, "not complete");
    assert.deepEqual(error.problem, { detail: "not complete", missing_parts: [2] });
    assert.equal(error.retryAfter, "7");
    assert.equal(error.part, null);
  });

  it("calls a 401 `auth`, a 2xx that is not JSON `api`, and answers a 204 with null", async () => {
    const answers = [
      json(401, { detail: "bad token" }),
      new Response("<html>", { status: 200 }),
      new Response(null, { status: 204 }),
    ];
    const httpStack = scripted(() => answers.shift());
    await assert.rejects(callApi("http://api", "t", { path: "/x", httpStack }), {
      kind: "auth",
      status: 401,
      detail: "bad token",
      message: "The API refused the token (401): bad token",
    });
    const notJson = await callApi("http://api", "t", { path: "/x", httpStack }).catch((e) => e);
    assert.equal(notJson.kind, "api");
    assert.equal(notJson.status, 200);
    assert.ok(notJson.cause instanceof SyntaxError);
    assert.equal(await callApi("http://api", "t", { path: "/x", httpStack, expect: [204] }), null);
  });

  it("needs an API URL and a token before it sends anything", async () => {
    const httpStack = scripted(() => json(200, {}));
    await assert.rejects(callApi("", "t", { path: "/x", httpStack }), {
      kind: "api",
      message: "No API URL is configured.",
    });
    await assert.rejects(callApi("http://api", "", { path: "/x", httpStack }), {
      kind: "auth",
      message: /No API token/,
    });
    assert.equal(httpStack.calls.length, 0);
  });

  it("rejects with the cancel's error when its signal aborts", async () => {
    const controller = new AbortController();
    const httpStack = {
      request: (_url, init) =>
        new Promise((_resolve, reject) =>
          init.signal.addEventListener("abort", () => reject(new DOMException("", "AbortError"))),
        ),
    };
    const pending = callApi("http://api", "t", { path: "/x", signal: controller.signal, httpStack });
    controller.abort();
    await assert.rejects(pending, { kind: "aborted" });
  });
});

describe("ApiClient", () => {
  it("speaks the API's upload routes", async () => {
    const stack = scripted((url, init) =>
      init.method === "DELETE" ? json(404, { detail: "gone" }) : json(200, { url }),
    );
    const api = new ApiClient({ apiBase: "http://api", token: "t", httpStack: stack });
    await api.parts("u/1", 3);
    await api.status("u/1");
    await api.complete("u/1", { 1: "d41d8cd98f00b204e9800998ecf8427e", 2: "not-an-md5", 3: "" });
    await api.complete("u/1", {});
    await api.abort("u/1"); // already gone (404) counts as aborted
    assert.deepEqual(stack.calls, [
      { url: "http://api/uploads/u%2F1/parts?from=3", method: "GET", body: undefined },
      { url: "http://api/uploads/u%2F1", method: "GET", body: undefined },
      {
        url: "http://api/uploads/u%2F1/complete",
        method: "POST",
        body: { parts: [{ number: 1, etag: "d41d8cd98f00b204e9800998ecf8427e" }] },
      },
      { url: "http://api/uploads/u%2F1/complete", method: "POST", body: undefined },
      { url: "http://api/uploads/u%2F1", method: "DELETE", body: undefined },
    ]);
  });

  it("retries an unreachable or unready API, announcing each wait", async () => {
    const answers = ["network", 503, 200];
    const stack = scripted(() => {
      const next = answers.shift();
      if (next === "network") throw new TypeError("Failed to fetch");
      return next === 200
        ? json(200, { fine: true })
        : json(next, { detail: "later" }, { "Retry-After": "0" });
    });
    stack.reachable = async () => false;
    const retries = [];
    const api = new ApiClient({
      apiBase: "http://api",
      token: "t",
      httpStack: stack,
      retries: 2,
      ...fast,
      onRetry: (d) => retries.push(d),
    });
    assert.deepEqual(await api.status("u1"), { fine: true });
    assert.deepEqual(
      retries.map(({ attempt, reason, status }) => ({ attempt, reason, status })),
      [
        { attempt: 1, reason: "network", status: 0 },
        { attempt: 2, reason: "api", status: 503 },
      ],
    );
  });

  it("does not retry what waiting cannot fix: a refusal, a missing API URL", async () => {
    const stack = scripted(() => json(403, { detail: "no" }));
    const api = new ApiClient({ apiBase: "http://api", token: "t", httpStack: stack, retries: 3, ...fast });
    await assert.rejects(api.status("u1"), { status: 403 });
    assert.equal(stack.calls.length, 1);
    const retries = [];
    const nowhere = new ApiClient({
      apiBase: "",
      token: "t",
      httpStack: stack,
      retries: 3,
      onRetry: (d) => retries.push(d),
    });
    await assert.rejects(nowhere.status("u1"), { kind: "api", message: "No API URL is configured." });
    assert.deepEqual(retries, []);
  });
});
