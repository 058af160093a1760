// The HTTP layer (frontend/http.js): the default stack over the browser's XMLHttpRequest and
// fetch (faked here), a stack given as the `httpStack` option, the stall watchdog and the
// connection slots every PUT takes.
import assert from "node:assert/strict";
import { describe, it } from "node:test";

import {
  CANCEL_GRACE,
  Slots,
  defaultHttpStack,
  originSlots,
  putBlob,
  resolveHttpStack,
  storagePut,
  watchedPost,
  watchedPut,
} from "../../frontend/http.js";
import * as parts from "../../frontend/parts.js";
import { uploadFile } from "../../frontend/uploader.js";
import { fakeApi, fakeStorage, installFakeFetch, installFakeXhr, json } from "./fakes.mjs";

const url = "http://storage/v1/AUTH_a/c/o?temp_url_sig=s&temp_url_expires=1";
const blob = new Blob(["0123456789"]);

describe("putBlob: the default stack's PUT (XMLHttpRequest)", () => {
  it("PUTs the Blob itself with exactly the given headers, reports progress, reads the answer", async () => {
    const puts = installFakeXhr([{ status: 201, headers: 'etag: "abc"\r\nretry-after: 3\r\n', text: "ok" }]);
    try {
      const progress = [];
      const answer = await putBlob(url, blob, {
        headers: { "X-A": "1" },
        onProgress: (n) => progress.push(n),
      });
      assert.deepEqual(answer, { status: 201, etag: "abc", retryAfter: "3", text: "ok", stalled: false });
      assert.deepEqual(progress, [5]);
      assert.equal(puts[0].method, "PUT");
      assert.equal(puts[0].body, blob);
      assert.deepEqual(puts[0].headers, { "X-A": "1" });
    } finally {
      puts.restore();
    }
  });

  it("reads no header CORS does not expose", async () => {
    const puts = installFakeXhr([{ status: 503, headers: "" }]);
    try {
      assert.deepEqual(await putBlob(url, blob), {
        status: 503,
        etag: "",
        retryAfter: null,
        text: "",
        stalled: false,
      });
    } finally {
      puts.restore();
    }
  });

  it("resolves a network error as status 0 and rejects a cancel", async () => {
    const puts = installFakeXhr(["network", "hang"]);
    try {
      assert.equal((await putBlob(url, blob)).status, 0);
      const controller = new AbortController();
      const pending = putBlob(url, blob, { signal: controller.signal });
      controller.abort();
      await assert.rejects(pending, { name: "UploadError", kind: "aborted" });
      assert.ok(puts[1].settled, "the request was aborted");
      await assert.rejects(putBlob(url, blob, { signal: controller.signal }), { kind: "aborted" });
      assert.equal(puts.length, 2, "an aborted signal sends nothing");
    } finally {
      puts.restore();
    }
  });

  it("aborts a PUT without progress for stallTimeout ms and says it stalled", async () => {
    const puts = installFakeXhr(["hang"]);
    try {
      const answer = await putBlob(url, blob, { stallTimeout: 20 });
      assert.deepEqual(answer, { status: 0, etag: "", retryAfter: null, text: "", stalled: true });
      assert.ok(puts[0].settled);
    } finally {
      puts.restore();
    }
  });
});

describe("defaultHttpStack: fetch for the API", () => {
  it("calls the fetch of the moment with the request as given", async () => {
    const seen = [];
    const restore = installFakeFetch(async (to, init) => {
      seen.push([to, init]);
      return json(200, { ok: true });
    });
    try {
      const init = { method: "POST", headers: { A: "b" }, body: "{}" };
      const response = await defaultHttpStack.request("http://api/x", init);
      assert.deepEqual(await response.json(), { ok: true });
      assert.deepEqual(seen, [["http://api/x", init]]);
    } finally {
      restore();
    }
  });

  it("probes reachability with a no-cors request, without cookies", async () => {
    const modes = [];
    let answers = true;
    const restore = installFakeFetch(async (_to, init) => {
      modes.push([init.mode, init.credentials]);
      if (!answers) throw new TypeError("Failed to fetch");
      return new Response(null, { status: 200 });
    });
    try {
      assert.equal(await defaultHttpStack.reachable("http://storage"), true);
      answers = false;
      assert.equal(await defaultHttpStack.reachable("http://storage"), false);
      assert.deepEqual(modes, [
        ["no-cors", "omit"],
        ["no-cors", "omit"],
      ]);
    } finally {
      restore();
    }
  });
});

