import type { RetryPolicy } from './retry.ts';

/** A snapshot for progress displays (`onProgress`). */
export interface DownloadProgress {
  /** Bytes written and verified (chunks done), including those resumed from an earlier run. */
  doneBytes: number;
  /** Bytes received for chunks still in flight (not verified yet): `doneBytes + inFlightBytes` moves smoothly. */
  inFlightBytes: number;
  /** Bytes received over the network by this run, verified or not. */
  receivedBytes: number;
  totalBytes: number;
  chunksDone: number;
  chunkCount: number;
  /** Receive rate, bytes/s (a short moving average), or null before the first sample. */
  rate: number | null;
  /** Seconds left at `rate`, or null. */
  etaSeconds: number | null;
  /** Connections with a request on them now. */
  activeConnections: number;
  connections: number;
  phase: 'starting' | 'downloading' | 'verifying' | 'finishing';
}

/** Things worth telling a user about; `haul get --json` prints each as one NDJSON line. */
export type DownloadEvent =
  | {
      type: 'start';
      out: string;
      name: string;
      size: number;
      chunkCount: number;
      chunkSize: number;
      connections: number;
      /** Verified bytes already there from an earlier run. */
      resumedBytes: number;
      sessionId?: string | undefined;
      fileId?: string | undefined;
      url?: string | undefined;
    }
  | { type: 'resume-check'; outcome: 'resumed' | 'new' | 'other-version' | 'unreadable'; verifiedChunks: number }
  | {
      type: 'retry';
      code: string;
      status?: number | undefined;
      attempt: number;
      delayMs: number;
      source?: string | undefined;
      chunk?: number;
    }
  | { type: 'url-refreshed'; reason: string }
  | { type: 'restart'; reason: string; restarts: number }
  | { type: 'corrupt-chunk'; chunk: number; source: string | undefined; count: number }
  | { type: 'source-warning'; source: string; corruptChunks: number }
  | { type: 'tail'; action: 'split' | 'race'; chunk: number; bytes: number }
  | { type: 'rehash'; reason: string }
  | { type: 'report-failed'; code: string; pendingChunks: number }
  | { type: 'report-caught-up'; chunks: number }
  | { type: 'paused'; reason: string; reported: boolean }
  | { type: 'api-retry'; op: string; code: string; attempt: number; delayMs: number }
  | { type: 'warning'; message: string };

export interface CommonOptions {
  /**
   * Output path, or a function of the file's name (from the manifest or Content-Disposition) that
   * returns one. Bytes go to `<out>.part`, with `<out>.part.journal` beside it, until verified.
   */
  out: string | ((name: string) => string);
  /**
   * Parallel connections, at most. Default 8. The download starts with 2 and opens more while the
   * receiving thread waits on the network (`rampUp`).
   */
  connections?: number;
  /** false: open all `connections` at once instead of as they help. Default true. */
  rampUp?: boolean;
  /** Stops the download: in-flight requests end, the journal is flushed, the session is paused. */
  signal?: AbortSignal;
  onProgress?(p: DownloadProgress): void;
  onEvent?(e: DownloadEvent): void;
  /** Minimum ms between onProgress calls. Default 200. */
  progressIntervalMs?: number;
  /** Replace an existing file at `out`. Default false (OUTPUT_EXISTS). */
  overwrite?: boolean;
  /** fsync the file and its directory before reporting success (slower; survives power loss). Default false. */
  fsync?: boolean;
  retry?: Partial<RetryPolicy>;
  /** Waiting for response headers, and silence inside a body, ms. Default 30,000. */
  timeoutMs?: number;
  /** Restarts allowed when the file changes under the download. Default 3. */
  maxRestarts?: number;
  /** Times one chunk may fail verification before the download gives up (CORRUPT_SOURCE). Default 5. */
  maxChunkCorruption?: number;
  /**
   * Where SHA-256 is computed: `thread`, two worker threads — one reads each chunk back as it lands
   * and verifies it, one hashes the whole file in order — so the main thread only receives and
   * writes (~15 MB more); or `inline`, the main thread (chunks as they stream, the whole file
   * between reads). Default `thread`.
   */
  hashing?: 'inline' | 'thread';
  /** Tail handling: a remainder is split only into halves of at least this many bytes. Default 256 KiB. */
  minSplitBytes?: number;
}

export interface DownloadOptions extends CommonOptions {
  /** The API's base URL (e.g. http://127.0.0.1:8080). */
  api: string;
  /** A bearer JWT of the user. */
  token: string;
  /** The file to download (a new or the existing session of this device)… */
  fileId?: string;
  /** …or an existing session to continue. */
  sessionId?: string;
  /** This device's id for `startDownload` (sessions are per user, file and device). Default "default". */
  clientId?: string;
  /** Progress reports to the API, ms between them (plus one per percent). Default 2,000. */
  reportIntervalMs?: number;
  /** How long to keep trying `completeDownload` when the API is unreachable at the end, ms. Default 30,000. */
  completeTimeoutMs?: number;
  /** Pause the session on the server when `signal` aborts. Default true. */
  pauseOnAbort?: boolean;
}

export interface UrlDownloadOptions extends CommonOptions {
  /** Any URL that serves byte ranges (a haul signed URL, S3 presigned, a CDN…). */
  url: string;
  /** Bytes per request unit (no manifest). Default: the size split 4 ways per connection, 256 KiB–10 MiB. */
  chunkSize?: number;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  /** SHA-256 (hex) of the file, computed by the client. */
  sha256: string;
  /** Whether `sha256` was checked against something the server vouched for (manifest, Repr-Digest). */
  verified: boolean;
  sessionId?: string | undefined;
  fileId?: string | undefined;
  /** Verified bytes found from an earlier run. */
  resumedBytes: number;
  /** Bytes received over the network by this call (duplicates and refetches included). */
  receivedBytes: number;
  restarts: number;
  urlRefreshes: number;
  retries: number;
  /** Chunks fetched again after failing verification. */
  refetchedChunks: number;
  /** Chunks that failed verification, by source origin. */
  corruption: Record<string, number>;
  tail: { splits: number; races: number };
  /**
   * Chunks checked on the whole-file hasher's read of them, the two digests computed together
   * (the SHA-256 addon, native-sha.ts); 0 when the addon is not in use.
   */
  checkedWhileHashing: number;
  /** The server recorded the completion (false when the API stayed unreachable). */
  completed: boolean;
  timings: { totalMs: number; setupMs: number; transferMs: number; finalizeMs: number };
}
