/**
 * uppy.js — `UploadSigner`, an Uppy 6 uploader plugin over this package's own UploadBatch:
 *
 *   import Uppy from "@uppy/core";
 *   import { UploadSigner } from "@upload-signer/client/uppy";
 *   new Uppy().use(UploadSigner, { apiBase: "https://api.example.com", token: "…" });
 *
 * The files of one `uppy.upload()` are one UploadBatch: signed together (POST /uploads with up
 * to 100 files), each sent as a form POST or a PUT, a large one in parts with their MD5 (each
 * part retried on its own), and completed together. Each file's progress, success (its
 * completion answer as `body`, its `download_url` as `uploadURL`) and failure are Uppy's
 * events; removing a file, cancelling all or uninstalling the plugin aborts its upload and
 * DELETEs what it stored. The name and type sent are the file's metadata (`meta.name`,
 * `meta.type`), which the Dashboard's editor changes.
 *
 * Only local files go up: a remote file (Companion's: Google Drive, Dropbox, a URL…) has no
 * Blob here, so it fails at once with an upload-error that says so.
 *
 * Golden Retriever: Uppy hands every file of a restored upload to this uploader again. Files
 * that had finished are left out (Uppy's `filterFilesToUpload`), and `upload-start` is not
 * emitted again for restored files that had started (`filterFilesToEmitUploadStarted`); the
 * others go up as a new batch. A restored segmented file whose bytes come back as a File with
 * its name and modification time sends only its missing parts, as the module remembers
 * segmented uploads itself (localStorage, by name, size and modification time); a single file
 * goes up whole again. A file whose bytes Golden Retriever could not restore (a "ghost") fails
 * with an upload-error asking to add it again.
 */

import { BasePlugin } from "@uppy/core";
import { filterFilesToEmitUploadStarted, filterFilesToUpload } from "@uppy/core/utils";
import { UploadBatch } from "./batch.js";
import { UploadError } from "./errors.js";
import { resolveHttpStack } from "./http.js";

/** Options of UploadSigner that are not upload options. */
const OWN = ["id", "token", "limit"];

export class UploadSigner extends BasePlugin {
  static VERSION = "0.1.0";

  /** @type {Map<string, import("./uploader.js").Upload>} the uploads in flight, by file id */
  #uploads = new Map();
  /** @type {Set<UploadBatch>} the batches not ended */
  #batches = new Set();

  /**
   * @param {any} uppy
   * @param {import("./uppy.d.ts").UploadSignerOptions} opts
   */
  constructor(uppy, opts) {
    super(uppy, opts);
    this.id = this.opts.id ?? "UploadSigner";
    this.type = "uploader";
    if (!this.opts.apiBase) throw new Error("UploadSigner needs the `apiBase` option");
    this.onFileRemoved = (/** @type {any} */ file) => this.#uploads.get(file?.id)?.cancel();
    this.onCancelAll = () => this.#cancelAll();
    this.upload = (/** @type {string[]} */ fileIDs) => this.#upload(fileIDs);
  }

  install() {
    this.uppy.addUploader(this.upload);
    this.uppy.on("file-removed", this.onFileRemoved);
    this.uppy.on("cancel-all", this.onCancelAll);
  }

  /** Cancels the uploads in flight (each DELETEs what it stored) and unregisters. */
  uninstall() {
    this.uppy.removeUploader(this.upload);
    this.uppy.off("file-removed", this.onFileRemoved);
    this.uppy.off("cancel-all", this.onCancelAll);
    this.#cancelAll();
  }

  #cancelAll() {
    for (const batch of this.#batches) batch.cancel();
  }