describe("resolveHttpStack", () => {
  it("is the default stack when none is given", () => {
    assert.equal(resolveHttpStack(undefined), defaultHttpStack);
    assert.equal(resolveHttpStack(null), defaultHttpStack);
  });

  it("takes what a stack defines and the default stack's methods for the rest", async () => {
    const { put, puts } = fakeStorage([{ status: 201, etag: "x" }]);
    const stack = resolveHttpStack({ put });
    assert.equal((await stack.put(url, blob, {})).etag, "x");
    assert.equal(puts.length, 1);
    assert.equal(stack.request, defaultHttpStack.request);
    assert.equal(stack.reachable, defaultHttpStack.reachable);
  });

  it("calls a class instance's methods on the instance", async () => {
    class Probe {
      seen = [];
      async reachable(to) {
        this.seen.push(to);
        return false;
      }
    }
    const probe = new Probe();
    assert.equal(await resolveHttpStack(probe).reachable("http://x"), false);
    assert.deepEqual(probe.seen, ["http://x"]);
  });
});

describe("watchedPut and storagePut over any stack", () => {
  it("gives a stack's PUT the stall watchdog", async () => {
    const { put, puts } = fakeStorage(["hang"]);
    const answer = await watchedPut({ put }, url, blob, { stallTimeout: 20 });
    assert.equal(answer.stalled, true);
    assert.equal(answer.status, 0);
    assert.ok(puts[0].settled, "the stack saw its signal abort");
  });

  it("gives a request sent whole CANCEL_GRACE ms to answer a cancel, then aborts it", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    let aborted = false;
    const put = (_to, body, { onProgress, signal }) =>
      new Promise((_resolve, reject) => {
        onProgress(body.size); // all of it went out; storage does not answer
        signal.addEventListener("abort", () => {
          aborted = true;
          reject(new DOMException("aborted", "AbortError"));
        });
      });
    const controller = new AbortController();
    const request = { signal: controller.signal, stallTimeout: 0, onProgress: () => {} };
    const pending = watchedPut({ put }, url, blob, request);
    controller.abort();
    t.mock.timers.tick(CANCEL_GRACE - 1);
    assert.equal(aborted, false, "storage may still answer");
    t.mock.timers.tick(1);
    await assert.rejects(pending, { kind: "aborted" });
    assert.equal(aborted, true);
  });

  it("waits for the answer of a request without progress listener on a cancel: it may be stored", async (t) => {
    t.mock.timers.enable({ apis: ["setTimeout"] });
    let given = "unset";
    let aborted = false;
    const put = (_to, _body, { onProgress, signal }) =>
      new Promise((_resolve, reject) => {
        given = onProgress;
        signal.addEventListener("abort", () => {
          aborted = true;
          reject(new DOMException("aborted", "AbortError"));
        });
      });
    const controller = new AbortController();
    const pending = watchedPut({ put }, url, blob, { signal: controller.signal, stallTimeout: 0 });
    assert.equal(given, undefined, "no listener is passed on to the stack");
    controller.abort();
    t.mock.timers.tick(CANCEL_GRACE - 1);
    assert.equal(aborted, false, "storage may still answer");
    t.mock.timers.tick(1);
    await assert.rejects(pending, { kind: "aborted" });
  });

  it("POSTs a form through a stack's post, with the watchdog, counting bytes of its file", async () => {
    const { post, puts } = fakeStorage(["hang"]);
    const form = new FormData();
    form.append("signature", "s");
    form.append("file", blob, "1");
    const answer = await watchedPost({ post }, url, form, { headers: { "X-Not": "sent" }, stallTimeout: 20 });
    assert.equal(answer.stalled, true);
    assert.equal(puts[0].method, "POST");
    assert.equal(puts[0].body, form);
    assert.deepEqual(puts[0].headers, {}, "a form goes without the PUT's headers");
  });

  it("passes a stack's answer through, marked not stalled", async () => {
    const { put } = fakeStorage([{ status: 201, etag: "e1" }]);
    const answer = await watchedPut({ put }, url, blob, { stallTimeout: 1000 });
    assert.deepEqual(answer, { status: 201, etag: "e1", retryAfter: null, text: "", stalled: false });
  });

  it("runs at most 6 PUTs at once per storage origin", async () => {
    let running = 0;
    let most = 0;
    const stack = resolveHttpStack({
      put: async () => {
        running += 1;
        most = Math.max(most, running);
        await new Promise((done) => setTimeout(done, 10));
        running -= 1;
        return { status: 201, etag: "", retryAfter: null, text: "" };
      },
    });
    const to = "http://slots.example/v1/AUTH_a/c/o";
    const answers = await Promise.all(Array.from({ length: 9 }, () => storagePut(stack, to, blob, {})));
    assert.equal(answers.length, 9);
    assert.equal(most, 6);
    assert.equal(originSlots(to).used, 0);
  });

  it("gives up waiting for a slot when the upload is cancelled", async () => {
    const to = "http://full.example/o";
    const slots = originSlots(to);
    for (let i = 0; i < slots.size; i += 1) await slots.acquire();
    try {
      const controller = new AbortController();
      const waiting = storagePut(resolveHttpStack({}), to, blob, { signal: controller.signal });
      controller.abort();
      await assert.rejects(waiting, { kind: "aborted" });
    } finally {
      for (let i = 0; i < slots.size; i += 1) slots.release();
    }
  });
});

