// The Uppy test page's module, bundled by esbuild from the installed package (tests/npm/).
import Uppy from "@uppy/core";
import { UploadSigner } from "@upload-signer/client/uppy";

// Every fetch the page makes (the client's API calls go through fetch): method, path, the
// Authorization header, the JSON sent and the JSON answered. The tests count requests in it.
const apiLog = [];
const pageFetch = window.fetch.bind(window);
window.fetch = async (input, init = {}) => {
  const url = new URL(typeof input === "string" ? input : input.url, location.href);
  const entry = {
    method: init.method ?? "GET",
    origin: url.origin,
    path: url.pathname,
    auth: init.headers?.Authorization ?? null,
    body: parseJson(init.body),
    status: 0,
    answer: null,
  };
  apiLog.push(entry);
  const response = await pageFetch(input, init);
  entry.status = response.status;
  entry.answer = parseJson(await response.clone().text().catch(() => ""));
  return response;
};
window.apiLog = apiLog;

function parseJson(text) {
  try {
    return typeof text === "string" && text ? JSON.parse(text) : null;
  } catch {
    return null;
  }
}

// `options.tokens` (a list) makes the token a function handing them out in turn, each call
// recorded in window.tokensGiven.
window.startUppy = (apiBase, token, { tokens, ...options } = {}) => {
  window.tokensGiven = [];
  const tokenOption = tokens
    ? async () => {
        const given = tokens[window.tokensGiven.length % tokens.length];
        window.tokensGiven.push(given);
        return given;
      }
    : token;
  const uppy = new Uppy({ autoProceed: false }).use(UploadSigner, { apiBase, token: tokenOption, ...options });
  const seen = { success: [], error: [], progress: {}, started: [] };
  uppy.on("upload-start", (files) => seen.started.push(...files.map((file) => file.name)));
  uppy.on("upload-success", (file, response) =>
    seen.success.push({ name: file.name, status: response.status, uploadURL: response.uploadURL, body: response.body }),
  );
  uppy.on("upload-error", (file, error) => seen.error.push({ name: file?.name, message: error.message }));
  uppy.on("upload-progress", (file, progress) => {
    seen.progress[file.name] = progress.bytesUploaded;
  });
  const input = document.querySelector("#files");
  input.onchange = () => {
    for (const file of input.files) uppy.addFile({ name: file.name, type: file.type, data: file });
  };
  window.uppy = uppy;
  window.seen = seen;
};
