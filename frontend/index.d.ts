// Types of @upload-signer/client (uploader.js and the modules it re-exports), written by hand.

export type UploadErrorKind = "aborted" | "auth" | "cors" | "network" | "api" | "storage";

export interface UploadErrorInit {
  status?: number;
  detail?: string;
  problem?: Record<string, unknown> | null;
  retryAfter?: string | null;
  part?: number | null;
  cause?: unknown;
}

/** Why an upload failed: `kind` is stable for code, `message` is for people. */
export class UploadError extends Error {
  constructor(kind: UploadErrorKind, message: string, init?: UploadErrorInit);
  readonly name: "UploadError";
  kind: UploadErrorKind;
  /** HTTP status of the failed answer; 0 = no answer (or no request). */
  status: number;
  /** The API's problem `detail`, or the body storage answered ("" if none). */
  detail: string;
  /** The API's problem+json body, for fields beyond `detail`. */
  problem: Record<string, unknown> | null;
  retryAfter: string | null;
  /** The part of a segmented upload that failed. */
  part: number | null;
}

export function classifyStatus(
  status: number,
  where?: { fromStorage?: boolean },
): "done" | "retry" | "refresh" | "fail";
export function problemDetail(text: string): string;

/** What an upload resolves with: the API's own field names. */
export interface UploadResult {
  object_name: string;
  download_url: string;
  etag: string;
}

export interface SignedDetail {
  object_name: string;
  download_url: string;
  expires_at: string | null;
}

export interface ResumeDetail {
  upload_id: string;
  object_name: string;
  stored_parts: number[];
  missing_parts: number[];
}

export interface PartDetail {
  number: number;
  etag: string;
  checksum: boolean;
  stored: number;
  total: number;
}

export interface Progress {
  loaded: number;
  total: number;
  percent: number;
  speed: number;
  eta: number | null;
}

export interface RetryDetail {
  attempt: number;
  delay: number;
  reason: "network" | "server" | "stalled" | "api" | "expired";
  status: number;
  part?: number;
}

export interface PutAnswer {
  status: number;
  etag: string;
  retryAfter: string | null;
  text: string;
  stalled?: boolean;
}

export interface PutRequest {
  /** Sent as they are, nothing added. */
  headers?: Record<string, string>;
  /**
   * Bytes of the body (of a form: of its file) sent so far. When absent, do not listen to
   * upload progress: a form POST without an upload listener needs no CORS preflight.
   */
  onProgress?: (loaded: number) => void;
  signal?: AbortSignal;
}

/** The requests an upload makes; the `httpStack` option may replace some of them. */
export interface HttpStack {
  put(url: string, blob: Blob, request: PutRequest): Promise<PutAnswer>;
  post(url: string, form: FormData, request: PutRequest): Promise<PutAnswer>;
  request(url: string, init: RequestInit): Promise<Response>;
  reachable(url: string, init?: { signal?: AbortSignal }): Promise<boolean>;
}

export type UploadEventType = "signed" | "resume" | "part" | "progress" | "retry" | "done" | "error";

export interface UploadCallbacks {
  onSigned?: (detail: SignedDetail) => void;
  onResume?: (detail: ResumeDetail) => void;
  onPart?: (detail: PartDetail) => void;
  onProgress?: (detail: Progress) => void;
  onRetry?: (detail: RetryDetail) => void;
  onDone?: (detail: UploadResult) => void;
  onError?: (detail: { error: UploadError }) => void;
}

export interface UploadSettings {
  /** The API's base URL, e.g. "https://api.example.com". */
  apiBase: string;
  /** A bearer token the API accepts. */
  token: string;
  filename?: string;
  contentType?: string;
  signal?: AbortSignal;
  retries?: number;
  retryDelay?: number;
  maxRetryDelay?: number;
  stallTimeout?: number;
  speedWindow?: number;
  parallel?: number;
  checksum?: boolean | "auto";
  resume?: boolean;
  smallFileSize?: number;
  storage?: Storage | null;
  httpStack?: Partial<HttpStack>;
}