  /** @param {string[]} fileIDs */
  async #upload(fileIDs) {
    const candidates = filterFilesToUpload(fileIDs.map((id) => this.uppy.getFile(id)).filter(Boolean));
    /** @type {any[]} */
    const files = [];
    for (const file of candidates) {
      const refusal = refuse(file);
      if (refusal) this.#fail(file, refusal);
      else files.push(file);
    }
    if (!files.length) return;
    const given = /** @type {Record<string, any>} */ (this.opts);
    let token;
    try {
      token = typeof given.token === "function" ? await given.token() : given.token;
    } catch (error) {
      const failure = new UploadError("auth", `Could not get an API token: ${message(error)}`, { cause: error });
      for (const file of files) this.#fail(file, failure);
      return;
    }
    const shared = Object.fromEntries(Object.entries(given).filter(([name]) => !OWN.includes(name)));
    const started = filterFilesToEmitUploadStarted(files);
    if (started.length) this.uppy.emit("upload-start", started);
    const batch = new UploadBatch(
      files.map((file) => file.data),
      {
        ...shared,
        token,
        ...(typeof given.token === "function" ? { httpStack: freshTokens(given.httpStack, given.token, token) } : {}),
        ...(given.limit ? { concurrency: given.limit } : {}),
        fileOptions: (_blob, index) => {
          const { id, name, type, meta } = files[index];
          const contentType = meta?.type ?? type;
          return {
            filename: meta?.name ?? name,
            contentType: contentType || undefined,
            onProgress: ({ loaded, total }) => {
              const file = this.uppy.getFile(id);
              if (!file) return;
              this.uppy.emit("upload-progress", file, {
                uploadStarted: file.progress.uploadStarted ?? Date.now(),
                bytesUploaded: loaded,
                bytesTotal: total,
              });
            },
          };
        },
      },
    );
    files.forEach((file, index) => this.#uploads.set(file.id, batch.uploads[index]));
    this.#batches.add(batch);
    batch.addEventListener("file", (event) => {
      const { index, result, error } = /** @type {CustomEvent} */ (event).detail;
      const id = files[index].id;
      this.#uploads.delete(id);
      const file = this.uppy.getFile(id);
      if (!file) return; // removed: its upload was cancelled
      if (result) {
        this.uppy.emit("upload-success", file, {
          status: 200,
          body: result,
          uploadURL: result.download_url,
        });
      } else if (error?.kind !== "aborted") {
        this.#fail(file, error);
      }
    });
    try {
      await batch.start();
    } finally {
      this.#batches.delete(batch);
    }
  }

  /**
   * @param {any} file
   * @param {any} error  an UploadError
   */
  #fail(file, error) {
    this.uppy.emit("upload-error", file, error, { status: error?.status ?? 0, body: error?.problem ?? undefined });
  }
}

/**
 * Why a file cannot go up through this plugin, or null.
 * @param {any} file  an Uppy file
 * @returns {UploadError|null}
 */
function refuse(file) {
  const name = file.meta?.name ?? file.name;
  if (file.isRemote) {
    const source = file.remote?.providerName ?? file.remote?.provider ?? "a remote source";
    return new UploadError(
      "api",
      `UploadSigner uploads local files only; "${name}" comes from ${source} through Companion, ` +
        "which this plugin does not use.",
    );
  }
  if (file.isGhost || !(file.data instanceof Blob)) {
    return new UploadError("api", `The bytes of "${name}" were not restored: add the file again to upload it.`);
  }
  return null;
}

/**
 * The HTTP stack that asks the `token` function for a token before each API request (signing,
 * part URLs, completion, DELETE), so an upload outlasts a short-lived token. Storage requests
 * carry signatures of their own and are left as they are. When the function fails, the request
 * goes with the last token it gave; the API's 401, if that one has expired, fails the upload.
 * @param {Partial<import("./http.js").HttpStack>|undefined} custom  the caller's stack, if any
 * @param {() => string | Promise<string>} token
 * @param {string} first  the token the upload started with
 * @returns {import("./http.js").HttpStack}
 */
function freshTokens(custom, token, first) {
  const stack = resolveHttpStack(custom);
  let last = first;
  return {
    ...stack,
    request: async (url, init) => {
      try {
        last = (await token()) || last;
      } catch {
        // the last token it gave
      }
      const headers = { ...(/** @type {Record<string, string>} */ (init.headers ?? {})) };
      headers.Authorization = `Bearer ${last}`;
      return stack.request(url, { ...init, headers });
    },
  };
}

/** @param {unknown} error */
function message(error) {
  return error instanceof Error ? error.message : String(error);
}

export default UploadSigner;
