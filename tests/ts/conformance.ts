// The hand-written index.d.ts against the JS it declares, as the JS's own JSDoc types it (the
// package copied next to this file, read with allowJs): every value export is declared, and the
// functions and constructors below take exactly the arguments their declarations allow and
// return what those promise. Upload, UploadBatch, uploadFile(s) and UploadError are left to
// consumer.ts: their JSDoc types UploadError's `name` as Error's `string` and `fileOptions` as
// returning every option, where the declarations say what runs ("UploadError", some options).
import type * as dts from "./client/index.js";
import * as js from "./client/uploader.js";

/** true only when A and B are the same type (not merely assignable to each other). */
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Fn = (...args: any) => any;
type Ctor = abstract new (...args: any) => any;
type SameArgs<F extends Fn, G extends Fn> = Same<Parameters<F>, Parameters<G>>;
type SameCtorArgs<F extends Ctor, G extends Ctor> = Same<ConstructorParameters<F>, ConstructorParameters<G>>;
const holds = <T extends true>(_: T): void => {};

holds<Same<keyof typeof js, keyof typeof dts>>(true);

// What the JS returns is what the declaration promises...
export const functions: Partial<typeof dts> = {
  requestUpload: js.requestUpload,
  callApi: js.callApi,
  classifyStatus: js.classifyStatus,
  problemDetail: js.problemDetail,
  putBlob: js.putBlob,
  formatBytes: js.formatBytes,
  formatDuration: js.formatDuration,
  backoffDelay: js.backoffDelay,
  isExpired: js.isExpired,
  parseRetryAfter: js.parseRetryAfter,
  discardUpload: js.discardUpload,
  pendingUploads: js.pendingUploads,
  ProgressMeter: js.ProgressMeter,
  DEFAULTS: js.DEFAULTS,
  EVENT_CALLBACKS: js.EVENT_CALLBACKS,
  defaultHttpStack: js.defaultHttpStack,
};

// ...and the arguments it takes are exactly those the declaration allows.
holds<SameArgs<typeof dts.requestUpload, typeof js.requestUpload>>(true);
holds<SameArgs<typeof dts.callApi, typeof js.callApi>>(true);
holds<SameArgs<typeof dts.classifyStatus, typeof js.classifyStatus>>(true);
holds<SameArgs<typeof dts.problemDetail, typeof js.problemDetail>>(true);
holds<SameArgs<typeof dts.putBlob, typeof js.putBlob>>(true);
holds<SameArgs<typeof dts.formatBytes, typeof js.formatBytes>>(true);
holds<SameArgs<typeof dts.formatDuration, typeof js.formatDuration>>(true);
holds<SameArgs<typeof dts.backoffDelay, typeof js.backoffDelay>>(true);
holds<SameArgs<typeof dts.isExpired, typeof js.isExpired>>(true);
holds<SameArgs<typeof dts.parseRetryAfter, typeof js.parseRetryAfter>>(true);
holds<SameArgs<typeof dts.discardUpload, typeof js.discardUpload>>(true);
holds<SameArgs<typeof dts.pendingUploads, typeof js.pendingUploads>>(true);
holds<SameCtorArgs<typeof dts.ProgressMeter, typeof js.ProgressMeter>>(true);
holds<SameCtorArgs<typeof dts.ApiClient, typeof js.ApiClient>>(true);
holds<Same<typeof dts.DEFAULTS, typeof js.DEFAULTS>>(true);