export type UploadOptions = UploadSettings & UploadCallbacks;

export type UploadState = "idle" | "signing" | "uploading" | "completing" | "done" | "failed" | "cancelled";

export interface UploadEventMap {
  signed: CustomEvent<SignedDetail>;
  resume: CustomEvent<ResumeDetail>;
  progress: CustomEvent<Progress>;
  part: CustomEvent<PartDetail>;
  retry: CustomEvent<RetryDetail>;
  done: CustomEvent<UploadResult>;
  error: CustomEvent<{ error: UploadError }>;
}

/** One file's upload; its events also call the matching `on<Event>` option. */
export class Upload extends EventTarget {
  constructor(file: File | Blob, options: UploadOptions);
  readonly file: File | Blob;
  /** The options with every default filled in. */
  readonly options: UploadOptions &
    Required<
      Pick<
        UploadSettings,
        "retries" | "retryDelay" | "maxRetryDelay" | "stallTimeout" | "speedWindow" | "parallel" | "checksum" | "resume" | "smallFileSize"
      >
    >;
  readonly controller: AbortController;
  state: UploadState;
  result: UploadResult | null;
  promise: Promise<UploadResult> | null;
  uploadId: string | null;
  segmented: boolean;
  start(): Promise<UploadResult>;
  cancel(): void;
  addEventListener<K extends keyof UploadEventMap>(
    type: K,
    listener: (event: UploadEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
}

export function uploadFile(file: File | Blob, options: UploadOptions): Promise<UploadResult>;

export interface BatchProgress extends Progress {
  files: number;
  done: number;
  failed: number;
  cancelled: number;
}

export type FileResult = UploadResult | UploadError;

export interface FileSettled {
  index: number;
  file: File | Blob;
  upload: Upload;
  result: UploadResult | null;
  error: UploadError | null;
}

export interface BatchSettings {
  /** Files going up at once (default 6). */
  concurrency?: number;
  /** Files per POST /uploads (default and most: 100). */
  signBatch?: number;
  /** Ids per POST /uploads/complete (default 20). */
  completeBatch?: number;
  /** Ms a stored file waits for others to complete with (default 250). */
  completeDelay?: number;
  /** One file's own options (filename, contentType, per-file callbacks), over the others. */
  fileOptions?: (file: File | Blob, index: number) => Partial<UploadOptions>;
  onProgress?: (detail: BatchProgress) => void;
  onFile?: (detail: FileSettled) => void;
  onDone?: (detail: { results: FileResult[] }) => void;
}

export type BatchOptions = UploadSettings & BatchSettings;

export interface BatchEventMap {
  progress: CustomEvent<BatchProgress>;
  file: CustomEvent<FileSettled>;
  done: CustomEvent<{ results: FileResult[] }>;
}

/** Many files' uploads: signed together, completed together; one file's failure is its own. */
export class UploadBatch extends EventTarget {
  constructor(files: Iterable<File | Blob> | ArrayLike<File | Blob>, options: BatchOptions);
  readonly files: (File | Blob)[];
  readonly uploads: Upload[];
  readonly controller: AbortController;
  results: (FileResult | undefined)[];
  promise: Promise<FileResult[]> | null;
  start(): Promise<FileResult[]>;
  cancel(): void;
  progress(): BatchProgress;
  addEventListener<K extends keyof BatchEventMap>(
    type: K,
    listener: (event: BatchEventMap[K]) => void,
    options?: boolean | AddEventListenerOptions,
  ): void;
  addEventListener(type: string, listener: EventListenerOrEventListenerObject | null, options?: boolean | AddEventListenerOptions): void;
}

export function uploadFiles(
  files: Iterable<File | Blob> | ArrayLike<File | Blob>,
  options: BatchOptions,
): Promise<FileResult[]>;

/** A remembered segmented upload (localStorage), as `pendingUploads` lists it. */
export interface PendingUpload {
  upload_id: string;
  object_name: string;
  download_url: string;
  part_size: number;
  part_count: number;
  upload_headers: Record<string, string>;
  etags: Record<number | string, string>;
  saved: number;
  file: { name: string; size: number; lastModified: number };
}

export function pendingUploads(apiBase: string, storage?: Storage | null): PendingUpload[];
export function discardUpload(
  record: { file: PendingUpload["file"]; upload_id: string },
  options: { apiBase: string; token: string; storage?: Storage | null; httpStack?: Partial<HttpStack> },
): Promise<void>;

export const DEFAULTS: Readonly<{
  retries: number;
  retryDelay: number;
  maxRetryDelay: number;
  stallTimeout: number;
  speedWindow: number;
  parallel: number;
  checksum: boolean | "auto";
  resume: boolean;
  smallFileSize: number;
}>;
export const EVENT_CALLBACKS: Readonly<Record<UploadEventType, keyof UploadCallbacks>>;

export function formatBytes(bytes: number): string;
export function formatDuration(seconds: number | null): string;
/** Ms before retry number `attempt`; `retryAfter` is a Retry-After header (seconds or an HTTP date). */
export function backoffDelay(
  attempt: number,
  options?: { retryDelay?: number; maxRetryDelay?: number },
  retryAfter?: string | number | null,
  random?: () => number,
): number;
/** A Retry-After header (delay-seconds or HTTP date) in ms, or null. */
export function parseRetryAfter(value: string | number | null | undefined, now?: number): number | null;
/** Whether a signed upload's URL (or form) has expired by this browser's clock. */
export function isExpired(
  urls: { upload_url?: string; upload_form?: { fields: Record<string, string> } | null; expires_at?: string | null },
  now?: number,
): boolean;
export const defaultHttpStack: Readonly<HttpStack>;
/** One PUT with XMLHttpRequest under the stall watchdog (`stallTimeout` ms without progress). */
export function putBlob(url: string, blob: Blob, request?: PutRequest & { stallTimeout?: number }): Promise<PutAnswer>;

// Building blocks re-exported for reuse; their shapes are not part of the stable surface.
export class ApiClient {
  constructor(options: {
    apiBase: string;
    token: string;
    httpStack?: Partial<HttpStack>;
    retries?: number;
    retryDelay?: number;
    maxRetryDelay?: number;
    onRetry?: (detail: RetryDetail) => void;
  });
  [member: string]: unknown;
}
/** One API call (see `callApi`). */
export interface ApiCall {
  method?: string;
  /** From the API's base, e.g. "/uploads". */
  path: string;
  /** Sent as JSON. */
  body?: unknown;
  signal?: AbortSignal;
  /** The statuses that are a success (default [200]). */
  expect?: number[];
}
/** One call to the API with the bearer token: the parsed JSON answer (null for a 204). */
export function callApi(
  apiBase: string,
  token: string,
  call: ApiCall & { httpStack?: Partial<HttpStack> },
): Promise<unknown>;
/** POST /uploads once for a file described by its name, media type and size. */
export function requestUpload(
  apiBase: string,
  token: string,
  file: { filename?: string; contentType?: string; size: number },
  signal?: AbortSignal,
  options?: { httpStack?: Partial<HttpStack> },
): Promise<Record<string, unknown>>;
/** Turns (loaded, time) samples into percent, speed (over the last `window` ms) and ETA. */
export class ProgressMeter {
  constructor(total: number, options?: { window?: number; now?: number; loaded?: number });
  total: number;
  window: number;
  /** Starts measuring again from `loaded` bytes. */
  reset(now?: number, loaded?: number): void;
  update(loaded: number, now?: number): Progress;
}
export class PartSchedule {
  constructor(...args: any[]);
  [member: string]: unknown;
}
export class PartUrls {
  constructor(...args: any[]);
  [member: string]: unknown;
}
export class ResumeStore {
  constructor(storage?: Storage | null);
  [member: string]: unknown;
}