describe("an Upload's HTTP stack", () => {
  const file = new File(["hello world"], "a.txt", { type: "text/plain" });
  const fast = { apiBase: "http://api", token: "t", retryDelay: 1, maxRetryDelay: 5 };

  it("is the browser's XMLHttpRequest and fetch when none is given", async () => {
    const api = fakeApi();
    const restore = installFakeFetch(api.request);
    const puts = installFakeXhr([{ status: 201, etag: "abc" }]);
    try {
      const result = await uploadFile(file, fast);
      assert.equal(result.etag, "abc");
      assert.equal(api.calls[0].url, "http://api/uploads");
      assert.equal(puts[0].body, file);
      assert.deepEqual(puts[0].headers, { "Content-Type": "text/plain" });
    } finally {
      restore();
      puts.restore();
    }
  });

  it("is all an upload uses when one is given", async () => {
    const refuse = () => {
      throw new Error("the browser's own network was used");
    };
    const restore = installFakeFetch(refuse);
    const puts = installFakeXhr(refuse);
    try {
      const api = fakeApi();
      const storage = fakeStorage([{ status: 503 }, "network", { status: 201, etag: "abc" }]);
      const result = await uploadFile(file, { ...fast, httpStack: { ...api, ...storage } });
      assert.equal(result.etag, "abc");
      assert.equal(storage.puts.length, 3);
      assert.equal(puts.length, 0);
    } finally {
      restore();
      puts.restore();
    }
  });
});

describe("Slots", () => {
  it("lets `size` holders in and queues the rest in order", async () => {
    const slots = new Slots(2);
    const order = [];
    await slots.acquire();
    await slots.acquire();
    const third = slots.acquire().then(() => order.push("third"));
    const fourth = slots.acquire().then(() => order.push("fourth"));
    await Promise.resolve();
    assert.deepEqual(order, []);
    slots.release();
    await third;
    assert.deepEqual(order, ["third"]);
    slots.release();
    await fourth;
    assert.equal(slots.used, 2);
    slots.release();
    slots.release();
    assert.equal(slots.used, 0);
  });

  it("drops a waiter whose signal aborts", async () => {
    const slots = new Slots(1);
    await slots.acquire();
    const controller = new AbortController();
    const waiting = slots.acquire(controller.signal);
    controller.abort(new Error("cancelled"));
    await assert.rejects(waiting, /cancelled/);
    slots.release();
    assert.equal(slots.used, 0);
    assert.equal(slots.waiting.length, 0);
  });
});

describe("parts.js", () => {
  it("exports the same connection slots", () => {
    assert.equal(parts.Slots, Slots);
    assert.equal(parts.originSlots, originSlots);
  });
});
