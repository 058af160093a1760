// Types of @upload-signer/client/uppy, written by hand.
import { BasePlugin, type Body, type Meta, type PluginOpts, type Uppy } from "@uppy/core";
import type { UploadSettings } from "./index.js";

export interface UploadSignerOptions extends PluginOpts, Omit<UploadSettings, "token" | "filename" | "contentType" | "signal"> {
  /**
   * A bearer token the API accepts, or a function giving one (or a promise of one). A function
   * is called when an upload starts and again before each API request (signing, part URLs,
   * completion, DELETE), so an upload that outlasts a short-lived token goes on with a fresh
   * one: let it answer from a cache until its token nears expiry. When it throws as an upload
   * starts, the upload's files fail (an `auth` UploadError); when it throws later, that request
   * goes with the last token it gave. Storage requests carry signatures of their own, no token.
   */
  token: string | (() => string | Promise<string>);
  /** Files going up at once (default 6). */
  limit?: number;
  /** Files per POST /uploads (default and most: 100). */
  signBatch?: number;
  /** Ids per POST /uploads/complete (default 20). */
  completeBatch?: number;
  /** Ms a stored file waits for others to complete with (default 250). */
  completeDelay?: number;
}

/** An upload's `body` in Uppy (file.response.body): the API's completion answer. */
export interface UploadSignerBody extends Body {
  object_name: string;
  download_url: string;
  etag: string;
}

/** Uppy uploader plugin: batch signing, form or PUT uploads, segmented uploads with MD5. */
export class UploadSigner<M extends Meta = Meta, B extends Body = UploadSignerBody> extends BasePlugin<
  UploadSignerOptions,
  M,
  B
> {
  static VERSION: string;
  constructor(uppy: Uppy<M, B>, opts: UploadSignerOptions);
  install(): void;
  /** Cancels the uploads in flight (each DELETEs what it stored) and unregisters the uploader. */
  uninstall(): void;
}

export default UploadSigner;
