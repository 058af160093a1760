// A strict TypeScript consumer of @upload-signer/client: must compile against the installed package.
import {
  type BatchProgress,
  type FileResult,
  type UploadResult,
  UploadBatch,
  UploadError,
  uploadFile,
  uploadFiles,
} from "@upload-signer/client";
import Uppy from "@uppy/core";
import { UploadSigner, type UploadSignerBody } from "@upload-signer/client/uppy";

declare const file: File;

export async function one(): Promise<string> {
  const result: UploadResult = await uploadFile(file, {
    apiBase: "https://api.example.com",
    token: "t",
    checksum: "auto",
    parallel: 4,
    onProgress: ({ percent, eta }) => console.log(percent.toFixed(1), eta ?? "?"),
    onRetry: ({ attempt, reason }) => console.log(attempt, reason),
  });
  return result.download_url;
}

export async function many(files: File[]): Promise<number> {
  const results: FileResult[] = await uploadFiles(files, {
    apiBase: "https://api.example.com",
    token: "t",
    concurrency: 6,
    onProgress: (progress: BatchProgress) => console.log(progress.done, progress.files),
  });
  return results.filter((result) => result instanceof UploadError && result.kind !== "aborted").length;
}

export function batch(files: File[]): UploadBatch {
  const b = new UploadBatch(files, { apiBase: "https://api.example.com", token: "t" });
  b.addEventListener("file", (event) => console.log(event.detail.index, event.detail.result?.etag));
  b.uploads[0]?.cancel();
  return b;
}

export function withUppy(): Uppy {
  const uppy = new Uppy().use(UploadSigner, { apiBase: "https://api.example.com", token: () => "t", limit: 4 });
  uppy.on("upload-success", (_file, response) => {
    const body = response.body as UploadSignerBody | undefined;
    console.log(response.uploadURL, body?.object_name);
  });
  return uppy;
}
