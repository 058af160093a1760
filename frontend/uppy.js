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
 * events; removing a file or cancelling all aborts its upload and DELETEs what it stored.
 *
 * Golden Retriever is not integrated: the module itself already remembers segmented uploads
 * (localStorage, by the file's name, size and modification time), so a file picked again, or
 * restored by Golden Retriever and uploaded again, sends only its missing parts; a small file
 * simply goes up again.
 */

import { BasePlugin } from "@uppy/core";
import { UploadBatch } from "./batch.js";

/** Options of UploadSigner that are not upload options. */
const OWN = ["id", "token", "limit"];

export class UploadSigner extends BasePlugin {
  static VERSION = "0.1.0";

  /** @type {Map<string, import("./uploader.js").Upload>} the uploads in flight, by file id */
  #uploads = new Map();

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
    this.onCancelAll = () => {
      for (const upload of this.#uploads.values()) upload.cancel();
    };
    this.upload = (/** @type {string[]} */ fileIDs) => this.#upload(fileIDs);
  }

  install() {
    this.uppy.addUploader(this.upload);
    this.uppy.on("file-removed", this.onFileRemoved);
    this.uppy.on("cancel-all", this.onCancelAll);
  }

  uninstall() {
    this.uppy.removeUploader(this.upload);
    this.uppy.off("file-removed", this.onFileRemoved);
    this.uppy.off("cancel-all", this.onCancelAll);
  }

  /** @param {string[]} fileIDs */
  async #upload(fileIDs) {
    const files = fileIDs.map((id) => this.uppy.getFile(id)).filter((file) => file && !file.error);
    if (!files.length) return;
    const given = /** @type {Record<string, any>} */ (this.opts);
    const token = typeof given.token === "function" ? await given.token() : given.token;
    const shared = Object.fromEntries(Object.entries(given).filter(([name]) => !OWN.includes(name)));
    this.uppy.emit("upload-start", files);
    const batch = new UploadBatch(
      files.map((file) => file.data),
      {
        ...shared,
        token,
        ...(given.limit ? { concurrency: given.limit } : {}),
        fileOptions: (_blob, index) => {
          const { id, name, type } = files[index];
          return {
            filename: name,
            contentType: type || undefined,
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
        this.uppy.emit("upload-error", file, error, { status: error?.status ?? 0, body: error?.problem ?? undefined });
      }
    });
    await batch.start();
  }
}

export default UploadSigner;
